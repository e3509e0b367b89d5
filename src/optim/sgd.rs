//! SGD with optional momentum, Nesterov momentum and L2 weight decay,
//! exactly as `torch.optim.SGD` (dampening 0):
//!
//! ```text
//! d = g + wd * w
//! b = d                    on the first step
//! b = mu * b + d           afterwards
//! d = d + mu * b  (Nesterov)   or   d = b   (classical)
//! w = w - lr * d
//! ```

use super::{Optimizer, OptimizerState};
use crate::error::Result;
use crate::nn::NamedParam;
use crate::tensor::{param_pass_in_parallel, Matrix, Scalar};
use rayon::prelude::*;

/// Stochastic gradient descent.
pub struct Sgd<T> {
    momentum: f64,
    nesterov: bool,
    weight_decay: f64,
    buffers: Vec<Matrix<T>>,
}

impl<T: Scalar> Sgd<T> {
    /// SGD; `momentum = 0` is plain SGD.
    pub fn new(momentum: f64, nesterov: bool, weight_decay: f64) -> Self {
        Self {
            momentum,
            nesterov,
            weight_decay,
            buffers: Vec::new(),
        }
    }
}

/// The coefficients of one step.
#[derive(Clone, Copy)]
struct Coefficients<T> {
    lr: T,
    wd: T,
    mu: T,
    nesterov: bool,
    first: bool,
}

impl<T: Scalar> Coefficients<T> {
    /// Updates one parameter, with its momentum buffer when there is one.
    fn update(&self, w: &mut [T], g: &[T], buffer: Option<&mut [T]>) {
        let Self {
            lr,
            wd,
            mu,
            nesterov,
            first,
        } = *self;
        let Some(b) = buffer else {
            for (w, &g) in w.iter_mut().zip(g) {
                *w = *w - lr * (g + wd * *w);
            }
            return;
        };
        for ((w, &g), b) in w.iter_mut().zip(g).zip(b.iter_mut()) {
            let d = g + wd * *w;
            *b = if first { d } else { mu * *b + d };
            let d = if nesterov { d + mu * *b } else { *b };
            *w = *w - lr * d;
        }
    }
}

impl<T: Scalar> Optimizer<T> for Sgd<T> {
    /// With more than one thread allowed, parameters are updated in
    /// parallel (each on one thread: the same values either way).
    fn step(&mut self, params: &mut [NamedParam<'_, T>], lr: f64) {
        let first = self.buffers.is_empty() && self.momentum != 0.0;
        if first {
            self.buffers = params.iter().map(|p| p.param.grad.clone()).collect();
        }
        let c = Coefficients {
            lr: T::cast(lr),
            wd: T::cast(self.weight_decay),
            mu: T::cast(self.momentum),
            nesterov: self.nesterov,
            first,
        };
        let momentum = self.momentum != 0.0;
        for (p, b) in params.iter().zip(&self.buffers) {
            assert_eq!(
                b.len(),
                p.param.value.len(),
                "parameter {} changed shape",
                p.path
            );
        }
        let one = |(p, b): (&mut NamedParam<'_, T>, Option<&mut Matrix<T>>)| {
            let param = &mut *p.param;
            c.update(
                param.value.as_mut_slice(),
                param.grad.as_slice(),
                b.map(|b| b.as_mut_slice()),
            );
        };
        let total: usize = params.iter().map(|p| p.param.value.len()).sum();
        let buffers = self.buffers.iter_mut().map(Some);
        if param_pass_in_parallel(total) {
            let buffers: Vec<Option<&mut Matrix<T>>> = if momentum {
                buffers.collect()
            } else {
                params.iter().map(|_| None).collect()
            };
            params.par_iter_mut().zip(buffers).for_each(one);
        } else if momentum {
            params.iter_mut().zip(buffers).for_each(one);
        } else {
            params.iter_mut().map(|p| (p, None)).for_each(one);
        }
    }

    /// `momentum_buffer` with momentum, nothing without.
    fn slot_names(&self) -> &'static [&'static str] {
        if self.momentum != 0.0 {
            &["momentum_buffer"]
        } else {
            &[]
        }
    }

    fn state(&self) -> OptimizerState<T> {
        let slots = self
            .slot_names()
            .iter()
            .map(|&name| (name, self.buffers.clone()))
            .collect();
        OptimizerState { steps: 0, slots }
    }

    fn set_state(&mut self, mut state: OptimizerState<T>) -> Result<()> {
        self.buffers = match self.slot_names() {
            [] => Vec::new(),
            [name, ..] => state.take(name)?,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Param;
    use crate::tensor::with_threads;

    /// Two parameters large enough for the parallel path, three steps.
    fn run(threads: usize, momentum: f64, nesterov: bool) -> Vec<Vec<u32>> {
        let mut params: Vec<Param<f32>> = [300 * 200, 200]
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                let v = (0..n)
                    .map(|i| ((i * 37 + k) % 101) as f32 / 101.0 - 0.5)
                    .collect();
                let mut p = Param::new(Matrix::from_vec(1, n, v).unwrap());
                let g = (0..n).map(|i| ((i * 13 + k) % 97) as f32 / 97.0 - 0.5);
                p.grad
                    .as_mut_slice()
                    .iter_mut()
                    .zip(g)
                    .for_each(|(d, g)| *d = g);
                p
            })
            .collect();
        let mut sgd = Sgd::new(momentum, nesterov, 1e-4);
        with_threads(threads, || {
            for _ in 0..3 {
                let mut named: Vec<NamedParam<'_, f32>> = params
                    .iter_mut()
                    .map(|param| NamedParam {
                        path: String::new(),
                        param,
                    })
                    .collect();
                sgd.step(&mut named, 0.1);
            }
        });
        params
            .iter()
            .map(|p| p.value.as_slice().iter().map(|x| x.to_bits()).collect())
            .collect()
    }

    #[test]
    fn the_parallel_update_equals_the_serial_one_bit_for_bit() {
        for (momentum, nesterov) in [(0.0, false), (0.9, false), (0.9, true)] {
            assert_eq!(run(1, momentum, nesterov), run(2, momentum, nesterov));
        }
        // And the update did something.
        assert_ne!(run(1, 0.9, false), run(1, 0.0, false));
    }
}
