//! Products on our own kernel ([`super::sgemm`]): which form a product
//! takes, the transposed copy of the operand read by rows, and `affine`'s
//! bias.
//!
//! # Two forms
//! Direct, `C = op(a) op(b)`: `op(a)` broadcast, `op(b)` read by rows.
//! Transposed, `C^T = op(b)^T op(a)^T`: `op(b)^T` broadcast, `op(a)^T` read
//! by rows, and each tile of `C` written back transposed. The operand read
//! by rows is copied transposed into per-thread scratch unless its rows are
//! contiguous already. Where both forms need no copy of a large operand,
//! the direct one was faster on small products (the input gradient at
//! width 100: about 102 GFLOP/s against 66 to 74).
//!
//! The transposed form is taken when the direct one would copy `op(b)`
//! (`op_b = T`: the weight in the forward `x W^T`, so the copy is the
//! batch-sized `x`), or when `op(b)` is the larger operand and larger than
//! L2: broadcast, it is streamed once with prefetch, where read by rows it
//! would be fetched from memory again for every block of rows (the weight
//! in the input gradient `g W` at width 1000). Otherwise the direct form:
//! the weight gradient `g^T x` of every benchmark shape, with no copy at
//! all (a first layer with batch x input above 2^18 and fewer outputs than
//! inputs would run it transposed). Measured in docs/PERFORMANCE.md ("Our
//! GEMM").

use super::gemm::{oriented, strides, Op};
use super::{Matrix, Scalar};

/// f32 entries in one core's L2 (1 MiB on the Zen 4 machines we build on):
/// above this, the larger operand is broadcast (module doc).
#[cfg(target_arch = "x86_64")]
const L2_FLOATS: usize = 1 << 18;

/// Runs the product on our own kernel when it applies (f32, AVX-512);
/// returns whether it did. A `bias` (one entry per column of `dst`) needs
/// `op_b = T`, which takes the transposed form.
#[allow(clippy::too_many_arguments)]
pub(super) fn own_kernel<T: Scalar>(
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
        // The form (module doc).
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
            // SAFETY: AVX-512 F checked; the callers (`matmul`, `affine`)
            // checked the shapes, and `rows` is k x pn; dst is borrowed
            // mutably, so it aliases neither operand.
            unsafe { sgemm::run(&problem, threads) };
        };
        match rows_op {
            Op::N => run(rows.as_slice()),
            Op::T => {
                // Taken out of the cell, not borrowed: while this thread
                // waits in a `rayon::join` it may run another product that
                // needs scratch too (it then allocates its own).
                let mut scratch = SCRATCH.take();
                transpose_into(rows, &mut scratch, threads);
                run(&scratch);
                SCRATCH.set(scratch);
            }
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
    static SCRATCH: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
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

/// The other orientation.
#[cfg(target_arch = "x86_64")]
fn flip(op: Op) -> Op {
    match op {
        Op::N => Op::T,
        Op::T => Op::N,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq32(rows: usize, cols: usize, seed: f64) -> Matrix<f32> {
        let data = (0..rows * cols)
            .map(|i| ((i as f64 + seed) * 0.37).sin() as f32)
            .collect();
        Matrix::from_vec(rows, cols, data).unwrap()
    }

    fn orient(x: &Matrix<f32>, op: Op) -> Matrix<f64> {
        match op {
            Op::N => x.cast(),
            Op::T => x.transpose().cast(),
        }
    }

    /// `dst0 (when accumulate) + alpha op(a) op(b) (+ bias on every row)`
    /// in f64, from f32 inputs, and for each entry the bound on f32's
    /// rounding error: `k u sum |a b|` for a chain of `k` FMAs (`u` =
    /// 2^-24), plus a few roundings of the result.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        dst0: &Matrix<f32>,
        accumulate: bool,
        alpha: f32,
        a: &Matrix<f32>,
        op_a: Op,
        b: &Matrix<f32>,
        op_b: Op,
        bias: Option<&[f32]>,
    ) -> (Matrix<f64>, Matrix<f64>) {
        let (a, b) = (orient(a, op_a), orient(b, op_b));
        let k = a.cols() as f64;
        let u = f64::powi(2.0, -24);
        let mut want = Matrix::zeros(a.rows(), b.cols());
        let mut bound = Matrix::zeros(a.rows(), b.cols());
        for i in 0..a.rows() {
            for j in 0..b.cols() {
                let s: f64 = (0..a.cols()).map(|p| a.get(i, p) * b.get(p, j)).sum();
                let abs: f64 = (0..a.cols())
                    .map(|p| (a.get(i, p) * b.get(p, j)).abs())
                    .sum();
                let mut v = s * alpha as f64;
                let mut others = 0.0;
                if let Some(bias) = bias {
                    v += bias[j] as f64;
                    others += (bias[j] as f64).abs();
                }
                if accumulate {
                    v += dst0.get(i, j) as f64;
                    others += (dst0.get(i, j) as f64).abs();
                }
                want.set(i, j, v);
                let scaled = (alpha as f64).abs() * abs;
                bound.set(i, j, (k + 1.0) * u * scaled + 4.0 * u * (v.abs() + others));
            }
        }
        (want, bound)
    }

    /// Runs `f` (a call of `own_kernel` on `threads` threads) inside a pool
    /// of that size: no global thread setting, since tests run concurrently.
    fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(f)
    }

    fn assert_close(got: &Matrix<f32>, (want, bound): &(Matrix<f64>, Matrix<f64>), what: &str) {
        let entries = got
            .as_slice()
            .iter()
            .zip(want.as_slice())
            .zip(bound.as_slice());
        for (i, ((x, y), e)) in entries.enumerate() {
            assert!(
                (*x as f64 - y).abs() <= *e,
                "{what}: entry {i}: {x} vs {y} (bound {e:e})"
            );
        }
    }

    /// Every tile shape of the kernel (1 to 6 rows, 1 to 4 vectors, full
    /// and masked last vectors, several tiles each way), every orientation,
    /// both forms, one and two threads, with and without accumulation and
    /// scaling: equal to the f64 product within f32 rounding over k terms.
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
        let modes = [(false, 1.0), (false, 2.0), (true, 1.0), (true, -0.5)];
        for (m, n, k) in shapes {
            for (op_a, op_b) in ops {
                for (accumulate, alpha) in modes {
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
                        let ran = in_pool(threads, || {
                            own_kernel(
                                &mut dst, accumulate, alpha, &a, op_a, &b, op_b, None, threads,
                            )
                        });
                        if !ran {
                            return; // no AVX-512 here: nothing to test
                        }
                        let want = reference(&dst0, accumulate, alpha, &a, op_a, &b, op_b, None);
                        let what = format!(
                            "{m}x{n}x{k} {op_a:?}{op_b:?} acc {accumulate} alpha {alpha} threads {threads}"
                        );
                        assert_close(&dst, &want, &what);
                    }
                }
            }
        }
    }

    /// The bias (the forward `x W^T + b`): on every tile row, edge tiles
    /// and the large-operand shape included, on one and two threads.
    #[test]
    fn own_kernel_adds_the_bias_per_output_column() {
        for (m, n, k) in [(9, 7, 20), (64, 13, 30), (3, 70, 5), (130, 600, 500)] {
            let x = seq32(m, k, 1.0);
            let w = seq32(n, k, 2.0);
            let bias: Vec<f32> = (0..n).map(|j| j as f32 - 3.5).collect();
            for threads in [1, 2] {
                let mut dst = Matrix::filled(m, n, f32::NAN);
                let ran = in_pool(threads, || {
                    own_kernel(
                        &mut dst,
                        false,
                        1.0,
                        &x,
                        Op::N,
                        &w,
                        Op::T,
                        Some(&bias),
                        threads,
                    )
                });
                if !ran {
                    return;
                }
                let zeros = Matrix::zeros(m, n);
                let want = reference(&zeros, false, 1.0, &x, Op::N, &w, Op::T, Some(&bias));
                assert_close(&dst, &want, &format!("{m}x{n}x{k} threads {threads}"));
            }
        }
    }

    /// The kernel's result does not depend on the thread count, bit for bit
    /// (one FMA chain per entry, whatever the tiling of the work), including
    /// the two-thread transposed copy (70 x 300 is large enough to split).
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
            let run = |dst: &mut Matrix<f32>, threads| {
                in_pool(threads, || {
                    own_kernel(dst, false, 1.0, &a, Op::N, &b, op_b, None, threads)
                })
            };
            if !run(&mut one, 1) {
                return;
            }
            run(&mut two, 2);
            assert_eq!(one.as_slice(), two.as_slice(), "{op_b:?}");
        }
    }
}
