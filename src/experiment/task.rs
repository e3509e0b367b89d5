//! What the trainer's step loop trains: a network with its data, as a
//! [`Task`]. The loop (probes, clipping, the update, events, evaluation)
//! is the same for every family; a task knows how to draw a batch, run
//! forward and backward on it, and evaluate.
//!
//! [`MlpTask`] trains a feed-forward net on a [`Dataset`] of feature rows.

use super::trainer::EvalRecord;
use crate::checkpoint::DataState;
use crate::data::{gather, Augmenter, Batches, Dataset};
use crate::error::Result;
use crate::nn::{Loss, Mlp, Mode, NamedParam, Targets};
use crate::probe::{Block, Tap};
use crate::tensor::{Matrix, Scalar};

/// A network and its data, as the step loop sees them.
pub trait Task<T: Scalar> {
    /// Draws the next training batch.
    fn next_batch(&mut self);

    /// Forward, loss and backward on the current batch, the parameter
    /// gradients written over the last step's: the batch's loss and
    /// accuracy (`NaN` where accuracy means nothing, as in regression).
    fn forward_backward(&mut self) -> (f64, f64);

    /// The probed blocks, input side first.
    fn blocks(&self) -> Vec<&dyn Block<T>>;

    /// The same, mutable (to set their taps).
    fn blocks_mut(&mut self) -> Vec<&mut dyn Block<T>>;

    /// Every parameter with its path.
    fn params(&mut self) -> Vec<NamedParam<'_, T>>;

    /// Every buffer (BatchNorm's running statistics) with its path.
    fn buffers(&mut self) -> Vec<(String, &mut Matrix<T>)>;

    /// Where it is in its data (for a checkpoint).
    fn data_state(&self) -> DataState;

    /// Continues from `state` ([`Task::data_state`] of the same task);
    /// refused when it cannot come from these data.
    fn restore_data_state(&mut self, state: DataState) -> Result<()>;

    /// Loss and accuracy on the whole training and held-out sets (eval
    /// mode, no probes), after `step` steps.
    fn evaluate(&mut self, step: usize) -> EvalRecord;

    /// Sets every block's tap.
    fn set_tap(&mut self, tap: Tap) {
        self.blocks_mut().into_iter().for_each(|b| b.set_tap(tap));
    }

    /// Each block's weight-gradient L2 norm, input side first.
    fn weight_grad_norms(&self) -> Vec<f64> {
        self.blocks()
            .iter()
            .map(|b| b.weight().grad.norm_f64())
            .collect()
    }

    /// The blocks' paths.
    fn layer_paths(&self) -> Vec<String> {
        self.blocks().iter().map(|b| b.path().to_string()).collect()
    }

    /// `chars` characters sampled from a character-level model, seeded by
    /// `seed`; `None` for a task that is not one.
    fn sample(&mut self, chars: usize, seed: u64) -> Option<String> {
        let _ = (chars, seed);
        None
    }

    /// Trainable scalars.
    fn num_params(&mut self) -> usize {
        self.params().iter().map(|p| p.param.value.len()).sum()
    }
}

/// A feed-forward net on rows of features, a class per row.
pub struct MlpTask<'a, T> {
    /// The network.
    pub mlp: Mlp<T>,
    loss: Loss,
    train: &'a Dataset,
    test: &'a Dataset,
    batches: Batches,
    x: Matrix<T>,
    y: Vec<usize>,
    grad: Matrix<T>,
    /// Examples per forward in evaluation.
    eval_chunk: usize,
    /// Crops and flips each training batch of images, if set.
    augment: Option<Augmenter>,
    /// Training examples an evaluation measures (the first ones).
    eval_train: usize,
}

/// Examples per forward when an MLP evaluates: few, large products.
pub const EVAL_CHUNK: usize = 1000;

impl<'a, T: Scalar> MlpTask<'a, T> {
    /// `mlp` on `train` (batches of `batch`, shuffled from `seed`),
    /// evaluated on both sets.
    pub fn new(
        mlp: Mlp<T>,
        loss: Loss,
        (train, test): (&'a Dataset, &'a Dataset),
        batch: usize,
        seed: u64,
    ) -> Self {
        Self {
            mlp,
            loss,
            train,
            test,
            batches: Batches::new(train.len(), batch, seed),
            x: Matrix::default(),
            y: Vec::new(),
            grad: Matrix::default(),
            eval_chunk: EVAL_CHUNK,
            augment: None,
            eval_train: train.len(),
        }
    }

    /// Evaluates the training set's loss and accuracy on its first `n`
    /// examples (0: all of them).
    pub fn with_eval_train_size(mut self, n: usize) -> Self {
        if n > 0 {
            self.eval_train = n.min(self.train.len());
        }
        self
    }

    /// Augments every training batch with `augment` (evaluation never).
    pub fn with_augment(mut self, augment: Option<Augmenter>) -> Self {
        self.augment = augment;
        self
    }

    /// Evaluates `chunk` examples per forward: a CNN keeps every layer's
    /// activations per pixel, so its chunk is a training batch, not
    /// [`EVAL_CHUNK`] (a thousand MNIST images through ResNet-20 hold
    /// gigabytes).
    pub fn with_eval_chunk(mut self, chunk: usize) -> Self {
        self.eval_chunk = chunk.max(1);
        self
    }
}

impl<T: Scalar> Task<T> for MlpTask<'_, T> {
    fn next_batch(&mut self) {
        gather(
            self.train,
            self.batches.next_indices(),
            &mut self.x,
            &mut self.y,
        );
        if let Some(augment) = &mut self.augment {
            augment.apply(self.x.as_mut_slice());
        }
    }

    fn forward_backward(&mut self) -> (f64, f64) {
        let out = self.mlp.forward(&self.x, Mode::Train);
        let accuracy = accuracy(out, &self.y);
        let loss = self
            .loss
            .compute(out, Targets::Classes(&self.y), &mut self.grad);
        self.mlp.backward_overwrite(&self.x, &self.grad);
        (loss, accuracy)
    }

    fn blocks(&self) -> Vec<&dyn Block<T>> {
        self.mlp.blocks()
    }

    fn blocks_mut(&mut self) -> Vec<&mut dyn Block<T>> {
        self.mlp.blocks_mut()
    }

    fn params(&mut self) -> Vec<NamedParam<'_, T>> {
        self.mlp.params()
    }

    fn buffers(&mut self) -> Vec<(String, &mut Matrix<T>)> {
        self.mlp.buffers()
    }

    fn data_state(&self) -> DataState {
        DataState {
            batches: self.batches.state(),
            augment: self.augment.as_ref().map(Augmenter::rng_word),
        }
    }

    fn restore_data_state(&mut self, state: DataState) -> Result<()> {
        match (&mut self.augment, state.augment) {
            (Some(a), Some(word)) => a.set_rng_word(word),
            (None, None) => {}
            (a, _) => {
                return Err(crate::error::Error::InvalidConfig {
                    field: "data.augment".into(),
                    reason: format!(
                        "the saved state {} an augmentation generator, the run {}",
                        if a.is_some() { "lacks" } else { "has" },
                        if a.is_some() { "augments" } else { "does not" }
                    ),
                })
            }
        }
        self.batches.restore(state.batches)
    }

    fn evaluate(&mut self, step: usize) -> EvalRecord {
        let chunk = self.eval_chunk;
        let train = evaluate(&mut self.mlp, self.loss, self.train, self.eval_train, chunk);
        let test = evaluate(&mut self.mlp, self.loss, self.test, self.test.len(), chunk);
        eval_record(step, train, test)
    }
}

/// The evaluation after `step` steps from the `(loss, accuracy)` of the
/// training and held-out sets.
pub fn eval_record(step: usize, train: (f64, f64), test: (f64, f64)) -> EvalRecord {
    EvalRecord {
        step,
        train_loss: train.0,
        train_accuracy: train.1,
        test_loss: test.0,
        test_accuracy: test.1,
    }
}

/// Mean loss and accuracy over the first `n` examples of `data` in eval
/// mode, `chunk` at a time.
pub fn evaluate<T: Scalar>(
    mlp: &mut Mlp<T>,
    loss: Loss,
    data: &Dataset,
    n: usize,
    chunk: usize,
) -> (f64, f64) {
    let (mut x, mut y, mut grad) = (Matrix::<T>::default(), Vec::new(), Matrix::<T>::default());
    let (mut total_loss, mut correct) = (0.0, 0.0);
    let idx: Vec<usize> = (0..n.min(data.len())).collect();
    // Evaluation records no probe: no layer measures its tensors.
    mlp.set_tap(Tap::Off);
    for chunk in idx.chunks(chunk) {
        gather(data, chunk, &mut x, &mut y);
        let out = mlp.forward(&x, Mode::Eval);
        total_loss += loss.compute(out, Targets::Classes(&y), &mut grad) * chunk.len() as f64;
        correct += accuracy(out, &y) * chunk.len() as f64;
    }
    let n = idx.len().max(1) as f64;
    (total_loss / n, correct / n)
}

/// Fraction of rows whose largest output is the label.
pub fn accuracy<T: Scalar>(out: &Matrix<T>, labels: &[usize]) -> f64 {
    let hits = labels
        .iter()
        .enumerate()
        .filter(|&(r, &l)| {
            let row = out.row(r);
            let best = (0..row.len()).fold(0, |b, j| if row[j] > row[b] { j } else { b });
            best == l
        })
        .count();
    hits as f64 / labels.len().max(1) as f64
}
