//! What a run trains on: rows of features for a feed-forward net, or
//! sequences for a recurrent one, prepared from the spec's `[data]`
//! section ([`super::Spec::prepare_data`]).

use crate::data::sequence::SeqPrepared;
use crate::data::Prepared;

/// A run's training and held-out data.
#[derive(Clone, Debug)]
pub enum RunData {
    /// Feature rows and a class per row (MNIST, the generators).
    Rows(Prepared),
    /// Sequences (the adding problem, sequential MNIST, text, ...).
    Sequences(SeqPrepared),
}

impl RunData {
    /// Training examples.
    pub fn train_len(&self) -> usize {
        match self {
            RunData::Rows(p) => p.train.len(),
            RunData::Sequences(s) => s.train.len(),
        }
    }

    /// Held-out examples.
    pub fn test_len(&self) -> usize {
        match self {
            RunData::Rows(p) => p.test.len(),
            RunData::Sequences(s) => s.test.len(),
        }
    }
}

impl From<Prepared> for RunData {
    fn from(p: Prepared) -> Self {
        RunData::Rows(p)
    }
}
