//! Test support for the tensor module: operands, the f64 reference of an
//! f32 product with its rounding bound, a pool of a given size, and the
//! convention for tests that cannot run on this machine.
//!
//! # Tests that cannot run here
//! A test whose subject needs a CPU feature this machine lacks (our
//! AVX-512 kernel, [`super::sgemm`]) must not pass silently. It starts
//! with `if !our_kernel_runs() { return skip(NO_AVX512); }`: [`skip`]
//! writes `skipped: <test>: <reason>` to the process's stderr directly,
//! past the harness's output capture, so the line appears in every
//! `cargo test` output, and `cargo test 2>&1 | grep -c '^skipped:'` counts
//! them (libtest has no run-time "skipped" status: its summary counts such
//! a test as passed). Once past the check, the test asserts that the
//! kernel ran. Each such test has a portable twin that runs everywhere
//! and asserts against the same reference (the `gemm` crate path, in
//! `super::gemm`'s tests).

use super::operand::Op;
use super::Matrix;
use std::io::Write;

/// Why the kernel tests skip on a machine without AVX-512.
pub(crate) const NO_AVX512: &str = "no AVX-512 F on this machine, so our kernel does not run";

/// Why a test of our kernel's AVX2 build is skipped.
pub(crate) const NO_AVX2: &str =
    "no AVX2 and FMA on this machine, so our kernel's AVX2 build does not run";

/// `m x n x k` shapes covering every tile shape of our kernel (1 to 6
/// rows, 1 to 4 vectors, full and masked last vectors, several tiles each
/// way), and one whose `op(b)` is larger than L2 (broadcast even when
/// stored as is).
pub(crate) const TILE_SHAPES: [(usize, usize, usize); 11] = [
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
    (5, 600, 500),
];

/// Every orientation of the two operands.
pub(crate) const ORIENTATIONS: [(Op, Op); 4] = [
    (Op::N, Op::N),
    (Op::T, Op::N),
    (Op::N, Op::T),
    (Op::T, Op::T),
];

/// `(accumulate, alpha)`: overwrite and accumulate, scaled and not.
pub(crate) const MODES: [(bool, f32); 4] = [(false, 1.0), (false, 2.0), (true, 1.0), (true, -0.5)];

/// Whether our AVX-512 kernel runs on this machine.
pub(crate) fn our_kernel_runs() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        super::sgemm::Kernel::Avx512.runs_here()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Says that the calling test is skipped, and why (module doc). Call it as
/// `return skip(reason);`.
pub(crate) fn skip(reason: &str) {
    let thread = std::thread::current();
    let line = skip_line(thread.name().unwrap_or("<unnamed test>"), reason);
    // Straight to the process's stderr: `eprintln!` would be captured by
    // the harness and shown only for a failing test.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The line [`skip`] writes. (libtest names each test's thread after the
/// test.)
fn skip_line(test: &str, reason: &str) -> String {
    format!("skipped: {test}: {reason}\n")
}

/// A `rows x cols` f32 matrix of a smooth, sign-changing sequence.
pub(crate) fn seq32(rows: usize, cols: usize, seed: f64) -> Matrix<f32> {
    let data = (0..rows * cols)
        .map(|i| ((i as f64 + seed) * 0.37).sin() as f32)
        .collect();
    Matrix::from_vec(rows, cols, data).unwrap()
}

/// `(a, b, dst0)` for an `m x n x k` product with `a` and `b` stored so
/// that `op_a(a)` is `m x k` and `op_b(b)` is `k x n`.
pub(crate) fn operands(
    m: usize,
    n: usize,
    k: usize,
    op_a: Op,
    op_b: Op,
) -> (Matrix<f32>, Matrix<f32>, Matrix<f32>) {
    let a = match op_a {
        Op::N => seq32(m, k, 1.0),
        Op::T => seq32(k, m, 1.0),
    };
    let b = match op_b {
        Op::N => seq32(k, n, 2.0),
        Op::T => seq32(n, k, 2.0),
    };
    (a, b, seq32(m, n, 3.0))
}

fn orient(x: &Matrix<f32>, op: Op) -> Matrix<f64> {
    match op {
        Op::N => x.cast(),
        Op::T => x.transpose().cast(),
    }
}

/// `dst0 (when accumulate) + alpha op(a) op(b) (+ bias on every row)` in
/// f64, from f32 inputs, and for each entry the bound on f32's rounding
/// error: `k u sum |a b|` for `k` products summed in any order (`u` =
/// 2^-24), plus a few roundings of the result.
#[allow(clippy::too_many_arguments)]
pub(crate) fn reference(
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

/// Asserts that every entry of `got` is within its bound of the reference.
pub(crate) fn assert_close(
    got: &Matrix<f32>,
    (want, bound): &(Matrix<f64>, Matrix<f64>),
    what: &str,
) {
    assert_eq!(got.shape(), want.shape(), "{what}");
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

/// The bits of every entry, to compare results exactly (`==` on floats
/// takes `-0.0` for `0.0`).
pub(crate) fn bits<T: super::Scalar>(m: &Matrix<T>) -> Vec<u64> {
    m.as_slice().iter().map(|v| v.as_f64().to_bits()).collect()
}

/// Runs `f` inside a rayon pool of `threads` threads.
pub(crate) fn in_pool<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_line_names_the_test_and_the_reason() {
        assert_eq!(
            skip_line("tensor::sgemm::tests::t", NO_AVX512),
            "skipped: tensor::sgemm::tests::t: no AVX-512 F on this machine, so our kernel does not run\n"
        );
        // libtest runs each test on a thread named after it, which is what
        // `skip` reports.
        assert_eq!(
            std::thread::current().name(),
            Some("tensor::testing::tests::a_skip_line_names_the_test_and_the_reason")
        );
    }
}
