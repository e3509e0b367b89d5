//! An [`Activation`] as a layer: `h = f(z)` forward, `dL/dz = dL/dh * f'(z)`
//! backward, and what a measured pass takes of the tensors it writes.
//!
//! A measured pass works in blocks of whole rows, about [`TAP_BLOCK`]
//! entries (one row when a row is wider), and measures each block right
//! after computing it, while it is in L1:
//!
//! ```text
//! forward  block of z --f--> block of h       then stats(z), stats(h), z > 0, samples of z and h
//! backward block of dL/dh --*f'--> dL/dz      then stats(dL/dh), stats(dL/dz)
//! ```
//!
//! Measuring changes no value: the same loops run on the same entries. On
//! a pool of more than one thread every pass, measured or not, works on the
//! halves of the batch in parallel ([`in_halves`]); the values do not
//! depend on the split, and the f64 sums are merged in the split's order.
//!
//! # Shapes
//! `z`, `h`, `dL/dh`, `dL/dz`: `batch x width`.

use super::layer::{Layer, Mode};
use super::Activation;
use crate::probe::{PERCENTILE_SAMPLE, SATURATION_FRACTION};
use crate::tensor::Grads;
use crate::tensor::{in_halves, tensor_stats, Matrix, Scalar, Split, TensorStats, PARALLEL_MIN};

/// Entries per block of a measured pass: 8 KiB of f32, so a block's input
/// and output (or `dL/dh` and `dL/dz`) stay in a 32 KiB L1 while they are
/// measured. Measured on (50, 256, 128) at one thread: the per-step scalars
/// cost about 6.2% with blocks of 4,096, 5.2% with 2,048, and the same
/// within noise with 1,024.
pub const TAP_BLOCK: usize = 2048;

/// What a measured forward and backward saw; `None` where nothing was
/// measured (a backward that skipped `dL/dz`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ActivationFigures {
    /// The input `z`.
    pub input: Option<TensorStats>,
    /// The output `h`.
    pub output: Option<TensorStats>,
    /// `dL/dh`, given to backward.
    pub grad_output: Option<TensorStats>,
    /// `dL/dz`, computed by backward.
    pub input_grad: Option<TensorStats>,
    /// Fraction of the sampled entries whose derivative is below
    /// [`SATURATION_FRACTION`] of its maximum.
    pub saturated: Option<f64>,
    /// Fraction of units (columns) with `z <= 0` on every row (ReLU family).
    pub dead: Option<f64>,
    /// `z` at the [`sample_stride`] positions, for percentiles.
    pub input_sample: Vec<f64>,
}

/// An activation as a layer.
pub struct ActivationLayer<T> {
    /// The function applied.
    pub activation: Activation,
    output: Matrix<T>,
    input_grad: Matrix<T>,
    /// `Some` while measuring.
    figures: Option<ActivationFigures>,
}

impl<T: Scalar> ActivationLayer<T> {
    /// A layer applying `activation`.
    pub fn new(activation: Activation) -> Self {
        Self {
            activation,
            output: Matrix::default(),
            input_grad: Matrix::default(),
            figures: None,
        }
    }

    /// Turns measuring on or off for the next passes.
    pub fn measure(&mut self, on: bool) {
        if on != self.figures.is_some() {
            self.figures = on.then(ActivationFigures::default);
        }
    }

    /// What the last measured passes saw; `None` while not measuring.
    pub fn figures(&self) -> Option<&ActivationFigures> {
        self.figures.as_ref()
    }
}

impl<T: Scalar> Layer<T> for ActivationLayer<T> {
    fn kind(&self) -> String {
        self.activation.to_string()
    }

    fn forward(&mut self, z: &Matrix<T>, _mode: Mode) -> &Matrix<T> {
        self.output.resize(z.rows(), z.cols());
        let (act, h) = (self.activation, self.output.as_mut_slice());
        match &mut self.figures {
            Some(figures) => *figures = measured_forward(act, z, h),
            None => in_halves(
                (z.as_slice(), h),
                Split::on_pool(z.len(), 16).min(PARALLEL_MIN),
                &|(z, h), _| act.forward_slice(z, h),
                &|(), ()| (),
            ),
        }
        &self.output
    }

    fn output(&self) -> &Matrix<T> {
        &self.output
    }

    fn backward(
        &mut self,
        z: &Matrix<T>,
        grad_output: &Matrix<T>,
        need_input_grad: bool,
        _grads: Grads,
    ) {
        if !need_input_grad {
            return;
        }
        self.input_grad
            .resize(grad_output.rows(), grad_output.cols());
        let act = self.activation;
        let parts = (
            z.as_slice(),
            self.output.as_slice(),
            grad_output.as_slice(),
            self.input_grad.as_mut_slice(),
        );
        let Some(figures) = &mut self.figures else {
            // dL/dz = dL/dh * f'(z)
            return in_halves(
                parts,
                Split::on_pool(z.len(), 16).min(PARALLEL_MIN),
                &|(z, h, dh, dz), _| act.backward_slice(z, h, dh, dz),
                &|(), ()| (),
            );
        };
        let block = row_block(z.cols());
        let (dh_stats, dz_stats) = in_halves(
            parts,
            Split::on_pool(z.len(), block).min(PARALLEL_MIN),
            &|(z, h, dh, dz): (&[T], &[T], &[T], &mut [T]), _| {
                let mut stats = (TensorStats::default(), TensorStats::default());
                for (((zb, hb), dhb), dzb) in z
                    .chunks(block)
                    .zip(h.chunks(block))
                    .zip(dh.chunks(block))
                    .zip(dz.chunks_mut(block))
                {
                    stats.0.merge(&tensor_stats(dhb));
                    act.backward_slice(zb, hb, dhb, dzb);
                    stats.1.merge(&tensor_stats(dzb));
                }
                stats
            },
            &|(mut dh, mut dz), (dh2, dz2)| {
                dh.merge(&dh2);
                dz.merge(&dz2);
                (dh, dz)
            },
        );
        figures.grad_output = Some(dh_stats);
        figures.input_grad = Some(dz_stats);
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.input_grad
    }
}

/// Entries per measured block: whole rows, about [`TAP_BLOCK`].
fn row_block(cols: usize) -> usize {
    (TAP_BLOCK / cols.max(1)).max(1) * cols.max(1)
}

/// What a measured forward took of some rows.
struct ForwardFigures {
    input: TensorStats,
    output: TensorStats,
    /// Per column: positive on some row (ReLU family only, else empty).
    alive: Vec<bool>,
    input_sample: Vec<f64>,
    output_sample: Vec<f64>,
}

impl ForwardFigures {
    /// The figures of these rows followed by `next`'s.
    fn merge(mut self, next: ForwardFigures) -> Self {
        self.input.merge(&next.input);
        self.output.merge(&next.output);
        let alive = self.alive.iter_mut().zip(&next.alive);
        alive.for_each(|(a, &b)| *a |= b);
        self.input_sample.extend(next.input_sample);
        self.output_sample.extend(next.output_sample);
        self
    }
}

/// `h = f(z)` over the batch, measuring each row block as it goes.
fn measured_forward<T: Scalar>(act: Activation, z: &Matrix<T>, h: &mut [T]) -> ActivationFigures {
    let cols = z.cols().max(1);
    let block = row_block(cols);
    let stride = sample_stride(z.len(), cols);
    let relu_family = act.is_relu_family();
    let leaf = |(zs, hs): (&[T], &mut [T]), start: usize| {
        let mut m = ForwardFigures {
            input: TensorStats::default(),
            output: TensorStats::default(),
            alive: vec![false; if relu_family { cols } else { 0 }],
            input_sample: Vec::with_capacity(zs.len() / stride + 1),
            output_sample: Vec::with_capacity(zs.len() / stride + 1),
        };
        let blocks = zs.chunks(block).zip(hs.chunks_mut(block));
        for (offset, (zb, hb)) in (start..).step_by(block).zip(blocks) {
            act.forward_slice(zb, hb);
            m.input.merge(&tensor_stats(zb));
            m.output.merge(&tensor_stats(hb));
            if relu_family {
                mark_alive(&mut m.alive, zb);
            }
            let first = (offset.next_multiple_of(stride) - offset).min(zb.len());
            let sample = |v: &[T], out: &mut Vec<f64>| {
                out.extend(v[first..].iter().step_by(stride).map(|x| x.as_f64()));
            };
            sample(zb, &mut m.input_sample);
            sample(hb, &mut m.output_sample);
        }
        m
    };
    let split = Split::on_pool(z.len(), block).min(PARALLEL_MIN);
    let m = in_halves((z.as_slice(), h), split, &leaf, &ForwardFigures::merge);
    ActivationFigures {
        input: Some(m.input),
        output: Some(m.output),
        saturated: saturated_fraction(act, &m.input_sample, &m.output_sample),
        dead: (relu_family && !z.is_empty()).then(|| dead_fraction(&m.alive)),
        input_sample: m.input_sample,
        ..ActivationFigures::default()
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

/// Marks the units (columns of rows as wide as `alive`) with `z > 0` on
/// some row of `z`.
fn mark_alive<T: Scalar>(alive: &mut [bool], z: &[T]) {
    for row in z.chunks(alive.len().max(1)) {
        for (a, &v) in alive.iter_mut().zip(row) {
            *a |= v > T::zero();
        }
    }
}

/// Fraction of units never marked alive.
fn dead_fraction(alive: &[bool]) -> f64 {
    alive.iter().filter(|&&a| !a).count() as f64 / alive.len() as f64
}

/// Fraction of sampled entries (`z`, and `h = f(z)`) whose derivative is
/// below [`SATURATION_FRACTION`] of `act`'s maximum; `None` when empty.
fn saturated_fraction(act: Activation, z: &[f64], h: &[f64]) -> Option<f64> {
    if z.is_empty() {
        return None;
    }
    let mut d = vec![0.0; z.len()];
    act.backward_slice(z, h, &vec![1.0; z.len()], &mut d);
    let threshold = SATURATION_FRACTION * act.max_derivative();
    let below = d.iter().filter(|v| v.abs() < threshold).count();
    Some(below as f64 / z.len() as f64)
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

    /// A measured pass computes the same values as a plain one, and its
    /// figures are the whole tensors' (on two threads: halves merged).
    #[test]
    fn measuring_changes_no_value_and_sees_every_entry() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let (rows, cols) = (96, 300);
        let wave = |f: f64| -> Vec<f32> {
            (0..rows * cols)
                .map(|i| ((i as f64 * f).sin() * 3.0) as f32)
                .collect()
        };
        let z = Matrix::from_vec(rows, cols, wave(0.37)).unwrap();
        let g = Matrix::from_vec(rows, cols, wave(0.11)).unwrap();
        for act in [Activation::Relu, Activation::Tanh] {
            let run = |measured: bool| {
                let mut layer = ActivationLayer::<f32>::new(act);
                layer.measure(measured);
                pool.install(|| {
                    layer.forward(&z, Mode::Train);
                    layer.backward(&z, &g, true, Grads::Accumulate);
                });
                layer
            };
            let (plain, measured) = (run(false), run(true));
            assert_eq!(plain.output(), measured.output(), "{act}");
            assert_eq!(plain.input_grad(), measured.input_grad(), "{act}");
            let f = measured.figures().unwrap();
            let whole = |m: &Matrix<f32>| tensor_stats(m.as_slice());
            for (got, want) in [
                (f.input, whole(&z)),
                (f.output, whole(plain.output())),
                (f.grad_output, whole(&g)),
                (f.input_grad, whole(plain.input_grad())),
            ] {
                let got = got.unwrap();
                assert_eq!(
                    (got.n, got.zeros, got.max_abs),
                    (want.n, want.zeros, want.max_abs)
                );
                assert!((got.sum_sq - want.sum_sq).abs() <= 1e-5 * want.sum_sq);
            }
            let n = rows * cols;
            assert_eq!(f.input_sample.len(), n.div_ceil(sample_stride(n, cols)));
            assert_eq!(f.dead.is_some(), act == Activation::Relu);
        }
    }
}
