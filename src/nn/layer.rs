//! The [`Layer`] trait every building block implements, and the
//! [`Param`]eters it owns.
//!
//! Calling convention (as in Caffe): the caller keeps each layer's input
//! alive and hands it back to `backward`, so no layer copies its input.
//! Everything else backward needs (a layer's output, normalized values,
//! inverse standard deviations) the layer caches during `forward`, in
//! buffers it reuses from step to step.
//!
//! ```text
//! forward:   x --layer--> y          (y kept in the layer: `output()`)
//! backward:  (x, dL/dy) --layer--> dL/dx   (kept in the layer: `input_grad()`)
//!            and dL/dparam accumulated into each `Param::grad`
//!            (or written over it, with `Grads::Overwrite`)
//! ```

use crate::tensor::{Matrix, Scalar};

/// Training or evaluation behaviour (BatchNorm's statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Batch statistics, running averages updated.
    Train,
    /// Running statistics, nothing updated.
    Eval,
}

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

/// A parameter with its path in the model (`layers.3.weight`).
pub struct NamedParam<'a, T> {
    /// Dotted path, stable across runs of the same spec.
    pub path: String,
    /// The parameter.
    pub param: &'a mut Param<T>,
}

/// One building block of a network.
pub trait Layer<T: Scalar>: Send + Sync {
    /// A short name of the layer type (`linear`, `sigmoid`, `batch_norm`).
    fn kind(&self) -> String;

    /// Computes the output for the batch `x` (`batch x in`), caches what
    /// backward needs, and returns the output (`batch x out`).
    fn forward(&mut self, x: &Matrix<T>, mode: Mode) -> &Matrix<T>;

    /// The output of the last `forward`.
    fn output(&self) -> &Matrix<T>;

    /// Given the same `x` as the last forward and `dL/dy`, accumulates
    /// parameter gradients (or overwrites them, as `grads` says) and, when
    /// `need_input_grad`, computes `dL/dx` (the first layer of a network
    /// skips it).
    fn backward(
        &mut self,
        x: &Matrix<T>,
        grad_output: &Matrix<T>,
        need_input_grad: bool,
        grads: Grads,
    );

    /// `dL/dx` from the last `backward` that computed it.
    fn input_grad(&self) -> &Matrix<T>;

    /// Child `i` of a container (`Sequential`, the branch of a `Residual`);
    /// `None` for leaf layers. Lets probes reach any layer by its index chain.
    fn child(&self, _i: usize) -> Option<&dyn Layer<T>> {
        None
    }

    /// Turns taps on or off (see [`super::tap`]); containers pass it to
    /// their children. Layers without taps ignore it.
    fn set_tap(&mut self, _on: bool) {}

    /// What this layer's taps measured in its last passes; `None` when the
    /// layer is not tapped.
    fn taps(&self) -> Option<&super::Taps> {
        None
    }

    /// The nonlinearity, for activation layers.
    fn activation(&self) -> Option<super::Activation> {
        None
    }

    /// The parameter called `name` (`weight`, `bias`), read-only.
    fn param(&self, _name: &str) -> Option<&Param<T>> {
        None
    }

    /// Appends this layer's parameters, paths prefixed by `prefix`.
    fn collect_params<'a>(&'a mut self, _prefix: &str, _out: &mut Vec<NamedParam<'a, T>>) {}

    /// Appends this layer's non-trainable state (BatchNorm running
    /// statistics), paths prefixed by `prefix`.
    fn collect_buffers<'a>(
        &'a mut self,
        _prefix: &str,
        _out: &mut Vec<(String, &'a mut Matrix<T>)>,
    ) {
    }
}

/// Joins a path prefix and a name: `join("layers.3", "weight")`.
pub fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}
