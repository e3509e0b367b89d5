//! A chain of layers, itself a layer: `y = f_n(... f_1(x))`.
//!
//! Each child keeps its own output, which is the next child's input, so
//! backward can hand every child the input it saw. Child `i`'s parameters
//! live under `prefix.i` (`layers.3.weight`), PyTorch's `nn.Sequential`
//! naming.

use super::layer::{join, Layer, Mode, NamedParam};
use crate::probe::Block;
use crate::tensor::Grads;
use crate::tensor::{Matrix, Scalar};

/// Layers applied in order.
pub struct Sequential<T> {
    /// The children, input side first.
    pub layers: Vec<Box<dyn Layer<T>>>,
    /// Empty-chain output/grad (identity): a copy of the input.
    passthrough: Matrix<T>,
    passthrough_grad: Matrix<T>,
}

impl<T: Scalar> Sequential<T> {
    /// A chain of `layers`.
    pub fn new(layers: Vec<Box<dyn Layer<T>>>) -> Self {
        Self {
            layers,
            passthrough: Matrix::default(),
            passthrough_grad: Matrix::default(),
        }
    }

    /// Number of children.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when the chain is empty (the identity).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<T: Scalar> Layer<T> for Sequential<T> {
    fn kind(&self) -> String {
        "sequential".into()
    }

    fn forward(&mut self, x: &Matrix<T>, mode: Mode) -> &Matrix<T> {
        if self.layers.is_empty() {
            self.passthrough.copy_from(x);
            return &self.passthrough;
        }
        let (first, rest) = self.layers.split_first_mut().expect("non-empty");
        let mut h = first.forward(x, mode);
        for layer in rest.iter_mut() {
            h = layer.forward(h, mode);
        }
        h
    }

    fn output(&self) -> &Matrix<T> {
        self.layers.last().map_or(&self.passthrough, |l| l.output())
    }

    fn backward(
        &mut self,
        x: &Matrix<T>,
        grad_output: &Matrix<T>,
        need_input_grad: bool,
        grads: Grads,
    ) {
        let n = self.layers.len();
        if n == 0 {
            if need_input_grad {
                self.passthrough_grad.copy_from(grad_output);
            }
            return;
        }
        for i in (0..n).rev() {
            let (before, rest) = self.layers.split_at_mut(i);
            let (current, after) = rest.split_first_mut().expect("i < n");
            let input = before.last().map_or(x, |l| l.output());
            let grad = after.first().map_or(grad_output, |l| l.input_grad());
            current.backward(input, grad, i > 0 || need_input_grad, grads);
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        self.layers
            .first()
            .map_or(&self.passthrough_grad, |l| l.input_grad())
    }

    fn collect_params<'a>(&'a mut self, prefix: &str, out: &mut Vec<NamedParam<'a, T>>) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.collect_params(&join(prefix, &i.to_string()), out);
        }
    }

    fn collect_buffers<'a>(&'a mut self, prefix: &str, out: &mut Vec<(String, &'a mut Matrix<T>)>) {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.collect_buffers(&join(prefix, &i.to_string()), out);
        }
    }

    fn collect_blocks<'a>(&'a self, out: &mut Vec<&'a dyn Block<T>>) {
        self.layers.iter().for_each(|l| l.collect_blocks(out));
    }

    fn collect_blocks_mut<'a>(&'a mut self, out: &mut Vec<&'a mut dyn Block<T>>) {
        self.layers
            .iter_mut()
            .for_each(|l| l.collect_blocks_mut(out));
    }

    fn first_block_mut(&mut self) -> Option<&mut dyn Block<T>> {
        self.layers.iter_mut().find_map(|l| l.first_block_mut())
    }
}
