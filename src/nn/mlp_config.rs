//! The MLP's configuration: plain data with documented defaults, from which
//! [`MlpConfig::build`](super::Mlp) makes the network. It serializes, so a
//! run can always be rebuilt from what was saved next to it.

use super::Activation;
use crate::error::{Error, Result};
use crate::tensor::Init;
use serde::{Deserialize, Serialize};

/// Normalization inside each hidden layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Norm {
    /// No normalization (default).
    #[default]
    None,
    /// Batch Normalization.
    Batch,
    /// Layer Normalization.
    Layer,
}

/// Where the normalization sits relative to the activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NormPlacement {
    /// `linear -> norm -> activation` (Ioffe & Szegedy; default).
    #[default]
    Before,
    /// `linear -> activation -> norm`.
    After,
}

/// Everything that defines an MLP. Defaults: no hidden layers, ReLU,
/// no norm, He-normal init, biases on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Input features (784 for MNIST).
    pub input: usize,
    /// Output units (10 classes).
    pub output: usize,
    /// Hidden widths, input side first; their count is the depth.
    pub widths: Vec<usize>,
    /// Hidden-layer activation.
    pub activation: Activation,
    /// Normalization in each hidden layer.
    #[serde(default)]
    pub norm: Norm,
    /// Normalization before or after the activation.
    #[serde(default)]
    pub norm_placement: NormPlacement,
    /// Wrap each run of this many hidden layers (after the first) in a
    /// residual block; 0 for none.
    #[serde(default)]
    pub residual_every: usize,
    /// Weight initializer for every linear layer.
    pub init: Init,
    /// Whether linear layers have biases.
    #[serde(default = "yes")]
    pub bias: bool,
    /// BatchNorm momentum (PyTorch's 0.1).
    #[serde(default = "bn_momentum")]
    pub bn_momentum: f64,
    /// Normalization epsilon (PyTorch's 1e-5).
    #[serde(default = "norm_eps")]
    pub norm_eps: f64,
}

fn yes() -> bool {
    true
}
fn bn_momentum() -> f64 {
    0.1
}
fn norm_eps() -> f64 {
    1e-5
}

impl MlpConfig {
    /// A config with no hidden layer; add them with [`MlpConfig::depth`].
    pub fn new(input: usize, output: usize) -> Self {
        Self {
            input,
            output,
            widths: Vec::new(),
            activation: Activation::Relu,
            norm: Norm::None,
            norm_placement: NormPlacement::Before,
            residual_every: 0,
            init: Init::HeNormal {
                mode: crate::tensor::FanMode::FanIn,
                slope: None,
            },
            bias: true,
            bn_momentum: bn_momentum(),
            norm_eps: norm_eps(),
        }
    }

    /// `depth` hidden layers of `width` units.
    pub fn depth(mut self, depth: usize, width: usize) -> Self {
        self.widths = vec![width; depth];
        self
    }

    /// Sets the hidden activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Sets the normalization and its placement.
    pub fn norm(mut self, norm: Norm, placement: NormPlacement) -> Self {
        self.norm = norm;
        self.norm_placement = placement;
        self
    }

    /// Sets the initializer.
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// Residual blocks of `k` hidden layers (0 for none).
    pub fn residual_every(mut self, k: usize) -> Self {
        self.residual_every = k;
        self
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, reason: String| {
            Err(Error::InvalidConfig {
                field: format!("model.{field}"),
                reason,
            })
        };
        if self.input == 0 {
            return bad("input", "must be at least 1".into());
        }
        if self.output == 0 {
            return bad("output", "must be at least 1".into());
        }
        if let Some(i) = self.widths.iter().position(|&w| w == 0) {
            return bad("widths", format!("hidden layer {} has width 0", i + 1));
        }
        if !(0.0..=1.0).contains(&self.bn_momentum) {
            return bad("bn_momentum", "must be in [0, 1]".into());
        }
        if self.norm_eps.is_nan() || self.norm_eps < 0.0 {
            return bad("norm_eps", "must be >= 0".into());
        }
        Ok(())
    }
}
