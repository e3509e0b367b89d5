//! Sequence data for recurrent nets: a [`SeqDataset`] holds `n` examples
//! of `T` steps ([`SeqDataset::length`]) each, and [`gather_seq`] writes a
//! minibatch of them time-major, ready for a recurrent layer to read step
//! by step.
//!
//! # Layout
//! Stored, example-major (example `i`, step `t`, channel `j`):
//! - [`SeqInputs::Dense`]: `values[(i * T + t) * D + j]`, `D` channels per
//!   step (the adding problem's value and marker, a row of a digit).
//! - [`SeqInputs::Tokens`]: `ids[i * T + t]`, one symbol of a `vocab`-sized
//!   alphabet per step, one-hot encoded only when a batch is gathered.
//! - [`SeqTargets::Classes`] and [`SeqTargets::Values`]: one target per
//!   example, read out after the last step (`labels[i]`,
//!   `values[i * dim + k]`).
//! - [`SeqTargets::PerStep`]: one class per step, `labels[i * T + t]`
//!   (language modelling, the copy task).
//!
//! Gathered, time-major: `xs[t]` is the `batch x D` input at step `t`
//! (`D` = vocab for tokens), and [`SeqBatchTargets::PerStep`]'s `[t]` the
//! batch's classes at step `t`. A warmed-up gather allocates nothing.
//! Minibatch order comes from [`crate::data::Batches`] over
//! [`SeqDataset::len`], as for the feed-forward sets.
//!
//! # Tasks
//! Generated and seeded (the same seed gives the same bytes): the adding
//! problem ([`adding`]), temporal order ([`temporal_order`]), copy memory
//! ([`copy`]); read from bundled data: sequential MNIST
//! ([`seq_mnist`]) and character-level text ([`text`]). [`SeqTask`] names
//! them and turns a `[data]` section into train and test sets.

pub mod adding;
pub mod copy;
mod gather;
pub mod seq_mnist;
mod task;
pub mod temporal_order;
pub mod text;

pub use gather::{gather_seq, SeqBatchTargets};
pub use task::{Baseline, SeqPrepared, SeqTask};

use std::ops::Range;

/// A sequence dataset held in memory (layout in the module doc).
#[derive(Clone, Debug, PartialEq)]
pub struct SeqDataset {
    /// Where it came from (`adding`, `seq-mnist-rows:train`, ...).
    pub name: String,
    /// Steps per example, `T`.
    pub length: usize,
    /// What the net reads at each step.
    pub inputs: SeqInputs,
    /// What it must output.
    pub targets: SeqTargets,
}

/// The inputs of a [`SeqDataset`], example-major.
#[derive(Clone, Debug, PartialEq)]
pub enum SeqInputs {
    /// `dim` real channels per step: `n x T x dim` values.
    Dense {
        /// Channels per step, `D`.
        dim: usize,
        /// `values[(i * T + t) * dim + j]`.
        values: Vec<f32>,
    },
    /// One symbol per step: `n x T` ids, each `< vocab`.
    Tokens {
        /// Alphabet size (the one-hot width).
        vocab: usize,
        /// `ids[i * T + t]`.
        ids: Vec<u32>,
    },
}

/// The targets of a [`SeqDataset`].
#[derive(Clone, Debug, PartialEq)]
pub enum SeqTargets {
    /// One class per example, read out at the last step.
    Classes {
        /// Number of classes.
        classes: usize,
        /// `labels[i] < classes`.
        labels: Vec<usize>,
    },
    /// A real vector per example, regressed at the last step.
    Values {
        /// Outputs per example.
        dim: usize,
        /// `values[i * dim + k]`.
        values: Vec<f32>,
    },
    /// One class per step (language modelling, copy).
    PerStep {
        /// Number of classes.
        classes: usize,
        /// `labels[i * T + t] < classes`.
        labels: Vec<usize>,
    },
}

impl SeqDataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        let per = self.length.max(1);
        match &self.inputs {
            SeqInputs::Dense { dim, values } => values.len() / (per * (*dim).max(1)),
            SeqInputs::Tokens { ids, .. } => ids.len() / per,
        }
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inputs per step: `D` for dense inputs, the vocabulary for tokens.
    pub fn input_dim(&self) -> usize {
        match &self.inputs {
            SeqInputs::Dense { dim, .. } => *dim,
            SeqInputs::Tokens { vocab, .. } => *vocab,
        }
    }

    /// Outputs of the read-out: classes, or regression outputs.
    pub fn output_dim(&self) -> usize {
        match &self.targets {
            SeqTargets::Classes { classes, .. } | SeqTargets::PerStep { classes, .. } => *classes,
            SeqTargets::Values { dim, .. } => *dim,
        }
    }

    /// Examples `range` as a new dataset (for deterministic splits).
    ///
    /// # Panics
    /// When `range` reaches past [`SeqDataset::len`].
    pub fn slice(&self, range: Range<usize>, name: &str) -> SeqDataset {
        let t = self.length;
        let inputs = match &self.inputs {
            SeqInputs::Dense { dim, values } => SeqInputs::Dense {
                dim: *dim,
                values: values[range.start * t * dim..range.end * t * dim].to_vec(),
            },
            SeqInputs::Tokens { vocab, ids } => SeqInputs::Tokens {
                vocab: *vocab,
                ids: ids[range.start * t..range.end * t].to_vec(),
            },
        };
        let targets = match &self.targets {
            SeqTargets::Classes { classes, labels } => SeqTargets::Classes {
                classes: *classes,
                labels: labels[range.clone()].to_vec(),
            },
            SeqTargets::Values { dim, values } => SeqTargets::Values {
                dim: *dim,
                values: values[range.start * dim..range.end * dim].to_vec(),
            },
            SeqTargets::PerStep { classes, labels } => SeqTargets::PerStep {
                classes: *classes,
                labels: labels[range.start * t..range.end * t].to_vec(),
            },
        };
        SeqDataset {
            name: name.to_string(),
            length: t,
            inputs,
            targets,
        }
    }

    /// What is inconsistent in this dataset, if anything: input and target
    /// counts that disagree, ids or labels out of range, non-finite values.
    /// Every constructor's output passes; tests use it on theirs.
    pub fn defect(&self) -> Option<String> {
        let (n, t) = (self.len(), self.length);
        let (stored, per) = match &self.inputs {
            SeqInputs::Dense { dim, values } => (values.len(), t * dim),
            SeqInputs::Tokens { ids, .. } => (ids.len(), t),
        };
        if t == 0 || stored != n * per {
            return Some(format!("{stored} input entries for {n} examples of {per}"));
        }
        match &self.inputs {
            SeqInputs::Dense { values, .. } if values.iter().any(|v| !v.is_finite()) => {
                return Some("non-finite input".into())
            }
            SeqInputs::Tokens { vocab, ids } if ids.iter().any(|&i| i as usize >= *vocab) => {
                return Some(format!("token id not below the vocabulary {vocab}"))
            }
            _ => {}
        }
        let (count, expected, bad) = match &self.targets {
            SeqTargets::Classes { classes, labels } => {
                (labels.len(), n, labels.iter().any(|&l| l >= *classes))
            }
            SeqTargets::Values { dim, values } => {
                (values.len(), n * dim, values.iter().any(|v| !v.is_finite()))
            }
            SeqTargets::PerStep { classes, labels } => {
                (labels.len(), n * t, labels.iter().any(|&l| l >= *classes))
            }
        };
        if count != expected {
            return Some(format!("{count} target entries, expected {expected}"));
        }
        bad.then(|| "target out of range or non-finite".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three examples of two steps of one token each, per-step targets.
    fn toy() -> SeqDataset {
        SeqDataset {
            name: "toy".into(),
            length: 2,
            inputs: SeqInputs::Tokens {
                vocab: 3,
                ids: vec![0, 1, 1, 2, 2, 0],
            },
            targets: SeqTargets::PerStep {
                classes: 3,
                labels: vec![1, 2, 2, 0, 0, 1],
            },
        }
    }

    #[test]
    fn sizes_come_from_the_layout() {
        let d = toy();
        assert_eq!((d.len(), d.input_dim(), d.output_dim()), (3, 3, 3));
        let dense = SeqDataset {
            name: "dense".into(),
            length: 4,
            inputs: SeqInputs::Dense {
                dim: 2,
                values: vec![0.0; 5 * 4 * 2],
            },
            targets: SeqTargets::Values {
                dim: 1,
                values: vec![0.0; 5],
            },
        };
        assert_eq!(
            (dense.len(), dense.input_dim(), dense.output_dim()),
            (5, 2, 1)
        );
        assert_eq!(dense.defect(), None);
    }

    #[test]
    fn slice_keeps_whole_examples() {
        let s = toy().slice(1..3, "tail");
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.inputs,
            SeqInputs::Tokens {
                vocab: 3,
                ids: vec![1, 2, 2, 0]
            }
        );
        assert_eq!(
            s.targets,
            SeqTargets::PerStep {
                classes: 3,
                labels: vec![2, 0, 0, 1]
            }
        );
        assert_eq!(s.defect(), None);
    }

    #[test]
    fn defect_catches_broken_sets() {
        assert_eq!(toy().defect(), None);
        let mut bad = toy();
        bad.inputs = SeqInputs::Tokens {
            vocab: 2,
            ids: vec![0, 1, 1, 2, 2, 0],
        };
        assert!(bad.defect().unwrap().contains("vocabulary"));
        let mut short = toy();
        short.targets = SeqTargets::PerStep {
            classes: 3,
            labels: vec![1, 2, 2],
        };
        assert!(short.defect().unwrap().contains("expected 6"));
    }
}
