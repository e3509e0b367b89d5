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

use crate::probe::Block;
use crate::tensor::{Grads, Matrix, Param, Scalar};

/// Training or evaluation behaviour (BatchNorm's statistics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Batch statistics, running averages updated.
    Train,
    /// Running statistics, nothing updated.
    Eval,
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

    /// Appends the probed [`Block`]s in this layer, input side first: a
    /// block appends itself, a container its children's, a plain layer
    /// nothing. How the prober finds what to measure.
    fn collect_blocks<'a>(&'a self, _out: &mut Vec<&'a dyn Block<T>>) {}

    /// [`Layer::collect_blocks`], mutable (to set their taps).
    fn collect_blocks_mut<'a>(&'a mut self, _out: &mut Vec<&'a mut dyn Block<T>>) {}

    /// The first probed block in this layer, without collecting the rest
    /// (no allocation: a residual block asks for it every step, to hand it
    /// the block's routes).
    fn first_block_mut(&mut self) -> Option<&mut dyn Block<T>> {
        None
    }
}

/// The linear map at the head of a probed block ([`super::Dense`]): a
/// fully connected layer or a convolution. Its weight is what the block's
/// weight figures and update ratio follow.
pub trait Affine<T: Scalar>: Layer<T> {
    /// The weight (`out x in`; a convolution's `in` is `k * k * c_in`).
    fn weight(&self) -> &Param<T>;

    /// The bias, when there is one.
    fn bias(&self) -> Option<&Param<T>>;

    /// Whether the output's columns are an image's channels (pixel rows):
    /// the block around it then measures its figures per channel too, on
    /// histogram steps.
    fn per_channel(&self) -> bool {
        false
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
