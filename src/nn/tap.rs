//! Taps: statistics a layer takes of the tensors it has just written,
//! inside its own forward and backward, while they are still in cache.
//!
//! Reading a step's tensors again after backward costs a trip to L3 for
//! each of them; a tapped [`ActivationLayer`](super::ActivationLayer) works
//! in blocks of whole rows, about [`TAP_BLOCK`] entries (one row when a row
//! is wider), and measures each block of
//! its input `z`, output `h`, `dL/dh` and `dL/dz` right after computing it
//! (in L1), and a tapped [`Linear`](super::Linear) measures its weight
//! gradient right after the GEMM wrote it (in L2). The prober turns taps
//! on for the steps it records ([`Layer::set_tap`](super::Layer::set_tap))
//! and reads [`Taps`] afterwards; untapped layers skip all of it. A tapped
//! step trains exactly as an untapped one (same values, same order).
//!
//! ```text
//! forward  block of z --f--> block of h   then  stats(z), stats(h), z > 0, samples of z and h
//! backward block of dL/dh --*f'--> dL/dz   then  stats(dL/dh), stats(dL/dz)
//! ```

use super::Activation;
use crate::tensor::{max_threads, tensor_stats, Matrix, Scalar, TensorStats};

/// Saturated: derivative below this fraction of its maximum (for sigmoid
/// and tanh, Glorot & Bengio's `|tanh| > 0.97` notion).
pub const SATURATION_FRACTION: f64 = 0.05;

/// Entries sampled (at least; see [`sample_stride`]) for percentiles and
/// the saturated fraction: an even stride through the batch, coprime with
/// the row width. The fraction's standard error is at most 1.6 points.
pub const PERCENTILE_SAMPLE: usize = 1024;

/// Entries per block of a tapped activation: 8 KiB of f32, so a block's
/// input and output (or `dL/dh` and `dL/dz`) stay in a 32 KiB L1 while
/// they are measured. Measured on (50, 256, 128) at one thread: the
/// per-step scalars cost about 6.2% with blocks of 4,096, 5.2% with 2,048,
/// and the same within noise with 1,024.
pub const TAP_BLOCK: usize = 2048;

/// What a tapped layer measured in its last forward and backward; `None`
/// where it measured nothing (an untapped pass, a backward that skipped its
/// input gradient).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Taps {
    /// The input `x` of forward (an activation's pre-activation `z`).
    pub input: Option<TensorStats>,
    /// The output of forward (an activation's `h`).
    pub output: Option<TensorStats>,
    /// `dL/d(output)` given to backward.
    pub grad_output: Option<TensorStats>,
    /// `dL/d(input)` computed by backward.
    pub input_grad: Option<TensorStats>,
    /// The weight gradient after backward.
    pub weight_grad: Option<TensorStats>,
    /// Fraction of the sampled entries whose activation derivative is below
    /// [`SATURATION_FRACTION`] of its maximum.
    pub saturated: Option<f64>,
    /// Fraction of units (columns) with `z <= 0` on every row (ReLU family).
    pub dead: Option<f64>,
    /// The input at the [`sample_stride`] positions, for percentiles.
    pub input_sample: Vec<f64>,
    /// The output at the same positions.
    pub output_sample: Vec<f64>,
}

impl Taps {
    /// Forgets the last pass's figures.
    pub fn clear(&mut self) {
        *self = Self::default();
    }
}

/// The stride of the sample of a `len`-entry tensor with rows of `cols`:
/// the largest stride up to `len / PERCENTILE_SAMPLE` that is coprime with
/// `cols`, so the sample has at least [`PERCENTILE_SAMPLE`] entries (all
/// of a small tensor) and walks through the columns instead of a few of
/// them (a stride of 32 in rows of 256 would see 8 units only).
pub fn sample_stride(len: usize, cols: usize) -> usize {
    let mut stride = (len / PERCENTILE_SAMPLE).max(1);
    while stride > 1 && gcd(stride, cols.max(1)) != 1 {
        stride -= 1;
    }
    stride
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The entries of `values` at the sample positions (`stride` apart, from 0).
pub fn sample<T: Scalar>(values: &[T], stride: usize) -> Vec<f64> {
    values.iter().step_by(stride).map(|v| v.as_f64()).collect()
}

/// Marks the units (columns of rows as wide as `alive`) with `z > 0` on
/// some row of `z`.
pub fn mark_alive<T: Scalar>(alive: &mut [bool], z: &[T]) {
    for row in z.chunks(alive.len().max(1)) {
        for (a, &v) in alive.iter_mut().zip(row) {
            *a |= v > T::zero();
        }
    }
}

/// Fraction of units never marked alive.
pub fn dead_fraction(alive: &[bool]) -> f64 {
    alive.iter().filter(|&&a| !a).count() as f64 / alive.len() as f64
}

/// Fraction of sampled entries (`z`, and `h = f(z)`) whose derivative is
/// below [`SATURATION_FRACTION`] of `act`'s maximum; `None` when empty.
pub fn saturated_fraction(act: Activation, z: &[f64], h: &[f64]) -> Option<f64> {
    if z.is_empty() {
        return None;
    }
    let mut d = vec![0.0; z.len()];
    act.backward_slice(z, h, &vec![1.0; z.len()], &mut d);
    let threshold = SATURATION_FRACTION * act.max_derivative();
    let below = d.iter().filter(|v| v.abs() < threshold).count();
    Some(below as f64 / z.len() as f64)
}

/// Entries below which an activation pass, tapped or not, stays on one
/// thread (waking the other worker costs a few microseconds; a sigmoid over
/// 16K entries takes about 10).
const PARALLEL_MIN: usize = 1 << 14;

/// `y = f(x)` over the whole batch, measuring each row block as it goes;
/// with more than one thread allowed, parts of the batch in parallel
/// (halves, split again while threads remain; the values are the same
/// either way, the f64 sums are merged in the order of the split).
pub fn forward<T: Scalar>(act: Activation, x: &Matrix<T>, y: &mut Matrix<T>, taps: &mut Taps) {
    taps.clear();
    let cols = x.cols().max(1);
    let pass = ForwardPass {
        act,
        cols,
        block: (TAP_BLOCK / cols).max(1) * cols,
        stride: sample_stride(x.len(), cols),
    };
    let m = pass.run(x.as_slice(), y.as_mut_slice(), 0, max_threads());
    let n = x.len();
    taps.input = Some(m.input);
    taps.output = Some(m.output);
    taps.saturated = saturated_fraction(act, &m.input_sample, &m.output_sample);
    taps.dead = (act.is_relu_family() && n > 0).then(|| dead_fraction(&m.alive));
    taps.input_sample = m.input_sample;
    taps.output_sample = m.output_sample;
}

/// The settings of one tapped forward.
struct ForwardPass {
    act: Activation,
    cols: usize,
    block: usize,
    stride: usize,
}

/// What a tapped forward measured over some rows.
struct ForwardFigures {
    input: TensorStats,
    output: TensorStats,
    /// Per column: positive on some row (ReLU family only, else empty).
    alive: Vec<bool>,
    input_sample: Vec<f64>,
    output_sample: Vec<f64>,
}

impl ForwardPass {
    /// Rows `xs` (starting at entry `start` of the batch) into `ys`, on up
    /// to `ways` threads.
    fn run<T: Scalar>(&self, xs: &[T], ys: &mut [T], start: usize, ways: usize) -> ForwardFigures {
        if let Some(mid) = split_point(xs.len(), self.block, ways) {
            let (xa, xb) = xs.split_at(mid);
            let (ya, yb) = ys.split_at_mut(mid);
            let half = ways / 2;
            let (mut a, b) = rayon::join(
                || self.run(xa, ya, start, half),
                || self.run(xb, yb, start + mid, ways - half),
            );
            a.input.merge(&b.input);
            a.output.merge(&b.output);
            a.alive.iter_mut().zip(&b.alive).for_each(|(x, &y)| *x |= y);
            a.input_sample.extend(b.input_sample);
            a.output_sample.extend(b.output_sample);
            return a;
        }
        let relu_family = self.act.is_relu_family();
        let mut m = ForwardFigures {
            input: TensorStats::default(),
            output: TensorStats::default(),
            alive: vec![false; if relu_family { self.cols } else { 0 }],
            input_sample: Vec::with_capacity(xs.len() / self.stride + 1),
            output_sample: Vec::with_capacity(xs.len() / self.stride + 1),
        };
        for (offset, (xb, yb)) in (start..)
            .step_by(self.block)
            .zip(xs.chunks(self.block).zip(ys.chunks_mut(self.block)))
        {
            self.act.forward_slice(xb, yb);
            m.input.merge(&tensor_stats(xb));
            m.output.merge(&tensor_stats(yb));
            if relu_family {
                mark_alive(&mut m.alive, xb);
            }
            let first = (offset.next_multiple_of(self.stride) - offset).min(xb.len());
            let stride = self.stride;
            m.input_sample
                .extend(xb[first..].iter().step_by(stride).map(|v| v.as_f64()));
            m.output_sample
                .extend(yb[first..].iter().step_by(stride).map(|v| v.as_f64()));
        }
        m
    }
}

/// `dL/dx = dL/dy * f'(x)` over the whole batch, measuring `dL/dy` and
/// `dL/dx` block by block (halves in parallel as in [`forward`]).
pub fn backward<T: Scalar>(
    act: Activation,
    x: &Matrix<T>,
    y: &Matrix<T>,
    grad_output: &Matrix<T>,
    input_grad: &mut Matrix<T>,
    taps: &mut Taps,
) {
    input_grad.resize(grad_output.rows(), grad_output.cols());
    let block = (TAP_BLOCK / x.cols().max(1)).max(1) * x.cols().max(1);
    let (dh_stats, dz_stats) = backward_rows(
        act,
        block,
        max_threads(),
        (x.as_slice(), y.as_slice(), grad_output.as_slice()),
        input_grad.as_mut_slice(),
    );
    taps.grad_output = Some(dh_stats);
    taps.input_grad = Some(dz_stats);
}

/// [`backward`] over some rows of `z`, `h` and `dL/dh` into `dz` (`dL/dz`):
/// the statistics of `dL/dh` and of `dL/dz`.
fn backward_rows<T: Scalar>(
    act: Activation,
    block: usize,
    ways: usize,
    (z, h, dh): (&[T], &[T], &[T]),
    dz: &mut [T],
) -> (TensorStats, TensorStats) {
    if let Some(mid) = split_point(z.len(), block, ways) {
        let (dz_a, dz_b) = dz.split_at_mut(mid);
        let half = ways / 2;
        let (first, second) = (
            (&z[..mid], &h[..mid], &dh[..mid]),
            (&z[mid..], &h[mid..], &dh[mid..]),
        );
        let ((mut dh_stats, mut dz_stats), (dh_rest, dz_rest)) = rayon::join(
            || backward_rows(act, block, half, first, dz_a),
            || backward_rows(act, block, ways - half, second, dz_b),
        );
        dh_stats.merge(&dh_rest);
        dz_stats.merge(&dz_rest);
        return (dh_stats, dz_stats);
    }
    let (mut dh_stats, mut dz_stats) = (TensorStats::default(), TensorStats::default());
    for (((zb, hb), dhb), dzb) in z
        .chunks(block)
        .zip(h.chunks(block))
        .zip(dh.chunks(block))
        .zip(dz.chunks_mut(block))
    {
        dh_stats.merge(&tensor_stats(dhb));
        act.backward_slice(zb, hb, dhb, dzb);
        dz_stats.merge(&tensor_stats(dzb));
    }
    (dh_stats, dz_stats)
}

/// [`tensor_stats`] of `values` on up to [`max_threads`] threads: halves
/// in parallel (split again while threads remain), merged in order. For a
/// tensor one thread would otherwise measure while the other waits, as a
/// weight gradient right after its GEMM.
pub fn parallel_stats<T: Scalar>(values: &[T]) -> TensorStats {
    fn run<T: Scalar>(values: &[T], ways: usize) -> TensorStats {
        let Some(mid) = split_point(values.len(), TAP_BLOCK, ways) else {
            return tensor_stats(values);
        };
        let (a, b) = values.split_at(mid);
        let half = ways / 2;
        let (mut first, second) = rayon::join(|| run(a, half), || run(b, ways - half));
        first.merge(&second);
        first
    }
    run(values, max_threads())
}

/// Where to split `len` entries in two (a multiple of `block`), when
/// `ways` (threads still to share the work) is at least 2 and there is
/// enough work for two.
pub(crate) fn split_point(len: usize, block: usize, ways: usize) -> Option<usize> {
    if ways < 2 || len < PARALLEL_MIN {
        return None;
    }
    let mid = (len / 2).next_multiple_of(block);
    (mid < len).then_some(mid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_strides_are_coprime_with_the_width_and_sample_enough() {
        for (len, cols) in [
            (128 * 256, 256),
            (64 * 784, 784),
            (2500, 10),
            (700, 7),
            (64 * 1000, 1000),
        ] {
            let stride = sample_stride(len, cols);
            assert_eq!(gcd(stride, cols), 1, "{len} x {cols}: stride {stride}");
            let n = len.div_ceil(stride);
            assert!(
                n >= PERCENTILE_SAMPLE.min(len),
                "{len} x {cols}: {n} samples"
            );
            // Columns visited: all of them once the sample spans the width.
            let seen: std::collections::BTreeSet<usize> =
                (0..len).step_by(stride).map(|i| i % cols).collect();
            assert_eq!(seen.len(), cols.min(n), "{len} x {cols}");
        }
        // The old stride, 32 on rows of 256, would have seen 8 units.
        assert_eq!(sample_stride(128 * 256, 256), 31);
    }
}
