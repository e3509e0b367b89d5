//! [`TensorStats`] of each column of a row-major matrix, in one pass over
//! its rows: a conv layer's figures per channel, whose output is pixel
//! rows (`batch * height * width` rows, one column per channel).
//!
//! The common case (every entry finite) runs as per-column f64 sums the
//! compiler vectorizes across columns; a matrix with a NaN or an infinity
//! is measured again one entry at a time by the exact reference,
//! [`tensor_stats`] of each column, which counts them and leaves them out
//! of the sums.

use super::{tensor_stats, Matrix, Scalar, TensorStats};

/// The statistics of each of `m`'s columns, first column first.
pub fn column_stats<T: Scalar>(m: &Matrix<T>) -> Vec<TensorStats> {
    let (rows, cols) = m.shape();
    let (mut sum, mut sum_sq, mut max_abs) = (vec![0.0; cols], vec![0.0; cols], vec![0.0; cols]);
    let (mut zeros, mut tiny) = (vec![0u64; cols], vec![0u64; cols]);
    let min_normal = T::min_positive_value().as_f64();
    for row in m.as_slice().chunks_exact(cols.max(1)) {
        for c in 0..cols {
            let v = row[c].as_f64();
            let a = v.abs();
            sum[c] += v;
            sum_sq[c] += v * v;
            max_abs[c] = if a > max_abs[c] { a } else { max_abs[c] };
            zeros[c] += u64::from(v == 0.0);
            tiny[c] += u64::from(a < min_normal);
        }
    }
    if !sum_sq.iter().all(|s| s.is_finite()) {
        return reference(m);
    }
    (0..cols)
        .map(|c| TensorStats {
            n: rows as u64,
            sum: sum[c],
            sum_sq: sum_sq[c],
            max_abs: max_abs[c],
            zeros: zeros[c],
            subnormal: tiny[c] - zeros[c],
            ..TensorStats::default()
        })
        .collect()
}

/// Column by column through [`tensor_stats`]: NaN and Inf counted apart.
fn reference<T: Scalar>(m: &Matrix<T>) -> Vec<TensorStats> {
    let (rows, cols) = m.shape();
    let data = m.as_slice();
    (0..cols)
        .map(|c| {
            let column: Vec<T> = (0..rows).map(|r| data[r * cols + c]).collect();
            tensor_stats(&column)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: usize, cols: usize, f: impl Fn(usize, usize) -> f32) -> Matrix<f32> {
        let v = (0..rows * cols).map(|i| f(i / cols, i % cols)).collect();
        Matrix::from_vec(rows, cols, v).unwrap()
    }

    /// Each column's figures are those of the column on its own, zeros
    /// and subnormals counted, norms within f64 rounding.
    #[test]
    fn each_column_is_measured_on_its_own() {
        let m = matrix(37, 5, |r, c| match c {
            0 => 0.0,
            1 => 1e-40,
            _ => ((r * 7 + c) as f32).sin() * c as f32,
        });
        let got = column_stats(&m);
        for (c, (g, want)) in got.iter().zip(reference(&m)).enumerate() {
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
            assert!(
                close(g.sum, want.sum) && close(g.sum_sq, want.sum_sq),
                "column {c}"
            );
            let counts = |s: &TensorStats| (s.n, s.max_abs, s.zeros, s.subnormal, s.nan);
            assert_eq!(counts(g), counts(&want), "column {c}");
        }
        assert_eq!(
            (got[0].zeros, got[0].n),
            (37, 37),
            "an all-zero (dead) column"
        );
        assert_eq!(got[1].subnormal, 37);
    }

    /// A NaN counts in its own column only; the other columns keep their
    /// sums.
    #[test]
    fn a_nan_is_counted_in_its_column() {
        let m = matrix(4, 3, |r, c| if (r, c) == (2, 1) { f32::NAN } else { 1.0 });
        let got = column_stats(&m);
        assert_eq!(got[1].nan, 1);
        assert_eq!(got[1].sum, 3.0);
        assert_eq!((got[0].nan, got[0].sum, got[2].sum), (0, 4.0, 4.0));
    }
}
