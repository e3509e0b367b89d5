//! Data: IDX files (MNIST, Fashion-MNIST, any IDX), the bundled MNIST and
//! Fashion-MNIST subsets, CIFAR-10's binary batches, the canonical-set
//! downloader, generators (Playground 2-D sets, Shapeset-3x2), a run's data
//! prepared from its `[data]` section ([`prepare()`]), seeded minibatches,
//! and seeded image augmentation ([`augment`]).
//!
//! Every feed-forward source produces a [`Dataset`]: features as an
//! `n x d` f32 matrix in their natural scale (images in [0, 1]), one
//! class label per row, and, for images, their shape ([`Dataset::image`]:
//! rows in NHWC order, pixel-major and channel-minor). Sequence tasks for recurrent nets (the adding
//! problem, temporal order, copy memory, sequential MNIST, character-level
//! text) produce a [`sequence::SeqDataset`] instead
//! ([`prepare_sequences()`]).

pub mod augment;
mod batch;
pub mod cifar10;
pub mod fetch;
pub mod generators;
pub mod idx;
pub mod mnist;
mod prepare;
pub mod sequence;

pub use augment::{Augment, Augmenter};
pub use batch::{gather, to_matrix, Batches, BatchesState, Scaler, Scaling};
pub use prepare::{prepare, prepare_sequences, DataSpec, Prepared, DATA_NAMES};
pub use sequence::SeqPrepared;

use crate::nn::conv::Image;
use crate::tensor::Matrix;

/// A labelled dataset held in memory.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Where it came from (`mnist-10k`, `spirals`, a file path).
    pub name: String,
    /// `n x d` features; images as `byte / 255`.
    pub features: Matrix<f32>,
    /// One class per row, each `< classes`.
    pub labels: Vec<usize>,
    /// Number of classes.
    pub classes: usize,
    /// The shape of one example when the rows are images, stored
    /// channels-last (NHWC: pixel-major, channel-minor, as the conv layers
    /// read them): 1 x 28 x 28 for MNIST and Fashion-MNIST, 3 x 32 x 32 for
    /// CIFAR-10; `None` for data that are not images.
    pub image: Option<Image>,
}

impl Dataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Features per example.
    pub fn dim(&self) -> usize {
        self.features.cols()
    }

    /// Rows `range` as a new dataset (for deterministic splits).
    pub fn slice(&self, range: std::ops::Range<usize>, name: &str) -> Dataset {
        let d = self.dim();
        let data = self.features.as_slice()[range.start * d..range.end * d].to_vec();
        Dataset {
            name: name.to_string(),
            features: Matrix::from_vec(range.len(), d, data).expect("slice shape"),
            labels: self.labels[range].to_vec(),
            classes: self.classes,
            image: self.image,
        }
    }

    /// Count of examples per class.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes];
        for &l in &self.labels {
            counts[l] += 1;
        }
        counts
    }
}
