//! Matrix products: `C = beta_c * C + alpha * op(A) op(B)`, and `affine`
//! (`x W^T + b`), with the thread count chosen by problem size.
//!
//! Three backends are wired in, so their speed can be compared on our shapes
//! (`gradscope bench --gemm`): our own f32 and f64 kernel ([`super::sgemm`],
//! the default at the `avx512` SIMD level; below it, and for other
//! element types, products fall through to the `gemm` crate), the `gemm`
//! crate, and `matrixmultiply`. Transposes are expressed
//! as strides, except that our kernel copies the smaller operand transposed
//! when it must read it by rows (`super::own_gemm`: `x` in `x W^T`).
//!
//! The backend is a value, not a setting: [`matmul`] and [`affine`] use the
//! default ([`Backend::Gradscope`]); [`matmul_with`] and [`affine_with`]
//! take it as an argument (the benchmark is their only caller outside
//! tests).
//!
//! Threads: a product smaller than [`PARALLEL_MIN_FLOP`] runs on one thread
//! (on tiny layers two threads are slower than one); larger ones use the
//! threads of the rayon pool they are called in ([`max_threads`]). On every
//! backend the thread count does not change a result's bits: our kernel
//! computes each entry as one chain over `k` whatever the tiling, and the
//! `gemm` crate shares out tiles of `C` among threads while cutting `k` into
//! blocks by cache size alone (`gemm-common` 0.19, `gemm_basic_generic`),
//! so each entry is summed in the same order on one thread or many.

use super::operand::{oriented, strides, Backend, Op};
use super::own_gemm::own_kernel;
use super::split::{in_halves, Split};
use super::{max_threads, Matrix, Scalar};
use std::ops::Range;

/// Below this many floating-point operations a product runs on one thread.
/// Measured by training (docs/PERFORMANCE.md): on the 2-core Zen 4 machines
/// we build on, two threads lose on the 9.4 MFLOP first-layer products of
/// the (3, 100, 60) MLP and win on the 16.8 MFLOP products of width 256,
/// batch 128, so the break-even lies between.
pub const PARALLEL_MIN_FLOP: usize = 10_000_000;

/// Finishes an `m x n x k` product with nothing to multiply: nothing
/// when `C` is empty, `C = 0` (unless accumulating) when `k = 0`. Returns
/// whether it did; our kernel needs `k >= 1`.
pub(super) fn empty_product<T: Scalar>(
    dst: &mut [T],
    accumulate: bool,
    (m, n, k): (usize, usize, usize),
) -> bool {
    if m == 0 || n == 0 {
        return true;
    }
    if k == 0 && !accumulate {
        dst.fill(T::zero());
    }
    k == 0
}

/// Which build of our kernel `matmul` runs at the current SIMD level:
/// `avx512`, or `none` (the `gemm` crate serves).
pub fn kernel_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if let Some(kernel) = super::sgemm::Kernel::best() {
        return kernel.name();
    }
    "none"
}

/// Threads for an `m x n x k` product under the size policy: one below
/// [`PARALLEL_MIN_FLOP`], else the current pool's ([`max_threads`]).
pub fn threads_for(m: usize, n: usize, k: usize) -> usize {
    if 2 * m * n * k < PARALLEL_MIN_FLOP {
        1
    } else {
        max_threads()
    }
}

/// `dst = (accumulate ? dst : 0) + alpha * op_a(a) * op_b(b)` on the
/// default backend.
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
    matmul_with(Backend::default(), dst, accumulate, alpha, a, op_a, b, op_b);
}

/// [`matmul`] on `backend`.
///
/// # Panics
/// When the shapes do not agree.
#[allow(clippy::too_many_arguments)]
pub fn matmul_with<T: Scalar>(
    backend: Backend,
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
    if empty_product(dst.as_mut_slice(), accumulate, (m, n, k)) {
        return;
    }
    let (a_rs, a_cs) = strides(a, op_a);
    let (b_rs, b_cs) = strides(b, op_b);
    let (d_rs, d_cs) = (n as isize, 1isize);
    let threads = threads_for(m, n, k);
    if backend.is_ours()
        && own_kernel(
            backend, dst, accumulate, alpha, a, op_a, b, op_b, None, threads,
        )
    {
        return;
    }
    match backend {
        Backend::Gradscope | Backend::GradscopeAvx2 | Backend::Gemm => {
            let c = Strided {
                ptr: dst.as_mut_slice().as_mut_ptr(),
                rs: d_rs,
                cs: d_cs,
            };
            let a = Strided {
                ptr: a.as_slice().as_ptr() as *mut T,
                rs: a_rs,
                cs: a_cs,
            };
            let b = Strided {
                ptr: b.as_slice().as_ptr() as *mut T,
                rs: b_rs,
                cs: b_cs,
            };
            // SAFETY: the three describe live buffers whose shapes were
            // checked above; dst does not alias a or b (it is borrowed
            // mutably).
            unsafe { gemm_crate(c, accumulate, alpha, a, b, (m, n, k), threads) };
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

/// Whether the `gemm` crate (gemm-common 0.19, `gemm_basic_generic`)
/// sums each entry of an `m x n` part of a product in the same order as
/// the whole `m x n x k` product: both take its packed path (not the
/// vector-times-matrix one at `m` or `n` of 1, nor the dot-product one
/// at `m n <= 256`), with the same blocks of `k`. Those depend on `k`
/// alone, except that products of at most 64 x 64 take `min(k, 512)`:
/// the same for `k <= 512`.
fn same_sums(whole: (usize, usize), part: (usize, usize), k: usize) -> bool {
    let small = |(m, n): (usize, usize)| m <= 64 && n <= 64;
    let packed = |(m, n): (usize, usize)| m >= 2 && n >= 2 && m * n > 256;
    packed(whole) && packed(part) && (k <= 512 || small(whole) == small(part))
}

/// A matrix as a pointer and two strides (in elements).
#[derive(Clone, Copy)]
struct Strided<T> {
    ptr: *mut T,
    rs: isize,
    cs: isize,
}

// SAFETY: only `gemm_crate` makes and shares these, within one call whose
// contract keeps the buffers live; its threads write disjoint parts of
// `C` and only read `A` and `B`.
unsafe impl<T: Send> Send for Strided<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Strided<T> {}

/// `C (+)= alpha A B` (`m x n x k`) on the `gemm` crate. On several
/// threads we split `C` ourselves, in halves of its larger dimension (at
/// multiples of 16), and each half runs on one thread: at the `avx2`
/// level the crate's own rayon split took a training step from one
/// thread to two by only 1.18-1.54x, ours by 1.73-1.82x
/// (docs/PERFORMANCE.md, "Two threads: our split, not the crate's"). We
/// split only where each part sums every entry in the same order as the
/// whole product ([`same_sums`]); elsewhere the crate splits, as before.
///
/// # Safety
/// `c`, `a` and `b` describe live `m x n`, `m x k` and `k x n` buffers;
/// `c` overlaps neither of the others.
unsafe fn gemm_crate<T: Scalar>(
    c: Strided<T>,
    accumulate: bool,
    alpha: T,
    a: Strided<T>,
    b: Strided<T>,
    (m, n, k): (usize, usize, usize),
    threads: usize,
) {
    // One value holding all three, so the closures below capture it whole
    // (a closure capturing a raw-pointer field alone would not be Sync).
    let ops = (c, a, b);
    let run = |rows: Range<usize>, cols: Range<usize>, parallelism| {
        let (c, a, b) = ops;
        let (i, j) = (rows.start as isize, cols.start as isize);
        // SAFETY: rows `rows` and columns `cols` of C, the same rows of A
        // and columns of B: inside each (the function's contract); each
        // call writes its own part of C.
        unsafe {
            gemm::gemm(
                rows.len(),
                cols.len(),
                k,
                c.ptr.offset(i * c.rs + j * c.cs),
                c.cs,
                c.rs,
                accumulate,
                a.ptr.offset(i * a.rs),
                a.cs,
                a.rs,
                b.ptr.offset(j * b.cs),
                b.cs,
                b.rs,
                T::one(),
                alpha,
                false,
                false,
                false,
                parallelism,
            )
        }
    };
    let by_rows = m >= n;
    let len = if by_rows { m } else { n };
    // Every part is at least this long (`in_halves` cuts near the middle
    // on multiples of 16; work under 32 per thread is not cut).
    let shortest = len / (2 * threads.max(1));
    let part = if by_rows {
        (shortest, n)
    } else {
        (m, shortest)
    };
    if threads <= 1 || len < 32 * threads || !same_sums((m, n), part, k) {
        let parallelism = if threads > 1 {
            gemm::Parallelism::Rayon(threads)
        } else {
            gemm::Parallelism::None
        };
        return run(0..m, 0..n, parallelism);
    }
    in_halves(
        0..len,
        Split::new(len, 16, threads),
        &|part: Range<usize>, _| {
            let one = gemm::Parallelism::None;
            if by_rows {
                run(part, 0..n, one)
            } else {
                run(0..m, part, one)
            }
        },
        &|(), ()| (),
    );
}

/// `dst = x w^T + bias` on every row: the linear layer's forward (`x` is
/// `batch x in`, `w` is `out x in`, `bias` has `out` entries), on the
/// default backend.
///
/// On our kernel the bias is added to each tile before its write-back;
/// elsewhere it is copied into every row and the product accumulated onto
/// it.
///
/// # Panics
/// When the shapes do not agree.
pub fn affine<T: Scalar>(dst: &mut Matrix<T>, x: &Matrix<T>, w: &Matrix<T>, bias: &[T]) {
    affine_with(Backend::default(), dst, x, w, bias);
}

/// [`affine`] on `backend`.
///
/// # Panics
/// When the shapes do not agree.
pub fn affine_with<T: Scalar>(
    backend: Backend,
    dst: &mut Matrix<T>,
    x: &Matrix<T>,
    w: &Matrix<T>,
    bias: &[T],
) {
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
        && backend.is_ours()
        && own_kernel(
            backend,
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
    matmul_with(backend, dst, true, T::one(), x, Op::N, w, Op::T);
}

/// `op(a) * op(b)` as a new matrix (default backend).
pub fn product<T: Scalar>(a: &Matrix<T>, op_a: Op, b: &Matrix<T>, op_b: Op) -> Matrix<T> {
    let mut out = Matrix::zeros(oriented(a, op_a).0, oriented(b, op_b).1);
    matmul(&mut out, false, T::one(), a, op_a, b, op_b);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::testing::{
        assert_close, bits, in_pool, operands, reference, seq32, MODES, ORIENTATIONS, TILE_SHAPES,
    };

    const BACKENDS: [Backend; 3] = [Backend::Gradscope, Backend::Gemm, Backend::MatrixMultiply];

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
        seq32(rows, cols, seed).cast()
    }

    fn close(a: &Matrix<f64>, b: &Matrix<f64>) {
        assert_eq!(a.shape(), b.shape());
        for (x, y) in a.as_slice().iter().zip(b.as_slice()) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
    }

    fn product_with(
        backend: Backend,
        a: &Matrix<f64>,
        op_a: Op,
        b: &Matrix<f64>,
        op_b: Op,
    ) -> Matrix<f64> {
        let mut out = Matrix::zeros(oriented(a, op_a).0, oriented(b, op_b).1);
        matmul_with(backend, &mut out, false, 1.0, a, op_a, b, op_b);
        out
    }

    #[test]
    fn every_transpose_combination_matches_naive_on_each_backend() {
        for backend in BACKENDS {
            let (m, k, n) = (7, 5, 9);
            let a = seq(m, k, 1.0);
            let b = seq(k, n, 2.0);
            let want = naive(&a, &b);
            let at = a.transpose();
            let bt = b.transpose();
            close(&product_with(backend, &a, Op::N, &b, Op::N), &want);
            close(&product_with(backend, &at, Op::T, &b, Op::N), &want);
            close(&product_with(backend, &a, Op::N, &bt, Op::T), &want);
            close(&product_with(backend, &at, Op::T, &bt, Op::T), &want);
        }
    }

    /// The portable twin of our kernel's tests (`own_gemm`): the same
    /// shapes, orientations and modes, in f32 on every backend, on one and
    /// two threads, within f32's rounding bound of the f64 product. Runs on
    /// every machine; below the `avx512` level the default backend is the
    /// `gemm` crate, so this is the path training takes there.
    #[test]
    fn every_backend_matches_f64_in_f32_on_every_shape_orientation_and_mode() {
        for (m, n, k) in TILE_SHAPES {
            for (op_a, op_b) in ORIENTATIONS {
                let (a, b, dst0) = operands(m, n, k, op_a, op_b);
                for (accumulate, alpha) in MODES {
                    let want = reference(&dst0, accumulate, alpha, &a, op_a, &b, op_b, None);
                    for backend in BACKENDS {
                        for threads in [1, 2] {
                            let mut dst = dst0.clone();
                            in_pool(threads, || {
                                matmul_with(
                                    backend, &mut dst, accumulate, alpha, &a, op_a, &b, op_b,
                                )
                            });
                            let what = format!(
                                "{backend:?} {m}x{n}x{k} {op_a:?}{op_b:?} acc {accumulate} alpha {alpha} threads {threads}"
                            );
                            assert_close(&dst, &want, &what);
                        }
                    }
                }
            }
        }
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

    /// `affine` adds the bias to every row of `x w^T`, on every backend: in
    /// f64 and in f32 (on our kernel, where it runs, the bias is added per
    /// tile, edge tiles included).
    #[test]
    fn affine_adds_the_bias_to_every_row_on_each_backend() {
        for backend in BACKENDS {
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
                affine_with(backend, &mut got, &x, &w, &bias);
                close(&got, &want);
                let bias32: Vec<f32> = bias.iter().map(|&b| b as f32).collect();
                let mut got32 = Matrix::filled(m, n, f32::NAN);
                affine_with(backend, &mut got32, &x.cast(), &w.cast(), &bias32);
                for (g, w) in got32.as_slice().iter().zip(want.as_slice()) {
                    assert!(
                        (*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
                        "{backend:?}: {g} vs {w}"
                    );
                }
            }
        }
    }

    /// The thread count comes from the pool: one thread in a 1-thread
    /// pool, two in a 2-thread pool (above the size threshold), and the
    /// threaded product is right.
    #[test]
    fn large_products_take_the_pools_threads_and_match() {
        let a = seq(130, 260, 3.0);
        let b = seq(260, 170, 4.0);
        const { assert!(2 * 130 * 170 * 260 >= PARALLEL_MIN_FLOP) };
        assert_eq!(in_pool(1, || threads_for(130, 170, 260)), 1);
        assert_eq!(in_pool(2, || threads_for(130, 170, 260)), 2);
        assert_eq!(in_pool(2, || threads_for(10, 10, 10)), 1);
        let got = in_pool(2, || product(&a, Op::N, &b, Op::N));
        close(&got, &naive(&a, &b));
    }

    /// The `gemm` crate (below the `avx512` level) gives the same bits on
    /// one, two and three threads, split by us or by the crate: every
    /// orientation, on shapes split by columns and by rows, with `k`
    /// below and above 512, and halves on both sides of the crate's
    /// 64 x 64 threshold (64 x 128 x 784 would split into two 64 x 64
    /// halves that block `k` differently: it must not be split).
    #[test]
    fn the_gemm_crate_gives_the_same_bits_on_one_and_two_threads() {
        for (m, n, k) in [
            (130, 170, 260),
            (64, 128, 784),
            (170, 130, 600),
            (300, 90, 700),
        ] {
            for threads in [2, 3] {
                crate_bits_match(m, n, k, threads);
            }
        }
    }

    fn crate_bits_match(m: usize, n: usize, k: usize, threads: usize) {
        for (op_a, op_b) in ORIENTATIONS {
            let (a, b, dst0) = operands(m, n, k, op_a, op_b);
            let run32 = |threads| {
                let mut dst = dst0.clone();
                in_pool(threads, || {
                    assert_eq!(threads_for(m, n, k), threads);
                    matmul_with(Backend::Gemm, &mut dst, true, 0.5, &a, op_a, &b, op_b);
                });
                dst
            };
            let what = format!("{m}x{n}x{k} {op_a:?}{op_b:?} on {threads}");
            let differ =
                |x: Vec<u64>, y: Vec<u64>| x.iter().zip(&y).filter(|(a, b)| a != b).count();
            assert_eq!(
                differ(bits(&run32(1)), bits(&run32(threads))),
                0,
                "f32 {what}: entries differ"
            );
            let (a, b, dst0) = (a.cast::<f64>(), b.cast::<f64>(), dst0.cast::<f64>());
            let run64 = |threads| {
                let mut dst = dst0.clone();
                in_pool(threads, || {
                    matmul_with(Backend::Gemm, &mut dst, true, 0.5, &a, op_a, &b, op_b)
                });
                dst
            };
            assert_eq!(
                differ(bits(&run64(1)), bits(&run64(threads))),
                0,
                "f64 {what}: entries differ"
            );
        }
    }
}
