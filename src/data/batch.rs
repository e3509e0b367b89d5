//! Input scaling and seeded minibatches.
//!
//! Scaling is fitted on the training set and applied to every split:
//! `unit` keeps the natural [0, 1] scale, `standardize` subtracts each
//! feature's training mean and divides by its standard deviation (features
//! with zero variance are only centred), `binarize(t)` maps `v > t` to 1 and
//! the rest to 0.
//!
//! Batches: each epoch is a fresh seeded permutation cut into
//! `floor(n / batch)` full batches (the remainder is dropped, so every step
//! sees the same batch size, which BatchNorm statistics need).

use super::Dataset;
use crate::error::{Error, Result};
use crate::tensor::{Matrix, Scalar};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::str::FromStr;

/// How inputs are scaled.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Scaling {
    /// As stored: pixels in [0, 1] (default).
    #[default]
    Unit,
    /// Zero mean, unit variance per feature (training statistics).
    Standardize,
    /// 1 above the threshold, else 0.
    Binarize(f64),
}

/// A fitted scaling, ready to apply to any split.
#[derive(Clone, Debug)]
pub struct Scaler {
    scaling: Scaling,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
}

impl Scaling {
    /// Learns what the scaling needs from the training set.
    pub fn fit(&self, train: &Dataset) -> Scaler {
        let (n, d) = train.features.shape();
        let (mut mean, mut inv_std) = (vec![0.0f32; d], vec![1.0f32; d]);
        if *self == Scaling::Standardize && n > 0 {
            let mut s = vec![0.0f64; d];
            let mut s2 = vec![0.0f64; d];
            for r in 0..n {
                for (j, &v) in train.features.row(r).iter().enumerate() {
                    s[j] += v as f64;
                    s2[j] += (v as f64) * (v as f64);
                }
            }
            for j in 0..d {
                let m = s[j] / n as f64;
                let var = (s2[j] / n as f64 - m * m).max(0.0);
                mean[j] = m as f32;
                inv_std[j] = if var > 1e-12 {
                    (1.0 / var.sqrt()) as f32
                } else {
                    1.0
                };
            }
        }
        Scaler {
            scaling: *self,
            mean,
            inv_std,
        }
    }
}

impl Scaler {
    /// Scales `data`'s features in place.
    pub fn apply(&self, data: &mut Dataset) {
        let d = data.dim();
        match self.scaling {
            Scaling::Unit => {}
            Scaling::Standardize => {
                for row in data.features.as_mut_slice().chunks_exact_mut(d.max(1)) {
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = (*v - self.mean[j]) * self.inv_std[j];
                    }
                }
            }
            Scaling::Binarize(t) => {
                let t = t as f32;
                for v in data.features.as_mut_slice() {
                    *v = if *v > t { 1.0 } else { 0.0 };
                }
            }
        }
    }
}

impl fmt::Display for Scaling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scaling::Unit => f.write_str("unit"),
            Scaling::Standardize => f.write_str("standardize"),
            Scaling::Binarize(t) => write!(f, "binarize({t})"),
        }
    }
}

impl Scaling {
    /// The names [`Scaling::from_str`] accepts (`binarize` alone is
    /// `binarize(0.5)`).
    pub const NAMES: &'static str = "unit, standardize, binarize(threshold)";
}

impl FromStr for Scaling {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let unknown = || Error::UnknownName {
            what: "scaling",
            name: s.into(),
            expected: Scaling::NAMES.into(),
        };
        let (name, args) = crate::names::split_call(s).ok_or_else(unknown)?;
        match (name, args.as_slice()) {
            ("unit", []) => Ok(Scaling::Unit),
            ("standardize", []) => Ok(Scaling::Standardize),
            ("binarize", []) => Ok(Scaling::Binarize(0.5)),
            ("binarize", [t]) => t.parse().map(Scaling::Binarize).map_err(|_| unknown()),
            _ => Err(unknown()),
        }
    }
}

crate::names::serde_via_str!(Scaling);

/// Seeded minibatch indices over `n` examples.
#[derive(Clone, Debug)]
pub struct Batches {
    order: Vec<usize>,
    batch: usize,
    pos: usize,
    epoch: usize,
    rng: ChaCha8Rng,
}

impl Batches {
    /// Batches of `batch` examples out of `n`, shuffled by `seed`.
    ///
    /// # Panics
    /// When `batch` is 0 or larger than `n`.
    pub fn new(n: usize, batch: usize, seed: u64) -> Self {
        assert!(batch > 0 && batch <= n, "batch {batch} of {n} examples");
        let mut b = Self {
            order: (0..n).collect(),
            batch,
            pos: 0,
            epoch: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        };
        b.order.shuffle(&mut b.rng);
        b
    }

    /// Full batches per epoch.
    pub fn per_epoch(&self) -> usize {
        self.order.len() / self.batch
    }

    /// Epochs completed so far.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The next batch's example indices (reshuffling at each epoch end).
    pub fn next_indices(&mut self) -> &[usize] {
        if self.pos + self.batch > self.order.len() {
            self.order.shuffle(&mut self.rng);
            self.pos = 0;
            self.epoch += 1;
        }
        let s = self.pos;
        self.pos += self.batch;
        &self.order[s..s + self.batch]
    }

    /// Where it is in its stream, to continue from ([`Batches::restore`]).
    pub fn state(&self) -> BatchesState {
        BatchesState {
            order: self.order.clone(),
            pos: self.pos,
            epoch: self.epoch,
            rng_word: self.rng.get_word_pos(),
        }
    }

    /// Continues from `state`, taken from batches of the same size over
    /// the same examples with the same seed: the batches that follow are
    /// the ones that followed then. A state that cannot come from such
    /// batches (not a permutation of the examples, a position past the
    /// end) is refused.
    pub fn restore(&mut self, state: BatchesState) -> Result<()> {
        let n = self.order.len();
        let bad = |reason: String| Error::InvalidConfig {
            field: "data order".into(),
            reason,
        };
        if state.order.len() != n {
            return Err(bad(format!(
                "{} examples saved, {n} in the data",
                state.order.len()
            )));
        }
        let mut seen = vec![false; n];
        for &i in &state.order {
            if i >= n || std::mem::replace(&mut seen[i], true) {
                return Err(bad(format!(
                    "not a permutation of the {n} examples (index {i})"
                )));
            }
        }
        if state.pos > n {
            return Err(bad(format!(
                "position {} is past the {n} examples",
                state.pos
            )));
        }
        self.rng.set_word_pos(state.rng_word);
        (self.order, self.pos, self.epoch) = (state.order, state.pos, state.epoch);
        Ok(())
    }
}

/// Where a [`Batches`] stream is: the current epoch's order, the position
/// in it, the epochs done, and the shuffling generator's position (in
/// 32-bit words of its ChaCha8 stream).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchesState {
    /// This epoch's order of the examples.
    pub order: Vec<usize>,
    /// The next batch's first index into `order`.
    pub pos: usize,
    /// Epochs completed.
    pub epoch: usize,
    /// The generator's word position.
    pub rng_word: u128,
}

/// Copies the rows `idx` of `data` into `x` (converting to `T`) and their
/// labels into `y`.
pub fn gather<T: Scalar>(data: &Dataset, idx: &[usize], x: &mut Matrix<T>, y: &mut Vec<usize>) {
    let d = data.dim();
    x.resize(idx.len(), d);
    y.clear();
    for (r, &i) in idx.iter().enumerate() {
        for (o, &v) in x.row_mut(r).iter_mut().zip(data.features.row(i)) {
            *o = T::cast(v as f64);
        }
        y.push(data.labels[i]);
    }
}

/// The whole dataset as one matrix of `T` (for evaluation).
pub fn to_matrix<T: Scalar>(data: &Dataset) -> Result<Matrix<T>> {
    let (n, d) = data.features.shape();
    Matrix::from_vec(
        n,
        d,
        data.features
            .as_slice()
            .iter()
            .map(|&v| T::cast(v as f64))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> Dataset {
        Dataset {
            name: "toy".into(),
            features: Matrix::from_rows(&[vec![0.0, 1.0], vec![0.5, 1.0], vec![1.0, 1.0]]),
            labels: vec![0, 1, 0],
            classes: 2,
            image: None,
        }
    }

    #[test]
    fn standardize_uses_training_statistics() {
        let mut d = toy();
        Scaling::Standardize.fit(&toy()).apply(&mut d);
        let col0: Vec<f32> = (0..3).map(|r| d.features.get(r, 0)).collect();
        let sd = (1.0f32 / 6.0).sqrt();
        assert!((col0[0] + 0.5 / sd).abs() < 1e-5 && col0[1].abs() < 1e-6);
        // Constant feature: centred only.
        assert_eq!(d.features.get(0, 1), 0.0);
    }

    #[test]
    fn binarize_thresholds() {
        let mut d = toy();
        "binarize(0.4)"
            .parse::<Scaling>()
            .unwrap()
            .fit(&toy())
            .apply(&mut d);
        assert_eq!(d.features.row(0), &[0.0, 1.0]);
        assert_eq!(d.features.row(1), &[1.0, 1.0]);
    }

    #[test]
    fn batches_cover_each_epoch_once_and_are_seeded() {
        let mut a = Batches::new(10, 3, 7);
        let mut seen: Vec<usize> = (0..3).flat_map(|_| a.next_indices().to_vec()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 9);
        let mut b = Batches::new(10, 3, 7);
        let mut c = Batches::new(10, 3, 8);
        let first = Batches::new(10, 3, 7).next_indices().to_vec();
        assert_eq!(b.next_indices(), &first[..]);
        assert_ne!(c.next_indices(), &first[..]);
        a.next_indices();
        assert_eq!(a.epoch(), 1);
    }

    #[test]
    fn restored_batches_continue_as_the_original_across_epochs() {
        let mut a = Batches::new(10, 3, 7);
        for _ in 0..4 {
            a.next_indices();
        }
        let state = a.state();
        let mut b = Batches::new(10, 3, 7);
        b.restore(state.clone()).unwrap();
        for _ in 0..9 {
            assert_eq!(a.next_indices(), b.next_indices());
        }
        assert_eq!(a.epoch(), b.epoch());
        // A state that is not a permutation, or points past the end.
        let mut dup = state.clone();
        dup.order[0] = dup.order[1];
        assert!(b.restore(dup).is_err());
        let far = BatchesState { pos: 11, ..state };
        assert!(b.restore(far).unwrap_err().to_string().contains("past"));
    }
}
