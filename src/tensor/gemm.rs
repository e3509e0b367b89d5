//! Matrix products: `C = beta_c * C + alpha * op(A) op(B)`, and `affine`
//! (`x W^T + b`), with the thread count chosen by problem size.
//!
//! Three backends are wired in, so their speed can be compared on our shapes
//! (`gradscope bench --gemm`): our own f32 AVX-512 kernel ([`super::sgemm`],
//! default; f64 and machines without AVX-512 fall through to the `gemm`
//! crate), the `gemm` crate, and `matrixmultiply`. Transposes are expressed
//! as strides, except that our kernel copies the smaller operand transposed
//! when it must read it by rows (`super::own_gemm`: `x` in `x W^T`).
//!
//! Threads: a product smaller than [`PARALLEL_MIN_FLOP`] runs on one thread
//! (on tiny layers two threads are slower than one); larger ones use up to
//! [`max_threads`] threads.

use super::own_gemm::own_kernel;
use super::{Matrix, Scalar};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Below this many floating-point operations a product runs on one thread.
/// Measured by training (docs/PERFORMANCE.md): on the 2-core Zen 4 machines
/// we build on, two threads lose on the 9.4 MFLOP first-layer products of
/// the (3, 100, 60) MLP and win on the 16.8 MFLOP products of width 256,
/// batch 128, so the break-even lies between.
pub const PARALLEL_MIN_FLOP: usize = 10_000_000;

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// As stored.
    N,
    /// Transposed.
    T,
}

/// Which GEMM multiplies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Our own kernel for f32 on AVX-512 (default), else the `gemm` crate.
    Gradscope,
    /// The `gemm` crate.
    Gemm,
    /// The `matrixmultiply` crate.
    MatrixMultiply,
}

static MAX_THREADS: AtomicUsize = AtomicUsize::new(1);
static BACKEND: AtomicU8 = AtomicU8::new(0);

/// Sets the most threads one product may use (at least 1).
pub fn set_max_threads(n: usize) {
    MAX_THREADS.store(n.max(1), Ordering::Relaxed);
}

/// The most threads one product may use.
pub fn max_threads() -> usize {
    MAX_THREADS.load(Ordering::Relaxed)
}

/// Selects the GEMM backend for all later products.
pub fn set_backend(backend: Backend) {
    BACKEND.store(backend as u8, Ordering::Relaxed);
}

/// The GEMM backend in use.
pub fn backend() -> Backend {
    match BACKEND.load(Ordering::Relaxed) {
        0 => Backend::Gradscope,
        1 => Backend::Gemm,
        _ => Backend::MatrixMultiply,
    }
}

/// Threads for an `m x n x k` product under the size policy.
pub fn threads_for(m: usize, n: usize, k: usize) -> usize {
    if 2 * m * n * k < PARALLEL_MIN_FLOP {
        1
    } else {
        max_threads()
    }
}

/// `dst = (accumulate ? dst : 0) + alpha * op_a(a) * op_b(b)`.
///
/// `dst` must already have the product's shape.
///
/// # Panics
/// When the shapes do not agree.
pub fn matmul<T: Scalar>(
    dst: &mut Matrix<T>,
    accumulate: bool,
    alpha: T,
    a: &Matrix<T>,
    op_a: Op,
    b: &Matrix<T>,
    op_b: Op,
) {
    let (m, k) = oriented(a, op_a);
    let (kb, n) = oriented(b, op_b);
    assert_eq!(
        k,
        kb,
        "matmul inner dimensions: {:?} x {:?}",
        a.shape(),
        b.shape()
    );
    assert_eq!(dst.shape(), (m, n), "matmul destination shape");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst.fill(T::zero());
        }
        return;
    }
    let (a_rs, a_cs) = strides(a, op_a);
    let (b_rs, b_cs) = strides(b, op_b);
    let (d_rs, d_cs) = (n as isize, 1isize);
    let threads = threads_for(m, n, k);
    let backend = backend();
    if backend == Backend::Gradscope
        && own_kernel(dst, accumulate, alpha, a, op_a, b, op_b, None, threads)
    {
        return;
    }
    match backend {
        Backend::Gradscope | Backend::Gemm => {
            let par = if threads > 1 {
                gemm::Parallelism::Rayon(threads)
            } else {
                gemm::Parallelism::None
            };
            // SAFETY: pointers and strides describe the three live buffers
            // whose shapes were checked above; dst does not alias a or b
            // (it is borrowed mutably).
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    dst.as_mut_slice().as_mut_ptr(),
                    d_cs,
                    d_rs,
                    accumulate,
                    a.as_slice().as_ptr(),
                    a_cs,
                    a_rs,
                    b.as_slice().as_ptr(),
                    b_cs,
                    b_rs,
                    T::one(),
                    alpha,
                    false,
                    false,
                    false,
                    par,
                );
            }
        }
        Backend::MatrixMultiply => {
            let beta = if accumulate { T::one() } else { T::zero() };
            // SAFETY: as above.
            unsafe {
                T::matrixmultiply(
                    m,
                    k,
                    n,
                    alpha,
                    a.as_slice().as_ptr(),
                    a_rs,
                    a_cs,
                    b.as_slice().as_ptr(),
                    b_rs,
                    b_cs,
                    beta,
                    dst.as_mut_slice().as_mut_ptr(),
                    d_rs,
                    d_cs,
                );
            }
        }
    }
}

/// `dst = x w^T + bias` on every row: the linear layer's forward (`x` is
/// `batch x in`, `w` is `out x in`, `bias` has `out` entries).
///
/// On our kernel the bias is added to each tile before its write-back;
/// elsewhere it is copied into every row and the product accumulated onto
/// it.
///
/// # Panics
/// When the shapes do not agree.
pub fn affine<T: Scalar>(dst: &mut Matrix<T>, x: &Matrix<T>, w: &Matrix<T>, bias: &[T]) {
    let (m, k, n) = (x.rows(), x.cols(), w.rows());
    assert_eq!(
        w.cols(),
        k,
        "affine: x is {:?}, w {:?}",
        x.shape(),
        w.shape()
    );
    assert_eq!(bias.len(), n, "affine bias length");
    assert_eq!(dst.shape(), (m, n), "affine destination shape");
    let threads = threads_for(m, n, k);
    if m > 0
        && n > 0
        && k > 0
        && backend() == Backend::Gradscope
        && own_kernel(
            dst,
            false,
            T::one(),
            x,
            Op::N,
            w,
            Op::T,
            Some(bias),
            threads,
        )
    {
        return;
    }
    for r in 0..m {
        dst.row_mut(r).copy_from_slice(bias);
    }
    matmul(dst, true, T::one(), x, Op::N, w, Op::T);
}

/// `op(a) * op(b)` as a new matrix.
pub fn product<T: Scalar>(a: &Matrix<T>, op_a: Op, b: &Matrix<T>, op_b: Op) -> Matrix<T> {
    let mut out = Matrix::zeros(oriented(a, op_a).0, oriented(b, op_b).1);
    matmul(&mut out, false, T::one(), a, op_a, b, op_b);
    out
}

/// The shape of `op(a)`.
pub(super) fn oriented<T: Scalar>(a: &Matrix<T>, op: Op) -> (usize, usize) {
    match op {
        Op::N => a.shape(),
        Op::T => (a.cols(), a.rows()),
    }
}

/// `(row stride, column stride)` of `op(a)` in `a`'s storage.
pub(super) fn strides<T: Scalar>(a: &Matrix<T>, op: Op) -> (isize, isize) {
    let c = a.cols() as isize;
    match op {
        Op::N => (c, 1),
        Op::T => (1, c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &Matrix<f64>, b: &Matrix<f64>) -> Matrix<f64> {
        let mut out = Matrix::zeros(a.rows(), b.cols());
        for i in 0..a.rows() {
            for j in 0..b.cols() {
                let s: f64 = (0..a.cols()).map(|p| a.get(i, p) * b.get(p, j)).sum();
                out.set(i, j, s);
            }
        }
        out
    }

    fn seq(rows: usize, cols: usize, seed: f64) -> Matrix<f64> {
        let data = (0..rows * cols)
            .map(|i| ((i as f64 + seed) * 0.37).sin())
            .collect();
        Matrix::from_vec(rows, cols, data).unwrap()
    }

    fn close(a: &Matrix<f64>, b: &Matrix<f64>) {
        assert_eq!(a.shape(), b.shape());
        for (x, y) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
    }

    #[test]
    fn every_transpose_combination_matches_naive_on_each_backend() {
        let _settings = super::super::settings_lock();
        for backend in [Backend::Gradscope, Backend::Gemm, Backend::MatrixMultiply] {
            set_backend(backend);
            let (m, k, n) = (7, 5, 9);
            let a = seq(m, k, 1.0);
            let b = seq(k, n, 2.0);
            let want = naive(&a, &b);
            let at = a.transpose();
            let bt = b.transpose();
            close(&product(&a, Op::N, &b, Op::N), &want);
            close(&product(&at, Op::T, &b, Op::N), &want);
            close(&product(&a, Op::N, &bt, Op::T), &want);
            close(&product(&at, Op::T, &bt, Op::T), &want);
        }
        set_backend(Backend::Gradscope);
    }

    #[test]
    fn accumulate_adds_scaled_product() {
        let a = seq(3, 4, 0.0);
        let b = seq(4, 2, 5.0);
        let mut dst = Matrix::filled(3, 2, 1.0);
        matmul(&mut dst, true, -0.5, &a, Op::N, &b, Op::N);
        let want = naive(&a, &b).map(|v| 1.0 - 0.5 * v);
        close(&dst, &want);
    }

    /// `affine` adds the bias to every row of `x w^T`: on our kernel (f32,
    /// bias added per tile, edge tiles included) and on the fallback (f64).
    #[test]
    fn affine_adds_the_bias_to_every_row() {
        let _settings = super::super::settings_lock();
        for (m, k, n) in [(9, 20, 7), (64, 30, 13), (3, 5, 70)] {
            let x = seq(m, k, 1.0);
            let w = seq(n, k, 2.0);
            let bias: Vec<f64> = (0..n).map(|j| j as f64 - 3.5).collect();
            let mut want = naive(&x, &w.transpose());
            for r in 0..m {
                for (v, b) in want.row_mut(r).iter_mut().zip(&bias) {
                    *v += b;
                }
            }
            let mut got = Matrix::filled(m, n, f64::NAN);
            affine(&mut got, &x, &w, &bias);
            close(&got, &want);
            let bias32: Vec<f32> = bias.iter().map(|&b| b as f32).collect();
            let mut got32 = Matrix::filled(m, n, f32::NAN);
            affine(&mut got32, &x.cast(), &w.cast(), &bias32);
            for (g, w) in got32.as_slice().iter().zip(want.as_slice()) {
                assert!(
                    (*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
                    "{g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn large_products_run_threaded_and_match() {
        let _settings = super::super::settings_lock();
        set_max_threads(2);
        let a = seq(130, 260, 3.0);
        let b = seq(260, 170, 4.0);
        assert_eq!(threads_for(130, 170, 260), 2);
        close(&product(&a, Op::N, &b, Op::N), &naive(&a, &b));
        set_max_threads(1);
    }
}
