//! Tensors: the row-major [`Matrix`] (f32 for training, f64 for checks),
//! matrix products on a tuned GEMM crate, and weight initializers.

mod gemm;
mod init;
mod matrix;
mod pool;
mod scalar;

pub use gemm::{
    backend, matmul, max_threads, product, set_backend, set_max_threads, threads_for, Backend, Op,
    PARALLEL_MIN_FLOP,
};
pub use init::{FanMode, Init, INIT_NAMES};
pub use matrix::Matrix;
pub use pool::{default_threads, with_threads};
pub use scalar::Scalar;
