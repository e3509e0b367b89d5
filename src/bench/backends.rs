//! GEMM backend comparison: the products of one hidden layer of a workload
//! (`batch x width x width`: forward `x W^T`, weight gradient `g^T x`,
//! input gradient `g W`), timed with each backend at a thread count, so the
//! docs can record both crates' figures and justify the default.

use super::Workload;
use crate::tensor::{
    backend, matmul, max_threads, set_backend, set_max_threads, Backend, Matrix, Op,
};
use serde::Serialize;
use std::time::Instant;

/// One product of a layer's step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Product {
    /// `y = x W^T` (`batch x out x in`).
    Forward,
    /// `dW = g^T x` (`out x in x batch`).
    WeightGrad,
    /// `dx = g W` (`batch x in x out`).
    InputGrad,
}

/// The timing of one product with one backend.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GemmTiming {
    /// `"gradscope"`, `"gemm"` or `"matrixmultiply"`.
    pub backend: &'static str,
    /// Which product.
    pub product: Product,
    /// `m x n x k` of the product.
    pub m: usize,
    /// Columns of the result.
    pub n: usize,
    /// Inner dimension.
    pub k: usize,
    /// Threads allowed.
    pub threads: usize,
    /// Median GFLOP/s over the repetitions.
    pub gflop_per_s: f64,
}

/// The backends compared, in the order their timings are returned.
pub const BACKENDS: [Backend; 3] = [Backend::Gradscope, Backend::Gemm, Backend::MatrixMultiply];

/// The name of a backend as reported.
pub fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Gradscope => "gradscope",
        Backend::Gemm => "gemm",
        Backend::MatrixMultiply => "matrixmultiply",
    }
}

/// Times the three products of a hidden layer of `workload` (`in = out =
/// width`) with each backend, alternating them, `reps` repetitions of
/// about `min_flop` floating-point operations each; returns the medians.
/// Restores the backend and thread count it found.
pub fn compare_backends(
    workload: &Workload,
    threads: usize,
    reps: usize,
    min_flop: f64,
) -> Vec<GemmTiming> {
    let (saved_backend, saved_threads) = (backend(), max_threads());
    set_max_threads(threads);
    let (b, w) = (workload.batch, workload.width);
    let x = filled(b, w, 0.25);
    let weight = filled(w, w, 0.5);
    let g = filled(b, w, 0.125);
    let mut y = Matrix::zeros(b, w);
    let mut dw = Matrix::zeros(w, w);
    let mut dx = Matrix::zeros(b, w);
    let products = [Product::Forward, Product::WeightGrad, Product::InputGrad];
    let backends = BACKENDS;
    let flop = 2.0 * (b * w * w) as f64;
    let calls = ((min_flop / flop).ceil() as usize).max(1);
    let mut rates = vec![Vec::with_capacity(reps); products.len() * backends.len()];
    for _ in 0..reps.max(1) {
        for (pi, &product) in products.iter().enumerate() {
            for (bi, &be) in backends.iter().enumerate() {
                set_backend(be);
                let mut run = || match product {
                    Product::Forward => matmul(&mut y, true, 1.0, &x, Op::N, &weight, Op::T),
                    Product::WeightGrad => matmul(&mut dw, true, 1.0, &g, Op::T, &x, Op::N),
                    Product::InputGrad => matmul(&mut dx, false, 1.0, &g, Op::N, &weight, Op::N),
                };
                run();
                let t0 = Instant::now();
                for _ in 0..calls {
                    run();
                }
                let secs = t0.elapsed().as_secs_f64();
                rates[pi * backends.len() + bi].push(calls as f64 * flop / secs / 1e9);
            }
        }
    }
    set_backend(saved_backend);
    set_max_threads(saved_threads);
    let mut out = Vec::new();
    for (pi, &product) in products.iter().enumerate() {
        let (m, n, k) = match product {
            Product::Forward | Product::InputGrad => (b, w, w),
            Product::WeightGrad => (w, w, b),
        };
        for (bi, &be) in backends.iter().enumerate() {
            out.push(GemmTiming {
                backend: backend_name(be),
                product,
                m,
                n,
                k,
                threads,
                gflop_per_s: super::median(&rates[pi * backends.len() + bi]),
            });
        }
    }
    out
}

fn filled(rows: usize, cols: usize, v: f32) -> Matrix<f32> {
    Matrix::filled(rows, cols, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_reports_positive_rates_and_state_is_restored() {
        let _settings = crate::tensor::settings_lock();
        let before = (backend(), max_threads());
        let t = compare_backends(&Workload::new(2, 16, 8), 1, 1, 1e4);
        assert_eq!(t.len(), 3 * BACKENDS.len());
        let names: Vec<_> = t.iter().take(3).map(|t| t.backend).collect();
        assert_eq!(names, ["gradscope", "gemm", "matrixmultiply"]);
        assert!(t.iter().all(|t| t.gflop_per_s > 0.0));
        assert_eq!((backend(), max_threads()), before);
    }
}
