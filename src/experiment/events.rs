//! What a run reports and who listens: the trainer's [`Event`]s, in
//! order, the records they carry ([`StepRecord`], [`EvalRecord`],
//! [`Summary`]), where a run stands ([`RunStatus`]), and the [`Sink`]
//! trait that terminal output, the in-memory record and the store
//! implement. The library never prints: it emits events.

use super::Spec;
use crate::error::Error;
use crate::probe::StepProbe;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Training (or killed without a chance to say so; see `Interrupted`).
    Running,
    /// Finished all its steps.
    Finished,
    /// Stopped by a non-finite loss or gradient.
    Diverged,
    /// Stopped by another error.
    Failed,
    /// Found `Running` by a later open after its process died.
    Interrupted,
}

impl RunStatus {
    /// The name used in the store and output.
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Diverged => "diverged",
            RunStatus::Failed => "failed",
            RunStatus::Interrupted => "interrupted",
        }
    }

    /// Parses [`RunStatus::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        [
            RunStatus::Running,
            RunStatus::Finished,
            RunStatus::Diverged,
            RunStatus::Failed,
            RunStatus::Interrupted,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One optimizer step, as reported.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepRecord {
    /// 0-based step index.
    pub step: usize,
    /// Mean loss on the batch (before the update).
    pub loss: f64,
    /// Accuracy on the batch (before the update).
    pub accuracy: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient L2 norm, before clipping.
    pub grad_norm: f64,
}

/// An evaluation, as reported.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EvalRecord {
    /// Steps done when it ran.
    pub step: usize,
    /// Mean loss over the training set.
    pub train_loss: f64,
    /// Accuracy over the training set.
    pub train_accuracy: f64,
    /// Mean loss over the held-out set.
    pub test_loss: f64,
    /// Accuracy over the held-out set.
    pub test_accuracy: f64,
}

/// The end of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    /// Steps done.
    pub steps: usize,
    /// Final training-set loss (eval mode).
    pub train_loss: f64,
    /// Final training-set accuracy.
    pub train_accuracy: f64,
    /// Final held-out loss.
    pub test_loss: f64,
    /// Final held-out accuracy.
    pub test_accuracy: f64,
    /// Last step's weight-gradient L2 norm per linear layer, input side first.
    pub grad_norms: Vec<f64>,
    /// The linear layers those norms belong to.
    pub layers: Vec<String>,
    /// Wall-clock seconds spent training (not evaluating).
    pub train_seconds: f64,
    /// Characters sampled from a text model after training (`spec.sample`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<String>,
}

impl Summary {
    /// First-layer over last-layer weight-gradient norm (the vanishing
    /// gradient in one number: far below 1 when it vanishes).
    pub fn first_last_ratio(&self) -> f64 {
        match (self.grad_norms.first(), self.grad_norms.last()) {
            (Some(&f), Some(&l)) if l > 0.0 => f / l,
            _ => f64::NAN,
        }
    }
}

/// What the trainer reports, in order: `Started`, then `Step`s with `Eval`s
/// between them, then `Finished`.
#[derive(Clone, Debug)]
pub enum Event<'a> {
    /// Training is about to start.
    Started {
        /// The spec being run.
        spec: &'a Spec,
        /// Steps that will run.
        total_steps: usize,
        /// Trainable scalars.
        params: usize,
    },
    /// A step finished.
    Step(&'a StepRecord),
    /// A step was probed (after its update).
    Probe(&'a StepProbe),
    /// An evaluation finished.
    Eval(&'a EvalRecord),
    /// The run finished.
    Finished(&'a Summary),
    /// The run stopped on an error (the error is also returned).
    Failed {
        /// `Diverged` for a non-finite loss or gradient, else `Failed`.
        status: RunStatus,
        /// What happened.
        error: &'a Error,
    },
}

/// Receives the trainer's events (terminal progress, JSON, a store).
pub trait Sink: Send {
    /// Called for each event, in order.
    fn event(&mut self, event: &Event<'_>);

    /// Whether training should stop after the step it just finished (a
    /// Ctrl-C); the trainer asks after every step and then ends with
    /// `Error::Stopped`, the run `interrupted`.
    fn stop_requested(&self) -> bool {
        false
    }
}

/// A sink that ignores everything.
pub struct NullSink;

impl Sink for NullSink {
    fn event(&mut self, _event: &Event<'_>) {}
}
