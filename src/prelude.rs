//! The types most programs using gradscope as a library need, in one
//! import: `use gradscope::prelude::*;`.
//!
//! It re-exports; nothing is defined here. The groups follow a run's data
//! flow (see the crate docs): a model, a spec and its data, training, the
//! probes, the sinks, the store, diagnosis.

pub use crate::error::{Error, Result};
pub use crate::tensor::{Compute, Matrix, Param, Scalar};

// A model: built from its config, trained by a loop (the trainer's or yours).
pub use crate::nn::recurrent::{RnnConfig, RnnModel};
pub use crate::nn::{Activation, Layer, Loss, Mlp, Mode, ModelConfig, NamedParam, Targets};
pub use crate::optim::{global_grad_norm, Optimizer, OptimizerConfig};

// An experiment: the spec, its data, the trainer and one recorded run.
pub use crate::experiment::trainer::{train, NullSink, StepRecord, Summary};
pub use crate::experiment::{RunData, Spec};
pub use crate::run::{run_recorded, Outcome};

// Probes: what each block measured at a step, gathered by the prober.
pub use crate::probe::{Block, LayerProbe, ProbeConfig, Prober, StepProbe, Tap};

// Sinks: where a run's events go (memory, several sinks, the store).
pub use crate::experiment::{Event, RecordSink, RunRecord, RunStatus, Sink, Tee};
pub use crate::store::{RunWriter, Store};

// Diagnosis: rules over a record.
pub use crate::analysis::diagnose::{diagnose, Finding, FindingKind, Severity};
