//! Experiments: the TOML [`Spec`], and the trainer that runs one and emits
//! events to sinks (the library never prints).

mod spec;
pub mod trainer;

pub use spec::{DataSpec, Dtype, ModelSpec, OptimizerSpec, Spec};
