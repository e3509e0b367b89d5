//! Optimizers, gradient clipping and learning-rate schedules.
//!
//! An [`Optimizer`] updates parameters from their accumulated gradients,
//! keeping per-parameter state (momentum buffers, Adam moments) in the
//! order the model lists its parameters; the update rules follow
//! PyTorch's `torch.optim` exactly, and tests compare trajectories with it.

mod adam;
mod clip;
mod schedule;
mod settings;
mod sgd;
mod state;

pub use adam::Adam;
pub use clip::{clip_grad_norm, clip_grad_value, global_grad_norm};
pub use schedule::{Schedule, ScheduleKind};
pub use settings::OptimizerSettings;
pub use sgd::Sgd;
pub use state::OptimizerState;

use crate::error::{Error, Result};
use crate::nn::NamedParam;
use crate::tensor::Scalar;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Updates parameters from their gradients.
pub trait Optimizer<T: Scalar>: Send {
    /// One update of every parameter with learning rate `lr`.
    ///
    /// # Panics
    /// When the parameter list changes between steps (count or shapes).
    fn step(&mut self, params: &mut [NamedParam<'_, T>], lr: f64);

    /// The names of its per-parameter slots ([`OptimizerState::slots`]).
    fn slot_names(&self) -> &'static [&'static str];

    /// Its state, copied (for a checkpoint).
    fn state(&self) -> OptimizerState<T>;

    /// Replaces its state with `state` (from a checkpoint): the slots of
    /// [`Optimizer::slot_names`], every one with the same number of
    /// matrices (the caller checks them against the parameters' shapes).
    fn set_state(&mut self, state: OptimizerState<T>) -> Result<()>;
}

/// Which optimizer, with its hyper-parameters (PyTorch's defaults).
///
/// As a table (a spec's `[optimizer]`, see [`OptimizerSettings`]) it is
/// read by `name` ([`OptimizerName`], `sgd` when left out) and the keys
/// that name's rule takes: `momentum`, `nesterov`, `weight_decay` for the
/// SGD family; `beta1`, `beta2`, `eps`, `weight_decay` for Adam and AdamW.
/// `momentum` and `nesterov` are SGD with momentum 0.9 (and Nesterov's
/// form); written back, every SGD-family rule is `sgd` with its keys.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// Stochastic gradient descent, optionally with (Nesterov) momentum and
    /// L2 weight decay.
    Sgd {
        /// Momentum coefficient, 0 for plain SGD.
        momentum: f64,
        /// Nesterov's look-ahead form.
        nesterov: bool,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
    },
    /// Adam (Kingma & Ba 2015), weight decay as an L2 penalty.
    Adam {
        /// First-moment decay (0.9).
        beta1: f64,
        /// Second-moment decay (0.999).
        beta2: f64,
        /// Denominator guard (1e-8).
        eps: f64,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
    },
    /// AdamW (Loshchilov & Hutter 2019): decoupled weight decay.
    #[serde(rename = "adamw")]
    AdamW {
        /// First-moment decay (0.9).
        beta1: f64,
        /// Second-moment decay (0.999).
        beta2: f64,
        /// Denominator guard (1e-8).
        eps: f64,
        /// Decoupled decay (0.01).
        weight_decay: f64,
    },
}

/// An optimizer by name, as specs, flags and remedy commands write it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerName {
    /// Plain SGD.
    Sgd,
    /// SGD with momentum 0.9.
    Momentum,
    /// SGD with Nesterov momentum 0.9.
    Nesterov,
    /// Adam.
    Adam,
    /// AdamW.
    AdamW,
}

/// The names [`OptimizerName::from_str`] accepts.
pub const OPTIMIZER_NAMES: &str = "sgd, momentum, nesterov, adam, adamw";

impl OptimizerName {
    /// The names [`OptimizerName::from_str`] accepts.
    pub const NAMES: &'static str = OPTIMIZER_NAMES;
}

impl fmt::Display for OptimizerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerName::Sgd => "sgd",
            OptimizerName::Momentum => "momentum",
            OptimizerName::Nesterov => "nesterov",
            OptimizerName::Adam => "adam",
            OptimizerName::AdamW => "adamw",
        })
    }
}

impl FromStr for OptimizerName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "sgd" => OptimizerName::Sgd,
            "momentum" => OptimizerName::Momentum,
            "nesterov" => OptimizerName::Nesterov,
            "adam" => OptimizerName::Adam,
            "adamw" => OptimizerName::AdamW,
            _ => {
                return Err(Error::UnknownName {
                    what: "optimizer",
                    name: s.into(),
                    expected: OPTIMIZER_NAMES.into(),
                })
            }
        })
    }
}

crate::names::serde_via_str!(OptimizerName);

/// The keys of the SGD family's table; unset ones keep the name's default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SgdTable {
    momentum: Option<f64>,
    nesterov: Option<bool>,
    weight_decay: Option<f64>,
}

/// The keys of Adam's and AdamW's table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdamTable {
    beta1: Option<f64>,
    beta2: Option<f64>,
    eps: Option<f64>,
    weight_decay: Option<f64>,
}

impl<'de> Deserialize<'de> for OptimizerConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let mut table = toml::Table::deserialize(d)?;
        let name = match table.remove("name") {
            None => OptimizerName::Sgd,
            Some(toml::Value::String(s)) => s.parse().map_err(D::Error::custom)?,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "invalid type: {} `{other}`, expected an optimizer name",
                    other.type_str()
                )))
            }
        };
        let rest = toml::Value::Table(table);
        let err = |e: toml::de::Error| D::Error::custom(e.message());
        let set = |slot: &mut f64, value: Option<f64>| *slot = value.unwrap_or(*slot);
        let mut cfg = name.config();
        match &mut cfg {
            OptimizerConfig::Sgd {
                momentum,
                nesterov,
                weight_decay,
            } => {
                let t: SgdTable = rest.try_into().map_err(err)?;
                set(momentum, t.momentum);
                *nesterov = t.nesterov.unwrap_or(*nesterov);
                set(weight_decay, t.weight_decay);
            }
            OptimizerConfig::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
            }
            | OptimizerConfig::AdamW {
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                let t: AdamTable = rest.try_into().map_err(err)?;
                set(beta1, t.beta1);
                set(beta2, t.beta2);
                set(eps, t.eps);
                set(weight_decay, t.weight_decay);
            }
        }
        Ok(cfg)
    }
}

impl Default for OptimizerConfig {
    /// Plain SGD.
    fn default() -> Self {
        OptimizerName::Sgd.config()
    }
}

impl OptimizerName {
    /// The optimizer with its default hyper-parameters (PyTorch's; 0.9 for
    /// `momentum` and `nesterov`, decoupled decay 0.01 for `adamw`).
    pub fn config(self) -> OptimizerConfig {
        let sgd = |momentum, nesterov| OptimizerConfig::Sgd {
            momentum,
            nesterov,
            weight_decay: 0.0,
        };
        match self {
            OptimizerName::Sgd => sgd(0.0, false),
            OptimizerName::Momentum => sgd(0.9, false),
            OptimizerName::Nesterov => sgd(0.9, true),
            OptimizerName::Adam => OptimizerConfig::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.0,
            },
            OptimizerName::AdamW => OptimizerConfig::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 0.01,
            },
        }
    }
}

impl OptimizerConfig {
    /// The optimizer called `name` ([`OPTIMIZER_NAMES`]) with default
    /// hyper-parameters (`momentum` and `nesterov` use momentum 0.9).
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(name.parse::<OptimizerName>()?.config())
    }

    /// The weight decay (L2, or decoupled for AdamW).
    pub fn weight_decay(&self) -> f64 {
        match *self {
            OptimizerConfig::Sgd { weight_decay, .. }
            | OptimizerConfig::Adam { weight_decay, .. }
            | OptimizerConfig::AdamW { weight_decay, .. } => weight_decay,
        }
    }

    /// Sets the weight decay.
    pub fn set_weight_decay(&mut self, decay: f64) {
        match self {
            OptimizerConfig::Sgd { weight_decay, .. }
            | OptimizerConfig::Adam { weight_decay, .. }
            | OptimizerConfig::AdamW { weight_decay, .. } => *weight_decay = decay,
        }
    }

    /// Whether it is Adam or AdamW.
    pub fn is_adam(&self) -> bool {
        matches!(
            self,
            OptimizerConfig::Adam { .. } | OptimizerConfig::AdamW { .. }
        )
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
