//! Experiments: the TOML [`Spec`], the settings layered onto it from the
//! command line ([`SpecBuilder`], and back: [`spec_settings`]), and the
//! trainer that runs one and emits events to sinks (the library never
//! prints).

mod flags;
pub mod record;
mod spec;
pub mod trainer;

pub use flags::{spec_settings, spec_settings_against, Flag, Setting, SpecBuilder, FLAGS};
pub use record::{RecordSink, RunRecord, RunStatus, Tee};
pub use spec::{DataSpec, Dtype, Spec};
