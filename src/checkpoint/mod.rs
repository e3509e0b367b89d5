//! Checkpoints: a run's whole state in a safetensors file, to resume it
//! bit for bit, to start a run from given weights, and to hand weights to
//! other tools (PyTorch's `safetensors.torch.load_file` reads them).
//!
//! - [`format`](mod@format): the file ([`Checkpoint`]: tensors by name plus the
//!   `__metadata__` strings), read without trusting it, written atomically.
//! - [`state`]: what a run's state is and where each part goes (tensor
//!   names are parameter paths, `layers.3.weight`; the spec, the step and
//!   the rest in the metadata).
//! - [`files`]: where a run's checkpoints live (beside the store:
//!   `gradscope.checkpoints/run-<id>/step-<N>.safetensors`, the newest
//!   [`KEEP`] kept).
//! - [`resume`]: what the trainer is told ([`Checkpointing`]) and which
//!   file a resume reads.
//!
//! docs/CHECKPOINTS.md has the format, the names and the guarantees.

pub mod files;
pub mod format;
pub mod resume;
pub mod state;

pub use files::{list, run_dir, step_file, CheckpointDir, CheckpointSaver, KEEP};
pub use format::{Checkpoint, Tensor, TensorData};
pub use resume::{check_resumable, pick, Checkpointing, Start};
pub use state::{DataState, RunInfo};
