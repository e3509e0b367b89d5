//! The model's configuration, a spec's `[model]` table: plain data with
//! documented defaults, which serializes, so a run can always be rebuilt
//! from what was saved next to it. Its `kind` says which family: an MLP
//! (`mlp`, the default), from which [`ModelConfig::build`](super::Mlp)
//! makes the network, a convolutional net (`cnn`, keys in
//! [`ConvSettings`]; built by the same call), or a recurrent net (`rnn`,
//! `lstm`, `gru`), whose keys are in [`RecurrentSettings`]
//! ([`ModelConfig::rnn_config`]).
//!
//! As a table, the MLP's hidden layers are written `depth` and `width` (a
//! uniform stack) or `widths` (a list, which wins over the other two);
//! `input` and `output` are left out where they come from the data (0).
//!
//! ```
//! use gradscope::nn::{ModelConfig, Norm};
//! let cfg: ModelConfig = toml::from_str("depth = 2\nwidth = 16\nnorm = \"bn\"").unwrap();
//! assert_eq!(cfg.widths, [16, 16]);
//! assert_eq!(cfg.norm, Norm::Batch);
//! assert_eq!(toml::to_string(&cfg).unwrap().lines().nth(1), Some("depth = 2"));
//! ```

use super::conv::model::Shortcut;
use super::conv::ConvSettings;
use super::recurrent::{CellKind, Nonlinearity, RecurrentInit, RecurrentSettings, RnnConfig};
use super::Activation;
use crate::error::{Error, Result};
use crate::tensor::{FanMode, Init};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which family of network a `[model]` table describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ModelKind {
    /// A multilayer perceptron (default).
    #[default]
    Mlp,
    /// A vanilla recurrent net (`nonlinearity` tanh or relu).
    Rnn,
    /// Long short-term memory.
    Lstm,
    /// Gated recurrent units.
    Gru,
    /// A convolutional net (plain or residual, [`ConvSettings`]).
    Cnn,
}

impl ModelKind {
    /// The names [`ModelKind::from_str`] accepts.
    pub const NAMES: &'static str = "mlp, cnn, rnn, lstm, gru";

    /// Whether the kind is a recurrent net.
    pub fn is_recurrent(self) -> bool {
        self.cell().is_some()
    }

    /// The recurrent cell, for the recurrent kinds.
    pub fn cell(self) -> Option<CellKind> {
        match self {
            ModelKind::Mlp | ModelKind::Cnn => None,
            ModelKind::Rnn => Some(CellKind::Rnn),
            ModelKind::Lstm => Some(CellKind::Lstm),
            ModelKind::Gru => Some(CellKind::Gru),
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelKind::Mlp => "mlp",
            ModelKind::Rnn => "rnn",
            ModelKind::Lstm => "lstm",
            ModelKind::Gru => "gru",
            ModelKind::Cnn => "cnn",
        })
    }
}

impl FromStr for ModelKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mlp" => Ok(ModelKind::Mlp),
            "cnn" => Ok(ModelKind::Cnn),
            "rnn" => Ok(ModelKind::Rnn),
            "lstm" => Ok(ModelKind::Lstm),
            "gru" => Ok(ModelKind::Gru),
            _ => Err(Error::UnknownName {
                what: "model kind",
                name: s.into(),
                expected: Self::NAMES.into(),
            }),
        }
    }
}

crate::names::serde_via_str!(ModelKind);

/// Normalization inside each hidden layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Norm {
    /// No normalization (default).
    #[default]
    None,
    /// Batch Normalization (also written `bn`, `batch_norm`).
    Batch,
    /// Layer Normalization (also written `ln`, `layer_norm`).
    Layer,
}

impl Norm {
    /// The names [`Norm::from_str`] accepts (`bn` and `ln` are aliases
    /// everywhere: specs, flags, `--set`).
    pub const NAMES: &'static str = "none, batch (bn), layer (ln)";
}

/// Where the normalization sits relative to the activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum NormPlacement {
    /// `linear -> norm -> activation` (Ioffe & Szegedy; default).
    #[default]
    Before,
    /// `linear -> activation -> norm`.
    After,
}

impl NormPlacement {
    /// The names [`NormPlacement::from_str`] accepts.
    pub const NAMES: &'static str = "before, after";
}

impl fmt::Display for Norm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Norm::None => "none",
            Norm::Batch => "batch",
            Norm::Layer => "layer",
        })
    }
}

impl FromStr for Norm {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Norm::None),
            "batch" | "bn" | "batch_norm" => Ok(Norm::Batch),
            "layer" | "ln" | "layer_norm" => Ok(Norm::Layer),
            _ => Err(Error::UnknownName {
                what: "norm",
                name: s.into(),
                expected: Norm::NAMES.into(),
            }),
        }
    }
}

impl fmt::Display for NormPlacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NormPlacement::Before => "before",
            NormPlacement::After => "after",
        })
    }
}

impl FromStr for NormPlacement {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "before" => Ok(NormPlacement::Before),
            "after" => Ok(NormPlacement::After),
            _ => Err(Error::UnknownName {
                what: "norm placement",
                name: s.into(),
                expected: NormPlacement::NAMES.into(),
            }),
        }
    }
}

crate::names::serde_via_str!(Norm);
crate::names::serde_via_str!(NormPlacement);

/// Everything that defines an MLP. [`ModelConfig::new`] starts with no
/// hidden layer; [`ModelConfig::default`] is a spec's default model. Both:
/// ReLU, no norm, He-normal init, biases on, PyTorch's norm constants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ModelTable", into = "ModelTable")]
pub struct ModelConfig {
    /// Which family: `mlp` (the fields below) or a recurrent net
    /// ([`ModelConfig::recurrent`]).
    pub kind: ModelKind,
    /// A recurrent net's settings (unused by an MLP).
    pub recurrent: RecurrentSettings,
    /// A CNN's settings (stages, blocks, shortcuts).
    pub conv: ConvSettings,
    /// Input features (784 for MNIST); 0 in a spec, where the data gives it.
    pub input: usize,
    /// Output units (10 classes); 0 in a spec, where the data gives it.
    pub output: usize,
    /// Hidden widths, input side first; their count is the depth.
    pub widths: Vec<usize>,
    /// Hidden-layer activation.
    pub activation: Activation,
    /// Normalization in each hidden layer.
    pub norm: Norm,
    /// Normalization before or after the activation.
    pub norm_placement: NormPlacement,
    /// Wrap each run of this many hidden layers (after the first) in a
    /// residual block; 0 for none.
    pub residual_every: usize,
    /// Weight initializer for every linear layer.
    pub init: Init,
    /// Whether linear layers have biases.
    pub bias: bool,
    /// BatchNorm momentum (PyTorch's 0.1).
    pub bn_momentum: f64,
    /// Normalization epsilon (PyTorch's 1e-5).
    pub norm_eps: f64,
}

/// Hidden layers of a spec's default model.
const DEFAULT_DEPTH: usize = 3;
/// Units per hidden layer of a spec's default model.
const DEFAULT_WIDTH: usize = 100;

impl Default for ModelConfig {
    /// A spec's default model: three hidden layers of 100 units, sizes
    /// from the data (0), the rest as [`ModelConfig::new`].
    fn default() -> Self {
        Self::new(0, 0).depth(DEFAULT_DEPTH, DEFAULT_WIDTH)
    }
}

impl ModelConfig {
    /// A config with no hidden layer; add them with [`ModelConfig::depth`].
    pub fn new(input: usize, output: usize) -> Self {
        Self {
            kind: ModelKind::Mlp,
            recurrent: RecurrentSettings::default(),
            conv: ConvSettings::default(),
            input,
            output,
            widths: Vec::new(),
            activation: Activation::Relu,
            norm: Norm::None,
            norm_placement: NormPlacement::Before,
            residual_every: 0,
            init: Init::HeNormal {
                mode: FanMode::FanIn,
                slope: None,
            },
            bias: true,
            bn_momentum: 0.1,
            norm_eps: 1e-5,
        }
    }

    /// `depth` hidden layers of `width` units.
    pub fn depth(mut self, depth: usize, width: usize) -> Self {
        self.widths = vec![width; depth];
        self
    }

    /// Sets the hidden activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Sets the normalization and its placement.
    pub fn norm(mut self, norm: Norm, placement: NormPlacement) -> Self {
        self.norm = norm;
        self.norm_placement = placement;
        self
    }

    /// Sets the initializer.
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Residual blocks of `k` hidden layers (0 for none).
    pub fn residual_every(mut self, k: usize) -> Self {
        self.residual_every = k;
        self
    }

    /// The same config for `input` features and `output` units (a spec's
    /// model, once the data is known).
    pub fn sized(mut self, input: usize, output: usize) -> Self {
        self.input = input;
        self.output = output;
        self
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        if self.input == 0 {
            return bad("input", "must be at least 1".into());
        }
        if self.output == 0 {
            return bad("output", "must be at least 1".into());
        }
        self.validate_hidden()
    }

    /// The recurrent network for `input` features per step and `outputs`,
    /// read out at every step or the last; `None` for an MLP.
    pub fn rnn_config(&self, input: usize, outputs: usize, every_step: bool) -> Option<RnnConfig> {
        let cell = self.kind.cell()?;
        Some(self.recurrent.config(cell, input, outputs, every_step))
    }

    /// Refuses keys set away from their defaults that the model's kind does
    /// not read (an MLP's `depth` for an LSTM, a recurrent net's `hidden`
    /// for an MLP), naming the first: a setting that changes nothing is a
    /// mistake the user should hear of.
    pub fn validate_kind(&self) -> Result<()> {
        let table = ModelTable::from(self.clone());
        let default = ModelTable::from(ModelConfig {
            kind: self.kind,
            ..ModelConfig::default()
        });
        let (text, base) = (
            toml::Table::try_from(&table).expect("a model table serializes"),
            toml::Table::try_from(&default).expect("a model table serializes"),
        );
        for (key, value) in &text {
            if !key_applies(self.kind, key) && base.get(key) != Some(value) {
                let reads = match self.kind {
                    ModelKind::Mlp => "depth, width, widths, activation, norm, init, ...",
                    ModelKind::Cnn => {
                        "channels, n, residual, shortcut, image, activation, norm, init, ..."
                    }
                    _ => "hidden, layers, nonlinearity, recurrent_init, forget_bias, truncation",
                };
                let kind = self.kind;
                return bad(
                    key,
                    format!("does not apply to a `{kind}` model (it reads {reads})"),
                );
            }
        }
        Ok(())
    }

    /// Checks every field but the sizes the data gives (a spec's model).
    pub fn validate_hidden(&self) -> Result<()> {
        if self.kind.is_recurrent() {
            return self.recurrent.validate();
        }
        if self.kind == ModelKind::Cnn {
            self.conv.validate()?;
        }
        if let Some(i) = self.widths.iter().position(|&w| w == 0) {
            return bad("widths", format!("hidden layer {} has width 0", i + 1));
        }
        if !(0.0..=1.0).contains(&self.bn_momentum) {
            return bad("bn_momentum", "must be in [0, 1]".into());
        }
        if self.norm_eps.is_nan() || self.norm_eps < 0.0 {
            return bad("norm_eps", "must be >= 0".into());
        }
        Ok(())
    }
}

/// The `[model]` keys of a recurrent net.
const RECURRENT_KEYS: [&str; 6] = [
    "hidden",
    "layers",
    "nonlinearity",
    "recurrent_init",
    "forget_bias",
    "truncation",
];

/// The `[model]` keys of a CNN alone.
const CONV_KEYS: [&str; 5] = ["channels", "n", "residual", "shortcut", "image"];

/// The `[model]` keys of an MLP alone (a CNN reads the rest of an MLP's:
/// activation, norm, init, bias, bn_momentum, norm_eps).
const MLP_KEYS: [&str; 5] = [
    "depth",
    "width",
    "widths",
    "norm_placement",
    "residual_every",
];

/// Whether `key` means something to a `kind` model.
fn key_applies(kind: ModelKind, key: &str) -> bool {
    if ["kind", "input", "output"].contains(&key) {
        return true;
    }
    let (recurrent, conv, mlp) = (
        RECURRENT_KEYS.contains(&key),
        CONV_KEYS.contains(&key),
        MLP_KEYS.contains(&key),
    );
    match kind {
        ModelKind::Mlp => !recurrent && !conv,
        ModelKind::Cnn => !recurrent && !mlp,
        _ => recurrent,
    }
}

fn bad(field: &str, reason: String) -> Result<()> {
    Err(Error::InvalidConfig {
        field: format!("model.{field}"),
        reason,
    })
}

/// [`ModelConfig`] as a table: missing keys take [`ModelConfig::default`]'s
/// values; hidden layers as `depth` x `width` or `widths`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ModelTable {
    kind: ModelKind,
    #[serde(skip_serializing_if = "is_zero")]
    input: usize,
    #[serde(skip_serializing_if = "is_zero")]
    output: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    depth: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    widths: Option<Vec<usize>>,
    activation: Activation,
    norm: Norm,
    norm_placement: NormPlacement,
    residual_every: usize,
    init: Init,
    bias: bool,
    bn_momentum: f64,
    norm_eps: f64,
    hidden: usize,
    layers: usize,
    nonlinearity: Nonlinearity,
    recurrent_init: RecurrentInit,
    forget_bias: f64,
    truncation: usize,
    channels: Vec<usize>,
    n: usize,
    residual: bool,
    shortcut: Shortcut,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    image: Vec<usize>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for ModelTable {
    fn default() -> Self {
        let mut table = ModelTable::from(ModelConfig::default());
        (table.depth, table.width) = (None, None);
        table
    }
}

/// The most hidden layers a spec may ask for: the widths are a list, made
/// when the spec is read, before the memory a run needs is estimated
/// (`depth = 1000000000000` aborted on that list's allocation).
pub const MAX_DEPTH: usize = 1_000_000;

impl TryFrom<ModelTable> for ModelConfig {
    type Error = String;

    fn try_from(t: ModelTable) -> std::result::Result<Self, String> {
        let depth = t.depth.unwrap_or(DEFAULT_DEPTH);
        if depth > MAX_DEPTH {
            return Err(format!(
                "model.depth: {depth} is more than {MAX_DEPTH} layers"
            ));
        }
        let widths = t
            .widths
            .unwrap_or_else(|| vec![t.width.unwrap_or(DEFAULT_WIDTH); depth]);
        Ok(ModelConfig {
            kind: t.kind,
            recurrent: RecurrentSettings {
                hidden: t.hidden,
                layers: t.layers,
                nonlinearity: t.nonlinearity,
                init: t.recurrent_init,
                forget_bias: t.forget_bias,
                truncation: t.truncation,
            },
            conv: ConvSettings {
                channels: t.channels,
                n: t.n,
                residual: t.residual,
                shortcut: t.shortcut,
                image: t.image,
            },
            input: t.input,
            output: t.output,
            widths,
            activation: t.activation,
            norm: t.norm,
            norm_placement: t.norm_placement,
            residual_every: t.residual_every,
            init: t.init,
            bias: t.bias,
            bn_momentum: t.bn_momentum,
            norm_eps: t.norm_eps,
        })
    }
}

impl From<ModelConfig> for ModelTable {
    /// A uniform stack as `depth` and `width` (`depth = 0` for none), any
    /// other as `widths`.
    fn from(c: ModelConfig) -> Self {
        let uniform = c.widths.windows(2).all(|w| w[0] == w[1]);
        let (depth, width, widths) = match c.widths.first() {
            None => (Some(0), None, None),
            Some(&w) if uniform => (Some(c.widths.len()), Some(w), None),
            Some(_) => (None, None, Some(c.widths)),
        };
        let r = c.recurrent;
        let v = c.conv;
        ModelTable {
            kind: c.kind,
            channels: v.channels,
            n: v.n,
            residual: v.residual,
            shortcut: v.shortcut,
            image: v.image,
            hidden: r.hidden,
            layers: r.layers,
            nonlinearity: r.nonlinearity,
            recurrent_init: r.init,
            forget_bias: r.forget_bias,
            truncation: r.truncation,
            input: c.input,
            output: c.output,
            depth,
            width,
            widths,
            activation: c.activation,
            norm: c.norm,
            norm_placement: c.norm_placement,
            residual_every: c.residual_every,
            init: c.init,
            bias: c.bias,
            bn_momentum: c.bn_momentum,
            norm_eps: c.norm_eps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ModelConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn missing_keys_take_the_spec_defaults() {
        assert_eq!(parse(""), ModelConfig::default());
        assert_eq!(parse("").widths, [100, 100, 100]);
        assert_eq!(parse("depth = 2").widths, [100, 100]);
        assert_eq!(parse("width = 8").widths, [8, 8, 8]);
        assert_eq!(parse("depth = 1\nwidths = [4, 5]").widths, [4, 5]);
    }

    #[test]
    fn hidden_layers_serialize_as_depth_and_width_when_uniform() {
        let text = |c: &ModelConfig| toml::to_string(c).unwrap();
        let uniform = ModelConfig::new(0, 0).depth(20, 100);
        let after_kind = |c: &ModelConfig| text(c).replacen("kind = \"mlp\"\n", "", 1);
        assert!(after_kind(&uniform).starts_with("depth = 20\nwidth = 100\n"));
        let mut mixed = uniform.clone();
        mixed.widths = vec![256, 128];
        assert!(after_kind(&mixed).starts_with("widths = [256, 128]\n"));
        assert!(after_kind(&ModelConfig::new(0, 0)).starts_with("depth = 0\n"));
        assert!(after_kind(&ModelConfig::new(784, 10)).starts_with("input = 784\noutput = 10\n"));
        for c in [
            uniform,
            mixed,
            ModelConfig::new(0, 0),
            ModelConfig::new(784, 10),
        ] {
            assert_eq!(parse(&text(&c)), c);
        }
    }

    #[test]
    fn bn_is_an_alias_of_batch_and_ln_of_layer() {
        for (name, norm) in [
            ("batch", Norm::Batch),
            ("bn", Norm::Batch),
            ("batch_norm", Norm::Batch),
            ("layer", Norm::Layer),
            ("ln", Norm::Layer),
            ("none", Norm::None),
        ] {
            assert_eq!(name.parse::<Norm>().unwrap(), norm);
            assert_eq!(parse(&format!("norm = \"{name}\"")).norm, norm);
        }
        assert_eq!(Norm::Batch.to_string(), "batch");
        let e = "bnorm".parse::<Norm>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown norm `bnorm` (expected one of: none, batch (bn), layer (ln))"
        );
    }

    #[test]
    fn a_recurrent_model_reads_its_keys() {
        let c = parse(
            "kind = \"rnn\"\nhidden = 50\nnonlinearity = \"relu\"\n\
             recurrent_init = \"identity\"\ntruncation = 20",
        );
        let rnn = c.rnn_config(2, 1, false).unwrap();
        assert_eq!(rnn.kind, CellKind::RnnRelu);
        assert_eq!((rnn.hidden, rnn.layers, rnn.truncation), (50, 1, Some(20)));
        assert_eq!(rnn.init, RecurrentInit::Identity { scale: 1.0 });
        assert_eq!(parse(&toml::to_string(&c).unwrap()), c);
        assert!(ModelConfig::default().rnn_config(2, 1, false).is_none());
        let e = parse("kind = \"lstm\"\nhidden = 0")
            .validate_hidden()
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value for `model.hidden`: must be at least 1"
        );
        let e = toml::from_str::<ModelConfig>("kind = \"transformer\"").unwrap_err();
        assert!(e.message().contains("mlp, cnn, rnn, lstm, gru"), "{e}");
    }

    #[test]
    fn keys_the_kind_does_not_read_are_refused() {
        let e = parse("kind = \"lstm\"\ndepth = 5")
            .validate_kind()
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid value for `model.depth`: does not apply to a `lstm` model"),
            "{e}"
        );
        let e = parse("hidden = 32").validate_kind().unwrap_err();
        assert!(e.to_string().contains("`model.hidden`"), "{e}");
        assert!(parse("kind = \"gru\"\nhidden = 32\nlayers = 2")
            .validate_kind()
            .is_ok());
        assert!(parse("depth = 5\nactivation = \"tanh\"")
            .validate_kind()
            .is_ok());
        // Defaults written out are no mistake (a resolved spec has them all).
        let lstm = parse("kind = \"lstm\"");
        assert!(parse(&toml::to_string(&lstm).unwrap())
            .validate_kind()
            .is_ok());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let e = toml::from_str::<ModelConfig>("depht = 3").unwrap_err();
        assert!(e.message().starts_with("unknown field `depht`"), "{e}");
    }

    #[test]
    fn a_spec_model_checks_all_but_its_sizes() {
        let mut c = ModelConfig::default();
        assert!(c.validate_hidden().is_ok());
        assert!(c.validate().is_err());
        c.widths[1] = 0;
        let e = c.validate_hidden().unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid value for `model.widths`: hidden layer 2 has width 0"
        );
    }
}
