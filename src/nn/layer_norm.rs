//! Layer Normalization (Ba, Kiros & Hinton 2016) over the features of each
//! example.
//!
//! Per row: `mu = mean(x)`, `var = mean((x - mu)^2)`,
//! `x_hat = (x - mu) / sqrt(var + eps)`, `y = gamma x_hat + beta`. Train and
//! eval behave the same.
//!
//! Backward (`g = dL/dy`, `D` features, `s = 1/sqrt(var + eps)`,
//! `gh = g gamma`): `dL/dgamma = sum over rows g x_hat`,
//! `dL/dbeta = sum over rows g`,
//! `dL/dx = s / D (D gh - sum gh - x_hat sum gh x_hat)` (sums over the row).
//!
//! # Shapes
//! `x`, `y`: `batch x features`; `gamma`, `beta`: `1 x features`.

use super::layer::{join, Layer, Mode, NamedParam};
use crate::tensor::{Grads, Param};
use crate::tensor::{Matrix, Scalar};

/// Layer Normalization over features.
pub struct LayerNorm<T> {
    /// Scale, starts at 1.
    pub gamma: Param<T>,
    /// Shift, starts at 0.
    pub beta: Param<T>,
    /// Added to the variance before the square root.
    pub eps: f64,
    x_hat: Matrix<T>,
    inv_std: Vec<T>,
    output: Matrix<T>,
    input_grad: Matrix<T>,
}

impl<T: Scalar> LayerNorm<T> {
    /// A LayerNorm over `features` (PyTorch's default `eps = 1e-5`).
    pub fn new(features: usize, eps: f64) -> Self {
        Self {
            gamma: Param::new(Matrix::filled(1, features, T::one())),
            beta: Param::new(Matrix::zeros(1, features)),
            eps,
            x_hat: Matrix::default(),
            inv_std: Vec::new(),
            output: Matrix::default(),
            input_grad: Matrix::default(),
        }
    }
}

impl<T: Scalar> Layer<T> for LayerNorm<T> {
    fn kind(&self) -> String {
        "layer_norm".into()
    }

    fn forward(&mut self, x: &Matrix<T>, _mode: Mode) -> &Matrix<T> {
        let (n, f) = x.shape();
        self.x_hat.resize(n, f);
        self.output.resize(n, f);
        self.inv_std.resize(n, T::zero());
        let (gamma, beta) = (self.gamma.value.as_slice(), self.beta.value.as_slice());
        for r in 0..n {
            let xr = x.row(r);
            let mean = xr.iter().map(|v| v.as_f64()).sum::<f64>() / f as f64;
            let var = xr.iter().map(|v| (v.as_f64() - mean).powi(2)).sum::<f64>() / f as f64;
            let s = T::cast(1.0 / (var + self.eps).sqrt());
            let m = T::cast(mean);
            self.inv_std[r] = s;
            let hr = self.x_hat.row_mut(r);
            hr.iter_mut().zip(xr).for_each(|(h, &v)| *h = (v - m) * s);
            let yr = self.output.row_mut(r);
            let hr = self.x_hat.row(r);
            for j in 0..f {
                yr[j] = gamma[j] * hr[j] + beta[j];
            }
        }
        &self.output
    }

    fn output(&self) -> &Matrix<T> {
        &self.output
    }

    fn backward(&mut self, _x: &Matrix<T>, g: &Matrix<T>, need_input_grad: bool, grads: Grads) {
        let (n, f) = g.shape();
        self.gamma.start_grad(grads);
        self.beta.start_grad(grads);
        let gamma = self.gamma.value.as_slice();
        let dgamma = self.gamma.grad.as_mut_slice();
        let dbeta = self.beta.grad.as_mut_slice();
        for r in 0..n {
            let (gr, hr) = (g.row(r), self.x_hat.row(r));
            for j in 0..f {
                dgamma[j] = dgamma[j] + gr[j] * hr[j];
                dbeta[j] = dbeta[j] + gr[j];
            }
        }
        if !need_input_grad {
            return;
        }
        self.input_grad.resize(n, f);
        let d = T::cast(f as f64);
        for r in 0..n {
            let (gr, hr) = (g.row(r), self.x_hat.row(r));
            let mut sum_gh = T::zero();
            let mut sum_ghh = T::zero();
            for j in 0..f {
                let gh = gr[j] * gamma[j];
                sum_gh = sum_gh + gh;
                sum_ghh = sum_ghh + gh * hr[j];
            }
            let scale = self.inv_std[r] / d;
            let dr = self.input_grad.row_mut(r);
            for j in 0..f {
                dr[j] = scale * (d * gr[j] * gamma[j] - sum_gh - hr[j] * sum_ghh);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_is_normalized() {
        let mut ln = LayerNorm::<f64>::new(4, 0.0);
        let y = ln.forward(
            &Matrix::from_rows(&[vec![1.0, 2.0, 3.0, 4.0], vec![-5.0, 0.0, 5.0, 10.0]]),
            Mode::Train,
        );
        for r in 0..2 {
            let row = y.row(r);
            let mean: f64 = row.iter().sum::<f64>() / 4.0;
            let var: f64 = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 4.0;
            assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        }
    }
}
