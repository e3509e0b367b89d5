//! A recurrent net on sequences, as a [`Task`] of the step loop.
//!
//! The loss follows the targets: cross-entropy on a class read out at the
//! last step (temporal order, sequential MNIST) or at every step (copy,
//! text: the mean over all `T x batch` predictions, in nats per step), and
//! mean squared error on values read out at the last step (the adding
//! problem), whose accuracy is `NaN`.

use super::sample::{sample_text, TEMPERATURE};
use super::task::{accuracy, eval_record, Task};
use super::trainer::EvalRecord;
use crate::checkpoint::DataState;
use crate::data::sequence::{gather_seq, SeqBatchTargets, SeqDataset};
use crate::data::Batches;
use crate::error::Result;
use crate::nn::recurrent::RnnModel;
use crate::nn::{Loss, NamedParam, Targets};
use crate::probe::{Block, Tap};
use crate::tensor::{Grads, Matrix, Scalar};

/// A recurrent net and its sequences.
pub struct RnnTask<'a, T: Scalar> {
    /// The network.
    pub model: RnnModel<T>,
    train: &'a SeqDataset,
    test: &'a SeqDataset,
    batches: Batches,
    xs: Vec<Matrix<T>>,
    y: SeqBatchTargets<T>,
    labels: Vec<usize>,
    grad: Matrix<T>,
    symbols: Option<&'a [char]>,
}

impl<'a, T: Scalar> RnnTask<'a, T> {
    /// `model` on `train` (batches of `batch`, shuffled from `seed`),
    /// evaluated on both sets.
    pub fn new(
        model: RnnModel<T>,
        (train, test): (&'a SeqDataset, &'a SeqDataset),
        batch: usize,
        seed: u64,
    ) -> Self {
        Self {
            model,
            train,
            test,
            batches: Batches::new(train.len(), batch, seed),
            xs: Vec::new(),
            y: SeqBatchTargets::Classes(Vec::new()),
            labels: Vec::new(),
            grad: Matrix::default(),
            symbols: None,
        }
    }

    /// The characters of the token ids, for a character-level task: makes
    /// [`Task::sample`] answer.
    pub fn with_symbols(mut self, symbols: Option<&'a [char]>) -> Self {
        self.symbols = symbols;
        self
    }
}

/// Forward and loss on the gathered batch `(xs, y)`: the loss, the
/// accuracy, `dL/doutput` in `grad`. Per-step labels are flattened into
/// `labels` in the read-out's row order (`t * batch + b`).
fn forward_loss<T: Scalar>(
    model: &mut RnnModel<T>,
    xs: &[Matrix<T>],
    y: &SeqBatchTargets<T>,
    labels: &mut Vec<usize>,
    grad: &mut Matrix<T>,
) -> (f64, f64) {
    let out = model.forward(xs);
    match y {
        SeqBatchTargets::Classes(l) => (
            Loss::CrossEntropy.compute(out, Targets::Classes(l), grad),
            accuracy(out, l),
        ),
        SeqBatchTargets::Values(v) => (Loss::Mse.compute(out, Targets::Values(v), grad), f64::NAN),
        SeqBatchTargets::PerStep(steps) => {
            labels.clear();
            steps.iter().for_each(|s| labels.extend_from_slice(s));
            (
                Loss::CrossEntropy.compute(out, Targets::Classes(labels), grad),
                accuracy(out, labels),
            )
        }
    }
}

impl<T: Scalar> Task<T> for RnnTask<'_, T> {
    fn next_batch(&mut self) {
        gather_seq(
            self.train,
            self.batches.next_indices(),
            &mut self.xs,
            &mut self.y,
        );
    }

    fn forward_backward(&mut self) -> (f64, f64) {
        let (loss, acc) = forward_loss(
            &mut self.model,
            &self.xs,
            &self.y,
            &mut self.labels,
            &mut self.grad,
        );
        self.model.backward(&self.xs, &self.grad, Grads::Overwrite);
        (loss, acc)
    }

    fn blocks(&self) -> Vec<&dyn Block<T>> {
        self.model.blocks()
    }

    fn blocks_mut(&mut self) -> Vec<&mut dyn Block<T>> {
        self.model.blocks_mut()
    }

    fn params(&mut self) -> Vec<NamedParam<'_, T>> {
        self.model.params()
    }

    /// A recurrent net keeps no buffers.
    fn buffers(&mut self) -> Vec<(String, &mut Matrix<T>)> {
        Vec::new()
    }

    fn data_state(&self) -> DataState {
        DataState {
            batches: self.batches.state(),
            augment: None,
        }
    }

    fn restore_data_state(&mut self, state: DataState) -> Result<()> {
        self.batches.restore(state.batches)
    }

    fn sample(&mut self, chars: usize, seed: u64) -> Option<String> {
        let symbols = self.symbols?;
        sample_text(&mut self.model, symbols, chars, TEMPERATURE, seed)
    }

    fn evaluate(&mut self, step: usize) -> EvalRecord {
        let train = evaluate(&mut self.model, self.train);
        let test = evaluate(&mut self.model, self.test);
        eval_record(step, train, test)
    }
}

/// Time steps x examples per chunk of an evaluation: forward keeps every
/// step's gates, so a chunk of long sequences holds fewer of them (256
/// sequences of 256 steps; 83 of MNIST's 784 pixels).
const CHUNK_STEPS: usize = 65_536;

/// Mean loss and accuracy over `data`, in chunks, no probes.
pub fn evaluate<T: Scalar>(model: &mut RnnModel<T>, data: &SeqDataset) -> (f64, f64) {
    model.set_tap(Tap::Off);
    let (mut xs, mut y) = (Vec::new(), SeqBatchTargets::Classes(Vec::new()));
    let (mut labels, mut grad) = (Vec::new(), Matrix::default());
    let (mut total_loss, mut total_acc) = (0.0, 0.0);
    let idx: Vec<usize> = (0..data.len()).collect();
    let chunk_len = (CHUNK_STEPS / data.length.max(1)).max(1);
    for chunk in idx.chunks(chunk_len) {
        gather_seq(data, chunk, &mut xs, &mut y);
        let (loss, acc) = forward_loss(model, &xs, &y, &mut labels, &mut grad);
        total_loss += loss * chunk.len() as f64;
        total_acc += acc * chunk.len() as f64;
    }
    let n = data.len().max(1) as f64;
    (total_loss / n, total_acc / n)
}
