//! Tensors: the row-major [`Matrix`] (f32 for training, f64 for checks),
//! matrix products on a tuned GEMM crate, weight initializers, and the
//! one-pass statistics probes take of a tensor.

mod gemm;
mod init;
mod matrix;
mod own_gemm;
mod param;
mod pool;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod sgemm;
mod split;
mod stats;

pub use gemm::{
    affine, backend, matmul, max_threads, product, set_backend, set_max_threads, threads_for,
    Backend, Op, PARALLEL_MIN_FLOP,
};
pub use init::{FanMode, Init, INIT_NAMES};
pub use matrix::Matrix;
pub use param::{Grads, Param};
#[cfg(test)]
pub(crate) use pool::settings_lock;
pub use pool::{default_threads, param_pass_in_parallel, with_threads};
pub use scalar::Scalar;
pub use split::{in_halves, Halve, Split};
pub use stats::{percentiles, tensor_stats, TensorStats};
