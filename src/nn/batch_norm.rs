//! Batch Normalization (Ioffe & Szegedy 2015) over the features of a batch.
//!
//! Training, per feature `j` over the `N` rows of the batch:
//! `mu = mean(x)`, `var = mean((x - mu)^2)` (biased),
//! `x_hat = (x - mu) / sqrt(var + eps)`, `y = gamma x_hat + beta`;
//! the running statistics move by `momentum`:
//! `running = (1 - momentum) running + momentum stat`, with the unbiased
//! variance `var N / (N - 1)` (PyTorch's convention). Evaluation uses the
//! running statistics instead, and updates nothing.
//!
//! Backward in training (`g = dL/dy`, `s = 1/sqrt(var + eps)`):
//! `dL/dgamma = sum g x_hat`, `dL/dbeta = sum g`,
//! `dL/dx = gamma s / N (N g - sum g - x_hat sum g x_hat)`.
//! In evaluation the statistics are constants: `dL/dx = gamma s_running g`.
//!
//! # Threads
//! The per-feature statistics and sums are taken over fixed blocks of
//! rows merged in block order ([`super::feature_sums`]), and the
//! per-entry passes run on halves of the batch, in a pool of two threads
//! or more at 16,384 entries or more ([`crate::tensor::in_halves`]):
//! every value is computed in the same order on any thread count, so the
//! results are the same bit for bit. The statistics are in f64, as are
//! the backward pass's sums. A warmed-up step allocates nothing.
//!
//! # Shapes
//! `x`, `y`: `batch x features`; `gamma`, `beta`, running stats: `1 x features`.
//!
//! ```
//! use gradscope::nn::{BatchNorm, Layer, Mode};
//! use gradscope::tensor::Matrix;
//! let mut bn = BatchNorm::<f64>::new(1, 0.1, 0.0);
//! let y = bn.forward(&Matrix::from_rows(&[vec![1.0], vec![3.0]]), Mode::Train);
//! assert_eq!((y.get(0, 0), y.get(1, 0)), (-1.0, 1.0));
//! ```

use super::feature_sums;
use super::layer::{join, Layer, Mode, NamedParam};
use crate::tensor::{in_halves, Grads, Halve, Matrix, Param, Rows, Scalar, Split, PARALLEL_MIN};

/// Batch Normalization over features.
pub struct BatchNorm<T> {
    /// Scale, `1 x features`, starts at 1.
    pub gamma: Param<T>,
    /// Shift, `1 x features`, starts at 0.
    pub beta: Param<T>,
    /// Running mean, `1 x features`.
    pub running_mean: Matrix<T>,
    /// Running (unbiased) variance, `1 x features`.
    pub running_var: Matrix<T>,
    /// Weight of the newest batch in the running statistics.
    pub momentum: f64,
    /// Added to the variance before the square root.
    pub eps: f64,
    x_hat: Matrix<T>,
    inv_std: Vec<T>,
    /// The mean the forward pass subtracted.
    mean: Vec<T>,
    /// Per-feature figures in f64: the batch's mean and variance, then
    /// the backward pass's sums.
    stat_a: Vec<f64>,
    stat_b: Vec<f64>,
    /// `gamma / (sqrt(var + eps) N)`, `sum g` and `sum g x_hat`, for the
    /// input gradient.
    scale: Vec<T>,
    sum_g: Vec<T>,
    sum_gh: Vec<T>,
    /// Scratch of the per-block sums ([`feature_sums`]).
    cells: Vec<feature_sums::Cell>,
    mode: Mode,
    output: Matrix<T>,
    input_grad: Matrix<T>,
}

impl<T: Scalar> BatchNorm<T> {
    /// A BatchNorm over `features`, PyTorch's defaults being
    /// `momentum = 0.1`, `eps = 1e-5`.
    pub fn new(features: usize, momentum: f64, eps: f64) -> Self {
        Self {
            gamma: Param::new(Matrix::filled(1, features, T::one())),
            beta: Param::new(Matrix::zeros(1, features)),
            running_mean: Matrix::zeros(1, features),
            running_var: Matrix::filled(1, features, T::one()),
            momentum,
            eps,
            x_hat: Matrix::default(),
            inv_std: vec![T::zero(); features],
            mean: vec![T::zero(); features],
            stat_a: vec![0.0; features],
            stat_b: vec![0.0; features],
            scale: vec![T::zero(); features],
            sum_g: vec![T::zero(); features],
            sum_gh: vec![T::zero(); features],
            cells: Vec::new(),
            mode: Mode::Train,
            output: Matrix::default(),
            input_grad: Matrix::default(),
        }
    }

    fn features(&self) -> usize {
        self.gamma.value.cols()
    }
}

/// Runs `run(first_row, parts)` over `parts` (rows of `f` entries of the
/// `n x f` batch), on halves of the batch across the pool's threads when
/// that pays (module doc).
fn by_rows<P: Halve>(n: usize, f: usize, parts: P, run: impl Fn(usize, P) + Sync) {
    if n == 0 || f == 0 {
        return; // nothing to do
    }
    let split = Split::on_pool(n, 1).min(PARALLEL_MIN.div_ceil(f));
    in_halves(
        parts,
        split,
        &|rows: P, first| run(first, rows),
        &|(), ()| (),
    );
}

impl<T: Scalar> Layer<T> for BatchNorm<T> {
    fn kind(&self) -> String {
        "batch_norm".into()
    }

    fn forward(&mut self, x: &Matrix<T>, mode: Mode) -> &Matrix<T> {
        let (n, f) = x.shape();
        assert_eq!(f, self.features(), "batch_norm features");
        self.mode = mode;
        match mode {
            Mode::Train => {
                let (mean, var) = (&mut self.stat_a, &mut self.stat_b);
                feature_sums::mean_var(x.as_slice(), (n, f), &mut self.cells, mean, var);
                let m = self.momentum;
                let unbias = if n > 1 {
                    n as f64 / (n - 1) as f64
                } else {
                    1.0
                };
                let rm = self.running_mean.as_mut_slice();
                let rv = self.running_var.as_mut_slice();
                for j in 0..f {
                    rm[j] = T::cast((1.0 - m) * rm[j].as_f64() + m * mean[j]);
                    rv[j] = T::cast((1.0 - m) * rv[j].as_f64() + m * var[j] * unbias);
                    self.inv_std[j] = T::cast(1.0 / (var[j] + self.eps).sqrt());
                    self.mean[j] = T::cast(mean[j]);
                }
            }
            Mode::Eval => {
                for j in 0..f {
                    let v = self.running_var.as_slice()[j].as_f64();
                    self.inv_std[j] = T::cast(1.0 / (v + self.eps).sqrt());
                }
                self.mean.copy_from_slice(self.running_mean.as_slice());
            }
        }
        self.x_hat.resize(n, f);
        self.output.resize(n, f);
        // (Every slice cut to `f` so the loops vectorize without checks.)
        let (mean, inv_std) = (&self.mean[..f], &self.inv_std[..f]);
        let gamma = &self.gamma.value.as_slice()[..f];
        let beta = &self.beta.value.as_slice()[..f];
        // x_hat and y in one pass, halves of the rows on the threads.
        let parts = (
            Rows::new(self.x_hat.as_mut_slice(), f),
            Rows::new(self.output.as_mut_slice(), f),
        );
        by_rows(n, f, parts, |r0, (hat, y)| {
            let rows = hat
                .into_slice()
                .chunks_mut(f)
                .zip(y.into_slice().chunks_mut(f));
            for (i, (hr, yr)) in rows.enumerate() {
                let (xr, hr, yr) = (&x.row(r0 + i)[..f], &mut hr[..f], &mut yr[..f]);
                for j in 0..f {
                    hr[j] = (xr[j] - mean[j]) * inv_std[j];
                    yr[j] = gamma[j] * hr[j] + beta[j];
                }
            }
        });
        &self.output
    }

    fn output(&self) -> &Matrix<T> {
        &self.output
    }

    fn backward(&mut self, _x: &Matrix<T>, g: &Matrix<T>, need_input_grad: bool, grads: Grads) {
        let (n, f) = g.shape();
        let (sum_g, sum_gh) = (&mut self.stat_a, &mut self.stat_b);
        let (g_rows, hat) = (g.as_slice(), self.x_hat.as_slice());
        feature_sums::sums(g_rows, hat, (n, f), &mut self.cells, sum_g, sum_gh);
        self.gamma.start_grad(grads);
        self.beta.start_grad(grads);
        let dgamma = self.gamma.grad.as_mut_slice();
        let dbeta = self.beta.grad.as_mut_slice();
        for j in 0..f {
            dgamma[j] = dgamma[j] + T::cast(sum_gh[j]);
            dbeta[j] = dbeta[j] + T::cast(sum_g[j]);
        }
        if !need_input_grad {
            return;
        }
        self.input_grad.resize(n, f);
        let gamma = self.gamma.value.as_slice();
        match self.mode {
            Mode::Train => {
                let (nn, inv_n) = (T::cast(n as f64), T::cast(1.0 / n as f64));
                let scales = self.scale.iter_mut().zip(gamma.iter().zip(&self.inv_std));
                scales.for_each(|(s, (&g, &i))| *s = g * i * inv_n);
                let cast = |to: &mut [T], from: &[f64]| {
                    to.iter_mut().zip(from).for_each(|(t, &v)| *t = T::cast(v));
                };
                cast(&mut self.sum_g, &self.stat_a);
                cast(&mut self.sum_gh, &self.stat_b);
                let x_hat = &self.x_hat;
                let dx = Rows::new(self.input_grad.as_mut_slice(), f);
                let (sum_g, sum_gh, scale) =
                    (&self.sum_g[..f], &self.sum_gh[..f], &self.scale[..f]);
                by_rows(n, f, dx, |r0, dx| {
                    for (i, dr) in dx.into_slice().chunks_mut(f).enumerate() {
                        let (gr, hr) = (&g.row(r0 + i)[..f], &x_hat.row(r0 + i)[..f]);
                        let dr = &mut dr[..f];
                        for j in 0..f {
                            dr[j] = scale[j] * (nn * gr[j] - sum_g[j] - hr[j] * sum_gh[j]);
                        }
                    }
                });
            }
            Mode::Eval => {
                for r in 0..n {
                    let gr = g.row(r);
                    let dr = self.input_grad.row_mut(r);
                    for j in 0..f {
                        dr[j] = gr[j] * gamma[j] * self.inv_std[j];
                    }
                }
            }
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.input_grad
    }

    fn collect_params<'a>(&'a mut self, prefix: &str, out: &mut Vec<NamedParam<'a, T>>) {
        out.push(NamedParam {
            path: join(prefix, "weight"),
            param: &mut self.gamma,
        });
        out.push(NamedParam {
            path: join(prefix, "bias"),
            param: &mut self.beta,
        });
    }

    fn collect_buffers<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut Matrix<T>)>) {
        out.push((join(prefix, "running_mean"), &mut self.running_mean));
        out.push((join(prefix, "running_var"), &mut self.running_var));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// In pools of two and three threads (features and batch cut in
    /// halves, and again) every output is the same, bit for bit, as in a
    /// pool of one, on a shape large enough to split, with an odd width so
    /// the halves are unequal.
    #[test]
    fn two_threads_give_the_same_bits() {
        let (n, f) = (96, 200);
        let wave = |k: usize, a: f64| -> Vec<f32> {
            (0..k)
                .map(|i| ((i as f64 * a).sin() * 3.0 + 0.5) as f32)
                .collect()
        };
        let x = Matrix::from_vec(n, f, wave(n * f, 0.37)).unwrap();
        let g = Matrix::from_vec(n, f, wave(n * f, 0.11)).unwrap();
        let run = |threads: usize| {
            crate::tensor::with_threads(threads, || {
                let mut bn = BatchNorm::<f32>::new(f, 0.1, 1e-5);
                bn.gamma.value = Matrix::from_vec(1, f, wave(f, 0.5)).unwrap();
                let y = bn.forward(&x, Mode::Train).clone();
                bn.backward(&x, &g, true, Grads::Accumulate);
                let grads = (bn.gamma.grad.clone(), bn.beta.grad.clone());
                (y, bn.input_grad().clone(), grads, bn.running_var.clone())
            })
        };
        assert!(n * f >= PARALLEL_MIN, "large enough to split");
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3), "three threads: halves cut again, unequally");
    }

    #[test]
    fn running_stats_follow_pytorch_convention() {
        // batch [1, 3]: mean 2, biased var 1, unbiased var 2.
        let mut bn = BatchNorm::<f64>::new(1, 0.1, 1e-5);
        bn.forward(&Matrix::from_rows(&[vec![1.0], vec![3.0]]), Mode::Train);
        assert!((bn.running_mean.get(0, 0) - 0.2).abs() < 1e-15);
        assert!((bn.running_var.get(0, 0) - (0.9 + 0.2)).abs() < 1e-15);
    }

    #[test]
    fn eval_uses_running_stats_and_updates_nothing() {
        let mut bn = BatchNorm::<f64>::new(1, 0.1, 0.0);
        bn.running_mean.set(0, 0, 1.0);
        bn.running_var.set(0, 0, 4.0);
        let y = bn
            .forward(&Matrix::from_rows(&[vec![5.0]]), Mode::Eval)
            .get(0, 0);
        assert_eq!(y, 2.0);
        assert_eq!(bn.running_mean.get(0, 0), 1.0);
    }

    #[test]
    fn input_gradient_of_a_constant_shift_is_zero() {
        // y does not change when every row moves by the same amount, so a
        // gradient g that is the same for every row gives dL/dx = 0.
        let mut bn = BatchNorm::<f64>::new(2, 0.1, 1e-5);
        let x = Matrix::from_rows(&[vec![1.0, 0.0], vec![2.0, 5.0], vec![4.0, -1.0]]);
        bn.forward(&x, Mode::Train);
        let g = Matrix::from_rows(&[vec![0.3, -1.0], vec![0.3, -1.0], vec![0.3, -1.0]]);
        bn.backward(&x, &g, true, Grads::Accumulate);
        assert!(bn.input_grad().as_slice().iter().all(|v| v.abs() < 1e-12));
    }
}
