//! Diagnosis: rules over a run's record turn it into findings.

mod finding;

pub use finding::{Evidence, Finding, FindingKind, Remedy, Severity};
