//! The library's one error type: structured variants, no strings to parse.

use std::path::PathBuf;

/// Everything that can go wrong in the gradscope library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two shapes that must agree do not.
    #[error("shape mismatch in {op}: expected {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// The operation that checked.
        op: &'static str,
        /// The shape it needed.
        expected: (usize, usize),
        /// The shape it got.
        got: (usize, usize),
    },
    /// A configuration value is out of its domain.
    #[error("invalid value for `{field}`: {reason}")]
    InvalidConfig {
        /// The field, as a dotted path (`model.depth`).
        field: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A name (activation, init, optimizer...) is not known.
    #[error("unknown {what} `{name}` (expected one of: {expected})")]
    UnknownName {
        /// What kind of name.
        what: &'static str,
        /// The name given.
        name: String,
        /// The accepted names, comma-separated.
        expected: String,
    },
    /// A parameter path does not exist in the model.
    #[error("no parameter `{0}` in the model")]
    NoSuchParameter(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data file is malformed.
    #[error("{path}: {reason}")]
    BadData {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A loss or gradient became NaN or infinite.
    #[error("non-finite {what} at step {step}")]
    NonFinite {
        /// What went non-finite (`loss`, `gradient`).
        what: &'static str,
        /// The step where it happened.
        step: usize,
    },
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
