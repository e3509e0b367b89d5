//! Residual block (He et al. 2016): `y = f(x) + P x`.
//!
//! `f` is a [`Sequential`] branch; `P` is the identity when the branch keeps
//! the width, and a projection when it changes it: a bias-free
//! [`Linear`](super::Linear) layer in an MLP, a 1x1 convolution or a
//! zero-padding shortcut in a CNN ([`super::conv`]).
//! Backward: `dL/dx = df^T g + P^T g`, so the gradient always has a path
//! around the branch — the reason residual nets train at depth.
//!
//! Parameters: `prefix.branch.i...` and `prefix.projection.weight`.
//!
//! Probes: on the steps the branch's first layer is tapped, the block
//! measures its two routes ([`Axis::Route`]: 0 the branch, 1 the
//! shortcut) and gives them to that layer's figures: `block_out`, the
//! branch's output `f(x)` and the shortcut's `P x` (how much of the sum
//! the branch contributes), and `block_input_grad`, `df^T g` and `P^T g`
//! (how much of the gradient reaching the block's input came around the
//! branch).
//!
//! # Shapes
//! `x`: `batch x in`; `y`: `batch x out`, `out` the branch's output width.

use super::layer::{join, Layer, Mode, NamedParam};
use super::Sequential;
use crate::probe::{measure, Axis, Block, Series, TensorStats};
use crate::tensor::Grads;
use crate::tensor::{Matrix, Scalar};

/// `y = f(x) + P x`.
pub struct Residual<T> {
    /// The branch `f`.
    pub branch: Sequential<T>,
    /// `P`, when the shape changes.
    pub projection: Option<Box<dyn Layer<T>>>,
    /// The block's own path, when it names itself (an MLP's residual
    /// blocks do: their position in PyTorch's flat numbering); else the
    /// container's prefix.
    path: Option<String>,
    /// Whether this step's forward measured the routes.
    tapped: bool,
    output: Matrix<T>,
    input_grad: Matrix<T>,
}

impl<T: Scalar> Residual<T> {
    /// A block around `branch`; pass a projection (`Linear::new(in, out,
    /// false)`) when the branch changes the width.
    pub fn new(branch: Sequential<T>, projection: Option<Box<dyn Layer<T>>>) -> Self {
        Self {
            branch,
            projection,
            path: None,
            tapped: false,
            output: Matrix::default(),
            input_grad: Matrix::default(),
        }
    }
}

impl<T: Scalar> Residual<T> {
    /// Names the block's parameters under `path` whatever its container's
    /// prefix (`layers.4`: `layers.4.branch.0.weight`).
    pub fn named(mut self, path: String) -> Self {
        self.path = Some(path);
        self
    }
}

impl<T: Scalar> Layer<T> for Residual<T> {
    fn kind(&self) -> String {
        "residual".into()
    }

    fn forward(&mut self, x: &Matrix<T>, mode: Mode) -> &Matrix<T> {
        let fx = self.branch.forward(x, mode);
        self.output.copy_from(fx);
        let skip = match &mut self.projection {
            Some(p) => p.forward(x, mode),
            None => x,
        };
        // The same values, in the branch's shape: a CNN's first block may
        // see data rows where its branch gives pixel rows.
        assert_eq!(skip.len(), self.output.len(), "residual widths");
        self.tapped = self
            .branch
            .first_block_mut()
            .is_some_and(|b| b.tap().is_on());
        let routes = self.tapped.then(|| routes("block_out", &self.output, skip));
        add_into(self.output.as_mut_slice(), skip.as_slice());
        if let (Some(series), Some(first)) = (routes, self.branch.first_block_mut()) {
            first.add_series(series);
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
        self.branch.backward(x, grad_output, need_input_grad, grads);
        if let Some(p) = &mut self.projection {
            p.backward(x, grad_output, need_input_grad, grads);
        }
        if !need_input_grad {
            return;
        }
        self.input_grad.copy_from(self.branch.input_grad());
        let skip = match &self.projection {
            Some(p) => p.input_grad(),
            None => grad_output,
        };
        let routes = self
            .tapped
            .then(|| routes("block_input_grad", &self.input_grad, skip));
        add_into(self.input_grad.as_mut_slice(), skip.as_slice());
        if let (Some(series), Some(first)) = (routes, self.branch.first_block_mut()) {
            first.add_series(series);
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.input_grad
    }

    fn collect_blocks<'a>(&'a self, out: &mut Vec<&'a dyn Block<T>>) {
        // The projection is not a probed layer: only the branch's blocks.
        self.branch.collect_blocks(out);
    }

    fn collect_blocks_mut<'a>(&'a mut self, out: &mut Vec<&'a mut dyn Block<T>>) {
        self.branch.collect_blocks_mut(out);
    }

    fn first_block_mut(&mut self) -> Option<&mut dyn Block<T>> {
        self.branch.first_block_mut()
    }

    fn collect_params<'a>(&'a mut self, prefix: &str, out: &mut Vec<NamedParam<'a, T>>) {
        let prefix = self.path.as_deref().unwrap_or(prefix);
        self.branch.collect_params(&join(prefix, "branch"), out);
        if let Some(p) = &mut self.projection {
            p.collect_params(&join(prefix, "projection"), out);
        }
    }

    fn collect_buffers<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut Matrix<T>)>) {
        let prefix = self.path.as_deref().unwrap_or(prefix);
        self.branch.collect_buffers(&join(prefix, "branch"), out);
    }
}

/// `tensor` along the block's routes: the branch's part, the shortcut's.
fn routes<T: Scalar>(tensor: &str, branch: &Matrix<T>, shortcut: &Matrix<T>) -> Series {
    let stats: [TensorStats; 2] = [measure(branch.as_slice()), measure(shortcut.as_slice())];
    Series {
        tensor: tensor.into(),
        axis: Axis::Route,
        stats: stats.to_vec(),
    }
}

/// `a += b`, entry by entry.
fn add_into<T: Scalar>(a: &mut [T], b: &[T]) {
    assert_eq!(a.len(), b.len(), "residual sum");
    for (a, &b) in a.iter_mut().zip(b) {
        *a = *a + b;
    }
}
