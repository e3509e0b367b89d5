//! Summary statistics of a tensor, in one pass, added up in f64.
//!
//! [`TensorStats`] is what every probed tensor gets: count, sum, sum of
//! squares (so L2 norm, RMS, mean and standard deviation), max |v|, and the
//! counts of NaN, infinite and exactly-zero entries. Non-finite entries are
//! counted and left out of the sums, so one NaN does not hide the rest.
//!
//! Tiny values are never lost: an f32 gradient of 1e-30 has a square of
//! 1e-60, which f32 would flush to zero, so such squares are taken in f64.
//! The f32 kernel on AVX-512 (the one training uses) sums blocks of 256
//! entries in f32 (16 terms per lane, relative error below 1e-6) and adds
//! the blocks in f64; a block whose largest magnitude lies outside
//! [2^-40, 2^40], where f32 squares could underflow or overflow, is summed in
//! f64 instead, and a tensor with a NaN or an infinity goes to a kernel that
//! counts them.
//!
//! `std()` is `sqrt(sum_sq / n - mean^2)`: where the mean dwarfs the spread
//! (sigmoid outputs near 0.5 with a spread of 1e-3) the blocks' 1e-6 relative
//! error on `sum_sq` becomes a much larger error on the variance; norms, RMS
//! and the max are unaffected.

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
    /// Adds `other`'s entries: the statistics of the two tensors together.
    pub fn merge(&mut self, other: &TensorStats) {
        self.n += other.n;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
        self.max_abs = self.max_abs.max(other.max_abs);
        self.nan += other.nan;
        self.inf += other.inf;
        self.zeros += other.zeros;
    }

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

/// Statistics of `values` in one pass.
pub fn tensor_stats<T: Scalar>(values: &[T]) -> TensorStats {
    #[cfg(target_arch = "x86_64")]
    if let Some(v) = as_f32(values) {
        if std::arch::is_x86_feature_detected!("avx512f") {
            let fast = if std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                // SAFETY: AVX-512DQ and POPCNT are available (just detected).
                unsafe { avx512::stats_f32_blocked(v) }
            } else {
                TensorStats {
                    sum_sq: f64::NAN,
                    ..TensorStats::default()
                }
            };
            if fast.sum_sq.is_finite() {
                return fast;
            }
            // SAFETY: AVX-512F is available (just detected).
            return unsafe { avx512::stats_f32(v) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is available (just detected).
            return unsafe { avx2::stats_f32(v) };
        }
    }
    tensor_stats_portable(values)
}

/// `values` as `&[f32]` when `T` is `f32`.
#[cfg(target_arch = "x86_64")]
fn as_f32<T: Scalar>(values: &[T]) -> Option<&[f32]> {
    (T::NAME == "f32").then(|| {
        // SAFETY: T is f32 (NAME is unique to the f32 impl), so the slice
        // has the same layout.
        unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<f32>(), values.len()) }
    })
}

/// The reference: one entry at a time (f64 values, and the tails of the
/// vector kernel).
fn tensor_stats_portable<T: Scalar>(values: &[T]) -> TensorStats {
    let mut out = TensorStats {
        n: values.len() as u64,
        ..TensorStats::default()
    };
    for &x in values {
        add_scalar(&mut out, x.as_f64());
    }
    out
}

#[inline]
fn add_scalar(out: &mut TensorStats, v: f64) {
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

#[cfg(target_arch = "x86_64")]
mod avx512 {
    //! The f32 kernels on AVX-512: blocks summed in f32 and added in f64
    //! (`stats_f32_blocked`, see the module doc), all sums in f64 lanes
    //! (`stats_f32_finite`), and the masked kernel that counts NaN and Inf
    //! (`stats_f32`).

    use super::{add_scalar, TensorStats};
    use std::arch::x86_64::*;

    /// Entries per block of [`stats_f32_blocked`]: 16 per lane.
    pub const BLOCK: usize = 256;

    /// Blocks of [`BLOCK`] entries summed in f32 and added in f64 (see the
    /// module doc). `sum_sq` comes back NaN when an entry is not finite.
    ///
    /// # Safety
    /// The CPU must support AVX-512F, AVX-512DQ and POPCNT.
    #[target_feature(enable = "avx512f,avx512dq,popcnt")]
    pub unsafe fn stats_f32_blocked(values: &[f32]) -> TensorStats {
        let blocks = values.chunks_exact(BLOCK);
        let tail = blocks.remainder();
        // The tail, and blocks out of f32's safe range, in f64.
        let mut out = stats_f32_finite(tail);
        out.n = values.len() as u64;
        let (lo, hi) = (
            _mm512_set1_ps(2f32.powi(-40)),
            _mm512_set1_ps(2f32.powi(40)),
        );
        let zd = _mm512_setzero_pd();
        let (mut sum_lo, mut sum_hi, mut sq_lo, mut sq_hi) = (zd, zd, zd, zd);
        let zero = _mm512_setzero_ps();
        let mut max = zero;
        for block in blocks {
            // Four independent chains of each accumulator, 64 entries a turn.
            let mut s = [zero; 4];
            let mut q = [zero; 4];
            let mut m = [zero; 4];
            let mut zeros = 0u32;
            for quad in block.chunks_exact(64) {
                for k in 0..4 {
                    let v = _mm512_loadu_ps(quad.as_ptr().add(16 * k));
                    s[k] = _mm512_add_ps(s[k], v);
                    q[k] = _mm512_fmadd_ps(v, v, q[k]);
                    // imm 0b1011: the larger magnitude, sign cleared (|max|).
                    m[k] = _mm512_range_ps::<0b1011>(m[k], v);
                    // Counted on the integer units, which the FP pipes leave idle.
                    zeros += _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, zero).count_ones();
                }
            }
            out.zeros += zeros as u64;
            let m = _mm512_max_ps(_mm512_max_ps(m[0], m[1]), _mm512_max_ps(m[2], m[3]));
            max = _mm512_max_ps(max, m);
            // Safe in f32: every lane <= 2^40 (NaN is not), and some lane
            // >= 2^-40 or every lane 0.
            let not_huge = _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(m, hi) == 0;
            let some_big = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(m, lo) != 0;
            let all_zero = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(m, zero) == 0xffff;
            if not_huge && (some_big || all_zero) {
                let s = _mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3]));
                let q = _mm512_add_ps(_mm512_add_ps(q[0], q[1]), _mm512_add_ps(q[2], q[3]));
                sum_lo = _mm512_add_pd(sum_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(s)));
                sum_hi = _mm512_add_pd(sum_hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(s)));
                sq_lo = _mm512_add_pd(sq_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(q)));
                sq_hi = _mm512_add_pd(sq_hi, _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(q)));
            } else {
                // Tiny or huge entries in f64; a NaN or infinity makes the
                // f64 sums non-finite and the caller recounts with masks.
                let exact = stats_f32_finite(block);
                out.sum += exact.sum;
                out.sum_sq += exact.sum_sq;
            }
        }
        out.sum += _mm512_reduce_add_pd(_mm512_add_pd(sum_lo, sum_hi));
        out.sum_sq += _mm512_reduce_add_pd(_mm512_add_pd(sq_lo, sq_hi));
        out.max_abs = out.max_abs.max(_mm512_reduce_max_ps(max) as f64);
        out
    }

    /// The common case, all entries finite, with no masks: sums, the max
    /// and the zero count. A NaN or infinity makes `sum_sq` non-finite (a
    /// square of a finite f32 is below 1.2e77, far from f64's overflow), and
    /// then the caller runs [`stats_f32`], which counts them.
    ///
    /// # Safety
    /// The CPU must support AVX-512F, AVX-512DQ and POPCNT.
    #[target_feature(enable = "avx512f,avx512dq,popcnt")]
    pub unsafe fn stats_f32_finite(values: &[f32]) -> TensorStats {
        let mut out = TensorStats {
            n: values.len() as u64,
            ..TensorStats::default()
        };
        let chunks = values.chunks_exact(32);
        let tail = chunks.remainder();
        let z = _mm512_setzero_pd();
        let (mut s0, mut s1, mut s2, mut s3) = (z, z, z, z);
        let (mut q0, mut q1, mut q2, mut q3) = (z, z, z, z);
        let zero = _mm512_setzero_ps();
        let (mut max0, mut max1) = (zero, zero);
        let mut zeros = 0u64;
        let one = _mm512_set1_pd(1.0);
        macro_rules! lane {
            ($p:expr, $s_lo:ident, $s_hi:ident, $q_lo:ident, $q_hi:ident, $max:ident) => {{
                let v = _mm512_loadu_ps($p);
                let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
                let hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(v));
                // Sums as `lo * 1 + s`: on Zen 4 the FMA pipes are idle
                // while the conversions keep the add pipes busy.
                $s_lo = _mm512_fmadd_pd(lo, one, $s_lo);
                $s_hi = _mm512_fmadd_pd(hi, one, $s_hi);
                $q_lo = _mm512_fmadd_pd(lo, lo, $q_lo);
                $q_hi = _mm512_fmadd_pd(hi, hi, $q_hi);
                // imm 0b1011: the larger magnitude, sign cleared (|max|).
                $max = _mm512_range_ps::<0b1011>($max, v);
                // Counted on the integer units, which the FP pipes leave idle.
                let is_zero = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, zero);
                zeros += is_zero.count_ones() as u64;
            }};
        }
        for c in chunks {
            let p = c.as_ptr();
            lane!(p, s0, s1, q0, q1, max0);
            lane!(p.add(16), s2, s3, q2, q3, max1);
        }
        out.zeros = zeros;
        out.sum = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
        out.sum_sq =
            _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(q0, q1), _mm512_add_pd(q2, q3)));
        out.max_abs = _mm512_reduce_max_ps(_mm512_max_ps(max0, max1)) as f64;
        for &x in tail {
            add_scalar(&mut out, x as f64);
        }
        // A NaN among the tail was counted there; make the caller recount.
        if out.nan + out.inf > 0 {
            out.sum_sq = f64::NAN;
        }
        out
    }

    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn stats_f32(values: &[f32]) -> TensorStats {
        let mut out = TensorStats {
            n: values.len() as u64,
            ..TensorStats::default()
        };
        let chunks = values.chunks_exact(16);
        let tail = chunks.remainder();
        let big = _mm512_set1_ps(f32::MAX);
        let z = _mm512_setzero_pd();
        let (mut s0, mut s1, mut q0, mut q1) = (z, z, z, z);
        let mut max = _mm512_setzero_ps();
        // Per-lane counters (a mask-add per vector, no popcount); a lane
        // counts at most len / 16 < 2^31 entries for any slice below 2^35.
        let one = _mm512_set1_epi32(1);
        let zi = _mm512_setzero_si512();
        let (mut finite, mut nan, mut zeros) = (zi, zi, zi);
        for c in chunks {
            let v = _mm512_loadu_ps(c.as_ptr());
            let a = _mm512_abs_ps(v);
            let is_finite = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(a, big);
            let f = _mm512_maskz_mov_ps(is_finite, v);
            let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(f));
            let hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(
                _mm512_castps_pd(f),
            )));
            s0 = _mm512_add_pd(s0, lo);
            s1 = _mm512_add_pd(s1, hi);
            q0 = _mm512_add_pd(q0, _mm512_mul_pd(lo, lo));
            q1 = _mm512_add_pd(q1, _mm512_mul_pd(hi, hi));
            max = _mm512_max_ps(max, _mm512_maskz_mov_ps(is_finite, a));
            finite = _mm512_mask_add_epi32(finite, is_finite, finite, one);
            let is_nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
            nan = _mm512_mask_add_epi32(nan, is_nan, nan, one);
            let is_zero = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, _mm512_setzero_ps());
            zeros = _mm512_mask_add_epi32(zeros, is_zero, zeros, one);
        }
        let count = |v: __m512i| -> u64 {
            let mut a = [0u32; 16];
            _mm512_storeu_si512(a.as_mut_ptr().cast(), v);
            a.iter().map(|&x| x as u64).sum()
        };
        let (finite, nan, zeros) = (count(finite), count(nan), count(zeros));
        let full = (values.len() - tail.len()) as u64;
        out.nan = nan;
        out.inf = full - finite - nan;
        out.zeros = zeros;
        out.sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
        out.sum_sq = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
        out.max_abs = _mm512_reduce_max_ps(max) as f64;
        for &x in tail {
            add_scalar(&mut out, x as f64);
        }
        out
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The f32 kernel: 8 lanes of f32 for masks, counts and the max, two
    //! times 4 lanes of f64 for the sums (squares taken in f64).

    use super::{add_scalar, TensorStats};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn stats_f32(values: &[f32]) -> TensorStats {
        let mut out = TensorStats {
            n: values.len() as u64,
            ..TensorStats::default()
        };
        // Blocks keep the i32 lane counters far from overflow. Two
        // independent sets of f64 accumulators hide the adds' latency.
        for block in values.chunks(1 << 28) {
            let chunks = block.chunks_exact(16);
            let tail = chunks.remainder();
            let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
            let big = _mm256_set1_ps(f32::MAX);
            let zero = _mm256_setzero_ps();
            let z = _mm256_setzero_pd();
            let (mut s0, mut s1, mut s2, mut s3) = (z, z, z, z);
            let (mut q0, mut q1, mut q2, mut q3) = (z, z, z, z);
            let (mut max0, mut max1) = (zero, zero);
            let zi = _mm256_setzero_si256();
            let (mut finite, mut nan, mut zeros) = (zi, zi, zi);
            macro_rules! lane {
                ($v:expr, $s_lo:ident, $s_hi:ident, $q_lo:ident, $q_hi:ident, $max:ident) => {{
                    let v = $v;
                    let a = _mm256_and_ps(v, abs_mask);
                    let is_finite = _mm256_cmp_ps::<_CMP_LE_OQ>(a, big);
                    let f = _mm256_and_ps(v, is_finite);
                    let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(f));
                    let hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(f));
                    $s_lo = _mm256_add_pd($s_lo, lo);
                    $s_hi = _mm256_add_pd($s_hi, hi);
                    $q_lo = _mm256_add_pd($q_lo, _mm256_mul_pd(lo, lo));
                    $q_hi = _mm256_add_pd($q_hi, _mm256_mul_pd(hi, hi));
                    $max = _mm256_max_ps($max, _mm256_and_ps(a, is_finite));
                    // A true mask lane is -1: subtracting counts it.
                    finite = _mm256_sub_epi32(finite, _mm256_castps_si256(is_finite));
                    let is_nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v);
                    nan = _mm256_sub_epi32(nan, _mm256_castps_si256(is_nan));
                    let is_zero = _mm256_cmp_ps::<_CMP_EQ_OQ>(v, zero);
                    zeros = _mm256_sub_epi32(zeros, _mm256_castps_si256(is_zero));
                }};
            }
            for c in chunks {
                let p = c.as_ptr();
                lane!(_mm256_loadu_ps(p), s0, s1, q0, q1, max0);
                lane!(_mm256_loadu_ps(p.add(8)), s2, s3, q2, q3, max1);
            }
            let full = (block.len() - tail.len()) as u64;
            let finite = sum_i32(finite);
            let nan = sum_i32(nan);
            out.nan += nan;
            out.inf += full - finite - nan;
            out.zeros += sum_i32(zeros);
            out.sum += sum_pd(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
            out.sum_sq += sum_pd(_mm256_add_pd(_mm256_add_pd(q0, q1), _mm256_add_pd(q2, q3)));
            let mut m = [0f32; 8];
            _mm256_storeu_ps(m.as_mut_ptr(), _mm256_max_ps(max0, max1));
            out.max_abs = m.iter().fold(out.max_abs, |acc, &x| acc.max(x as f64));
            for &x in tail {
                add_scalar(&mut out, x as f64);
            }
        }
        out
    }

    #[target_feature(enable = "avx2")]
    unsafe fn sum_i32(v: __m256i) -> u64 {
        let mut a = [0i32; 8];
        _mm256_storeu_si256(a.as_mut_ptr().cast(), v);
        a.iter().map(|&x| x as u32 as u64).sum()
    }

    #[target_feature(enable = "avx2")]
    unsafe fn sum_pd(v: __m256d) -> f64 {
        let mut a = [0f64; 4];
        _mm256_storeu_pd(a.as_mut_ptr(), v);
        a.iter().sum()
    }
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
    let last = sample.len() - 1;
    let ranks: Vec<usize> = qs
        .iter()
        .map(|q| ((q * last as f64).round() as usize).min(last))
        .collect();
    let mut wanted = ranks.clone();
    wanted.sort_unstable();
    wanted.dedup();
    let mut values = vec![0.0; wanted.len()];
    select_ranks(&mut sample, &wanted, 0, &mut values);
    ranks
        .iter()
        .map(|k| values[wanted.binary_search(k).expect("rank selected")])
        .collect()
}

/// The entries of rank `ranks` (ascending, distinct, offset by `base`) of
/// `values` into `out`: the middle rank first, then the lower ranks in the
/// part below it and the higher ones in the part above, so three
/// percentiles cost about 1.5 selections instead of 3.
fn select_ranks(values: &mut [f64], ranks: &[usize], base: usize, out: &mut [f64]) {
    if ranks.is_empty() {
        return;
    }
    let mid = ranks.len() / 2;
    let k = ranks[mid] - base;
    let (below, &mut at, above) = values.select_nth_unstable_by(k, f64::total_cmp);
    out[mid] = at;
    let (out_below, out_above) = out.split_at_mut(mid);
    select_ranks(below, &ranks[..mid], base, out_below);
    select_ranks(above, &ranks[mid + 1..], base + k + 1, &mut out_above[1..]);
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
        // Blocks summed in f32 (16 terms per lane): relative error < 1e-6.
        let std = (sq / n - mean * mean).sqrt();
        assert!((s.mean() - mean).abs() < 1e-6 * std);
        assert!((s.l2() / sq.sqrt() - 1.0).abs() < 1e-6);
        assert!((s.std() / std - 1.0).abs() < 1e-6);
        let max = v.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()));
        assert_eq!(s.max_abs, max);
        let portable = tensor_stats_portable(&v);
        assert_eq!(s.zeros, portable.zeros);
    }

    /// Blocks of every kind in one tensor: ordinary, tiny (squares would
    /// underflow in f32), huge (would overflow), all zero, and a tail.
    #[test]
    fn every_block_kind_matches_the_f64_reference() {
        let mut v = Vec::new();
        for (k, scale) in [1.0f32, 1e-30, 1e25, 0.0, -7.5, 1e-12].iter().enumerate() {
            v.extend((0..256).map(|i| {
                let x = ((i * 7 + k * 13) as f32 * 0.61).sin() * scale;
                if i % 17 == 0 {
                    0.0
                } else {
                    x
                }
            }));
        }
        v.extend((0..77).map(|i| i as f32 - 30.0));
        let (fast, slow) = (tensor_stats(&v), tensor_stats_portable(&v));
        assert_eq!(
            (fast.n, fast.zeros, fast.nan, fast.inf),
            (slow.n, slow.zeros, 0, 0)
        );
        assert_eq!(fast.max_abs, slow.max_abs);
        assert!((fast.sum_sq / slow.sum_sq - 1.0).abs() < 1e-6);
        assert!((fast.sum - slow.sum).abs() < 1e-6 * slow.l2());
        // The tiny block alone keeps its norm, to f64 precision.
        let tiny = tensor_stats(&v[256..512]);
        let exact = tensor_stats_portable(&v[256..512]);
        assert!(tiny.sum_sq > 0.0 && (tiny.sum_sq / exact.sum_sq - 1.0).abs() < 1e-12);
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
    fn vector_kernel_matches_the_reference() {
        let mut v: Vec<f32> = (0..1003)
            .map(|i| ((i as f32) * 0.91).cos() * 1e-20)
            .collect();
        v[5] = f32::NAN;
        v[77] = f32::INFINITY;
        v[300] = 0.0;
        v[1001] = f32::NAN;
        let (fast, slow) = (tensor_stats(&v), tensor_stats_portable(&v));
        assert_eq!(
            (fast.nan, fast.inf, fast.zeros, fast.n),
            (slow.nan, slow.inf, slow.zeros, slow.n)
        );
        assert_eq!(fast.max_abs, slow.max_abs);
        assert!((fast.sum_sq / slow.sum_sq - 1.0).abs() < 1e-12);
        assert!((fast.sum - slow.sum).abs() < 1e-12 * slow.sum_sq.sqrt() * 40.0);
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
        // Any order of ranks, repeats included, on shuffled values.
        let shuffled: Vec<f64> = (0..1001).map(|i| ((i * 389) % 1001) as f64).collect();
        assert_eq!(
            percentiles(&shuffled, &[0.9, 0.1, 0.5, 0.1, 1.0, 0.0], 5000),
            vec![900.0, 100.0, 500.0, 100.0, 1000.0, 0.0]
        );
    }
}
