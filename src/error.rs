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
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An experiment spec is malformed; `line` is 1-based.
    #[error("{origin}{}: {}{message}", line.map(|l| format!(":{l}")).unwrap_or_default(), if field.is_empty() { String::new() } else { format!("`{field}`: ") })]
    Spec {
        /// The file (or `--flag`) the spec came from.
        origin: String,
        /// The line of the offending key, when known.
        line: Option<usize>,
        /// The dotted key (`model.depth`), when known.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A data file is malformed.
    #[error("{path}: {reason}")]
    BadData {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Training was asked to stop (Ctrl-C, SIGTERM) and stopped after a
    /// whole step, everything before it recorded.
    #[error("stopped after step {steps} of {total}")]
    Stopped {
        /// Steps run.
        steps: usize,
        /// Steps planned.
        total: usize,
    },
    /// A loss or gradient became NaN or infinite.
    #[error("non-finite {what} at step {step}")]
    NonFinite {
        /// What went non-finite (`loss`, `gradient`).
        what: &'static str,
        /// The step where it happened.
        step: usize,
    },
    /// A download could not reach its server (no network, DNS, refused).
    /// (The command line adds a `hint:` line on what to do offline.)
    #[error("cannot reach {url} ({reason}): you appear to be offline")]
    Offline {
        /// What was being downloaded.
        url: String,
        /// The connection error.
        reason: String,
    },
    /// A server answered a download with an error status.
    #[error("download of {url} failed: HTTP status {status}")]
    HttpStatus {
        /// What was being downloaded.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// A download failed after connecting (TLS, protocol, cut-off body).
    #[error("download of {url} failed: {reason}")]
    Download {
        /// What was being downloaded.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// Downloaded bytes do not have their published checksum.
    #[error(
        "{url}: {algorithm} checksum mismatch: expected {expected}, got {got} (download discarded)"
    )]
    ChecksumMismatch {
        /// What was downloaded.
        url: String,
        /// `SHA-256` or `MD5`.
        algorithm: &'static str,
        /// The published digest, hex.
        expected: String,
        /// The digest of the bytes received, hex.
        got: String,
    },
    /// The run store (SQLite) failed or holds something unexpected.
    #[error("{path}: {reason}")]
    Store {
        /// The database file.
        path: PathBuf,
        /// What went wrong (the SQLite error, with what was being done).
        reason: String,
    },
    /// A run id is not in the store.
    #[error("no run {id} in {path}")]
    NoSuchRun {
        /// The id asked for.
        id: i64,
        /// The database file.
        path: PathBuf,
    },
    /// A checkpoint file is unreadable, malformed, or does not fit the
    /// run it is loaded into (each mismatched tensor named).
    #[error("{path}: {reason}")]
    Checkpoint {
        /// The file (`(bytes)` for a checkpoint read from memory).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// `Result` with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
