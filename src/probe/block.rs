//! The contract between a probed block and the prober.
//!
//! A *block* is one "layer" of a depth profile: a dense block
//! (`linear -> [norm] -> activation`), and later a recurrent cell, a conv
//! layer, an attention block. It measures its own tensors while its forward
//! and backward write them (in cache, no second pass), on the steps the
//! prober turns its tap on, and hands the statistics over as [`Figures`]:
//! the tensors every block has (`pre`, `out`, `pre_grad`, `out_grad`, its
//! weight and the weight's gradient), and [`Series`] along its own axis
//! (a recurrent cell's hidden state per time step, a conv layer's output
//! per channel). The prober iterates blocks; it never reaches into one.
//!
//! ```text
//! Prober::arm     block.set_tap(Tap::Scalars | Tap::Histograms | Tap::Off)
//! forward         block measures pre, out, weight (+ series, histograms)
//! backward        block measures out_grad, pre_grad, weight_grad, bias_grad
//! Prober::observe block.figures() -> LayerProbe; block.weight() sampled
//! optimizer
//! Prober::finish  block.weight() against the sample: update:data ratio
//! ```
//!
//! A container that is not itself a layer (a residual block) measures
//! what only it sees, the gradient through its shortcut, on the steps its
//! first block is tapped, and adds it to that block's figures
//! ([`Block::add_series`]).

use super::{HistTensor, Histogram, Series};
use crate::tensor::{in_halves, tensor_stats, Param, Scalar, Split, TensorStats, PARALLEL_MIN};

/// Saturated: derivative below this fraction of its maximum (for sigmoid
/// and tanh, Glorot & Bengio's `|tanh| > 0.97` notion).
pub const SATURATION_FRACTION: f64 = 0.05;

/// Entries sampled (at least) for percentiles and the saturated fraction:
/// an even stride through the batch, coprime with the row width. The
/// fraction's standard error is at most 1.6 points.
pub const PERCENTILE_SAMPLE: usize = 1024;

/// What a block measures on the next forward and backward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tap {
    /// Nothing (an unrecorded step, an evaluation).
    Off,
    /// The per-step scalars: every [`Figures`] field but the histograms.
    Scalars,
    /// The scalars and the histograms of `weight_grad`, `pre_grad`, `out`.
    Histograms,
}

impl Tap {
    /// Whether anything is measured.
    pub fn is_on(self) -> bool {
        self != Tap::Off
    }
}

/// What a block measured in its last tapped forward and backward; `None`
/// (or empty) where it measured nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    /// Every entry of the weight, as forward used it (before the update).
    pub weight: Option<TensorStats>,
    /// `dL/dW`, before clipping.
    pub weight_grad: Option<TensorStats>,
    /// `dL/db`, when the block has a bias.
    pub bias_grad: Option<TensorStats>,
    /// The pre-activation `z`.
    pub pre: Option<TensorStats>,
    /// The output `h` (for a block without an activation, `z`).
    pub out: Option<TensorStats>,
    /// `dL/dz`, the delta at the pre-activation.
    pub pre_grad: Option<TensorStats>,
    /// `dL/dh`, the gradient arriving at the output.
    pub out_grad: Option<TensorStats>,
    /// 15th, 50th and 85th percentiles of `z` over a sample of
    /// [`PERCENTILE_SAMPLE`] entries or more.
    pub pre_pct: Option<[f64; 3]>,
    /// Fraction of sampled entries whose activation derivative is below
    /// [`SATURATION_FRACTION`] of its maximum.
    pub saturated: Option<f64>,
    /// Fraction of units with `z <= 0` on every row (ReLU family).
    pub dead: Option<f64>,
    /// Figures along the block's own axis (time steps, channels).
    pub series: Vec<Series>,
    /// Histograms, when tapped with [`Tap::Histograms`].
    pub histograms: Vec<(HistTensor, Histogram)>,
}

/// A block the prober measures: one layer of depth profiles.
pub trait Block<T: Scalar>: Send + Sync {
    /// The block's path, the key of its row in the store (`layers.3`).
    fn path(&self) -> &str;

    /// What the next forward and backward measure. A tap changes no value
    /// the step computes.
    fn set_tap(&mut self, tap: Tap);

    /// What the next forward and backward measure (the last
    /// [`Block::set_tap`]).
    fn tap(&self) -> Tap;

    /// What the last tapped forward and backward measured.
    fn figures(&self) -> &Figures;

    /// Adds a series its container measured around it (a residual block's
    /// branch and shortcut, given to the branch's first layer) to the
    /// figures of this step.
    fn add_series(&mut self, series: Series);

    /// The weight whose updates the prober follows (update:data ratio),
    /// with its gradient.
    fn weight(&self) -> &Param<T>;
}

/// [`tensor_stats`] of `values` on the current pool's threads: halves in
/// parallel, merged in order. For a tensor one thread would otherwise
/// measure while the other waits, as a weight gradient right after its
/// GEMM.
pub fn measure<T: Scalar>(values: &[T]) -> TensorStats {
    let split = Split::on_pool(values.len(), 2048).min(PARALLEL_MIN);
    in_halves(
        values,
        split,
        &|part: &[T], _| tensor_stats(part),
        &|mut a, b| {
            a.merge(&b);
            a
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measure_on_two_threads_counts_every_entry_once() {
        let v: Vec<f32> = (0..100_000).map(|i| (i % 7) as f32 - 3.0).collect();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let s = pool.install(|| measure(&v));
        let whole = tensor_stats(&v);
        assert_eq!((s.n, s.zeros, s.max_abs), (whole.n, whole.zeros, 3.0));
        assert_eq!(s.sum_sq, whole.sum_sq);
    }
}
