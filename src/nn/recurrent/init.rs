//! How a recurrent layer's weights start ([`RecurrentInit`]), and the
//! LSTM's forget-gate bias.
//!
//! Input weights `W_ih` and every bias start as PyTorch's do,
//! `U[-1/sqrt(H), 1/sqrt(H)]`; the recurrent weight `W_hh` as the init
//! says, each gate's `H x H` block on its own:
//!
//! - `uniform`: PyTorch's default, the same uniform.
//! - `gaussian(radius)`: `N(0, radius^2 / H)`, whose spectral radius is
//!   about `radius` for large `H` (the circular law); above 1 the gradient
//!   through time explodes, below it vanishes.
//! - `orthogonal(gain)`: `gain * Q`, `Q` orthogonal: every singular value
//!   is `gain` (Saxe et al. 2014).
//! - `identity(scale)`: `scale * I` (IRNN, Le et al. 2015), with their
//!   input weights `N(0, 0.001^2)` and zero biases.
//!
//! An LSTM's forget gate then has `bias_ih` set to the forget bias
//! (default 1.0, Gers et al. 2000; Jozefowicz et al. 2015) and `bias_hh`
//! to 0 in its slice, so the gate starts mostly open.

use super::Recurrent;
use crate::error::{Error, Result};
use crate::tensor::{Init, Matrix, Scalar};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The recurrent weight's init.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum RecurrentInit {
    /// PyTorch's default `U[-1/sqrt(H), 1/sqrt(H)]`.
    Uniform,
    /// `N(0, radius^2 / H)`: spectral radius about `radius`.
    Gaussian {
        /// The spectral radius aimed at.
        radius: f64,
    },
    /// `gain` times an orthogonal matrix.
    Orthogonal {
        /// Every singular value.
        gain: f64,
    },
    /// `scale` times the identity (IRNN).
    Identity {
        /// The diagonal.
        scale: f64,
    },
}

/// The names [`RecurrentInit::from_str`] accepts.
pub const RECURRENT_INIT_NAMES: &str =
    "uniform, gaussian(radius), orthogonal(gain), identity(scale)";

impl RecurrentInit {
    /// Fills `layer`'s weights and biases, then sets an LSTM's forget-gate
    /// bias to `forget_bias`.
    pub fn fill<T: Scalar, R: Rng>(&self, layer: &mut Recurrent<T>, forget_bias: f64, rng: &mut R) {
        let hidden = layer.hidden();
        let bound = 1.0 / (hidden.max(1) as f64).sqrt();
        let uniform = Init::Uniform { a: bound };
        match self {
            RecurrentInit::Identity { .. } => {
                Init::Normal { std: 0.001 }.fill(&mut layer.weight_ih.value, None, 0.0, rng);
                layer.bias_ih.value.fill(T::zero());
                layer.bias_hh.value.fill(T::zero());
            }
            _ => {
                uniform.fill(&mut layer.weight_ih.value, None, 0.0, rng);
                uniform.fill(&mut layer.bias_ih.value, None, 0.0, rng);
                uniform.fill(&mut layer.bias_hh.value, None, 0.0, rng);
            }
        }
        let gates = layer.kind().gates();
        let mut block = Matrix::<T>::zeros(hidden, hidden);
        for g in 0..gates {
            match *self {
                RecurrentInit::Uniform => uniform.fill(&mut block, None, 0.0, rng),
                RecurrentInit::Gaussian { radius } => Init::Normal {
                    std: radius / (hidden.max(1) as f64).sqrt(),
                }
                .fill(&mut block, None, 0.0, rng),
                RecurrentInit::Orthogonal { gain } => {
                    Init::Orthogonal { gain }.fill(&mut block, None, 0.0, rng)
                }
                RecurrentInit::Identity { scale } => {
                    block.fill(T::zero());
                    (0..hidden).for_each(|i| block.set(i, i, T::cast(scale)));
                }
            }
            for r in 0..hidden {
                layer
                    .weight_hh
                    .value
                    .row_mut(g * hidden + r)
                    .copy_from_slice(block.row(r));
            }
        }
        if layer.kind().has_cell_state() {
            let forget = hidden..2 * hidden;
            layer.bias_ih.value.as_mut_slice()[forget.clone()].fill(T::cast(forget_bias));
            layer.bias_hh.value.as_mut_slice()[forget].fill(T::zero());
        }
    }
}

impl fmt::Display for RecurrentInit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecurrentInit::Uniform => f.write_str("uniform"),
            RecurrentInit::Gaussian { radius } => write!(f, "gaussian({radius})"),
            RecurrentInit::Orthogonal { gain } => write!(f, "orthogonal({gain})"),
            RecurrentInit::Identity { scale } => write!(f, "identity({scale})"),
        }
    }
}

impl FromStr for RecurrentInit {
    type Err = Error;

    /// `uniform`, `gaussian(r)`, `orthogonal` (gain 1), `orthogonal(g)`,
    /// `identity` (scale 1), `identity(s)`.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let (name, arg) = match s.split_once('(') {
            Some((name, rest)) => {
                let inner = rest.strip_suffix(')').ok_or_else(|| unknown(s))?;
                let v: f64 = inner.trim().parse().map_err(|_| unknown(s))?;
                (name.trim(), Some(v))
            }
            None => (s, None),
        };
        match (name, arg) {
            ("uniform", None) => Ok(RecurrentInit::Uniform),
            ("gaussian", Some(radius)) => Ok(RecurrentInit::Gaussian { radius }),
            ("orthogonal", gain) => Ok(RecurrentInit::Orthogonal {
                gain: gain.unwrap_or(1.0),
            }),
            ("identity", scale) => Ok(RecurrentInit::Identity {
                scale: scale.unwrap_or(1.0),
            }),
            _ => Err(unknown(s)),
        }
    }
}

fn unknown(s: &str) -> Error {
    Error::UnknownName {
        what: "recurrent init",
        name: s.to_string(),
        expected: RECURRENT_INIT_NAMES.to_string(),
    }
}

impl TryFrom<String> for RecurrentInit {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<RecurrentInit> for String {
    fn from(i: RecurrentInit) -> String {
        i.to_string()
    }
}
