//! The MLP builder: a deep fully connected network from a plain config.
//!
//! Layout, input side first (paths as in PyTorch's `nn.Sequential`):
//!
//! ```text
//! layers.0  linear(input -> widths[0])      hidden layer 1
//! layers.1  [norm]   (before the activation, or after it)
//! layers.2  activation
//! ...       hidden layers 2..depth, the same; with `residual_every = k`,
//!           each run of k of them is one residual block
//!           (layers.i.branch.j..., plus layers.i.projection when widths differ)
//! layers.n  linear(widths[last] -> output)  the output layer (logits)
//! ```
//!
//! Each hidden layer (linear, norm, activation) is one [`Dense`] block and
//! the output layer another: the blocks are what the prober measures, one
//! row of a depth profile each; their parts keep the flat paths above.
//!
//! ```
//! use gradscope::nn::{Activation, ModelConfig};
//! let mut mlp = ModelConfig::new(784, 10).depth(3, 100).activation(Activation::Tanh).build::<f32>(0).unwrap();
//! assert_eq!(mlp.params().len(), 8); // 4 linear layers, weight + bias
//! ```

use super::{
    ActivationLayer, BatchNorm, Dense, Grads, Layer, LayerNorm, Linear, Mode, ModelConfig,
    ModelKind, NamedParam, Norm, Residual, Sequential,
};
use crate::error::Result;
use crate::probe::{Block, Tap};
use crate::tensor::{param_pass_in_parallel, Matrix, Scalar};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

impl ModelConfig {
    /// Builds the network, initialized from `seed`.
    pub fn build<T: Scalar>(&self, seed: u64) -> Result<Mlp<T>> {
        self.validate()?;
        if self.kind == ModelKind::Cnn {
            return super::conv::model::build(self, seed);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let slope = self.activation.leaky_slope();
        let mut linear = |fan_in: usize, fan_out: usize, bias: bool| {
            let mut l = Linear::<T>::new(fan_in, fan_out, bias);
            let b = l.bias.as_mut().map(|b| &mut b.value);
            self.init.fill(&mut l.weight.value, b, slope, &mut rng);
            l
        };
        let mut blocks: Vec<Box<dyn Layer<T>>> = Vec::new();
        // Flat index of the next module in `layers` (module doc).
        let mut t = 0;
        let mut fan_in = self.input;
        let mut i = 0;
        while i < self.widths.len() {
            let k = self.residual_every;
            if k == 0 || i == 0 {
                let w = self.widths[i];
                let block = self.hidden(linear(fan_in, w, self.bias), ("layers", t));
                t += block.parts();
                blocks.push(Box::new(block));
                fan_in = w;
                i += 1;
                continue;
            }
            let (block_in, end) = (fan_in, (i + k).min(self.widths.len()));
            let path = format!("layers.{t}");
            let branch_path = format!("{path}.branch");
            let mut branch: Vec<Box<dyn Layer<T>>> = Vec::new();
            let mut j = 0;
            for &w in &self.widths[i..end] {
                let block = self.hidden(linear(fan_in, w, self.bias), (&branch_path, j));
                j += block.parts();
                branch.push(Box::new(block));
                fan_in = w;
            }
            let projection = (block_in != fan_in)
                .then(|| Box::new(linear(block_in, fan_in, false)) as Box<dyn Layer<T>>);
            let residual = Residual::new(Sequential::new(branch), projection).named(path);
            blocks.push(Box::new(residual));
            t += 1;
            i = end;
        }
        let output = linear(fan_in, self.output, self.bias);
        let placement = self.norm_placement;
        blocks.push(Box::new(Dense::new(
            output,
            None,
            placement,
            None,
            ("layers", t),
        )));
        Ok(Mlp {
            net: Sequential::new(blocks),
        })
    }

    /// A hidden layer around `linear`: norm and activation in the
    /// configured order, at `at` in the flat numbering.
    fn hidden<T: Scalar>(&self, linear: Linear<T>, at: (&str, usize)) -> Dense<T> {
        let w = linear.out_features();
        let norm: Option<Box<dyn Layer<T>>> = match self.norm {
            Norm::None => None,
            Norm::Batch => Some(Box::new(BatchNorm::new(w, self.bn_momentum, self.norm_eps))),
            Norm::Layer => Some(Box::new(LayerNorm::new(w, self.norm_eps))),
        };
        let act = Some(ActivationLayer::new(self.activation));
        Dense::new(linear, norm, self.norm_placement, act, at)
    }
}

/// A built MLP: a chain of [`Dense`] blocks (and residual blocks around
/// them), the output layer last.
pub struct Mlp<T> {
    /// The blocks, under the path prefix `layers`.
    pub net: Sequential<T>,
}

impl<T: Scalar> Mlp<T> {
    /// Output (logits) for the batch `x` (`batch x input`).
    pub fn forward(&mut self, x: &Matrix<T>, mode: Mode) -> &Matrix<T> {
        self.net.forward(x, mode)
    }

    /// The probed blocks, input side first: the hidden layers (inside
    /// residual blocks too), then the output layer. These are the
    /// network's "layers" in depth profiles.
    pub fn blocks(&self) -> Vec<&dyn Block<T>> {
        let mut out = Vec::new();
        self.net.collect_blocks(&mut out);
        out
    }

    /// [`Mlp::blocks`], mutable.
    pub fn blocks_mut(&mut self) -> Vec<&mut dyn Block<T>> {
        let mut out = Vec::new();
        self.net.collect_blocks_mut(&mut out);
        out
    }

    /// Sets what every block measures on the next forward and backward.
    pub fn set_tap(&mut self, tap: Tap) {
        self.blocks_mut().into_iter().for_each(|b| b.set_tap(tap));
    }

    /// Path of each layer (its linear layer: `layers.0`), input side first.
    pub fn layer_paths(&self) -> Vec<String> {
        self.blocks().iter().map(|b| b.path().to_string()).collect()
    }

    /// Backpropagates `dL/doutput` for the batch `x` of the last forward,
    /// accumulating every parameter gradient (the input gradient is skipped).
    pub fn backward(&mut self, x: &Matrix<T>, grad_output: &Matrix<T>) {
        self.net.backward(x, grad_output, false, Grads::Accumulate);
    }

    /// [`Mlp::zero_grad`] and [`Mlp::backward`] in one: every parameter
    /// gradient becomes this batch's, written over what was there instead
    /// of zeroed first (one pass fewer over every gradient; the training
    /// loop steps this way).
    pub fn backward_overwrite(&mut self, x: &Matrix<T>, grad_output: &Matrix<T>) {
        self.net.backward(x, grad_output, false, Grads::Overwrite);
    }

    /// Every parameter with its path (`layers.0.weight`), input side first.
    pub fn params(&mut self) -> Vec<NamedParam<'_, T>> {
        let mut out = Vec::new();
        self.net.collect_params("layers", &mut out);
        out
    }

    /// Non-trainable state (BatchNorm running statistics) with paths.
    pub fn buffers(&mut self) -> Vec<(String, &mut Matrix<T>)> {
        let mut out = Vec::new();
        self.net.collect_buffers("layers", &mut out);
        out
    }

    /// Sets every parameter gradient to zero, one parameter per task when
    /// [`param_pass_in_parallel`] says so.
    pub fn zero_grad(&mut self) {
        let mut params = self.params();
        let total: usize = params.iter().map(|p| p.param.grad.len()).sum();
        let clear = |p: &mut NamedParam<'_, T>| p.param.grad.fill(T::zero());
        if param_pass_in_parallel(total) {
            params.par_iter_mut().for_each(clear);
        } else {
            params.iter_mut().for_each(clear);
        }
    }

    /// L2 norm of each layer's weight gradient, input side first (order of
    /// [`Mlp::blocks`]).
    pub fn weight_grad_norms(&self) -> Vec<f64> {
        let blocks = self.blocks();
        blocks.iter().map(|b| b.weight().grad.norm_f64()).collect()
    }

    /// Number of trainable scalars.
    pub fn num_params(&mut self) -> usize {
        self.params().iter().map(|p| p.param.value.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::NormPlacement;

    #[test]
    fn paths_follow_the_layout() {
        let mut mlp = ModelConfig::new(4, 3)
            .depth(3, 5)
            .norm(Norm::Batch, NormPlacement::Before)
            .build::<f64>(1)
            .unwrap();
        let paths: Vec<String> = mlp.params().into_iter().map(|p| p.path).collect();
        assert_eq!(paths[0], "layers.0.weight");
        assert_eq!(paths[2], "layers.1.weight"); // BatchNorm gamma
        assert_eq!(paths.last().unwrap(), "layers.9.bias");
        assert_eq!(mlp.buffers()[0].0, "layers.1.running_mean");
    }

    /// `backward_overwrite` over stale gradients equals `zero_grad` then
    /// `backward` bit for bit, for every kind of parameter (linear, f32 on
    /// our GEMM and f64, BatchNorm, LayerNorm, a residual projection); and
    /// `backward` still accumulates (to rounding: a sum that starts from the
    /// old gradient rounds differently from two separate sums).
    fn overwrite_matches<T: Scalar>(tol: f64) {
        for norm in [Norm::Batch, Norm::Layer] {
            let mut cfg = ModelConfig::new(20, 3)
                .norm(norm, NormPlacement::Before)
                .residual_every(2);
            cfg.widths = vec![70, 70, 40, 40];
            let mut mlp = cfg.build::<T>(5).unwrap();
            let wave = |n: usize, f: f64| (0..n).map(|i| T::cast((i as f64 * f).sin())).collect();
            let x = Matrix::from_vec(9, 20, wave(180, 0.37)).unwrap();
            let g = Matrix::from_vec(9, 3, wave(27, 0.71)).unwrap();
            let grads = |mlp: &mut Mlp<T>| -> Vec<(String, Vec<T>)> {
                let ps = mlp.params();
                ps.into_iter()
                    .map(|p| (p.path, p.param.grad.as_slice().to_vec()))
                    .collect()
            };
            mlp.forward(&x, Mode::Train);
            mlp.zero_grad();
            mlp.backward(&x, &g);
            let once = grads(&mut mlp);
            assert!(once.iter().any(|(p, _)| p.contains("projection")));
            mlp.backward(&x, &g);
            for ((path, twice), (_, once)) in grads(&mut mlp).iter().zip(&once) {
                for (t, o) in twice.iter().zip(once) {
                    let (t, o) = (t.as_f64(), o.as_f64());
                    assert!(
                        (t - 2.0 * o).abs() <= tol * (1.0 + o.abs()),
                        "{path}: {t} vs 2 x {o}"
                    );
                }
            }
            mlp.backward_overwrite(&x, &g);
            assert!(grads(&mut mlp) == once, "{norm:?} {}", T::NAME);
        }
    }

    #[test]
    fn backward_overwrite_equals_zero_grad_then_backward() {
        overwrite_matches::<f32>(1e-5);
        overwrite_matches::<f64>(1e-12);
    }

    #[test]
    fn residual_blocks_project_when_widths_change() {
        let mut cfg = ModelConfig::new(4, 2).residual_every(2);
        cfg.widths = vec![6, 6, 6, 8, 8];
        let mut mlp = cfg.build::<f64>(0).unwrap();
        let paths: Vec<String> = mlp.params().into_iter().map(|p| p.path).collect();
        assert!(paths.contains(&"layers.2.branch.0.weight".to_string()));
        assert!(!paths.iter().any(|p| p.starts_with("layers.2.projection")));
        assert_eq!(
            mlp.layer_paths(),
            [
                "layers.0",
                "layers.2.branch.0",
                "layers.2.branch.2",
                "layers.3.branch.0",
                "layers.3.branch.2",
                "layers.4"
            ]
        );
        assert!(paths.contains(&"layers.3.projection.weight".to_string()));
        let y = mlp.forward(&Matrix::filled(3, 4, 0.5), Mode::Train);
        assert_eq!(y.shape(), (3, 2));
        // One probed block per layer; the projection is not one.
        assert_eq!(mlp.blocks().len(), 6);
    }

    #[test]
    fn bad_width_is_named() {
        let mut cfg = ModelConfig::new(4, 2);
        cfg.widths = vec![3, 0];
        let err = cfg.build::<f32>(0).err().unwrap().to_string();
        assert_eq!(
            err,
            "invalid value for `model.widths`: hidden layer 2 has width 0"
        );
    }

    #[test]
    fn same_seed_same_network() {
        let cfg = ModelConfig::new(5, 2).depth(2, 4);
        let mut a = cfg.build::<f32>(9).unwrap();
        let mut b = cfg.build::<f32>(9).unwrap();
        let va: Vec<_> = a.params().iter().map(|p| p.param.value.clone()).collect();
        let vb: Vec<_> = b.params().iter().map(|p| p.param.value.clone()).collect();
        assert_eq!(va, vb);
    }
}
