//! What an optimizer remembers between steps, as plain data to save in a
//! checkpoint and restore from one: its update count and its named
//! per-parameter slots (PyTorch's names: `momentum_buffer` for SGD with
//! momentum, `exp_avg` and `exp_avg_sq` for Adam's moments), each one
//! matrix per parameter in the model's order, or none before the first
//! update.

use crate::error::{Error, Result};
use crate::tensor::Matrix;

/// An optimizer's state between steps.
#[derive(Clone, Debug, PartialEq)]
pub struct OptimizerState<T> {
    /// Updates taken so far (Adam's bias correction reads it; SGD keeps
    /// no count and says 0).
    pub steps: u64,
    /// Each slot's name and its matrices, one per parameter (empty before
    /// the first update).
    pub slots: Vec<(&'static str, Vec<Matrix<T>>)>,
}

impl<T> OptimizerState<T> {
    /// The matrices of slot `name`, moved out; an error naming the slot
    /// when it is missing.
    pub fn take(&mut self, name: &str) -> Result<Vec<Matrix<T>>> {
        let i = self
            .slots
            .iter()
            .position(|(n, _)| *n == name)
            .ok_or_else(|| Error::InvalidConfig {
                field: "optimizer".into(),
                reason: format!("the saved state has no `{name}` slot"),
            })?;
        Ok(self.slots.swap_remove(i).1)
    }
}
