//! Losses: the scalar a network is trained to lower, and its gradient with
//! respect to the network's output.
//!
//! - Softmax cross-entropy, fused and stable: for logits `z` and class `y`,
//!   `L = logsumexp(z) - z_y`, `dL/dz = softmax(z) - onehot(y)`, averaged
//!   over the batch (`logsumexp` shifted by `max z`).
//! - Mean squared error, averaged over every entry (PyTorch's `MSELoss`):
//!   `L = mean((p - t)^2)`, `dL/dp = 2 (p - t) / (batch * outputs)`; with
//!   class labels the target is the one-hot vector.
//!
//! The loss value is accumulated in f64.
//!
//! ```
//! use gradscope::nn::{Loss, Targets};
//! use gradscope::tensor::Matrix;
//! let logits = Matrix::<f64>::from_rows(&[vec![0.0, 0.0]]);
//! let mut grad = Matrix::default();
//! let l = Loss::CrossEntropy.compute(&logits, Targets::Classes(&[1]), &mut grad);
//! assert!((l - 2f64.ln()).abs() < 1e-15);
//! assert_eq!(grad.row(0), &[0.5, -0.5]);
//! ```

use crate::error::{Error, Result};
use crate::tensor::{Matrix, Scalar};
use std::fmt;
use std::str::FromStr;

/// What the output is compared with.
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a, T> {
    /// One class index per row.
    Classes(&'a [usize]),
    /// A target matrix of the output's shape.
    Values(&'a Matrix<T>),
}

/// A training loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Softmax cross-entropy on class labels.
    CrossEntropy,
    /// Mean squared error.
    Mse,
}

impl Loss {
    /// Returns the mean loss and writes `dL/doutput` into `grad`.
    ///
    /// # Panics
    /// When the targets do not match the output's rows (or shape), or a
    /// class index is out of range.
    pub fn compute<T: Scalar>(
        &self,
        output: &Matrix<T>,
        targets: Targets<'_, T>,
        grad: &mut Matrix<T>,
    ) -> f64 {
        grad.resize(output.rows(), output.cols());
        match (self, targets) {
            (Loss::CrossEntropy, Targets::Classes(labels)) => cross_entropy(output, labels, grad),
            (Loss::CrossEntropy, Targets::Values(_)) => {
                panic!("cross-entropy needs class labels")
            }
            (Loss::Mse, targets) => mse(output, targets, grad),
        }
    }
}

fn cross_entropy<T: Scalar>(logits: &Matrix<T>, labels: &[usize], grad: &mut Matrix<T>) -> f64 {
    let (n, c) = logits.shape();
    assert_eq!(labels.len(), n, "one label per row");
    let inv_n = 1.0 / n as f64;
    let mut total = 0.0f64;
    for (r, &label) in labels.iter().enumerate() {
        assert!(label < c, "label {label} out of range for {c} classes");
        let z = logits.row(r);
        let max = z.iter().fold(f64::NEG_INFINITY, |m, v| m.max(v.as_f64()));
        let g = grad.row_mut(r);
        let mut sum = 0.0f64;
        for (gj, &zj) in g.iter_mut().zip(z) {
            let e = (zj.as_f64() - max).exp();
            *gj = T::cast(e);
            sum += e;
        }
        total += max + sum.ln() - z[label].as_f64();
        let scale = T::cast(inv_n / sum);
        g.iter_mut().for_each(|gj| *gj = *gj * scale);
        g[label] = g[label] - T::cast(inv_n);
    }
    total * inv_n
}

fn mse<T: Scalar>(pred: &Matrix<T>, targets: Targets<'_, T>, grad: &mut Matrix<T>) -> f64 {
    let (n, c) = pred.shape();
    let inv = 1.0 / (n * c) as f64;
    let mut total = 0.0f64;
    for r in 0..n {
        for j in 0..c {
            let t = match targets {
                Targets::Values(t) => t.get(r, j).as_f64(),
                Targets::Classes(labels) => f64::from(u8::from(labels[r] == j)),
            };
            let d = pred.get(r, j).as_f64() - t;
            total += d * d;
            grad.set(r, j, T::cast(2.0 * d * inv));
        }
    }
    if let Targets::Values(t) = targets {
        assert_eq!(t.shape(), (n, c), "mse target shape");
    }
    total * inv
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Loss::CrossEntropy => "cross_entropy",
            Loss::Mse => "mse",
        })
    }
}

impl Loss {
    /// The names [`Loss::from_str`] accepts (`ce` is an alias).
    pub const NAMES: &'static str = "cross_entropy, mse";
}

impl FromStr for Loss {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "cross_entropy" | "ce" => Ok(Loss::CrossEntropy),
            "mse" => Ok(Loss::Mse),
            _ => Err(Error::UnknownName {
                what: "loss",
                name: s.into(),
                expected: Loss::NAMES.into(),
            }),
        }
    }
}

crate::names::serde_via_str!(Loss);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_is_stable_for_huge_logits() {
        // logsumexp(1000, 0) - 0 = 1000 + ln(1 + e^-1000) = 1000.
        let z = Matrix::<f32>::from_rows(&[vec![1000.0, 0.0]]);
        let mut g = Matrix::default();
        let l = Loss::CrossEntropy.compute(&z, Targets::Classes(&[1]), &mut g);
        assert_eq!(l, 1000.0);
        assert_eq!(g.row(0), &[1.0, -1.0]);
    }

    #[test]
    fn mse_with_labels_uses_one_hot_targets() {
        // p = [0.5, 0.5], t = [0, 1]: L = (0.25 + 0.25) / 2, dL/dp = [0.5, -0.5]
        let p = Matrix::<f64>::from_rows(&[vec![0.5, 0.5]]);
        let mut g = Matrix::default();
        let l = Loss::Mse.compute(&p, Targets::Classes(&[1]), &mut g);
        assert_eq!(l, 0.25);
        assert_eq!(g.row(0), &[0.5, -0.5]);
    }
}
