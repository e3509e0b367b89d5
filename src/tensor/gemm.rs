//! Matrix products: `C = beta_c * C + alpha * op(A) op(B)` on a tuned GEMM
//! crate, with the thread count chosen by problem size.
//!
//! Three backends are wired in, so their speed can be compared on our shapes
//! (`gradscope bench --gemm`): our own f32 AVX-512 kernel ([`super::sgemm`],
//! default; f64 and machines without AVX-512 fall through to the `gemm`
//! crate), the `gemm` crate, and `matrixmultiply`. Transposes are expressed
//! as strides, except that our kernel copies a batch-sized operand
//! transposed when the other one is the transposed weight (`x W^T`).
//!
//! Threads: a product smaller than [`PARALLEL_MIN_FLOP`] runs on one thread
//! (on tiny layers two threads are slower than one); larger ones use up to
//! [`max_threads`] threads.

use super::{Matrix, Scalar};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Below this many floating-point operations a product runs on one thread.
/// Measured by training (docs/PERFORMANCE.md): on the 2-core Zen 4 machines
/// we build on, two threads lose on the 9.4 MFLOP first-layer products of
/// the (3, 100, 60) MLP and win on the 16.8 MFLOP products of width 256,
/// batch 128, so the break-even lies between.
pub const PARALLEL_MIN_FLOP: usize = 10_000_000;

/// f32 entries in one core's L2 (1 MiB on the Zen 4 machines we build on):
/// above this, our kernel broadcasts the larger operand (see `own_kernel`).
const L2_FLOATS: usize = 1 << 18;

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// As stored.
    N,
    /// Transposed.
    T,
}

/// Which GEMM crate multiplies.
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

/// Runs the product on our own kernel when it applies (f32, AVX-512);
/// returns whether it did. A `bias` (one entry per column of `dst`) needs
/// `op_b = T`, which takes the transposed form.
#[allow(clippy::too_many_arguments)]
fn own_kernel<T: Scalar>(
    dst: &mut Matrix<T>,
    accumulate: bool,
    alpha: T,
    a: &Matrix<T>,
    op_a: Op,
    b: &Matrix<T>,
    op_b: Op,
    bias: Option<&[T]>,
    threads: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use super::sgemm::{self, Out, Problem};
        use std::any::Any;
        let dst = (dst as &mut dyn Any).downcast_mut::<Matrix<f32>>();
        let a = (a as &dyn Any).downcast_ref::<Matrix<f32>>();
        let b = (b as &dyn Any).downcast_ref::<Matrix<f32>>();
        let (Some(dst), Some(a), Some(b)) = (dst, a, b) else {
            return false;
        };
        if !sgemm::available() {
            return false;
        }
        let (m, k) = oriented(a, op_a);
        let n = dst.cols();
        // Two forms of the same product: direct, C = op(a) op(b), op(a)
        // broadcast and op(b) read by rows; transposed, C^T = op(b)^T op(a)^T,
        // op(b)^T broadcast, op(a)^T read by rows and C written back
        // transposed (scalar stores, which cost a few percent at k = 1000
        // and up to a third at k = 100). The operand read by rows is copied
        // transposed into scratch unless its rows are contiguous. So:
        // transposed when the direct form would copy op(b) (the weight in
        // the forward `x W^T`), or when op(b) is the larger operand and too
        // large for L2 (the weight in the input-gradient `g W` at width
        // 1000): broadcast, it is streamed once with prefetch, where read by
        // rows it is fetched from memory again for every block of rows.
        // Measured in docs/PERFORMANCE.md ("Our GEMM").
        let transposed = op_b == Op::T || (k * n > m * k && k * n > L2_FLOATS);
        assert!(
            bias.is_none() || transposed,
            "a bias needs the transposed form"
        );
        // T is f32 (dst was): the bias's entries are f32s.
        let bias = bias.map_or(std::ptr::null(), |b| b.as_ptr() as *const f32);
        let ((bc, bc_op), (rows, rows_op), (pm, pn)) = if transposed {
            ((b, flip(op_b)), (a, flip(op_a)), (n, m))
        } else {
            ((a, op_a), (b, op_b), (m, n))
        };
        let (a_rs, a_cs) = strides(bc, bc_op);
        let out_ptr = dst.as_mut_slice().as_mut_ptr();
        let run = |rows: &[f32]| {
            let problem = Problem {
                m: pm,
                n: pn,
                k,
                a: bc.as_slice().as_ptr(),
                a_rs: a_rs as usize,
                a_cs: a_cs as usize,
                b: rows.as_ptr(),
                ldb: pn,
                out: if transposed {
                    Out::Transposed {
                        ptr: out_ptr,
                        ld: n,
                    }
                } else {
                    Out::Rows {
                        ptr: out_ptr,
                        ld: n,
                    }
                },
                alpha: alpha.as_f64() as f32,
                bias,
                accumulate,
            };
            // SAFETY: AVX-512 F checked; `matmul` checked the shapes, and
            // `rows` is k x pn; dst is borrowed mutably, so it aliases
            // neither operand.
            unsafe { sgemm::run(&problem, threads) };
        };
        match rows_op {
            Op::N => run(rows.as_slice()),
            Op::T => SCRATCH.with_borrow_mut(|scratch| {
                transpose_into(rows, scratch, threads);
                run(scratch);
            }),
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (dst, accumulate, alpha, a, op_a, b, op_b, bias, threads);
        false
    }
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// A transposed operand for our kernel, reused across products.
    static SCRATCH: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `out = a^T`, row-major (`a.cols() x a.rows()`), on the two halves of
/// `a`'s columns in parallel when `threads > 1` and there is enough work.
#[cfg(target_arch = "x86_64")]
fn transpose_into(a: &Matrix<f32>, out: &mut Vec<f32>, threads: usize) {
    let (rows, cols) = a.shape();
    out.resize(rows * cols, 0.0);
    let src = a.as_slice();
    let mid = (cols / 2).next_multiple_of(16);
    // SAFETY (each call): only reached on our kernel's path, after
    // `sgemm::available()`.
    if threads > 1 && rows * cols >= 1 << 14 && mid < cols {
        let (first, second) = out.split_at_mut(mid * rows);
        rayon::join(
            || unsafe { super::sgemm::transpose(src, rows, cols, 0..mid, first) },
            || unsafe { super::sgemm::transpose(src, rows, cols, mid..cols, second) },
        );
    } else {
        unsafe { super::sgemm::transpose(src, rows, cols, 0..cols, out) };
    }
}

/// `op(a) * op(b)` as a new matrix.
pub fn product<T: Scalar>(a: &Matrix<T>, op_a: Op, b: &Matrix<T>, op_b: Op) -> Matrix<T> {
    let mut out = Matrix::zeros(oriented(a, op_a).0, oriented(b, op_b).1);
    matmul(&mut out, false, T::one(), a, op_a, b, op_b);
    out
}

fn oriented<T: Scalar>(a: &Matrix<T>, op: Op) -> (usize, usize) {
    match op {
        Op::N => a.shape(),
        Op::T => (a.cols(), a.rows()),
    }
}

fn flip(op: Op) -> Op {
    match op {
        Op::N => Op::T,
        Op::T => Op::N,
    }
}

fn strides<T: Scalar>(a: &Matrix<T>, op: Op) -> (isize, isize) {
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

    fn seq32(rows: usize, cols: usize, seed: f64) -> Matrix<f32> {
        seq(rows, cols, seed).cast()
    }

    /// `dst0 (when accumulate) + alpha op(a) op(b)` in f64, from f32 inputs.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        dst0: &Matrix<f32>,
        accumulate: bool,
        alpha: f32,
        a: &Matrix<f32>,
        op_a: Op,
        b: &Matrix<f32>,
        op_b: Op,
    ) -> Matrix<f64> {
        let orient = |x: &Matrix<f32>, op| match op {
            Op::N => x.cast::<f64>(),
            Op::T => x.transpose().cast::<f64>(),
        };
        let mut want = naive(&orient(a, op_a), &orient(b, op_b)).map(|v| v * alpha as f64);
        if accumulate {
            want.add_scaled(&dst0.cast(), 1.0);
        }
        want
    }

    /// Runs `own_kernel` on `threads` threads inside a pool of that size
    /// (no global state: tests run concurrently); `false` without AVX-512.
    #[allow(clippy::too_many_arguments)]
    fn own(
        dst: &mut Matrix<f32>,
        accumulate: bool,
        alpha: f32,
        a: &Matrix<f32>,
        op_a: Op,
        b: &Matrix<f32>,
        op_b: Op,
        threads: usize,
    ) -> bool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| own_kernel(dst, accumulate, alpha, a, op_a, b, op_b, None, threads))
    }

    /// Our kernel, f32, on every tile shape it has (1 to 6 rows, 1 to 4
    /// vectors, full and masked last vectors, several tiles each way),
    /// every orientation, one and two threads, with and without
    /// accumulation and scaling: equal to the f64 product within f32
    /// rounding over k terms.
    #[test]
    fn own_kernel_matches_f64_on_every_tile_shape_and_orientation() {
        let shapes = [
            (1, 1, 1),
            (5, 17, 3),
            (6, 16, 7),
            (7, 33, 20),
            (13, 64, 9),
            (12, 70, 31),
            (2, 129, 1),
            (20, 200, 50),
            (70, 20, 9),
            (130, 7, 5),
            // op(b) larger than L2: broadcast even when stored as is.
            (5, 600, 500),
        ];
        let ops = [
            (Op::N, Op::N),
            (Op::T, Op::N),
            (Op::N, Op::T),
            (Op::T, Op::T),
        ];
        for (m, n, k) in shapes {
            for (op_a, op_b) in ops {
                for (accumulate, alpha) in [(false, 1.0), (true, 1.0), (true, -0.5)] {
                    for threads in [1, 2] {
                        let a = match op_a {
                            Op::N => seq32(m, k, 1.0),
                            Op::T => seq32(k, m, 1.0),
                        };
                        let b = match op_b {
                            Op::N => seq32(k, n, 2.0),
                            Op::T => seq32(n, k, 2.0),
                        };
                        let dst0 = seq32(m, n, 3.0);
                        let mut dst = dst0.clone();
                        if !own(&mut dst, accumulate, alpha, &a, op_a, &b, op_b, threads) {
                            return; // no AVX-512 here: nothing to test
                        }
                        let want = reference(&dst0, accumulate, alpha, &a, op_a, &b, op_b);
                        for (i, (x, y)) in dst.as_slice().iter().zip(want.as_slice()).enumerate() {
                            assert!(
                                (*x as f64 - y).abs() <= 1e-5 * (1.0 + y.abs()),
                                "{m}x{n}x{k} {op_a:?}{op_b:?} acc {accumulate} alpha {alpha} \
                                 threads {threads}: entry {i}: {x} vs {y}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// The kernel's result does not depend on the thread count, bit for bit
    /// (one FMA chain per entry, whatever the tiling of the work).
    #[test]
    fn own_kernel_is_bitwise_the_same_on_one_and_two_threads() {
        let a = seq32(70, 300, 4.0);
        let b = seq32(150, 300, 5.0);
        for op_b in [Op::N, Op::T] {
            let b = match op_b {
                Op::N => b.transpose(),
                Op::T => b.clone(),
            };
            let mut one = Matrix::zeros(70, 150);
            let mut two = Matrix::zeros(70, 150);
            if !own(&mut one, false, 1.0, &a, Op::N, &b, op_b, 1) {
                return;
            }
            own(&mut two, false, 1.0, &a, Op::N, &b, op_b, 2);
            assert_eq!(one.as_slice(), two.as_slice(), "{op_b:?}");
        }
    }

    /// `affine` adds the bias to every row of `x w^T`: on our kernel (f32,
    /// bias added per tile, edge tiles included) and on the fallback (f64).
    #[test]
    fn affine_adds_the_bias_to_every_row() {
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
        set_max_threads(2);
        let a = seq(130, 260, 3.0);
        let b = seq(260, 170, 4.0);
        assert_eq!(threads_for(130, 170, 260), 2);
        close(&product(&a, Op::N, &b, Op::N), &naive(&a, &b));
        set_max_threads(1);
    }
}
