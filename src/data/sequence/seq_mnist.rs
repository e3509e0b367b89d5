//! Sequential MNIST: a digit read as a sequence, the class read out after
//! the last step. Row by row, `T = 28` steps of `D = 28` pixels (top row
//! first); pixel by pixel, `T = 784` steps of one pixel in raster order
//! (Le, Jaitly & Hinton 2015). Permuted: the 784 pixels are first
//! shuffled by one fixed permutation, the same for every example and every
//! run ([`PERMUTATION_SEED`]), which spreads each stroke over the whole
//! sequence and removes the locality a net could lean on.
//!
//! The digits are the bundled 10,000 ([`crate::data::mnist::bundled_split`]:
//! the first 8,000 train, the last 2,000 are held out), pixels in [0, 1].

use super::{SeqDataset, SeqInputs, SeqTargets};
use crate::data::{mnist, Dataset};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Side of an MNIST digit.
pub const SIDE: usize = 28;
/// Pixels of a digit.
pub const PIXELS: usize = SIDE * SIDE;

/// The seed of the permutation of permuted MNIST: fixed, not the run's,
/// so that runs with different seeds learn the same task (the literature
/// uses one permutation throughout). Our choice.
pub const PERMUTATION_SEED: u64 = 0x5e9_0784;

/// How a digit becomes a sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// 28 steps of a 28-pixel row.
    Rows,
    /// 784 steps of one pixel.
    Pixels,
}

impl Reading {
    /// Steps per digit.
    pub fn length(self) -> usize {
        match self {
            Reading::Rows => SIDE,
            Reading::Pixels => PIXELS,
        }
    }

    /// Pixels per step.
    pub fn dim(self) -> usize {
        PIXELS / self.length()
    }
}

/// A seeded permutation of the 784 pixel indices: pixel `k` of the
/// permuted digit is pixel `perm[k]` of the original.
pub fn pixel_permutation(seed: u64) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..PIXELS).collect();
    perm.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    perm
}

/// The digits of `data` (784 features each) as sequences read by
/// `reading`, their pixels first reordered by `permutation` when given.
///
/// # Panics
/// When `data` does not have 784 features, or `permutation` 784 entries.
pub fn sequences(data: &Dataset, reading: Reading, permutation: Option<&[usize]>) -> SeqDataset {
    assert_eq!(data.dim(), PIXELS, "{} is not 28 x 28 digits", data.name);
    let mut values = Vec::with_capacity(data.len() * PIXELS);
    for r in 0..data.len() {
        let digit = data.features.row(r);
        match permutation {
            Some(perm) => {
                assert_eq!(perm.len(), PIXELS, "a permutation of 784 pixels");
                values.extend(perm.iter().map(|&k| digit[k]));
            }
            None => values.extend_from_slice(digit),
        }
    }
    let kind = match reading {
        Reading::Rows => "rows",
        Reading::Pixels => "pixels",
    };
    let permuted = if permutation.is_some() {
        "permuted-"
    } else {
        ""
    };
    SeqDataset {
        name: format!("seq-mnist-{permuted}{kind}:{}", data.name),
        length: reading.length(),
        inputs: SeqInputs::Dense {
            dim: reading.dim(),
            values,
        },
        targets: SeqTargets::Classes {
            classes: data.classes,
            labels: data.labels.clone(),
        },
    }
}

/// The bundled digits as (train, held-out) sequences; `permute` applies
/// the fixed permutation of [`PERMUTATION_SEED`].
pub fn bundled(reading: Reading, permute: bool) -> (SeqDataset, SeqDataset) {
    let (train, test) = mnist::bundled_split();
    let perm = permute.then(|| pixel_permutation(PERMUTATION_SEED));
    (
        sequences(&train, reading, perm.as_deref()),
        sequences(&test, reading, perm.as_deref()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Matrix;

    /// Two "digits" whose pixel k holds k / 784 (and its mirror).
    fn ramp() -> Dataset {
        let a: Vec<f32> = (0..PIXELS).map(|k| k as f32 / PIXELS as f32).collect();
        let b: Vec<f32> = a.iter().rev().copied().collect();
        Dataset {
            name: "ramp".into(),
            features: Matrix::from_rows(&[a, b]),
            labels: vec![3, 8],
            classes: 10,
            image: None,
        }
    }

    fn values(d: &SeqDataset) -> &[f32] {
        match &d.inputs {
            SeqInputs::Dense { values, .. } => values,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rows_and_pixels_have_their_shapes_and_order() {
        let rows = sequences(&ramp(), Reading::Rows, None);
        assert_eq!((rows.len(), rows.length, rows.input_dim()), (2, 28, 28));
        assert_eq!(rows.defect(), None);
        // Step 1 of digit 0 is its second row: pixels 28..56.
        let step1 = &values(&rows)[28..56];
        assert_eq!(step1[0], 28.0 / 784.0);
        let pixels = sequences(&ramp(), Reading::Pixels, None);
        assert_eq!((pixels.length, pixels.input_dim()), (784, 1));
        // Same bytes either way: only the step boundaries differ.
        assert_eq!(values(&rows), values(&pixels));
        assert_eq!(
            rows.targets,
            SeqTargets::Classes {
                classes: 10,
                labels: vec![3, 8]
            }
        );
    }

    #[test]
    fn permutation_is_a_permutation_fixed_by_its_seed() {
        let p = pixel_permutation(PERMUTATION_SEED);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..PIXELS).collect::<Vec<_>>());
        assert_eq!(p, pixel_permutation(PERMUTATION_SEED));
        assert_ne!(p, pixel_permutation(PERMUTATION_SEED + 1));
        // It moves almost every pixel (a fixed point is rare).
        assert!(p.iter().enumerate().filter(|(k, &v)| *k == v).count() < 10);
    }

    #[test]
    fn permuted_digit_k_reads_pixel_perm_k() {
        let p = pixel_permutation(1);
        let d = sequences(&ramp(), Reading::Pixels, Some(&p));
        let v = values(&d);
        for k in [0, 1, 400, 783] {
            assert_eq!(v[k], p[k] as f32 / 784.0);
            assert_eq!(v[PIXELS + k], (783 - p[k]) as f32 / 784.0);
        }
    }

    #[test]
    fn bundled_split_keeps_labels_and_ink() {
        let (train, test) = bundled(Reading::Rows, false);
        assert_eq!((train.len(), test.len()), (8_000, 2_000));
        let SeqTargets::Classes { labels, .. } = &train.targets else {
            panic!()
        };
        assert_eq!(&labels[..3], &[5, 0, 4]);
        // Permuting keeps each digit's pixels, so its ink.
        let (ptrain, _) = bundled(Reading::Pixels, true);
        let ink = |d: &SeqDataset| values(d)[..PIXELS].iter().sum::<f32>();
        assert!((ink(&train) - ink(&ptrain)).abs() < 1e-3);
        assert_ne!(values(&train)[..PIXELS], values(&ptrain)[..PIXELS]);
    }
}
