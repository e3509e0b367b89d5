//! Experiments: the TOML [`Spec`], the settings layered onto it from the
//! command line ([`SpecBuilder`], and back: [`spec_settings`]), and the
//! trainer that runs one and emits events to sinks (the library never
//! prints).

pub mod events;
mod flags;
pub mod plan;
pub mod record;
pub mod rnn_task;
mod run_data;
pub mod sample;
mod settings;
mod spec;
pub mod sweep;
pub mod task;
pub mod thinning;
pub mod trainer;

pub use crate::data::DataSpec;
pub use events::{Event, RunStatus, Sink};
pub use flags::{Flag, FLAGS};
pub use record::{RecordSink, RunRecord, Tee};
pub use run_data::RunData;
pub use settings::{default_value, spec_settings, spec_settings_against, Setting, SpecBuilder};
pub use spec::{Dtype, Spec};
