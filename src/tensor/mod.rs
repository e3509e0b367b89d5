//! Tensors: the row-major [`Matrix`] (f32 for training, f64 for checks),
//! matrix products (our kernel or a GEMM crate, on the threads of the rayon
//! pool they are called in), the split of a pass across those threads,
//! weight initializers, and the one-pass statistics probes take of a
//! tensor.

mod column_stats;
pub mod gathered;
mod gemm;
mod init;
#[cfg(target_arch = "x86_64")]
pub(crate) mod isa;
mod matrix;
mod operand;
mod own_gemm;
mod param;
mod pool;
mod scalar;
#[cfg(target_arch = "x86_64")]
mod sgemm;
mod simd;
mod split;
mod stats;
#[cfg(test)]
pub(crate) mod testing;

pub use column_stats::column_stats;
pub use gemm::{
    affine, affine_with, kernel_name, matmul, matmul_with, product, threads_for, PARALLEL_MIN_FLOP,
};
pub use init::{FanMode, Init, INIT_NAMES};
pub use matrix::Matrix;
pub use operand::{Backend, Op};
pub use param::{Grads, Param};
pub use pool::{
    default_threads, max_threads, param_pass_in_parallel, pool, with_pool, with_threads, Compute,
};
pub use scalar::Scalar;
pub use simd::{simd, Simd, SIMD_LEVELS};
pub use split::{in_halves, Halve, Rows, Split, PARALLEL_MIN};
pub use stats::{percentiles, tensor_stats, TensorStats};
