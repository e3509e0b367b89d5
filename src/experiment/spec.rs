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

use super::RunData;
use crate::data::sequence::SeqTask;
use crate::data::DataSpec;
use crate::error::{Error, Result};
use crate::nn::{Loss, ModelConfig, ModelKind};
use crate::optim::{OptimizerConfig, OptimizerSettings, Schedule, ScheduleKind};
use crate::probe::ProbeConfig;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Number format the run trains in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Dtype {
    /// 32-bit floats (default, fast).
    #[default]
    F32,
    /// 64-bit floats: resolves gradients below f32's 1.4e-45.
    F64,
}

impl Dtype {
    /// The names [`Dtype::from_str`] accepts.
    pub const NAMES: &'static str = "f32, f64";
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        })
    }
}

impl FromStr for Dtype {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Dtype::F32),
            "f64" => Ok(Dtype::F64),
            _ => Err(Error::UnknownName {
                what: "dtype",
                name: s.into(),
                expected: Dtype::NAMES.into(),
            }),
        }
    }
}

crate::names::serde_via_str!(Dtype);

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
    /// Training examples an evaluation measures, the first N (0 = all):
    /// a CNN evaluated on CIFAR-10's 50,000 training images every few
    /// hundred steps would spend more time evaluating than training.
    pub eval_train_size: usize,
    /// Loss.
    pub loss: Loss,
    /// Where the examples come from.
    pub data: DataSpec,
    /// The network (input and output sizes 0: the data gives them).
    pub model: ModelConfig,
    /// How it learns: update rule, learning rate, clipping.
    pub optimizer: OptimizerSettings,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// What is recorded per layer, how often.
    pub probe: ProbeConfig,
    /// Characters to sample from a character-level model (`data.name =
    /// "text"`) at the end of training, kept in the run's summary (0 =
    /// none).
    pub sample: usize,
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
            eval_train_size: 0,
            loss: Loss::CrossEntropy,
            data: DataSpec::default(),
            model: ModelConfig::default(),
            optimizer: OptimizerSettings::default(),
            schedule: Schedule::default(),
            probe: ProbeConfig::default(),
            sample: 0,
        }
    }
}

impl Spec {
    /// Loads (or generates, from the spec's seed) its data: rows, scaled
    /// ([`crate::data::prepare`]), or a sequence task's sequences
    /// ([`crate::data::prepare_sequences`]).
    pub fn prepare_data(&self) -> Result<RunData> {
        if SeqTask::from_name(&self.data.name).is_some() {
            crate::data::prepare_sequences(&self.data, self.seed).map(RunData::Sequences)
        } else {
            crate::data::prepare(&self.data, self.seed).map(RunData::Rows)
        }
    }

    /// Parses a spec; errors name `origin` (a path), the line, and the
    /// dotted key (`model.depth`).
    pub fn from_toml(text: &str, origin: &str) -> Result<Spec> {
        let spec = Self::from_stored_toml(text, origin)?;
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

    /// A spec a store already holds: parsed, not validated again. A run
    /// recorded before a check was added (a long name, a schedule of zero
    /// steps) stays readable.
    pub fn from_stored_toml(text: &str, origin: &str) -> Result<Spec> {
        toml::from_str(text).map_err(|e| spec_error(text, origin, &e))
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

    /// [`Spec::to_toml`] without the keys that do not apply to this run
    /// (a generator's `train_size`, `test_size` and `noise` for MNIST and
    /// Fashion-MNIST, which are read, not generated; a recurrent net's keys
    /// for an MLP, and the MLP's for a recurrent net): what a report shows.
    pub fn to_toml_applicable(&self) -> String {
        let text = self.to_toml();
        let mut hidden: Vec<(&str, &[&str])> = Vec::new();
        if matches!(self.data.name.as_str(), "mnist" | "fashion" | "cifar10") {
            hidden.push(("[data]", &["train_size", "test_size", "noise"]));
        }
        const RECURRENT: &[&str] = &[
            "hidden",
            "layers",
            "nonlinearity",
            "recurrent_init",
            "forget_bias",
            "truncation",
        ];
        const MLP: &[&str] = &[
            "depth",
            "width",
            "widths",
            "activation",
            "norm",
            "norm_placement",
            "residual_every",
            "init",
            "bias",
            "bn_momentum",
            "norm_eps",
        ];
        const CONV: &[&str] = &["channels", "n", "residual", "shortcut", "image"];
        const MLP_ONLY: &[&str] = &[
            "depth",
            "width",
            "widths",
            "norm_placement",
            "residual_every",
        ];
        match self.model.kind {
            ModelKind::Mlp => hidden.extend([("[model]", RECURRENT), ("[model]", CONV)]),
            ModelKind::Cnn => hidden.extend([("[model]", RECURRENT), ("[model]", MLP_ONLY)]),
            _ => hidden.extend([("[model]", MLP), ("[model]", CONV)]),
        }
        let mut section = "";
        let mut out = String::with_capacity(text.len());
        for line in text.lines() {
            if line.starts_with('[') {
                section = line;
            }
            let key = line.split(" =").next().unwrap_or("");
            if hidden
                .iter()
                .any(|(s, keys)| *s == section && keys.contains(&key))
            {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Checks values serde cannot (ranges), naming the field; the model
    /// and the optimizer check their own.
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
        if !(0.0..=1.0).contains(&self.data.noise) {
            return bad("data.noise", "must be in [0, 1]");
        }
        if self.name.chars().count() > MAX_NAME_CHARS {
            return bad(
                "name",
                &format!("must be at most {MAX_NAME_CHARS} characters"),
            );
        }
        match self.schedule.kind {
            ScheduleKind::Cosine { total_steps: 0, .. } => {
                return bad("schedule.total_steps", "must be at least 1");
            }
            ScheduleKind::Step { every: 0, .. } => {
                return bad("schedule.every", "must be at least 1");
            }
            _ => {}
        }
        for (field, size) in [
            ("model.input", self.model.input),
            ("model.output", self.model.output),
        ] {
            if size != 0 {
                return bad(field, "comes from the data; leave it out");
            }
        }
        let max = crate::experiment::sample::MAX_SAMPLE;
        if self.sample > max {
            return bad("sample", &format!("must be at most {max} characters"));
        }
        if self.sample > 0 && self.data.name != "text" {
            return bad(
                "sample",
                "samples characters from a text model: it needs data.name = \"text\" \
                 (--data text)",
            );
        }
        self.model.validate_hidden()?;
        self.model.validate_kind()?;
        self.optimizer.validate()
    }

    /// The model config for `input` features and `output` classes.
    pub fn model_config(&self, input: usize, output: usize) -> ModelConfig {
        self.model.clone().sized(input, output)
    }

    /// The update rule (its hyper-parameters as the spec sets them).
    pub fn optimizer_config(&self) -> OptimizerConfig {
        self.optimizer.rule
    }
}

/// The longest run name a spec may give (a 50 MB name was accepted, and
/// made a 200 MB store and report).
pub const MAX_NAME_CHARS: usize = 256;

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
    let mut line_no = text[..span.start.min(text.len())].matches('\n').count() + 1;
    if let Some(n) = line_in_table_naming(text, line_no, &message) {
        line_no = n;
    }
    let field = key_at_line(text, line_no).unwrap_or_default();
    Error::Spec {
        origin: origin.into(),
        line: Some(line_no),
        field,
        message,
    }
}

/// Where an error points at a whole `[table]` (the `[optimizer]` table's
/// rule is read from all its keys at once): the line of that table which
/// holds the first `quoted` word of `message` (the unknown key, the bad
/// name), if one does.
fn line_in_table_naming(text: &str, header: usize, message: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    if !lines
        .get(header.checked_sub(1)?)?
        .trim_start()
        .starts_with('[')
    {
        return None;
    }
    let word = message.split('`').nth(1).filter(|w| !w.is_empty())?;
    lines[header..]
        .iter()
        .take_while(|l| !l.trim_start().starts_with('['))
        .position(|l| l.contains('=') && l.contains(word))
        .map(|i| header + i + 1)
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
pub(super) fn line_of_key(text: &str, field: &str) -> Option<usize> {
    (1..=text.lines().count()).find(|&n| key_at_line(text, n).as_deref() == Some(field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_shows_only_the_keys_that_apply() {
        let mnist = Spec::default();
        let shown = mnist.to_toml_applicable();
        assert!(
            !shown.contains("noise") && !shown.contains("\ntrain_size"),
            "{shown}"
        );
        assert!(shown.contains("name = \"mnist\""), "{shown}");
        let mut spirals = Spec::default();
        spirals.data.name = "spirals".into();
        let shown = spirals.to_toml_applicable();
        assert!(
            shown.contains("noise") && shown.contains("train_size"),
            "{shown}"
        );
        // Everything else as in the full spec.
        assert!(mnist.to_toml().contains("noise"));
    }

    fn err(text: &str) -> String {
        Spec::from_toml(text, "spec.toml").unwrap_err().to_string()
    }

    /// Regression (issue 18): a 50 MB run name was accepted, and made a
    /// 200 MB store and report.
    #[test]
    fn a_name_longer_than_256_characters_is_refused() {
        let e = err(&format!("name = \"{}\"\n", "x".repeat(MAX_NAME_CHARS + 1)));
        assert!(e.contains("name") && e.contains("256"), "{e}");
        // Characters, not bytes.
        assert!(Spec::from_toml(&format!("name = \"{}\"\n", "é".repeat(256)), "x").is_ok());
    }

    /// Regression (issue 18): a cosine schedule with `total_steps = 0`
    /// (and a step schedule decaying every 0 steps) was accepted.
    #[test]
    fn a_schedule_of_zero_steps_is_refused() {
        let e = err("[schedule]\nname = \"cosine\"\ntotal_steps = 0\n");
        assert!(e.contains("schedule.total_steps"), "{e}");
        let e = err("[schedule]\nname = \"step\"\nevery = 0\ngamma = 0.5\n");
        assert!(e.contains("schedule.every"), "{e}");
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

    #[test]
    fn keys_an_optimizer_does_not_take_are_named_with_their_line() {
        let e = err("[optimizer]\nname = \"adam\"\nlr = 0.01\nmomentum = 0.9\n");
        assert!(
            e.starts_with("spec.toml:4: `optimizer.momentum`: unknown field `momentum`"),
            "{e}"
        );
    }

    #[test]
    fn specs_written_before_the_model_and_optimizer_were_library_configs_still_parse() {
        // As `Spec::to_toml` wrote them when `[model]` was a ModelSpec and
        // `[optimizer]` an OptimizerSpec (the store holds such specs).
        let old = "name = \"sigmoid\"\nseed = 0\ndtype = \"f32\"\nsteps = 30\nepochs = 0\n\
            batch = 64\neval_every = 3\nloss = \"cross_entropy\"\n\n[data]\nname = \"mnist\"\n\
            scaling = \"unit\"\ntrain_size = 2000\ntest_size = 1000\nnoise = 0.1\n\n[model]\n\
            depth = 20\nwidth = 100\nactivation = \"sigmoid\"\nnorm = \"none\"\n\
            norm_placement = \"before\"\nresidual_every = 0\ninit = \"standard\"\nbias = true\n\n\
            [optimizer]\nname = \"momentum\"\nlr = 0.01\n\n[schedule]\nname = \"constant\"\n\
            warmup_steps = 0\n\n[probe]\nevery = 1\nhistogram_every = 100\n";
        let spec = Spec::from_toml(old, "old").unwrap();
        assert_eq!(spec.model.widths, vec![100; 20]);
        assert_eq!(
            spec.optimizer.rule,
            crate::optim::OptimizerName::Momentum.config()
        );
        assert_eq!(Spec::from_toml(&spec.to_toml(), "new").unwrap(), spec);
    }

    #[test]
    fn sizes_in_a_spec_are_refused_since_the_data_gives_them() {
        let e = err("[model]\ninput = 784\n");
        assert_eq!(
            e,
            "spec.toml:2: `model.input`: comes from the data; leave it out"
        );
    }
}
