//! A recurrent network: a stack of [`Recurrent`] layers and a linear
//! read-out, at the last step (classification, regression) or at every
//! step (language modelling, copying).
//!
//! # Shapes
//! - inputs: `T` matrices `x_t` of `batch x D` (time-major)
//! - output, last step: `batch x O` from `h_T` of the top layer
//! - output, every step: `T*batch x O`, row `t*batch + b` for step `t` of
//!   example `b` (the top layer's `h_t` stacked)
//!
//! Layers are numbered from the input: recurrent layers `layers.0` ..
//! `layers.{L-1}`, the read-out `layers.L`, each a probed block.

use super::{CellKind, Recurrent, RecurrentInit};
use crate::nn::{Dense, Layer, Linear, Mode, NamedParam, NormPlacement};
use crate::probe::{Block, Tap};
use crate::tensor::{Grads, Init, Matrix, Scalar};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a recurrent network is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct RnnConfig {
    /// The cell.
    pub kind: CellKind,
    /// Inputs per step `D`.
    pub input: usize,
    /// Hidden units per layer `H`.
    pub hidden: usize,
    /// Stacked layers.
    pub layers: usize,
    /// Outputs `O` (classes, or regression targets).
    pub outputs: usize,
    /// Read out every step (else the last only).
    pub every_step: bool,
    /// The recurrent weights' init.
    pub init: RecurrentInit,
    /// An LSTM's forget-gate bias.
    pub forget_bias: f64,
    /// Truncated BPTT: chunks of this many steps (`None`: full).
    pub truncation: Option<usize>,
}

/// A stack of recurrent layers and a read-out.
pub struct RnnModel<T> {
    /// The recurrent layers, input side first.
    pub layers: Vec<Recurrent<T>>,
    /// The linear read-out (a block without norm or activation).
    pub readout: Dense<T>,
    every_step: bool,
    stacked: Matrix<T>,
    top_grads: Vec<Matrix<T>>,
}

impl RnnConfig {
    /// The network, its weights drawn from `seed`.
    pub fn build<T: Scalar>(&self, seed: u64) -> RnnModel<T> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers: Vec<Recurrent<T>> = (0..self.layers)
            .map(|l| {
                let input = if l == 0 { self.input } else { self.hidden };
                let mut layer =
                    Recurrent::new(self.kind, input, self.hidden, &format!("layers.{l}"));
                self.init.fill(&mut layer, self.forget_bias, &mut rng);
                layer.truncation = self.truncation;
                layer
            })
            .collect();
        let mut linear = Linear::new(self.hidden, self.outputs, true);
        let bias = linear.bias.as_mut().map(|b| &mut b.value);
        Init::Standard.fill(&mut linear.weight.value, bias, 0.0, &mut rng);
        let readout = Dense::new(
            linear,
            None,
            NormPlacement::Before,
            None,
            ("layers", self.layers),
        );
        RnnModel {
            layers,
            readout,
            every_step: self.every_step,
            stacked: Matrix::default(),
            top_grads: Vec::new(),
        }
    }
}

impl<T: Scalar> RnnModel<T> {
    /// Runs the sequence `xs`; returns the read-out (see the module doc
    /// for its rows).
    pub fn forward(&mut self, xs: &[Matrix<T>]) -> &Matrix<T> {
        for l in 0..self.layers.len() {
            let (below, rest) = self.layers.split_at_mut(l);
            let inputs = if l == 0 { xs } else { below[l - 1].outputs() };
            rest[0].forward(inputs);
        }
        let top = self.layers.last().map_or(xs, |l| l.outputs());
        let input = if self.every_step {
            stack(top, &mut self.stacked);
            &self.stacked
        } else {
            top.last().expect("a sequence of at least one step")
        };
        self.readout.forward(input, Mode::Train)
    }

    /// Backpropagation through time from `dL/doutput` (`grad`, the shape
    /// of the last forward's output), for the same `xs`; parameter
    /// gradients accumulated or written over as `grads` says.
    pub fn backward(&mut self, xs: &[Matrix<T>], grad: &Matrix<T>, grads: Grads) {
        let t_len = xs.len();
        let top = self.layers.last().map_or(xs, |l| l.outputs());
        let input = if self.every_step {
            &self.stacked
        } else {
            top.last().expect("a sequence of at least one step")
        };
        self.readout.backward(input, grad, true, grads);
        let d = self.readout.input_grad();
        self.top_grads.resize_with(t_len, Matrix::default);
        if self.every_step {
            let batch = d.rows() / t_len.max(1);
            for (t, g) in self.top_grads.iter_mut().enumerate() {
                g.resize(batch, d.cols());
                g.as_mut_slice().copy_from_slice(
                    &d.as_slice()[t * batch * d.cols()..(t + 1) * batch * d.cols()],
                );
            }
        } else {
            for g in &mut self.top_grads[..t_len - 1] {
                g.resize(0, 0);
            }
            self.top_grads[t_len - 1].copy_from(d);
        }
        let n = self.layers.len();
        for l in (0..n).rev() {
            let (below, rest) = self.layers.split_at_mut(l);
            let (cur, above) = rest.split_first_mut().expect("layer l exists");
            let inputs = if l == 0 { xs } else { below[l - 1].outputs() };
            let dhs = if l + 1 == n {
                &self.top_grads[..]
            } else {
                above[0].input_grads()
            };
            cur.backward(inputs, dhs, l > 0, grads);
        }
    }

    /// The probed blocks, input side first: the recurrent layers, then the
    /// read-out.
    pub fn blocks(&self) -> Vec<&dyn Block<T>> {
        let mut out: Vec<&dyn Block<T>> = self.layers.iter().map(|l| l as &dyn Block<T>).collect();
        out.push(&self.readout);
        out
    }

    /// The same, mutable.
    pub fn blocks_mut(&mut self) -> Vec<&mut dyn Block<T>> {
        let mut out: Vec<&mut dyn Block<T>> = self
            .layers
            .iter_mut()
            .map(|l| l as &mut dyn Block<T>)
            .collect();
        out.push(&mut self.readout);
        out
    }

    /// Sets every block's tap.
    pub fn set_tap(&mut self, tap: Tap) {
        self.blocks_mut().into_iter().for_each(|b| b.set_tap(tap));
    }

    /// Every parameter with its path (`layers.0.weight_ih`, ...,
    /// `layers.L.weight`).
    pub fn params(&mut self) -> Vec<NamedParam<'_, T>> {
        let mut out = Vec::new();
        for layer in &mut self.layers {
            let prefix = layer.path().to_string();
            for (name, param) in layer.params_mut() {
                out.push(NamedParam {
                    path: format!("{prefix}.{name}"),
                    param,
                });
            }
        }
        let path = self.readout.path().to_string();
        self.readout.collect_params(&path, &mut out);
        out
    }

    /// The blocks' paths.
    pub fn layer_paths(&self) -> Vec<String> {
        self.blocks().iter().map(|b| b.path().to_string()).collect()
    }

    /// Parameters in all.
    pub fn num_params(&mut self) -> usize {
        self.params().iter().map(|p| p.param.value.len()).sum()
    }
}

/// `hs` (`T` matrices of `batch x H`) stacked into `out` (`T*batch x H`).
fn stack<T: Scalar>(hs: &[Matrix<T>], out: &mut Matrix<T>) {
    let (batch, cols) = hs.first().map_or((0, 0), |h| h.shape());
    out.resize(hs.len() * batch, cols);
    for (t, h) in hs.iter().enumerate() {
        out.as_mut_slice()[t * batch * cols..(t + 1) * batch * cols].copy_from_slice(h.as_slice());
    }
}
