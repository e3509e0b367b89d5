//! Experiments: the TOML [`Spec`], and the trainer that runs one and emits
//! events to sinks (the library never prints).

pub mod events;
pub mod record;
mod spec;
pub mod trainer;

pub use events::{Event, RunStatus, Sink};
pub use record::{RecordSink, RunRecord, Tee};
pub use spec::{DataSpec, Dtype, ModelSpec, OptimizerSpec, Spec};
