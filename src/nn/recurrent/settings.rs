//! The recurrent keys of a spec's `[model]` table: how many units and
//! layers, the vanilla cell's nonlinearity, the recurrent init, the LSTM's
//! forget-gate bias and the truncation of backpropagation through time.
//! With the table's `kind` (`rnn`, `lstm`, `gru`) they make an
//! [`RnnConfig`].

use super::{CellKind, RecurrentInit, RnnConfig};
use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// The vanilla RNN's nonlinearity (PyTorch's `nonlinearity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Nonlinearity {
    /// `tanh` (default, as PyTorch's).
    #[default]
    Tanh,
    /// `relu` (IRNN with `recurrent_init = "identity"`).
    Relu,
}

impl Nonlinearity {
    /// The names [`Nonlinearity::from_str`] accepts.
    pub const NAMES: &'static str = "tanh, relu";
}

impl fmt::Display for Nonlinearity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Nonlinearity::Tanh => "tanh",
            Nonlinearity::Relu => "relu",
        })
    }
}

impl FromStr for Nonlinearity {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tanh" => Ok(Nonlinearity::Tanh),
            "relu" => Ok(Nonlinearity::Relu),
            _ => Err(Error::UnknownName {
                what: "nonlinearity",
                name: s.into(),
                expected: Self::NAMES.into(),
            }),
        }
    }
}

crate::names::serde_via_str!(Nonlinearity);

/// A recurrent net's settings (the `[model]` keys that apply to `rnn`,
/// `lstm` and `gru`).
#[derive(Clone, Debug, PartialEq)]
pub struct RecurrentSettings {
    /// Hidden units per layer.
    pub hidden: usize,
    /// Stacked recurrent layers.
    pub layers: usize,
    /// The vanilla cell's nonlinearity.
    pub nonlinearity: Nonlinearity,
    /// The recurrent weights' init.
    pub init: RecurrentInit,
    /// The LSTM's forget-gate bias.
    pub forget_bias: f64,
    /// Truncated BPTT: chunks of this many steps; 0 for full BPTT.
    pub truncation: usize,
}

impl Default for RecurrentSettings {
    fn default() -> Self {
        Self {
            hidden: 128,
            layers: 1,
            nonlinearity: Nonlinearity::Tanh,
            init: RecurrentInit::Uniform,
            forget_bias: 1.0,
            truncation: 0,
        }
    }
}

impl RecurrentSettings {
    /// The network of `cell` for `input` features per step and `outputs`,
    /// read out at every step or the last.
    pub fn config(
        &self,
        cell: CellKind,
        input: usize,
        outputs: usize,
        every_step: bool,
    ) -> RnnConfig {
        let kind = match (cell, self.nonlinearity) {
            (CellKind::Rnn | CellKind::RnnRelu, Nonlinearity::Relu) => CellKind::RnnRelu,
            (CellKind::Rnn | CellKind::RnnRelu, Nonlinearity::Tanh) => CellKind::Rnn,
            (other, _) => other,
        };
        RnnConfig {
            kind,
            input,
            hidden: self.hidden,
            layers: self.layers,
            outputs,
            every_step,
            init: self.init,
            forget_bias: self.forget_bias,
            truncation: (self.truncation > 0).then_some(self.truncation),
        }
    }

    /// Checks every field, naming the first bad one (`model.hidden`).
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, reason: &str| {
            Err(Error::InvalidConfig {
                field: format!("model.{field}"),
                reason: reason.into(),
            })
        };
        if self.hidden == 0 {
            return bad("hidden", "must be at least 1");
        }
        if self.layers == 0 {
            return bad("layers", "must be at least 1");
        }
        if !self.forget_bias.is_finite() {
            return bad("forget_bias", "must be finite");
        }
        Ok(())
    }
}
