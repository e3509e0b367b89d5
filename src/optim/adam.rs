//! Adam and AdamW, exactly as `torch.optim.Adam` / `torch.optim.AdamW`:
//!
//! ```text
//! AdamW only:  w = w (1 - lr wd)
//! Adam only:   g = g + wd w
//! m = b1 m + (1 - b1) g
//! v = b2 v + (1 - b2) g^2
//! w = w - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//! ```

use super::{Optimizer, OptimizerState};
use crate::error::{Error, Result};
use crate::nn::NamedParam;
use crate::tensor::{Matrix, Scalar};

/// Adam, or AdamW when `decoupled`.
pub struct Adam<T> {
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    decoupled: bool,
    t: i32,
    m: Vec<Matrix<T>>,
    v: Vec<Matrix<T>>,
}

impl<T: Scalar> Adam<T> {
    /// Adam (`decoupled = false`) or AdamW (`true`).
    pub fn new(beta1: f64, beta2: f64, eps: f64, weight_decay: f64, decoupled: bool) -> Self {
        Self {
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }
}

impl<T: Scalar> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &mut [NamedParam<'_, T>], lr: f64) {
        if self.m.is_empty() {
            let zeros = |p: &NamedParam<'_, T>| {
                let (r, c) = p.param.value.shape();
                Matrix::zeros(r, c)
            };
            self.m = params.iter().map(zeros).collect();
            self.v = params.iter().map(zeros).collect();
        }
        assert_eq!(self.m.len(), params.len(), "parameter list changed");
        self.t += 1;
        let c = T::cast;
        let (b1, b2) = (c(self.beta1), c(self.beta2));
        let step_size = c(lr / (1.0 - self.beta1.powi(self.t)));
        let inv_sqrt_bc2 = c(1.0 / (1.0 - self.beta2.powi(self.t)).sqrt());
        let eps = c(self.eps);
        let (l2, shrink) = if self.decoupled {
            (T::zero(), c(1.0 - lr * self.weight_decay))
        } else {
            (c(self.weight_decay), T::one())
        };
        let one = T::one();
        for (i, p) in params.iter_mut().enumerate() {
            let param = &mut *p.param;
            let (w, g) = (param.value.as_mut_slice(), param.grad.as_slice());
            let (m, v) = (self.m[i].as_mut_slice(), self.v[i].as_mut_slice());
            assert_eq!(m.len(), w.len(), "parameter {} changed shape", p.path);
            for j in 0..w.len() {
                let wj = w[j] * shrink;
                let gj = g[j] + l2 * wj;
                m[j] = b1 * m[j] + (one - b1) * gj;
                v[j] = b2 * v[j] + (one - b2) * gj * gj;
                w[j] = wj - step_size * m[j] / (v[j].sqrt() * inv_sqrt_bc2 + eps);
            }
        }
    }

    fn slot_names(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }

    fn state(&self) -> OptimizerState<T> {
        OptimizerState {
            steps: self.t as u64,
            slots: vec![("exp_avg", self.m.clone()), ("exp_avg_sq", self.v.clone())],
        }
    }

    fn set_state(&mut self, mut state: OptimizerState<T>) -> Result<()> {
        let bad = |reason: String| Error::InvalidConfig {
            field: "optimizer".into(),
            reason,
        };
        let t = i32::try_from(state.steps)
            .map_err(|_| bad(format!("{} Adam steps is more than it counts", state.steps)))?;
        let (m, v) = (state.take("exp_avg")?, state.take("exp_avg_sq")?);
        if m.len() != v.len() || (m.is_empty() != (t == 0)) {
            return Err(bad(format!(
                "Adam's state is inconsistent: {} first moments, {} second moments after {t} steps",
                m.len(),
                v.len()
            )));
        }
        (self.t, self.m, self.v) = (t, m, v);
        Ok(())
    }
}
