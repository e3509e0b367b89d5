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

use super::Optimizer;
use crate::nn::NamedParam;
use crate::tensor::{Matrix, Scalar};

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

impl<T: Scalar> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut [NamedParam<'_, T>], lr: f64) {
        let (lr, wd, mu) = (
            T::cast(lr),
            T::cast(self.weight_decay),
            T::cast(self.momentum),
        );
        let first = self.buffers.is_empty() && self.momentum != 0.0;
        if first {
            self.buffers = params.iter().map(|p| p.param.grad.clone()).collect();
        }
        for (i, p) in params.iter_mut().enumerate() {
            let param = &mut *p.param;
            let (w, g) = (param.value.as_mut_slice(), param.grad.as_slice());
            if self.momentum == 0.0 {
                for (w, &g) in w.iter_mut().zip(g) {
                    *w = *w - lr * (g + wd * *w);
                }
                continue;
            }
            let b = self.buffers[i].as_mut_slice();
            assert_eq!(b.len(), w.len(), "parameter {} changed shape", p.path);
            for ((w, &g), b) in w.iter_mut().zip(g).zip(b.iter_mut()) {
                let d = g + wd * *w;
                *b = if first { d } else { mu * *b + d };
                let d = if self.nesterov { d + mu * *b } else { *b };
                *w = *w - lr * d;
            }
        }
    }
}
