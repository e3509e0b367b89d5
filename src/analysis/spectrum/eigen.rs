//! Eigenvalues of a symmetric matrix, in f64: Householder reduction to
//! tridiagonal form, then bisection on Sturm sequences (Golub & Van Loan,
//! "Matrix Computations", 4th ed., §8.3.1 and §8.4.1). `O(n^3)` for the
//! reduction, `O(n^2)` per 64 bisection steps; no eigenvectors.
//!
//! ```
//! use gradscope::analysis::spectrum::symmetric_eigenvalues;
//! // [[2, 1], [1, 2]] has eigenvalues 1 and 3.
//! let e = symmetric_eigenvalues(&[2.0, 1.0, 1.0, 2.0], 2);
//! assert!((e[0] - 1.0).abs() < 1e-12 && (e[1] - 3.0).abs() < 1e-12);
//! ```

/// Bisection steps per eigenvalue at most (each halves the interval).
const BISECTION_STEPS: usize = 200;

/// The eigenvalues of the symmetric `n x n` matrix `a` (row-major),
/// ascending.
///
/// # Panics
/// If `a.len() != n * n`.
pub fn symmetric_eigenvalues(a: &[f64], n: usize) -> Vec<f64> {
    assert_eq!(a.len(), n * n, "a symmetric matrix of {n} x {n}");
    let (d, e) = tridiagonalize(a.to_vec(), n);
    tridiagonal_eigenvalues(&d, &e)
}

/// Householder reduction `Q^T A Q = T`: `T`'s diagonal and off-diagonal.
fn tridiagonalize(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut off = vec![0.0; n.saturating_sub(1)];
    let mut v = vec![0.0; n];
    let mut p = vec![0.0; n];
    for k in 0..n.saturating_sub(2) {
        // x = A[k+1.., k]; reflect it onto alpha e_1.
        let norm = (k + 1..n).map(|i| a[i * n + k].powi(2)).sum::<f64>().sqrt();
        let x0 = a[(k + 1) * n + k];
        let alpha = if x0 > 0.0 { -norm } else { norm };
        off[k] = alpha;
        for i in k + 1..n {
            v[i] = a[i * n + k];
        }
        v[k + 1] -= alpha;
        let vnorm = (k + 1..n).map(|i| v[i] * v[i]).sum::<f64>().sqrt();
        if vnorm == 0.0 {
            off[k] = x0;
            continue;
        }
        for x in &mut v[k + 1..n] {
            *x /= vnorm;
        }
        // A' = H A H with H = I - 2 v v^T: p = A v, K = v^T p,
        // w = p - K v, A' = A - 2 v w^T - 2 w v^T.
        for i in k + 1..n {
            p[i] = (k + 1..n).map(|j| a[i * n + j] * v[j]).sum();
        }
        let kk: f64 = (k + 1..n).map(|i| v[i] * p[i]).sum();
        for i in k + 1..n {
            p[i] -= kk * v[i];
        }
        for i in k + 1..n {
            for j in k + 1..n {
                a[i * n + j] -= 2.0 * (v[i] * p[j] + p[i] * v[j]);
            }
        }
    }
    if n >= 2 {
        off[n - 2] = a[(n - 1) * n + n - 2];
    }
    let diag = (0..n).map(|i| a[i * n + i]).collect();
    (diag, off)
}

/// How many eigenvalues of the tridiagonal `(d, e)` lie below `x`: the
/// negative pivots of `T - x I`'s LDL^T factorization (Sturm).
fn count_below(d: &[f64], e: &[f64], x: f64) -> usize {
    let mut count = 0;
    let mut q = 1.0;
    for i in 0..d.len() {
        let coupling = if i == 0 { 0.0 } else { e[i - 1] * e[i - 1] };
        q = d[i]
            - x
            - if q == 0.0 {
                coupling / f64::MIN_POSITIVE.sqrt()
            } else {
                coupling / q
            };
        if q < 0.0 {
            count += 1;
        }
    }
    count
}

/// The eigenvalues of a symmetric tridiagonal matrix, ascending, by
/// bisection inside Gershgorin's interval.
fn tridiagonal_eigenvalues(d: &[f64], e: &[f64]) -> Vec<f64> {
    let n = d.len();
    let radius = |i: usize| {
        (if i > 0 { e[i - 1].abs() } else { 0.0 }) + (if i + 1 < n { e[i].abs() } else { 0.0 })
    };
    let lo = (0..n)
        .map(|i| d[i] - radius(i))
        .fold(f64::INFINITY, f64::min);
    let hi = (0..n)
        .map(|i| d[i] + radius(i))
        .fold(f64::NEG_INFINITY, f64::max);
    let scale = lo.abs().max(hi.abs()).max(f64::MIN_POSITIVE);
    (0..n)
        .map(|k| {
            let (mut a, mut b) = (lo, hi);
            for _ in 0..BISECTION_STEPS {
                let mid = 0.5 * (a + b);
                if b - a <= 4.0 * f64::EPSILON * scale {
                    break;
                }
                if count_below(d, e, mid) > k {
                    b = mid;
                } else {
                    a = mid;
                }
            }
            0.5 * (a + b)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn the_second_difference_matrix_has_its_cosine_spectrum() {
        // tridiag(-1, 2, -1) of size n: 2 - 2 cos(k pi / (n + 1)).
        let n = 30;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            a[i * n + i] = 2.0;
            if i + 1 < n {
                a[i * n + i + 1] = -1.0;
                a[(i + 1) * n + i] = -1.0;
            }
        }
        let got = symmetric_eigenvalues(&a, n);
        for (k, g) in got.iter().enumerate() {
            let want = 2.0 - 2.0 * (((k + 1) as f64) * PI / (n as f64 + 1.0)).cos();
            assert!((g - want).abs() < 1e-12, "k={k}: {g} vs {want}");
        }
    }

    #[test]
    fn a_dense_matrix_keeps_its_trace_and_frobenius_norm() {
        // B B^T for a fixed pseudo-random B: eigenvalues >= 0, their sum the
        // trace, their squares' sum the squared Frobenius norm.
        let n = 25;
        let b: Vec<f64> = (0..n * n)
            .map(|i| ((i * 7919 % 101) as f64 / 50.0) - 1.0)
            .collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| b[i * n + k] * b[j * n + k]).sum();
            }
        }
        let e = symmetric_eigenvalues(&a, n);
        let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
        let frob: f64 = a.iter().map(|x| x * x).sum();
        assert!((e.iter().sum::<f64>() - trace).abs() < 1e-9 * trace);
        assert!((e.iter().map(|x| x * x).sum::<f64>() - frob).abs() < 1e-9 * frob);
        assert!(e[0] > -1e-9 && e.windows(2).all(|w| w[0] <= w[1]));
    }
}
