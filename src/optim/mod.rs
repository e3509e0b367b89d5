//! Optimizers, gradient clipping and learning-rate schedules.
//!
//! An [`Optimizer`] updates parameters from their accumulated gradients,
//! keeping per-parameter state (momentum buffers, Adam moments) in the
//! order the model lists its parameters; the update rules follow
//! PyTorch's `torch.optim` exactly, and tests compare trajectories with it.

mod adam;
mod clip;
mod schedule;
mod sgd;

pub use adam::Adam;
pub use clip::{clip_grad_norm, clip_grad_value, global_grad_norm};
pub use schedule::{Schedule, ScheduleKind};
pub use sgd::Sgd;

use crate::error::{Error, Result};
use crate::nn::NamedParam;
use crate::tensor::Scalar;
use serde::{Deserialize, Serialize};

/// Updates parameters from their gradients.
pub trait Optimizer<T: Scalar>: Send {
    /// One update of every parameter with learning rate `lr`.
    ///
    /// # Panics
    /// When the parameter list changes between steps (count or shapes).
    fn step(&mut self, params: &mut [NamedParam<'_, T>], lr: f64);
}

/// Which optimizer, with its hyper-parameters (PyTorch's defaults).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// Stochastic gradient descent, optionally with (Nesterov) momentum and
    /// L2 weight decay.
    Sgd {
        /// Momentum coefficient, 0 for plain SGD.
        #[serde(default)]
        momentum: f64,
        /// Nesterov's look-ahead form.
        #[serde(default)]
        nesterov: bool,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// Adam (Kingma & Ba 2015), weight decay as an L2 penalty.
    Adam {
        /// First-moment decay (0.9).
        #[serde(default = "beta1")]
        beta1: f64,
        /// Second-moment decay (0.999).
        #[serde(default = "beta2")]
        beta2: f64,
        /// Denominator guard (1e-8).
        #[serde(default = "adam_eps")]
        eps: f64,
        /// L2 penalty added to the gradient.
        #[serde(default)]
        weight_decay: f64,
    },
    /// AdamW (Loshchilov & Hutter 2019): decoupled weight decay.
    #[serde(rename = "adamw")]
    AdamW {
        /// First-moment decay (0.9).
        #[serde(default = "beta1")]
        beta1: f64,
        /// Second-moment decay (0.999).
        #[serde(default = "beta2")]
        beta2: f64,
        /// Denominator guard (1e-8).
        #[serde(default = "adam_eps")]
        eps: f64,
        /// Decoupled decay (0.01).
        #[serde(default = "adamw_decay")]
        weight_decay: f64,
    },
}

fn beta1() -> f64 {
    0.9
}
fn beta2() -> f64 {
    0.999
}
fn adam_eps() -> f64 {
    1e-8
}
fn adamw_decay() -> f64 {
    0.01
}

/// The names [`OptimizerConfig::from_name`] accepts.
pub const OPTIMIZER_NAMES: &str = "sgd, momentum, nesterov, adam, adamw";

impl OptimizerConfig {
    /// The optimizer called `name` with default hyper-parameters
    /// (`momentum` and `nesterov` use momentum 0.9).
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "sgd" => OptimizerConfig::Sgd {
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.0,
            },
            "momentum" => OptimizerConfig::Sgd {
                momentum: 0.9,
                nesterov: false,
                weight_decay: 0.0,
            },
            "nesterov" => OptimizerConfig::Sgd {
                momentum: 0.9,
                nesterov: true,
                weight_decay: 0.0,
            },
            "adam" => OptimizerConfig::Adam {
                beta1: beta1(),
                beta2: beta2(),
                eps: adam_eps(),
                weight_decay: 0.0,
            },
            "adamw" => OptimizerConfig::AdamW {
                beta1: beta1(),
                beta2: beta2(),
                eps: adam_eps(),
                weight_decay: adamw_decay(),
            },
            _ => {
                return Err(Error::UnknownName {
                    what: "optimizer",
                    name: name.into(),
                    expected: OPTIMIZER_NAMES.into(),
                })
            }
        })
    }

    /// Builds the optimizer with empty state.
    pub fn build<T: Scalar>(&self) -> Box<dyn Optimizer<T>> {
        match *self {
            OptimizerConfig::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => Box::new(Sgd::new(momentum, nesterov, weight_decay)),
            OptimizerConfig::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => Box::new(Adam::new(beta1, beta2, eps, weight_decay, false)),
            OptimizerConfig::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => Box::new(Adam::new(beta1, beta2, eps, weight_decay, true)),
        }
    }
}
