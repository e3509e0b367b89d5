//! gradscope: a laboratory for gradient flow in deep networks.
//!
//! Data flows one way: spec -> model + data -> trainer -> probe events ->
//! sinks. This crate is the library; `gradscope` the binary is a thin CLI
//! over it. See docs/ARCHITECTURE.md.

pub mod analysis;
pub mod bench;
pub mod checkpoint;
pub mod data;
pub mod error;
pub mod experiment;
mod names;
pub mod nn;
pub mod optim;
pub mod probe;
pub mod report;
pub mod run;
pub mod store;
pub mod tensor;

pub use error::{Error, Result};
