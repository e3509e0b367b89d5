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
//! all (a first layer with batch x input above L2's 1 MiB, 2^18 f32 or
//! 2^17 f64 entries, and fewer outputs than inputs would run it
//! transposed). Measured in docs/PERFORMANCE.md ("Our
//! GEMM").

use super::operand::{oriented, strides, Backend, Op};
#[cfg(target_arch = "x86_64")]
use super::PARALLEL_MIN;
use super::{Matrix, Scalar};

/// Bytes of one core's L2 (1 MiB on the Zen 4 machines we build on):
/// above this, the larger operand is broadcast (module doc).
#[cfg(target_arch = "x86_64")]
const L2_BYTES: usize = 1 << 20;

/// Runs the product on our own kernel when it applies (f32 or f64, at
/// the current SIMD level's build or the one `backend` forces); returns
/// whether it did. A `bias` (one entry per column of `dst`) needs
/// `op_b = T`, which takes the transposed form.
#[allow(clippy::too_many_arguments)]
pub(super) fn own_kernel<T: Scalar>(
    backend: Backend,
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
        let Some(kernel) = super::sgemm::Kernel::of(backend) else {
            return false;
        };
        let product = Product {
            kernel,
            accumulate,
            op_a,
            op_b,
            threads,
        };
        // T is f32 or f64: run the build for whichever it is.
        if let Some((dst, a, b, bias)) = as_elem::<T, f32>(dst, a, b, bias) {
            product.run(dst, alpha.as_f64() as f32, a, b, bias);
            return true;
        }
        if let Some((dst, a, b, bias)) = as_elem::<T, f64>(dst, a, b, bias) {
            product.run(dst, alpha.as_f64(), a, b, bias);
            return true;
        }
        false
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (
            backend, dst, accumulate, alpha, a, op_a, b, op_b, bias, threads,
        );
        false
    }
}

/// The operands as `E`s, when `T` is `E`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::type_complexity)]
fn as_elem<'a, T: Scalar, E: Scalar>(
    dst: &'a mut Matrix<T>,
    a: &'a Matrix<T>,
    b: &'a Matrix<T>,
    bias: Option<&'a [T]>,
) -> Option<(
    &'a mut Matrix<E>,
    &'a Matrix<E>,
    &'a Matrix<E>,
    Option<&'a [E]>,
)> {
    use std::any::Any;
    let dst = (dst as &mut dyn Any).downcast_mut::<Matrix<E>>()?;
    let a = (a as &dyn Any).downcast_ref::<Matrix<E>>()?;
    let b = (b as &dyn Any).downcast_ref::<Matrix<E>>()?;
    // SAFETY: T is E (the matrices downcast), so `[T]` is `[E]`.
    let bias = bias.map(|x| unsafe { std::slice::from_raw_parts(x.as_ptr() as *const E, x.len()) });
    Some((dst, a, b, bias))
}

/// One product's settings on our kernel.
#[cfg(target_arch = "x86_64")]
struct Product {
    kernel: super::sgemm::Kernel,
    accumulate: bool,
    op_a: Op,
    op_b: Op,
    threads: usize,
}

#[cfg(target_arch = "x86_64")]
impl Product {
    /// `dst (+)= alpha op_a(a) op_b(b) (+ bias)` in the form the module doc
    /// picks.
    fn run<E: Operand>(
        &self,
        dst: &mut Matrix<E>,
        alpha: E,
        a: &Matrix<E>,
        b: &Matrix<E>,
        bias: Option<&[E]>,
    ) {
        use super::sgemm::{self, Out, Problem};
        let (op_a, op_b) = (self.op_a, self.op_b);
        let (m, k) = oriented(a, op_a);
        let n = dst.cols();
        // The form (module doc).
        let l2 = L2_BYTES / size_of::<E>();
        let transposed = op_b == Op::T || (k * n > m * k && k * n > l2);
        assert!(
            bias.is_none() || transposed,
            "a bias needs the transposed form"
        );
        let bias = bias.map_or(std::ptr::null(), |b| b.as_ptr());
        let ((bc, bc_op), (rows, rows_op), (pm, pn)) = if transposed {
            ((b, op_b.flip()), (a, op_a.flip()), (n, m))
        } else {
            ((a, op_a), (b, op_b), (m, n))
        };
        let (a_rs, a_cs) = strides(bc, bc_op);
        let out_ptr = dst.as_mut_slice().as_mut_ptr();
        let run = |rows: &[E]| {
            let problem = Problem {
                m: pm,
                n: pn,
                k,
                a: bc.as_slice().as_ptr(),
                a_rs: a_rs as usize,
                a_cs: a_cs as usize,
                a_rows: std::ptr::null(),
                a_cols: std::ptr::null(),
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
                alpha,
                bias,
                accumulate: self.accumulate,
            };
            // SAFETY: the kernel runs here (`Kernel::of`); the callers
            // (`matmul`, `affine`) checked the shapes and return before
            // this on `k == 0`, and `rows` is k x pn; dst is borrowed
            // mutably, so it aliases neither operand nor the bias.
            unsafe { sgemm::run(&problem, self.kernel, self.threads) };
        };
        match rows_op {
            Op::N => run(rows.as_slice()),
            Op::T => {
                // Taken out of the cell, not borrowed: while this thread
                // waits in a `rayon::join` it may run another product that
                // needs scratch too (it then allocates its own).
                let mut scratch = E::scratch().take();
                transpose_into(rows, &mut scratch, self.kernel, self.threads);
                run(&scratch);
                E::scratch().set(scratch);
            }
        }
    }
}

/// An element our kernel multiplies: its per-thread scratch and its
/// transposed copy of a block of columns.
#[cfg(target_arch = "x86_64")]
trait Operand: super::isa::Elem {
    /// This thread's scratch for a transposed operand.
    fn scratch() -> &'static std::thread::LocalKey<std::cell::Cell<Vec<Self>>>;

    /// Rows `columns` of `src^T` (`src` is `rows x cols`) into `part`.
    fn transpose_part(
        src: &[Self],
        (rows, cols): (usize, usize),
        columns: std::ops::Range<usize>,
        part: &mut [Self],
        kernel: super::sgemm::Kernel,
    ) {
        let _ = kernel;
        transpose_blocks(src, (rows, cols), columns, part)
    }
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// A transposed operand for our kernel, reused across products. This
    /// is per-thread storage, not a setting: it holds no choice, only a
    /// buffer each thread reuses so products do not allocate.
    static SCRATCH_F32: std::cell::Cell<Vec<f32>> = const { std::cell::Cell::new(Vec::new()) };
    /// The same for f64 products.
    static SCRATCH_F64: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
}

#[cfg(target_arch = "x86_64")]
impl Operand for f32 {
    fn scratch() -> &'static std::thread::LocalKey<std::cell::Cell<Vec<f32>>> {
        &SCRATCH_F32
    }

    fn transpose_part(
        src: &[f32],
        (rows, cols): (usize, usize),
        columns: std::ops::Range<usize>,
        part: &mut [f32],
        kernel: super::sgemm::Kernel,
    ) {
        if kernel == super::sgemm::Kernel::Avx512 {
            // SAFETY: the AVX-512 build runs here (`Kernel::of`); `part`
            // holds `columns.len()` rows of `rows` entries.
            unsafe { super::sgemm::transpose(src, rows, cols, columns, part) }
        } else {
            transpose_blocks(src, (rows, cols), columns, part)
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl Operand for f64 {
    fn scratch() -> &'static std::thread::LocalKey<std::cell::Cell<Vec<f64>>> {
        &SCRATCH_F64
    }
}

/// [`Operand::transpose_part`] without AVX-512: blocks of 8 columns,
/// each row's 8 entries read together.
#[cfg(target_arch = "x86_64")]
fn transpose_blocks<E: Copy>(
    src: &[E],
    (rows, cols): (usize, usize),
    columns: std::ops::Range<usize>,
    part: &mut [E],
) {
    for c0 in columns.clone().step_by(8) {
        let c1 = (c0 + 8).min(columns.end);
        for (r, row) in src.chunks_exact(cols).enumerate() {
            for (c, &v) in row[c0..c1].iter().enumerate() {
                part[(c0 - columns.start + c) * rows + r] = v;
            }
        }
    }
}

/// `out = a^T`, row-major (`a.cols() x a.rows()`): `a`'s columns cut in
/// halves (on multiples of 16, the kernel's transpose block) across up to
/// `threads` threads when there is enough work.
#[cfg(target_arch = "x86_64")]
fn transpose_into<E: Operand>(
    a: &Matrix<E>,
    out: &mut Vec<E>,
    kernel: super::sgemm::Kernel,
    threads: usize,
) {
    use super::split::{in_halves, Rows, Split};
    let (rows, cols) = a.shape();
    out.resize(rows * cols, E::zero());
    let src = a.as_slice();
    // Cut on columns: `rows * cols >= MIN` is `cols >= ceil(MIN / rows)`.
    let min_cols = match rows {
        0 => usize::MAX,
        _ => PARALLEL_MIN.div_ceil(rows),
    };
    let split = Split::new(cols, 16, threads).min(min_cols);
    // Column `c` of `a` is row `c` of `out`, `rows` entries long.
    let parts = (0..cols, Rows::new(&mut out[..], rows));
    in_halves(
        parts,
        split,
        &|(columns, part): (std::ops::Range<usize>, Rows<'_, E>), _| {
            E::transpose_part(src, (rows, cols), columns, part.into_slice(), kernel)
        },
        &|(), ()| (),
    );
}

#[cfg(test)]
mod tests {
    //! Our kernel against the f64 reference, its AVX-512 build and its
    //! AVX2 build (forced with `Backend::GradscopeAvx2`, so an AVX-512
    //! machine tests both). A build the machine lacks is skipped visibly
    //! (`super::super::testing`); their portable twins (the `gemm` crate
    //! on the same cases) are in `super::super::gemm`.

    use super::*;
    use crate::tensor::sgemm::Kernel;
    use crate::tensor::testing::{
        assert_close, bits, in_pool, operands, reference, seq32, skip, MODES, NO_AVX2,
        ORIENTATIONS, TILE_SHAPES,
    };

    /// Every tile shape of the kernel, every orientation, both forms, one
    /// and two threads, with and without accumulation and scaling: equal
    /// to the f64 product within f32 rounding over k terms.
    /// Our kernel's two builds.
    const OURS: [Backend; 2] = [Backend::Gradscope, Backend::GradscopeAvx2];

    /// The builds of [`OURS`] this machine runs; each other one is
    /// reported skipped.
    fn builds_here() -> Vec<Backend> {
        OURS.into_iter()
            .filter(|&b| {
                let runs = Kernel::of(b).is_some();
                if !runs {
                    // Without AVX2 neither build runs (Gradscope is
                    // AVX-512's build, or AVX2's on AVX2-only machines).
                    skip(NO_AVX2);
                }
                runs
            })
            .collect()
    }

    #[test]
    fn own_kernel_matches_f64_on_every_tile_shape_and_orientation() {
        for backend in OURS {
            for (m, n, k) in TILE_SHAPES {
                for (op_a, op_b) in ORIENTATIONS {
                    let (a, b, dst0) = operands(m, n, k, op_a, op_b);
                    for (accumulate, alpha) in MODES {
                        let want = reference(&dst0, accumulate, alpha, &a, op_a, &b, op_b, None);
                        for threads in [1, 2] {
                            let mut dst = dst0.clone();
                            let what = format!(
                            "{backend:?} {m}x{n}x{k} {op_a:?}{op_b:?} acc {accumulate} alpha {alpha} threads {threads}"
                        );
                            let ran = in_pool(threads, || {
                                own_kernel(
                                    backend, &mut dst, accumulate, alpha, &a, op_a, &b, op_b, None,
                                    threads,
                                )
                            });
                            assert!(ran, "{what}: the kernel did not run");
                            assert_close(&dst, &want, &what);
                        }
                    }
                }
            }
        }
    }

    /// The f64 builds on integer-valued operands, where every product and
    /// partial sum is exact: any misplaced, missed or repeated term
    /// changes an entry, so the results must equal a plain loop's bit for
    /// bit; every tile shape, orientation and mode, one and two threads,
    /// and a bias.
    #[test]
    fn own_kernel_in_f64_is_exact_on_integer_operands() {
        let int = |rows: usize, cols: usize, seed: usize| {
            let data = (0..rows * cols)
                .map(|i| ((i * 7 + seed * 13) % 9) as f64 - 4.0)
                .collect();
            Matrix::from_vec(rows, cols, data).unwrap()
        };
        for backend in builds_here() {
            for (m, n, k) in TILE_SHAPES {
                for (op_a, op_b) in ORIENTATIONS {
                    let a = match op_a {
                        Op::N => int(m, k, 1),
                        Op::T => int(k, m, 1),
                    };
                    let b = match op_b {
                        Op::N => int(k, n, 2),
                        Op::T => int(n, k, 2),
                    };
                    let (ao, bo) = (orient64(&a, op_a), orient64(&b, op_b));
                    let dst0 = int(m, n, 3);
                    for (accumulate, alpha) in MODES {
                        let alpha = alpha as f64;
                        let mut want = if accumulate {
                            dst0.clone()
                        } else {
                            Matrix::zeros(m, n)
                        };
                        for i in 0..m {
                            for j in 0..n {
                                let s: f64 = (0..k).map(|p| ao.get(i, p) * bo.get(p, j)).sum();
                                want.set(i, j, want.get(i, j) + alpha * s);
                            }
                        }
                        for threads in [1, 2] {
                            let mut dst = dst0.clone();
                            let ran = in_pool(threads, || {
                                own_kernel(
                                    backend, &mut dst, accumulate, alpha, &a, op_a, &b, op_b, None,
                                    threads,
                                )
                            });
                            let what = format!(
                                "{backend:?} f64 {m}x{n}x{k} {op_a:?}{op_b:?} acc {accumulate} \
                                 alpha {alpha} threads {threads}"
                            );
                            assert!(ran, "{what}: the kernel did not run");
                            assert_eq!(bits(&dst), bits(&want), "{what}");
                        }
                    }
                }
            }
            // The bias, in the transposed form.
            let (x, w) = (int(70, 30, 4), int(13, 30, 5));
            let bias: Vec<f64> = (0..13).map(|j| j as f64 - 6.0).collect();
            let mut dst = Matrix::zeros(70, 13);
            let ran = own_kernel(
                backend,
                &mut dst,
                false,
                1.0,
                &x,
                Op::N,
                &w,
                Op::T,
                Some(&bias),
                1,
            );
            assert!(ran, "{backend:?} f64 bias: the kernel did not run");
            for i in 0..70 {
                for (j, b) in bias.iter().enumerate() {
                    let s: f64 = (0..30).map(|p| x.get(i, p) * w.get(j, p)).sum();
                    assert_eq!(dst.get(i, j), s + b, "{backend:?} f64 bias ({i}, {j})");
                }
            }
        }
    }

    fn orient64(x: &Matrix<f64>, op: Op) -> Matrix<f64> {
        match op {
            Op::N => x.clone(),
            Op::T => x.transpose(),
        }
    }

    /// The bias (the forward `x W^T + b`): on every tile row, edge tiles
    /// and the large-operand shape included, on one and two threads.
    #[test]
    fn own_kernel_adds_the_bias_per_output_column() {
        for (backend, (m, n, k)) in OURS
            .into_iter()
            .flat_map(|b| [(9, 7, 20), (64, 13, 30), (3, 70, 5), (130, 600, 500)].map(|s| (b, s)))
        {
            let x = seq32(m, k, 1.0);
            let w = seq32(n, k, 2.0);
            let bias: Vec<f32> = (0..n).map(|j| j as f32 - 3.5).collect();
            let zeros = Matrix::zeros(m, n);
            let want = reference(&zeros, false, 1.0, &x, Op::N, &w, Op::T, Some(&bias));
            for threads in [1, 2] {
                let mut dst = Matrix::filled(m, n, f32::NAN);
                let ran = in_pool(threads, || {
                    own_kernel(
                        backend,
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
                let what = format!("{backend:?} {m}x{n}x{k} threads {threads}");
                assert!(ran, "{what}: the kernel did not run");
                assert_close(&dst, &want, &what);
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
        // The copy splits: 70 x 300 entries >= PARALLEL_MIN.
        for (backend, op_b) in builds_here()
            .into_iter()
            .flat_map(|b| [(b, Op::N), (b, Op::T)])
        {
            let b = match op_b {
                Op::N => b.transpose(),
                Op::T => b.clone(),
            };
            let run = |threads| {
                let mut dst = Matrix::zeros(70, 150);
                let ran = in_pool(threads, || {
                    own_kernel(
                        backend,
                        &mut dst,
                        false,
                        1.0,
                        &a,
                        Op::N,
                        &b,
                        op_b,
                        None,
                        threads,
                    )
                });
                assert!(
                    ran,
                    "{backend:?} {op_b:?} on {threads} threads: did not run"
                );
                dst
            };
            assert_eq!(bits(&run(1)), bits(&run(2)), "{backend:?} {op_b:?}");
        }
    }

    /// The transposed copy cut in halves by columns equals the whole one,
    /// on 1 to 4 threads, at sizes on both sides of the threshold.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_split_transpose_equals_the_whole_one() {
        for (rows, cols) in [(70, 300), (3, 40), (128, 129), (1, 20_000)] {
            let a = seq32(rows, cols, 6.0);
            let want = a.transpose();
            for kernel in [Kernel::Avx512, Kernel::Avx2]
                .into_iter()
                .filter(|k| k.runs_here())
            {
                for threads in 1..=4 {
                    let mut out = Vec::new();
                    in_pool(threads, || transpose_into(&a, &mut out, kernel, threads));
                    assert_eq!(
                        out,
                        want.as_slice(),
                        "{kernel:?} {rows}x{cols} on {threads}"
                    );
                }
            }
        }
    }
}
