//! The experiment spec: one TOML file holds everything a run needs. Unknown
//! keys are rejected by name and line; every field has a documented default
//! (docs/SPEC.md, which a test keeps in step with [`Spec::default`]).
//!
//! ```toml
//! name = "sigmoid-20"
//! seed = 0
//! steps = 3000
//! batch = 64
//!
//! [data]
//! name = "mnist"
//!
//! [model]
//! depth = 20
//! width = 100
//! activation = "sigmoid"
//! init = "standard"
//!
//! [optimizer]
//! name = "sgd"
//! lr = 0.1
//! ```

use crate::data::Scaling;
use crate::error::{Error, Result};
use crate::nn::{Activation, Loss, MlpConfig, Norm, NormPlacement};
use crate::optim::{OptimizerConfig, Schedule};
use crate::probe::ProbeConfig;
use crate::tensor::Init;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Number format the run trains in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// 32-bit floats (default, fast).
    #[default]
    F32,
    /// 64-bit floats: resolves gradients below f32's 1.4e-45.
    F64,
}

/// A whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Spec {
    /// A label for the run.
    pub name: String,
    /// Seeds weights, shuffling and generated data.
    pub seed: u64,
    /// Number format.
    pub dtype: Dtype,
    /// Optimizer steps; `epochs`, when set, takes precedence.
    pub steps: usize,
    /// Passes over the training set (0 = use `steps`).
    pub epochs: usize,
    /// Examples per step.
    pub batch: usize,
    /// Evaluate on the train and held-out sets every this many steps
    /// (0 = only at the end).
    pub eval_every: usize,
    /// Loss.
    pub loss: Loss,
    /// Where the examples come from.
    pub data: DataSpec,
    /// The network.
    pub model: ModelSpec,
    /// How it learns.
    pub optimizer: OptimizerSpec,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// What is recorded per layer, how often.
    pub probe: ProbeConfig,
}

/// The data section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSpec {
    /// `mnist` (bundled 10k, or `dir`), `fashion` (needs `dir`), or a
    /// generator: `spirals`, `circles`, `xor`, `gaussians`, `shapeset`.
    pub name: String,
    /// Folder with canonical IDX files (`train-*`, `t10k-*`) to use instead
    /// of the bundled subset.
    pub dir: Option<String>,
    /// Folder with the canonical MNIST test files (`t10k-*`) to evaluate on
    /// instead of the held-out split.
    pub eval_dir: Option<String>,
    /// Input scaling: `unit`, `standardize`, `binarize(t)`.
    pub scaling: Scaling,
    /// Generated examples for training (generators only).
    pub train_size: usize,
    /// Generated or held-out examples for evaluation (generators only).
    pub test_size: usize,
    /// Noise level of the 2-D generators, in [0, 1].
    pub noise: f64,
}

/// The model section (input and output sizes come from the data).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSpec {
    /// Hidden layers (ignored when `widths` is given).
    pub depth: usize,
    /// Units per hidden layer (ignored when `widths` is given).
    pub width: usize,
    /// Explicit hidden widths, input side first.
    pub widths: Option<Vec<usize>>,
    /// Hidden activation.
    pub activation: Activation,
    /// `none`, `batch` or `layer`.
    pub norm: Norm,
    /// `before` or `after` the activation.
    pub norm_placement: NormPlacement,
    /// Residual blocks of this many hidden layers (0 = none).
    pub residual_every: usize,
    /// Weight initializer.
    pub init: Init,
    /// Linear layers have biases.
    pub bias: bool,
}

/// The optimizer section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerSpec {
    /// `sgd`, `momentum`, `nesterov`, `adam`, `adamw`.
    pub name: String,
    /// Base learning rate.
    pub lr: f64,
    /// Momentum (SGD family; `momentum`/`nesterov` default to 0.9).
    pub momentum: Option<f64>,
    /// Weight decay (L2 for SGD/Adam, decoupled for AdamW).
    pub weight_decay: Option<f64>,
    /// Clip gradients to this global L2 norm.
    pub clip_norm: Option<f64>,
    /// Clip every gradient entry to [-v, v].
    pub clip_value: Option<f64>,
}

impl Default for Spec {
    fn default() -> Self {
        Self {
            name: "run".into(),
            seed: 0,
            dtype: Dtype::F32,
            steps: 1000,
            epochs: 0,
            batch: 64,
            eval_every: 0,
            loss: Loss::CrossEntropy,
            data: DataSpec::default(),
            model: ModelSpec::default(),
            optimizer: OptimizerSpec::default(),
            schedule: Schedule::default(),
            probe: ProbeConfig::default(),
        }
    }
}

impl Default for DataSpec {
    fn default() -> Self {
        Self {
            name: "mnist".into(),
            dir: None,
            eval_dir: None,
            scaling: Scaling::Unit,
            train_size: 2000,
            test_size: 1000,
            noise: 0.1,
        }
    }
}

impl Default for ModelSpec {
    /// Three hidden layers of 100 units; everything else as
    /// [`MlpConfig::new`]'s defaults (ReLU, He-normal init, no norm, biases).
    fn default() -> Self {
        let m = MlpConfig::new(1, 1);
        Self {
            depth: 3,
            width: 100,
            widths: None,
            activation: m.activation,
            norm: m.norm,
            norm_placement: m.norm_placement,
            residual_every: m.residual_every,
            init: m.init,
            bias: m.bias,
        }
    }
}

impl Default for OptimizerSpec {
    fn default() -> Self {
        Self {
            name: "sgd".into(),
            lr: 0.1,
            momentum: None,
            weight_decay: None,
            clip_norm: None,
            clip_value: None,
        }
    }
}

impl Spec {
    /// Parses a spec; errors name `origin` (a path), the line, and the
    /// dotted key (`model.depth`).
    pub fn from_toml(text: &str, origin: &str) -> Result<Spec> {
        let spec: Spec = toml::from_str(text).map_err(|e| spec_error(text, origin, &e))?;
        spec.validate().map_err(|e| match e {
            Error::InvalidConfig { field, reason } => Error::Spec {
                origin: origin.to_string(),
                line: line_of_key(text, &field),
                field,
                message: reason,
            },
            other => other,
        })?;
        Ok(spec)
    }

    /// Reads and parses a spec file.
    pub fn load(path: &Path) -> Result<Spec> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The spec as TOML (saved next to every run's results).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a spec always serializes")
    }

    /// Checks values serde cannot (ranges, names), naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, reason: &str| {
            Err(Error::InvalidConfig {
                field: field.into(),
                reason: reason.into(),
            })
        };
        if self.batch == 0 {
            return bad("batch", "must be at least 1");
        }
        if self.steps == 0 && self.epochs == 0 {
            return bad("steps", "must be at least 1 (or set epochs)");
        }
        if !(self.optimizer.lr.is_finite() && self.optimizer.lr > 0.0) {
            return bad("optimizer.lr", "must be a positive number");
        }
        if let Some(c) = self.optimizer.clip_norm {
            if c.is_nan() || c <= 0.0 {
                return bad("optimizer.clip_norm", "must be positive");
            }
        }
        if let Some(c) = self.optimizer.clip_value {
            if c.is_nan() || c <= 0.0 {
                return bad("optimizer.clip_value", "must be positive");
            }
        }
        if !(0.0..=1.0).contains(&self.data.noise) {
            return bad("data.noise", "must be in [0, 1]");
        }
        self.optimizer_config()?;
        if let Some(w) = &self.model.widths {
            if w.contains(&0) {
                return bad("model.widths", "every width must be at least 1");
            }
        } else if self.model.depth > 0 && self.model.width == 0 {
            return bad("model.width", "must be at least 1");
        }
        Ok(())
    }

    /// The MLP config for `input` features and `output` classes.
    pub fn mlp_config(&self, input: usize, output: usize) -> MlpConfig {
        let m = &self.model;
        let mut cfg = MlpConfig::new(input, output)
            .activation(m.activation)
            .norm(m.norm, m.norm_placement)
            .residual_every(m.residual_every)
            .init(m.init);
        cfg.widths = m.widths.clone().unwrap_or_else(|| vec![m.width; m.depth]);
        cfg.bias = m.bias;
        cfg
    }

    /// The optimizer with the spec's overrides.
    pub fn optimizer_config(&self) -> Result<OptimizerConfig> {
        let o = &self.optimizer;
        let mut cfg = OptimizerConfig::from_name(&o.name).map_err(|_| Error::InvalidConfig {
            field: "optimizer.name".into(),
            reason: format!(
                "unknown optimizer `{}` (expected one of: {})",
                o.name,
                crate::optim::OPTIMIZER_NAMES
            ),
        })?;
        match &mut cfg {
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
                ..
            } => {
                *momentum = o.momentum.unwrap_or(*momentum);
                *weight_decay = o.weight_decay.unwrap_or(*weight_decay);
            }
            OptimizerConfig::Adam { weight_decay, .. }
            | OptimizerConfig::AdamW { weight_decay, .. } => {
                if o.momentum.is_some() {
                    return Err(Error::InvalidConfig {
                        field: "optimizer.momentum".into(),
                        reason: format!("`{}` has no momentum setting", o.name),
                    });
                }
                *weight_decay = o.weight_decay.unwrap_or(*weight_decay);
            }
        }
        Ok(cfg)
    }
}

/// Turns a TOML error into one naming origin, line and dotted key.
fn spec_error(text: &str, origin: &str, e: &toml::de::Error) -> Error {
    let message = e.message().to_string();
    let Some(span) = e.span() else {
        return Error::Spec {
            origin: origin.into(),
            line: None,
            field: String::new(),
            message,
        };
    };
    let line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
    let field = key_at_line(text, line_no).unwrap_or_default();
    Error::Spec {
        origin: origin.into(),
        line: Some(line_no),
        field,
        message,
    }
}

/// The dotted key defined on line `line_no` (1-based): `[table]` header
/// above it plus the key before `=`.
fn key_at_line(text: &str, line_no: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let line = lines.get(line_no.checked_sub(1)?)?.trim();
    let key = line.split('=').next()?.trim().trim_matches('"');
    if line.starts_with('[') {
        return Some(
            line.trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string(),
        );
    }
    let table = lines[..line_no - 1]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    })
}

/// The line where dotted `field` is set, if it is.
fn line_of_key(text: &str, field: &str) -> Option<usize> {
    (1..=text.lines().count()).find(|&n| key_at_line(text, n).as_deref() == Some(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        Spec::from_toml(text, "spec.toml").unwrap_err().to_string()
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let spec = Spec::default();
        assert_eq!(Spec::from_toml(&spec.to_toml(), "x").unwrap(), spec);
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let e = err("seed = 1\n[model]\ndepht = 3\n");
        assert!(
            e.starts_with("spec.toml:3: `model.depht`: unknown field `depht`"),
            "{e}"
        );
    }

    #[test]
    fn wrong_type_is_named() {
        let e = err("[model]\nwidth = \"wide\"\n");
        assert!(
            e.starts_with("spec.toml:2: `model.width`: invalid type: string"),
            "{e}"
        );
    }

    #[test]
    fn negative_depth_is_named() {
        let e = err("[model]\ndepth = -3\n");
        assert!(
            e.starts_with("spec.toml:2: `model.depth`: invalid value: integer `-3`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_activation_is_named() {
        let e = err("[model]\nactivation = \"sigmoidal\"\n");
        assert!(
            e.starts_with("spec.toml:2: `model.activation`: unknown activation `sigmoidal`"),
            "{e}"
        );
    }

    #[test]
    fn semantic_errors_are_named_with_their_line() {
        let e = err("batch = 0\n");
        assert_eq!(e, "spec.toml:1: `batch`: must be at least 1");
        let e = err("[optimizer]\nname = \"adagrad\"\n");
        assert!(
            e.starts_with("spec.toml:2: `optimizer.name`: unknown optimizer `adagrad`"),
            "{e}"
        );
    }
}
