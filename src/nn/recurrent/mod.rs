//! Recurrent networks: the vanilla RNN (tanh or ReLU), LSTM and GRU cells
//! ([`cell`]), a layer unrolled over a sequence with backpropagation
//! through time, full or truncated ([`Recurrent`]), their inits
//! ([`RecurrentInit`]), and a stacked network with a read-out at the last
//! step or at every step ([`RnnModel`]).
//!
//! Weights are laid out as PyTorch's `nn.RNN`, `nn.LSTM` and `nn.GRU` lay
//! them out (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`; gates in
//! PyTorch's order), so a net moves between the two unchanged, and the
//! cells are checked against PyTorch's numbers (`tests/torch_rnn.rs`).
//!
//! Each layer is a probed block whose figures run along the time axis:
//! `dL/dh_t` for every step `t` is the gradient through time, and its
//! fading toward `t = 0` is the vanishing gradient as Hochreiter (1991)
//! and Bengio et al. (1994) first found it.

pub mod cell;
mod init;
mod layer;
mod model;
mod probes;
mod settings;

pub use cell::CellKind;
pub use init::{RecurrentInit, RECURRENT_INIT_NAMES};
pub use layer::Recurrent;
pub use model::{RnnConfig, RnnModel};
pub use probes::SATURATED_SUFFIX;
pub use settings::{Nonlinearity, RecurrentSettings};

#[cfg(test)]
mod tests;
