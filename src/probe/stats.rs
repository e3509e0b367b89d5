//! Summary statistics of a tensor, in one pass, accumulated in f64.
//!
//! [`TensorStats`] is what every probed tensor gets: count, sum, sum of
//! squares (so L2 norm, RMS, mean and standard deviation), max |v|, and the
//! counts of NaN, infinite and exactly-zero entries. Non-finite entries are
//! counted and left out of the sums, so one NaN does not hide the rest.
//! Squares are taken in f64: an f32 gradient of 1e-30 has a square of
//! 1e-60, which f32 would flush to zero.

use crate::tensor::Scalar;
use serde::{Deserialize, Serialize};

/// One tensor's statistics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TensorStats {
    /// Entries.
    pub n: u64,
    /// Sum of the finite entries.
    pub sum: f64,
    /// Sum of squares of the finite entries.
    pub sum_sq: f64,
    /// Largest |v| over the finite entries.
    pub max_abs: f64,
    /// NaN entries.
    pub nan: u64,
    /// Infinite entries.
    pub inf: u64,
    /// Entries exactly 0 (in f32, where a vanished gradient underflows).
    pub zeros: u64,
}

impl TensorStats {
    /// L2 norm of the finite entries.
    pub fn l2(&self) -> f64 {
        self.sum_sq.sqrt()
    }

    /// Root mean square of the finite entries.
    pub fn rms(&self) -> f64 {
        let n = self.finite();
        if n == 0 {
            return f64::NAN;
        }
        (self.sum_sq / n as f64).sqrt()
    }

    /// Mean of the finite entries.
    pub fn mean(&self) -> f64 {
        let n = self.finite();
        if n == 0 {
            return f64::NAN;
        }
        self.sum / n as f64
    }

    /// Standard deviation (population) of the finite entries.
    pub fn std(&self) -> f64 {
        let n = self.finite();
        if n == 0 {
            return f64::NAN;
        }
        let m = self.sum / n as f64;
        (self.sum_sq / n as f64 - m * m).max(0.0).sqrt()
    }

    /// Fraction of entries exactly zero.
    pub fn zero_frac(&self) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        self.zeros as f64 / self.n as f64
    }

    /// Entries that are neither NaN nor infinite.
    pub fn finite(&self) -> u64 {
        self.n - self.nan - self.inf
    }

    /// NaN plus infinite entries.
    pub fn non_finite(&self) -> u64 {
        self.nan + self.inf
    }
}

const LANES: usize = 8;

/// Statistics of `values` in one pass.
pub fn tensor_stats<T: Scalar>(values: &[T]) -> TensorStats {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is available (just detected).
        return unsafe { tensor_stats_avx2(values) };
    }
    tensor_stats_portable(values)
}

/// [`tensor_stats`] compiled for AVX2 (the same code, wider vectors).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn tensor_stats_avx2<T: Scalar>(values: &[T]) -> TensorStats {
    tensor_stats_portable(values)
}

#[inline(always)]
fn tensor_stats_portable<T: Scalar>(values: &[T]) -> TensorStats {
    // LANES independent accumulators so the loop vectorizes; non-finite
    // entries are masked to 0 (a select, not a branch).
    let mut sum = [0.0f64; LANES];
    let mut sq = [0.0f64; LANES];
    let mut max = [0.0f64; LANES];
    let mut nan = [0u64; LANES];
    let mut inf = [0u64; LANES];
    let mut zeros = [0u64; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for l in 0..LANES {
            let v = chunk[l].as_f64();
            let is_nan = v.is_nan();
            let is_inf = v.is_infinite();
            let f = if is_nan || is_inf { 0.0 } else { v };
            sum[l] += f;
            sq[l] += f * f;
            max[l] = max[l].max(f.abs());
            nan[l] += is_nan as u64;
            inf[l] += is_inf as u64;
            zeros[l] += (v == 0.0) as u64;
        }
    }
    let mut out = TensorStats {
        n: values.len() as u64,
        ..TensorStats::default()
    };
    for &x in tail {
        let v = x.as_f64();
        if v.is_nan() {
            out.nan += 1;
        } else if v.is_infinite() {
            out.inf += 1;
        } else {
            out.sum += v;
            out.sum_sq += v * v;
            out.max_abs = out.max_abs.max(v.abs());
            out.zeros += (v == 0.0) as u64;
        }
    }
    for l in 0..LANES {
        out.sum += sum[l];
        out.sum_sq += sq[l];
        out.max_abs = out.max_abs.max(max[l]);
        out.nan += nan[l];
        out.inf += inf[l];
        out.zeros += zeros[l];
    }
    out
}

/// Percentiles (`qs` in [0, 1]) of the finite values among an even sample
/// of at most `max_sample` entries (nearest rank). `NaN` when none is finite.
pub fn percentiles<T: Scalar>(values: &[T], qs: &[f64], max_sample: usize) -> Vec<f64> {
    let stride = values.len().div_ceil(max_sample.max(1)).max(1);
    let mut sample: Vec<f64> = values
        .iter()
        .step_by(stride)
        .map(|v| v.as_f64())
        .filter(|v| v.is_finite())
        .collect();
    if sample.is_empty() {
        return vec![f64::NAN; qs.len()];
    }
    sample.sort_unstable_by(f64::total_cmp);
    let last = sample.len() - 1;
    qs.iter()
        .map(|q| sample[((q * last as f64).round() as usize).min(last)])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_naive_computation() {
        let v: Vec<f32> = (0..1003).map(|i| ((i as f32) * 0.37).sin() * 3.0).collect();
        let s = tensor_stats(&v);
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let sq = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        assert_eq!(s.n, 1003);
        assert!((s.mean() - mean).abs() < 1e-12);
        assert!((s.l2() - sq.sqrt()).abs() < 1e-9);
        assert!((s.std() - (sq / n - mean * mean).sqrt()).abs() < 1e-9);
        let max = v.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
        assert_eq!(s.max_abs, max);
    }

    #[test]
    fn non_finite_entries_are_counted_not_summed() {
        let v = [
            1.0f32,
            f32::NAN,
            0.0,
            f32::INFINITY,
            -3.0,
            0.0,
            f32::NEG_INFINITY,
            2.0,
            f32::NAN,
            0.0,
        ];
        let s = tensor_stats(&v);
        assert_eq!((s.nan, s.inf, s.zeros), (2, 2, 3));
        assert_eq!(s.sum, 0.0);
        assert_eq!(s.sum_sq, 14.0);
        assert_eq!(s.max_abs, 3.0);
        assert_eq!(s.zero_frac(), 0.3);
    }

    #[test]
    fn tiny_f32_values_keep_their_norm() {
        // (1e-30)^2 underflows in f32; accumulated in f64 it does not.
        let v = vec![1e-30f32; 16];
        assert!((tensor_stats(&v).l2() / 4e-30 - 1.0).abs() < 1e-6);
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (0..101).map(|i| i as f64).collect();
        assert_eq!(
            percentiles(&v, &[0.15, 0.5, 0.85], 1000),
            vec![15.0, 50.0, 85.0]
        );
        assert!(percentiles::<f64>(&[f64::NAN], &[0.5], 10)[0].is_nan());
    }
}
