//! GEMM backend comparison: the products of one hidden layer of a workload
//! (`batch x width x width`: forward `x W^T`, weight gradient `g^T x`,
//! input gradient `g W`), timed with each backend at a thread count, so the
//! docs can record both crates' figures and justify the default.

use super::Workload;
use crate::tensor::{matmul_with, with_threads, Backend, Matrix, Op};
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

/// The products timed, in the order their timings are returned.
const PRODUCTS: [Product; 3] = [Product::Forward, Product::WeightGrad, Product::InputGrad];

/// The backends compared, in the order their timings are returned (within
/// each product).
pub const BACKENDS: [Backend; 4] = [
    Backend::Gradscope,
    Backend::GradscopeAvx2,
    Backend::Gemm,
    Backend::MatrixMultiply,
];

/// Which build of our kernel runs dense products here (`avx512`), or
/// `none` (the `gemm` crate serves: the `avx2` and `portable` levels).
pub fn kernel_name() -> &'static str {
    crate::tensor::kernel_name()
}

/// The name of a backend as reported.
pub fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Gradscope => "gradscope",
        Backend::GradscopeAvx2 => "gradscope-avx2",
        Backend::Gemm => "gemm",
        Backend::MatrixMultiply => "matrixmultiply",
    }
}

/// Times the three products of a hidden layer of `workload` (`in = out =
/// width`) with each backend, alternating them, `reps` repetitions of
/// about `min_flop` floating-point operations each, in a pool of `threads`
/// threads; returns the medians. (`matrixmultiply` takes its threads from
/// `MATMUL_NUM_THREADS` instead, which the CLI sets.)
pub fn compare_backends(
    workload: &Workload,
    threads: usize,
    reps: usize,
    min_flop: f64,
) -> Vec<GemmTiming> {
    let rates = with_threads(threads, || time_backends(workload, reps, min_flop));
    let (b, w) = (workload.batch, workload.width);
    let mut out = Vec::new();
    for (pi, &product) in PRODUCTS.iter().enumerate() {
        let (m, n, k) = match product {
            Product::Forward | Product::InputGrad => (b, w, w),
            Product::WeightGrad => (w, w, b),
        };
        for (bi, &be) in BACKENDS.iter().enumerate() {
            out.push(GemmTiming {
                backend: backend_name(be),
                product,
                m,
                n,
                k,
                threads: threads.max(1),
                gflop_per_s: super::median(&rates[pi * BACKENDS.len() + bi]),
            });
        }
    }
    out
}

/// GFLOP/s of every repetition, per (product, backend) in
/// `compare_backends`'s order, on the calling pool's threads.
fn time_backends(workload: &Workload, reps: usize, min_flop: f64) -> Vec<Vec<f64>> {
    let (b, w) = (workload.batch, workload.width);
    let x = filled(b, w, 0.25);
    let weight = filled(w, w, 0.5);
    let g = filled(b, w, 0.125);
    let mut y = Matrix::zeros(b, w);
    let mut dw = Matrix::zeros(w, w);
    let mut dx = Matrix::zeros(b, w);
    let flop = 2.0 * (b * w * w) as f64;
    let calls = ((min_flop / flop).ceil() as usize).max(1);
    let mut rates = vec![Vec::with_capacity(reps); PRODUCTS.len() * BACKENDS.len()];
    for _ in 0..reps.max(1) {
        for (pi, &product) in PRODUCTS.iter().enumerate() {
            for (bi, &be) in BACKENDS.iter().enumerate() {
                let mut run = || match product {
                    Product::Forward => {
                        matmul_with(be, &mut y, true, 1.0, &x, Op::N, &weight, Op::T)
                    }
                    Product::WeightGrad => {
                        matmul_with(be, &mut dw, true, 1.0, &g, Op::T, &x, Op::N)
                    }
                    Product::InputGrad => {
                        matmul_with(be, &mut dx, false, 1.0, &g, Op::N, &weight, Op::N)
                    }
                };
                run();
                let t0 = Instant::now();
                for _ in 0..calls {
                    run();
                }
                let secs = t0.elapsed().as_secs_f64();
                rates[pi * BACKENDS.len() + bi].push(calls as f64 * flop / secs / 1e9);
            }
        }
    }
    rates
}

fn filled(rows: usize, cols: usize, v: f32) -> Matrix<f32> {
    Matrix::filled(rows, cols, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_reports_positive_rates_for_every_product() {
        let t = compare_backends(&Workload::new(2, 16, 8), 2, 1, 1e4);
        assert_eq!(t.len(), 3 * BACKENDS.len());
        let n = BACKENDS.len();
        let names: Vec<_> = t.iter().take(n).map(|t| t.backend).collect();
        assert_eq!(
            names,
            ["gradscope", "gradscope-avx2", "gemm", "matrixmultiply"]
        );
        let products: Vec<_> = t.iter().step_by(n).map(|t| t.product).collect();
        assert_eq!(
            products,
            [Product::Forward, Product::WeightGrad, Product::InputGrad]
        );
        assert_eq!(t[n].m, 16, "the weight gradient is width x width x batch");
        assert_eq!(t[n].k, 8);
        assert!(t.iter().all(|t| t.gflop_per_s > 0.0 && t.threads == 2));
    }
}
