//! Fully connected layer: `y = x W^T + b`.
//!
//! # Shapes
//! - `x`: `batch x in_features`; `y`: `batch x out_features`
//! - `W` (`weight`): `out_features x in_features`; `b` (`bias`): `1 x out_features`
//!
//! Backward, with `g = dL/dy`:
//! - `dL/dW = g^T x`, `dL/db = sum over the batch of g`, `dL/dx = g W`;
//!   under `Grads::Overwrite` the GEMM writes `dL/dW` over the old gradient
//!   instead of adding to it (no zeroing pass).
//!
//! ```
//! use gradscope::nn::{Layer, Linear, Mode};
//! use gradscope::tensor::Matrix;
//! let mut lin = Linear::<f64>::new(2, 1, true);
//! lin.weight.value = Matrix::from_rows(&[vec![2.0, -1.0]]);
//! lin.bias.as_mut().unwrap().value = Matrix::from_rows(&[vec![0.5]]);
//! let y = lin.forward(&Matrix::from_rows(&[vec![3.0, 4.0]]), Mode::Train);
//! assert_eq!(y.get(0, 0), 2.0 * 3.0 - 4.0 + 0.5);
//! ```

use super::layer::{join, Affine, Layer, Mode, NamedParam};
use crate::tensor::{affine, matmul, Matrix, Op, Scalar};
use crate::tensor::{Grads, Param};

/// A fully connected layer.
pub struct Linear<T> {
    /// `out_features x in_features`.
    pub weight: Param<T>,
    /// `1 x out_features`, when the layer has a bias.
    pub bias: Option<Param<T>>,
    output: Matrix<T>,
    input_grad: Matrix<T>,
}

impl<T: Scalar> Linear<T> {
    /// A zero-initialized layer (fill it with an [`Init`](crate::tensor::Init)).
    pub fn new(in_features: usize, out_features: usize, bias: bool) -> Self {
        Self {
            weight: Param::new(Matrix::zeros(out_features, in_features)),
            bias: bias.then(|| Param::new(Matrix::zeros(1, out_features))),
            output: Matrix::default(),
            input_grad: Matrix::default(),
        }
    }

    /// Input width.
    pub fn in_features(&self) -> usize {
        self.weight.value.cols()
    }

    /// Output width.
    pub fn out_features(&self) -> usize {
        self.weight.value.rows()
    }
}

impl<T: Scalar> Layer<T> for Linear<T> {
    fn kind(&self) -> String {
        "linear".into()
    }

    fn forward(&mut self, x: &Matrix<T>, _mode: Mode) -> &Matrix<T> {
        self.output.resize(x.rows(), self.out_features());
        match &self.bias {
            Some(b) => affine(&mut self.output, x, &self.weight.value, b.value.as_slice()),
            None => matmul(
                &mut self.output,
                false,
                T::one(),
                x,
                Op::N,
                &self.weight.value,
                Op::T,
            ),
        }
        &self.output
    }

    fn output(&self) -> &Matrix<T> {
        &self.output
    }

    fn backward(
        &mut self,
        x: &Matrix<T>,
        grad_output: &Matrix<T>,
        need_input_grad: bool,
        grads: Grads,
    ) {
        // dL/dW += g^T x (or =, written over by the GEMM without zeroing)
        matmul(
            &mut self.weight.grad,
            grads == Grads::Accumulate,
            T::one(),
            grad_output,
            Op::T,
            x,
            Op::N,
        );
        if let Some(b) = &mut self.bias {
            // dL/db += column sums of g
            b.start_grad(grads);
            grad_output.add_col_sums_into(b.grad.as_mut_slice());
        }
        if need_input_grad {
            // dL/dx = g W
            self.input_grad.resize(x.rows(), x.cols());
            matmul(
                &mut self.input_grad,
                false,
                T::one(),
                grad_output,
                Op::N,
                &self.weight.value,
                Op::N,
            );
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.input_grad
    }

    fn collect_params<'a>(&'a mut self, prefix: &str, out: &mut Vec<NamedParam<'a, T>>) {
        out.push(NamedParam {
            path: join(prefix, "weight"),
            param: &mut self.weight,
        });
        if let Some(b) = &mut self.bias {
            out.push(NamedParam {
                path: join(prefix, "bias"),
                param: b,
            });
        }
    }
}

impl<T: Scalar> Affine<T> for Linear<T> {
    fn weight(&self) -> &Param<T> {
        &self.weight
    }

    fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }
}
