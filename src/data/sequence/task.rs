//! The sequence tasks by name, their lengths, and a `[data]` section
//! turned into train and test sets ([`SeqTask::prepare`], which
//! [`crate::data::prepare_sequences`] calls).
//!
//! `data.length` is `T`, the steps per sequence, with 0 meaning the task's
//! default ([`SeqTask::default_length`]); for `copy` it is the paper's
//! delay `T`, and a sequence has `T + 20` steps.

use super::{adding, copy, seq_mnist, temporal_order, text, SeqDataset};
use crate::data::DataSpec;
use crate::error::{Error, Result};

/// A sequence task `data.name` can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeqTask {
    /// `adding`: [`adding`], regression at the last step.
    Adding,
    /// `temporal_order`: [`temporal_order`], 4 classes at the last step.
    TemporalOrder,
    /// `copy`: [`copy`], a class at every step.
    Copy,
    /// `seq_mnist` (rows) and `seq_mnist_pixels`: [`seq_mnist`].
    SeqMnist(seq_mnist::Reading),
    /// `text`: [`text`], the next character at every step.
    Text,
}

/// What a trivial predictor scores on a task: the figure to print next to
/// a trained net's loss or accuracy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Baseline {
    /// MSE of the best constant prediction.
    MeanPredictorMse(f64),
    /// Accuracy of a uniform guess over the classes.
    ChanceAccuracy(f64),
    /// Cross-entropy per step, in nats, of the best strategy with no memory.
    MemorylessLoss(f64),
    /// Unigram entropy of the training text, bits per character (a
    /// cross-entropy in nats is `ln 2` times bits).
    UnigramEntropyBits(f64),
}

/// A sequence run's data.
#[derive(Clone, Debug)]
pub struct SeqPrepared {
    /// What the optimizer sees.
    pub train: SeqDataset,
    /// What loss and accuracy are reported on.
    pub test: SeqDataset,
    /// The trivial predictor's figure.
    pub baseline: Baseline,
    /// For `text`: the character of each token id, to decode samples.
    pub symbols: Option<Vec<char>>,
}

impl SeqTask {
    /// The names [`SeqTask::from_name`] knows.
    pub const NAMES: &'static str =
        "adding, temporal_order, copy, seq_mnist, seq_mnist_pixels, text";

    /// The task `name` names, if it is a sequence task.
    pub fn from_name(name: &str) -> Option<SeqTask> {
        Some(match name {
            "adding" => SeqTask::Adding,
            "temporal_order" => SeqTask::TemporalOrder,
            "copy" => SeqTask::Copy,
            "seq_mnist" => SeqTask::SeqMnist(seq_mnist::Reading::Rows),
            "seq_mnist_pixels" => SeqTask::SeqMnist(seq_mnist::Reading::Pixels),
            "text" => SeqTask::Text,
            _ => return None,
        })
    }

    /// `data.length` when it is 0. Our choices: adding 50 (the length the
    /// RNN-vs-LSTM comparison uses), temporal order 100 (the paper's
    /// shortest), copy delay 100 (Arjovsky et al.'s shortest), text 100;
    /// sequential MNIST's is fixed (28 rows or 784 pixels).
    pub fn default_length(self) -> usize {
        match self {
            SeqTask::Adding => 50,
            SeqTask::TemporalOrder | SeqTask::Copy | SeqTask::Text => 100,
            SeqTask::SeqMnist(reading) => reading.length(),
        }
    }

    /// The `data.length` this task runs at, or why `length` does not fit.
    pub fn resolve_length(self, length: usize) -> Result<usize> {
        if length == 0 {
            return Ok(self.default_length());
        }
        let bad = |reason: String| {
            Err(Error::InvalidConfig {
                field: "data.length".into(),
                reason,
            })
        };
        match self {
            SeqTask::SeqMnist(reading) if length != reading.length() => bad(format!(
                "{length}: a digit read by {} has {} steps (leave data.length at 0)",
                if reading == seq_mnist::Reading::Rows {
                    "rows"
                } else {
                    "pixels"
                },
                reading.length()
            )),
            SeqTask::Adding if length < adding::MIN_LENGTH => bad(format!(
                "{length}: the adding problem needs T >= {} (one mark among the first ten \
                 pairs, within the first half)",
                adding::MIN_LENGTH
            )),
            SeqTask::TemporalOrder if length < temporal_order::MIN_LENGTH => bad(format!(
                "{length}: temporal order needs T >= {} (both relevant symbols between the \
                 start and the trigger)",
                temporal_order::MIN_LENGTH
            )),
            _ => Ok(length),
        }
    }

    /// Checks the keys of `d` this task reads, and refuses those it does
    /// not, naming the field.
    pub fn check(self, d: &DataSpec) -> Result<usize> {
        let bad = |field: &str, reason: String| {
            Err(Error::InvalidConfig {
                field: field.into(),
                reason,
            })
        };
        if d.dir.is_some() || d.eval_dir.is_some() {
            let field = if d.dir.is_some() {
                "data.dir"
            } else {
                "data.eval_dir"
            };
            return bad(
                field,
                format!("`{}` reads bundled or generated data", d.name),
            );
        }
        if d.scaling != crate::data::Scaling::Unit {
            return bad(
                "data.scaling",
                format!(
                    "`{}`: sequence tasks take their inputs as generated (unit)",
                    d.name
                ),
            );
        }
        if !d.augment.is_none() {
            return bad(
                "data.augment",
                format!("`{}`: sequence tasks are not augmented", d.name),
            );
        }
        if d.permute && !matches!(self, SeqTask::SeqMnist(_)) {
            return bad(
                "data.permute",
                format!("permutes MNIST pixels; `{}` has none", d.name),
            );
        }
        if matches!(
            self,
            SeqTask::Adding | SeqTask::TemporalOrder | SeqTask::Copy
        ) && (d.train_size == 0 || d.test_size == 0)
        {
            let field = if d.train_size == 0 {
                "data.train_size"
            } else {
                "data.test_size"
            };
            return bad(field, "must be at least 1".into());
        }
        self.resolve_length(d.length)
    }

    /// The train and test sets `d` describes; generated tasks draw the
    /// training set from `seed` and the test set from `seed ^ 0x5eed`.
    pub fn prepare(self, d: &DataSpec, seed: u64) -> Result<SeqPrepared> {
        let length = self.check(d)?;
        let test_seed = seed ^ 0x5eed;
        let (train, test, baseline, symbols) = match self {
            SeqTask::Adding => (
                adding::adding(d.train_size, length, seed),
                adding::adding(d.test_size, length, test_seed),
                Baseline::MeanPredictorMse(adding::MEAN_PREDICTOR_MSE),
                None,
            ),
            SeqTask::TemporalOrder => (
                temporal_order::temporal_order(d.train_size, length, seed),
                temporal_order::temporal_order(d.test_size, length, test_seed),
                Baseline::ChanceAccuracy(1.0 / temporal_order::CLASSES as f64),
                None,
            ),
            SeqTask::Copy => (
                copy::copy(d.train_size, length, seed),
                copy::copy(d.test_size, length, test_seed),
                Baseline::MemorylessLoss(copy::memoryless_loss(length)),
                None,
            ),
            SeqTask::SeqMnist(reading) => {
                let (train, test) = seq_mnist::bundled(reading, d.permute);
                (train, test, Baseline::ChanceAccuracy(0.1), None)
            }
            SeqTask::Text => {
                let t = text::CharText::bundled();
                if t.valid.len() <= length {
                    return Err(Error::InvalidConfig {
                        field: "data.length".into(),
                        reason: format!(
                            "{length}: the validation text has only {} characters",
                            t.valid.len()
                        ),
                    });
                }
                (
                    t.examples(&t.train, length, "kjv-nt:train"),
                    t.examples(&t.valid, length, "kjv-nt:valid"),
                    Baseline::UnigramEntropyBits(t.train_entropy_bits()),
                    Some(t.symbols),
                )
            }
        };
        Ok(SeqPrepared {
            train,
            test,
            baseline,
            symbols,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> DataSpec {
        DataSpec {
            name: name.into(),
            train_size: 40,
            test_size: 20,
            ..DataSpec::default()
        }
    }

    fn err_field(r: Result<impl std::fmt::Debug>) -> String {
        match r {
            Err(Error::InvalidConfig { field, .. }) => field,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn every_name_prepares_well_formed_sets_at_its_default_length() {
        for name in SeqTask::NAMES.split(", ") {
            let task = SeqTask::from_name(name).unwrap();
            let p = task.prepare(&spec(name), 3).unwrap();
            for d in [&p.train, &p.test] {
                assert_eq!(d.defect(), None, "{name}");
            }
            let steps = match task {
                SeqTask::Copy => copy::steps(100),
                _ => task.default_length(),
            };
            assert_eq!((p.train.length, p.test.length), (steps, steps), "{name}");
            assert_eq!(p.symbols.is_some(), task == SeqTask::Text, "{name}");
        }
        assert_eq!(SeqTask::from_name("mnist"), None);
    }

    #[test]
    fn generated_sets_follow_sizes_and_seed() {
        let a = SeqTask::Adding.prepare(&spec("adding"), 1).unwrap();
        let b = SeqTask::Adding.prepare(&spec("adding"), 1).unwrap();
        assert_eq!((a.train.len(), a.test.len()), (40, 20));
        assert_eq!(a.train, b.train);
        // Test examples are drawn apart from training ones.
        assert_ne!(a.train.slice(0..20, "x"), a.test.slice(0..20, "x"));
        assert_eq!(
            a.baseline,
            Baseline::MeanPredictorMse(adding::MEAN_PREDICTOR_MSE)
        );
    }

    #[test]
    fn lengths_below_what_the_task_needs_name_the_field() {
        let mut d = spec("adding");
        d.length = 19;
        assert_eq!(err_field(SeqTask::Adding.prepare(&d, 0)), "data.length");
        d.length = 20;
        assert_eq!(SeqTask::Adding.prepare(&d, 0).unwrap().train.length, 20);
        let mut d = spec("temporal_order");
        d.length = 9;
        assert_eq!(err_field(SeqTask::TemporalOrder.check(&d)), "data.length");
        let mut d = spec("seq_mnist");
        d.length = 784;
        let rows = SeqTask::from_name("seq_mnist").unwrap();
        assert_eq!(err_field(rows.check(&d)), "data.length");
        d.name = "seq_mnist_pixels".into();
        assert_eq!(
            SeqTask::from_name("seq_mnist_pixels")
                .unwrap()
                .check(&d)
                .unwrap(),
            784
        );
    }

    #[test]
    fn keys_a_task_does_not_read_are_refused() {
        let mut d = spec("copy");
        d.permute = true;
        assert_eq!(err_field(SeqTask::Copy.check(&d)), "data.permute");
        let mut d = spec("adding");
        d.scaling = crate::data::Scaling::Standardize;
        assert_eq!(err_field(SeqTask::Adding.check(&d)), "data.scaling");
        let mut d = spec("text");
        d.dir = Some("/tmp".into());
        assert_eq!(err_field(SeqTask::Text.check(&d)), "data.dir");
        let mut d = spec("copy");
        d.test_size = 0;
        assert_eq!(err_field(SeqTask::Copy.check(&d)), "data.test_size");
    }
}
