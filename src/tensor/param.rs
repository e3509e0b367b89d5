//! A trainable tensor and its gradient ([`Param`]), and what a backward
//! pass does with the gradient already there ([`Grads`]).

use super::{Matrix, Scalar};

/// What `backward` does with the parameter gradients already there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grads {
    /// Adds this batch's gradients to them.
    Accumulate,
    /// Replaces them by this batch's: `zero_grad` then `Accumulate`, without
    /// the pass over every gradient that zeroing is (PyTorch's
    /// `zero_grad(set_to_none=True)` saves the same pass). The training loop
    /// steps this way.
    Overwrite,
}

/// A trainable tensor and its accumulated gradient, of the same shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Param<T> {
    /// The current value.
    pub value: Matrix<T>,
    /// `dL/dvalue`, accumulated by `backward` until zeroed.
    pub grad: Matrix<T>,
}

impl<T: Scalar> Param<T> {
    /// A parameter holding `value`, with a zero gradient.
    pub fn new(value: Matrix<T>) -> Self {
        let (r, c) = value.shape();
        Self {
            value,
            grad: Matrix::zeros(r, c),
        }
    }

    /// Readies the gradient for a backward that adds into it: zeroes it
    /// under [`Grads::Overwrite`], leaves it under `Accumulate`.
    pub fn start_grad(&mut self, grads: Grads) {
        if grads == Grads::Overwrite {
            self.grad.fill(T::zero());
        }
    }
}
