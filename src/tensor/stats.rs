//! Summary statistics of a tensor, in one pass, added up in f64.
//!
//! [`TensorStats`] is what every probed tensor gets: count, sum, sum of
//! squares (so L2 norm, RMS, mean and standard deviation), max |v|, and the
//! counts of NaN, infinite, exactly-zero and subnormal entries. Non-finite
//! entries are counted and left out of the sums, so one NaN does not hide
//! the rest.
//!
//! Subnormal entries are the non-zero ones below the tensor's own type's
//! smallest normal magnitude (`f32::MIN_POSITIVE` = 1.18e-38 for an f32
//! tensor, `f64::MIN_POSITIVE` for an f64 one): they carry fewer
//! significant bits than the type's precision (an f32 of 1e-43 has 7), so
//! figures computed from them (a norm, a ratio) have lost precision, the
//! step before underflowing to exact zeros.
//!
//! Tiny values are never lost: an f32 gradient of 1e-30 has a square of
//! 1e-60, which f32 would flush to zero. The f32 kernel on AVX-512 (the one
//! training uses) sums blocks of 512 entries in f32 (per lane, four chains
//! of 8 terms added together: relative error below 1e-6) and adds the
//! blocks in f64; a block whose
//! largest magnitude lies outside [2^-40, 2^40], where f32 squares could
//! underflow or overflow, is summed again scaled by the power of two that
//! brings its largest entry near 1 (exact), its sums scaled back in f64, and
//! the blocks after it are summed at that scale in one pass while it fits
//! them (a deep sigmoid net's gradients are below 2^-40 for whole tensors).
//! A tensor with a NaN or an infinity goes to a kernel that counts them.
//! Without AVX-512, and for f64 tensors, squares are taken in f64.
//!
//! Counting subnormals costs the common tensor nothing: the AVX-512 kernel
//! classifies each entry once, as zero-or-subnormal, and tells the two
//! apart in a second pass (in L1) over the blocks that have any (a
//! ReLU's outputs and deltas, a vanished gradient). A second
//! classification in the first pass cost every block a third of its
//! time: that loop is bound by its vector operations. (Measured on Zen 4,
//! 65,536 entries: 3.1 us dense, as before; 5.1 us instead of 3.1 with a
//! third of the entries zero; 7.7 instead of 4.0 all subnormal.) The
//! portable kernel counts entries below normal in a pass of its own, which
//! vectorizes; in the sums' loop, whose order is fixed, the count cost
//! that loop a third of its time, in its own pass a tenth.
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
    /// Non-zero entries below the type's smallest normal magnitude
    /// (`T::MIN_POSITIVE`: 1.18e-38 for f32, 2.2e-308 for f64), which hold
    /// fewer significant bits than the type's precision.
    #[serde(default)]
    pub subnormal: u64,
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
        self.subnormal += other.subnormal;
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

    /// Fraction of entries subnormal (see [`TensorStats::subnormal`]).
    pub fn subnormal_frac(&self) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        self.subnormal as f64 / self.n as f64
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
        let level = super::simd::simd();
        if level == super::simd::Simd::Avx512 {
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
            // SAFETY: AVX-512F runs here (the current level).
            return unsafe { avx512::stats_f32(v) };
        }
        if level == super::simd::Simd::Avx2 {
            // SAFETY: AVX2 and FMA run here (the current level).
            let fast = unsafe { avx2::stats_f32_finite(v) };
            if fast.sum_sq.is_finite() {
                return fast;
            }
            // SAFETY: as above.
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
    // Zeros are below normal too.
    out.subnormal = below_normal(values) - out.zeros;
    out
}

/// Entries of `values` zero or subnormal (for their own type `T`): below
/// its smallest normal magnitude. In a pass of its own (see the module
/// doc).
fn below_normal<T: Scalar>(values: &[T]) -> u64 {
    let tiny = T::min_positive_value();
    values.iter().map(|&x| (x.abs() < tiny) as u64).sum()
}

/// Adds one entry (without the subnormal count: see [`below_normal`]).
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

/// [`add_scalar`] for an f32 entry, with its subnormal count (the vector
/// kernels' tails).
#[cfg(target_arch = "x86_64")]
#[inline]
fn add_f32(out: &mut TensorStats, x: f32) {
    add_scalar(out, x as f64);
    out.subnormal += x.is_subnormal() as u64;
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    //! The f32 kernels on AVX-512: blocks summed in f32 and added in f64
    //! (`stats_f32_blocked`, see the module doc), all sums in f64 lanes
    //! (`stats_f32_finite`), and the masked kernel that counts NaN and Inf
    //! (`stats_f32`).

    use super::{add_f32, TensorStats};
    use std::arch::x86_64::*;

    /// Entries per block of [`stats_f32_blocked`]: 32 per lane, in four
    /// chains of 8 (an f32 sum of 8 terms and two more additions: relative
    /// error at most 10 * 2^-24 = 6e-7). Twice 256: the end-of-block work
    /// (widening to f64, range checks) cost a fifth of the time at 256.
    pub const BLOCK: usize = 512;

    // `block_sums` and `count_tiny` read whole turns of 64 entries.
    const _: () = assert!(BLOCK.is_multiple_of(64), "a block is whole turns of 64");

    /// Blocks of [`BLOCK`] entries summed in f32 and added in f64 (see the
    /// module doc). `sum_sq` comes back NaN when an entry is not finite.
    ///
    /// # Safety
    /// The CPU must support AVX-512F, AVX-512DQ and POPCNT.
    #[target_feature(enable = "avx512f,avx512dq,popcnt")]
    pub unsafe fn stats_f32_blocked(values: &[f32]) -> TensorStats {
        let blocks = values.chunks_exact(BLOCK);
        let tail = blocks.remainder();
        // The tail in f64 lanes.
        let mut out = if tail.is_empty() {
            TensorStats::default()
        } else {
            // SAFETY: the CPU supports AVX-512F, AVX-512DQ and POPCNT (this
            // fn's contract), what `stats_f32_finite` requires.
            unsafe { stats_f32_finite(tail) }
        };
        out.n = values.len() as u64;
        let mut max = _mm512_setzero_ps();
        // Blocks summed as they are, and blocks summed scaled by 2^-e.
        // SAFETY: the CPU supports AVX-512F (this fn's contract), what
        // `Sums::new` requires.
        let (mut plain, mut scaled) = unsafe { (Sums::new(), Sums::new()) };
        // Set by the first out-of-range block; the blocks after it (the
        // rest of a tensor of tiny gradients) are summed at its scale in
        // one pass, and again as they are only if it does not fit them.
        let mut scale: Option<i32> = None;
        for block in blocks {
            // SAFETY: the CPU supports AVX-512F, AVX-512DQ and POPCNT (this
            // fn's contract), what every helper here requires; `block` comes
            // from `chunks_exact(BLOCK)`, so it holds exactly `BLOCK` entries,
            // as `block_sums`, `block_sums_scaled` and `count_tiny` require.
            unsafe {
                if let Some(e) = scale {
                    let b = block_sums_scaled(block, pow2_f32(-e));
                    if safe(_mm512_mul_ps(b.max, _mm512_set1_ps(pow2_f32(-e)))) || all_zero(b.max) {
                        count_tiny(&mut out, block, &b);
                        max = _mm512_max_ps(max, b.max);
                        scaled.add(&b);
                        continue;
                    }
                }
                let b = block_sums(block, None);
                max = _mm512_max_ps(max, b.max);
                if safe(b.max) || all_zero(b.max) {
                    count_tiny(&mut out, block, &b);
                    plain.add(&b);
                    continue;
                }
                let m = _mm512_reduce_max_ps(b.max);
                if !m.is_finite() {
                    // A NaN or an infinity: the caller recounts with masks.
                    out.sum_sq = f64::NAN;
                    return out;
                }
                count_tiny(&mut out, block, &b);
                // Tiny or huge entries: again, scaled by the power of two that
                // brings the largest near 1 (exact; clamped so the factor is a
                // normal f32, which still lands any finite max in [2^-23, 4)),
                // and the sums scaled back in f64.
                let e = exponent(m).clamp(-126, 126);
                if let Some(old) = scale {
                    scaled.flush_into(&mut out, old);
                }
                scaled.add(&block_sums_scaled(block, pow2_f32(-e)));
                scale = Some(e);
            }
        }
        // SAFETY: the CPU supports AVX-512F (this fn's contract), what
        // `Sums::flush_into` requires.
        unsafe {
            plain.flush_into(&mut out, 0);
            if let Some(e) = scale {
                scaled.flush_into(&mut out, e);
            }
        }
        out.max_abs = out.max_abs.max(_mm512_reduce_max_ps(max) as f64);
        out
    }

    /// [`block_sums`] scaled by `factor`, out of line: inlined, its
    /// accumulators crowd the plain loop's out of the 32 vector registers
    /// (spills cost the common case about a fifth of its speed).
    ///
    /// # Safety
    /// As [`block_sums`].
    #[inline(never)]
    #[target_feature(enable = "avx512f,avx512dq,popcnt")]
    unsafe fn block_sums_scaled(block: &[f32], factor: f32) -> BlockSums {
        // SAFETY: this fn's contract is `block_sums`'s.
        unsafe { block_sums(block, Some(factor)) }
    }

    /// Whether a block whose lanes' largest magnitudes are `max` can be
    /// summed in f32: every lane <= 2^40 (NaN is not), and some lane
    /// >= 2^-40, so no square that matters underflows or overflows.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[inline(always)]
    unsafe fn safe(max: __m512) -> bool {
        // SAFETY: the CPU supports AVX-512F (this fn's contract), all these
        // intrinsics require; they touch no memory.
        unsafe {
            let (lo, hi) = (
                _mm512_set1_ps(f32::from_bits((127 - 40) << 23)),
                _mm512_set1_ps(f32::from_bits((127 + 40) << 23)),
            );
            _mm512_cmp_ps_mask::<_CMP_NLE_UQ>(max, hi) == 0
                && _mm512_cmp_ps_mask::<_CMP_GE_OQ>(max, lo) != 0
        }
    }

    /// Whether every lane of `max` is 0 (the block is all zeros).
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[inline(always)]
    unsafe fn all_zero(max: __m512) -> bool {
        // SAFETY: the CPU supports AVX-512F (this fn's contract), all these
        // intrinsics require; they touch no memory.
        unsafe { _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(max, _mm512_setzero_ps()) == 0xffff }
    }

    /// `2^k` for `k` in `-126..=127`.
    fn pow2_f32(k: i32) -> f32 {
        f32::from_bits(((k + 127) as u32) << 23)
    }

    /// The binary exponent of a finite, nonzero `m` (`m` in `[2^e, 2^(e+1))`),
    /// subnormals included.
    fn exponent(m: f32) -> i32 {
        ((m as f64).to_bits() >> 52) as i32 - 1023
    }

    /// Blocks' sums and sums of squares added in f64 lanes.
    struct Sums {
        sum: [__m512d; 2],
        sq: [__m512d; 2],
    }

    impl Sums {
        /// All sums zero.
        ///
        /// # Safety
        /// The CPU must support AVX-512F.
        #[inline(always)]
        unsafe fn new() -> Self {
            // SAFETY: the CPU supports AVX-512F (this fn's contract).
            let z = unsafe { _mm512_setzero_pd() };
            Self {
                sum: [z; 2],
                sq: [z; 2],
            }
        }

        /// Adds one block's sums, widened to f64.
        ///
        /// # Safety
        /// The CPU must support AVX-512F and AVX-512DQ.
        #[inline(always)]
        unsafe fn add(&mut self, b: &BlockSums) {
            // SAFETY: the CPU supports AVX-512F and AVX-512DQ (this fn's
            // contract; `_mm512_extractf32x8_ps` is DQ), all these
            // intrinsics require; they touch no memory.
            unsafe {
                let widen = |v: __m512| {
                    (
                        _mm512_cvtps_pd(_mm512_castps512_ps256(v)),
                        _mm512_cvtps_pd(_mm512_extractf32x8_ps::<1>(v)),
                    )
                };
                let ((s0, s1), (q0, q1)) = (widen(b.sum), widen(b.sq));
                self.sum = [
                    _mm512_add_pd(self.sum[0], s0),
                    _mm512_add_pd(self.sum[1], s1),
                ];
                self.sq = [_mm512_add_pd(self.sq[0], q0), _mm512_add_pd(self.sq[1], q1)];
            }
        }

        /// Adds the blocks, summed at scale `2^-e`, to `out` at scale 1,
        /// and starts over.
        ///
        /// # Safety
        /// The CPU must support AVX-512F.
        #[inline(always)]
        unsafe fn flush_into(&mut self, out: &mut TensorStats, e: i32) {
            let back = f64::from_bits(((e + 1023) as u64) << 52);
            // SAFETY: the CPU supports AVX-512F (this fn's contract), all these
            // intrinsics and `Sums::new` require; they touch no memory.
            unsafe {
                out.sum += _mm512_reduce_add_pd(_mm512_add_pd(self.sum[0], self.sum[1])) * back;
                out.sum_sq +=
                    _mm512_reduce_add_pd(_mm512_add_pd(self.sq[0], self.sq[1])) * back * back;
                *self = Self::new();
            }
        }
    }

    /// One block's sums in f32 lanes.
    struct BlockSums {
        sum: __m512,
        sq: __m512,
        /// Per lane, the largest |v| (NaN if a NaN was seen).
        max: __m512,
        /// Entries zero or subnormal (told apart by [`count_tiny`]).
        tiny: u64,
    }

    /// Sums, squares, max |v| and the count of zero or subnormal entries
    /// of one block of [`BLOCK`] entries, each entry multiplied by `scale`
    /// first when given (the count and the max are of the unscaled
    /// entries). Four
    /// independent chains of each accumulator, 64 entries a turn, all in
    /// registers.
    ///
    /// # Safety
    /// The CPU must support AVX-512F, AVX-512DQ and POPCNT. `block` holds
    /// exactly [`BLOCK`] entries (checked: the loads are unchecked).
    #[inline(always)]
    unsafe fn block_sums(block: &[f32], scale: Option<f32>) -> BlockSums {
        assert_eq!(block.len(), BLOCK, "a whole block");
        // SAFETY: the CPU supports AVX-512F (this fn's contract).
        let zero = unsafe { _mm512_setzero_ps() };
        let (mut s0, mut s1, mut s2, mut s3) = (zero, zero, zero, zero);
        let (mut q0, mut q1, mut q2, mut q3) = (zero, zero, zero, zero);
        let (mut m0, mut m1, mut m2, mut m3) = (zero, zero, zero, zero);
        let mut tiny = 0u64;
        let p = block.as_ptr();
        macro_rules! turn {
            ($scaled:expr) => {
                for i in (0..BLOCK).step_by(64) {
                    let a = _mm512_loadu_ps(p.add(i));
                    let b = _mm512_loadu_ps(p.add(i + 16));
                    let c = _mm512_loadu_ps(p.add(i + 32));
                    let d = _mm512_loadu_ps(p.add(i + 48));
                    // imm 0b1011: the larger magnitude, sign cleared (|max|).
                    m0 = _mm512_range_ps::<0b1011>(m0, a);
                    m1 = _mm512_range_ps::<0b1011>(m1, b);
                    m2 = _mm512_range_ps::<0b1011>(m2, c);
                    m3 = _mm512_range_ps::<0b1011>(m3, d);
                    // Zeros and subnormals together (imm 0x26: the +0,
                    // -0 and denormal classes), one popcount for 64
                    // entries, on the integer units; told apart by
                    // `count_tiny`.
                    let ka = _mm512_fpclass_ps_mask::<0x26>(a) as u64;
                    let kb = _mm512_fpclass_ps_mask::<0x26>(b) as u64;
                    let kc = _mm512_fpclass_ps_mask::<0x26>(c) as u64;
                    let kd = _mm512_fpclass_ps_mask::<0x26>(d) as u64;
                    tiny += popcnt(ka | kb << 16 | kc << 32 | kd << 48);
                    let (a, b, c, d) = $scaled(a, b, c, d);
                    s0 = _mm512_add_ps(s0, a);
                    s1 = _mm512_add_ps(s1, b);
                    s2 = _mm512_add_ps(s2, c);
                    s3 = _mm512_add_ps(s3, d);
                    q0 = _mm512_fmadd_ps(a, a, q0);
                    q1 = _mm512_fmadd_ps(b, b, q1);
                    q2 = _mm512_fmadd_ps(c, c, q2);
                    q3 = _mm512_fmadd_ps(d, d, q3);
                }
            };
        }
        // SAFETY: the CPU supports AVX-512F, AVX-512DQ (`range`, `fpclass`)
        // and POPCNT (this fn's contract). `block` holds `BLOCK` entries
        // (asserted above), a multiple of 64, so each turn's four loads of
        // 16 from `p + i`, `i` a multiple of 64 below `BLOCK`, read entries
        // `i..i + 64`, all inside `block`.
        unsafe {
            match scale {
                None => turn!(|a, b, c, d| (a, b, c, d)),
                Some(factor) => {
                    let factor = _mm512_set1_ps(factor);
                    let f = |v| _mm512_mul_ps(v, factor);
                    turn!(|a, b, c, d| (f(a), f(b), f(c), f(d)))
                }
            }
        }
        // Most blocks have neither; a block with some is passed over again
        // for the subnormals alone.
        // SAFETY: the CPU supports AVX-512F (this fn's contract); these
        // intrinsics touch no memory.
        unsafe {
            BlockSums {
                sum: _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)),
                sq: _mm512_add_ps(_mm512_add_ps(q0, q1), _mm512_add_ps(q2, q3)),
                max: _mm512_max_ps(_mm512_max_ps(m0, m1), _mm512_max_ps(m2, m3)),
                tiny,
            }
        }
    }

    /// Adds the zeros and subnormals of `block`, whose sums are `b`, to
    /// `out`. Most blocks have neither (`b.tiny` is 0) and cost nothing
    /// here; a block of zeros alone is known by its max; any other block
    /// with some is passed over again, in L1, for its subnormals (see the
    /// module doc).
    ///
    /// # Safety
    /// As [`block_sums`].
    #[inline(always)]
    unsafe fn count_tiny(out: &mut TensorStats, block: &[f32], b: &BlockSums) {
        if b.tiny == 0 {
            return;
        }
        // SAFETY: the CPU supports AVX-512F (this fn's contract).
        if unsafe { all_zero(b.max) } {
            out.zeros += b.tiny;
            return;
        }
        assert_eq!(block.len(), BLOCK, "a whole block");
        let p = block.as_ptr();
        let mut subnormal = 0;
        for i in (0..BLOCK).step_by(64) {
            // SAFETY: the CPU supports AVX-512F, AVX-512DQ (`fpclass`) and
            // POPCNT (this fn's contract). `block` holds `BLOCK` entries
            // (asserted above), a multiple of 64, so the loads of 16 at
            // `p + i + j`, `j` in {0, 16, 32, 48}, read entries `i..i + 64`,
            // all inside `block`.
            unsafe {
                // imm 0x20: the denormal class, either sign.
                let k = |j| _mm512_fpclass_ps_mask::<0x20>(_mm512_loadu_ps(p.add(i + j))) as u64;
                subnormal += popcnt(k(0) | k(16) << 16 | k(32) << 32 | k(48) << 48);
            }
        }
        out.subnormal += subnormal;
        out.zeros += b.tiny - subnormal;
    }

    /// Set bits of `x`, with the `popcnt` instruction. Opaque to LLVM on
    /// purpose: left to it, `count_ones` on the unrolled block's four
    /// masks became a vectorized byte-table popcount that cost more than
    /// the sums themselves.
    ///
    /// # Safety
    /// The CPU must support POPCNT.
    #[inline(always)]
    unsafe fn popcnt(x: u64) -> u64 {
        let out: u64;
        // SAFETY: the CPU supports POPCNT (this fn's contract); the
        // instruction reads the register `x`, writes `out` and the flags
        // (which `asm!` assumes clobbered), and touches no memory or stack,
        // as its options declare.
        unsafe {
            std::arch::asm!("popcnt {out}, {x}", x = in(reg) x, out = lateout(reg) out,
                options(pure, nomem, nostack));
        }
        out
    }

    /// The common case, all entries finite, with no masks: sums, the max
    /// and the zero and subnormal counts. A NaN or infinity makes `sum_sq` non-finite (a
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
        let (mut zeros, mut subnormal) = (0u64, 0u64);
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
                // imm 0x20: the denormal class, either sign.
                let is_subnormal = _mm512_fpclass_ps_mask::<0x20>(v);
                subnormal += is_subnormal.count_ones() as u64;
            }};
        }
        for c in chunks {
            let p = c.as_ptr();
            // SAFETY: `c` holds exactly 32 entries (`chunks_exact(32)`), so
            // `p + 16` is inside it and the unaligned loads of 16 at `p` and
            // `p + 16` read entries 0..32 of `c`.
            unsafe {
                lane!(p, s0, s1, q0, q1, max0);
                lane!(p.add(16), s2, s3, q2, q3, max1);
            }
        }
        out.zeros = zeros;
        out.subnormal = subnormal;
        out.sum = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s0, s1), _mm512_add_pd(s2, s3)));
        out.sum_sq =
            _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(q0, q1), _mm512_add_pd(q2, q3)));
        out.max_abs = _mm512_reduce_max_ps(_mm512_max_ps(max0, max1)) as f64;
        for &x in tail {
            add_f32(&mut out, x);
        }
        // A NaN among the tail was counted there; make the caller recount.
        if out.nan + out.inf > 0 {
            out.sum_sq = f64::NAN;
        }
        out
    }

    /// Any entries, NaN and infinities included, with masks: all sums in
    /// f64 lanes, and per-lane counts of finite, NaN, zero and below-normal
    /// entries.
    ///
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
        let (mut finite, mut nan, mut zeros, mut tiny) = (zi, zi, zi, zi);
        let min_normal = _mm512_set1_ps(f32::MIN_POSITIVE);
        for c in chunks {
            // SAFETY: `c` holds exactly 16 entries (`chunks_exact(16)`), what
            // the unaligned load reads.
            let v = unsafe { _mm512_loadu_ps(c.as_ptr()) };
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
            // Zero or subnormal: |v| below the smallest normal.
            let is_tiny = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, min_normal);
            tiny = _mm512_mask_add_epi32(tiny, is_tiny, tiny, one);
        }
        let count = |v: __m512i| -> u64 {
            let mut a = [0u32; 16];
            // SAFETY: `a` is 16 u32, the 64 bytes the unaligned store writes.
            unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), v) };
            a.iter().map(|&x| x as u64).sum()
        };
        let (finite, nan, zeros) = (count(finite), count(nan), count(zeros));
        let full = (values.len() - tail.len()) as u64;
        out.nan = nan;
        out.inf = full - finite - nan;
        out.zeros = zeros;
        out.subnormal = count(tiny) - zeros;
        out.sum = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
        out.sum_sq = _mm512_reduce_add_pd(_mm512_add_pd(q0, q1));
        out.max_abs = _mm512_reduce_max_ps(max) as f64;
        for &x in tail {
            add_f32(&mut out, x);
        }
        out
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The f32 kernels on AVX2: 8 lanes of f32 for masks, counts and the
    //! max, two times 4 lanes of f64 for the sums (squares taken in f64).
    //! Subnormal entries are counted as `|v| < f32::MIN_POSITIVE` less the
    //! zeros. The common case, every entry finite, takes the kernel
    //! without masks (`stats_f32_finite`, about 13 vector operations per 8
    //! entries against 21); a tensor with a NaN or an infinity is counted
    //! again by the masked one (`stats_f32`).

    use super::{add_f32, TensorStats};
    use std::arch::x86_64::*;

    /// All entries finite (else `sum_sq` comes back non-finite and the
    /// caller runs [`stats_f32`]): sums and squares in f64 lanes by FMA,
    /// the max, and the zero and below-normal counts.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn stats_f32_finite(values: &[f32]) -> TensorStats {
        let mut out = TensorStats {
            n: values.len() as u64,
            ..TensorStats::default()
        };
        // Blocks keep the i32 lane counters far from overflow.
        for block in values.chunks(1 << 28) {
            let chunks = block.chunks_exact(16);
            let tail = chunks.remainder();
            let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
            let zero = _mm256_setzero_ps();
            let min_normal = _mm256_set1_ps(f32::MIN_POSITIVE);
            let (z, one) = (_mm256_setzero_pd(), _mm256_set1_pd(1.0));
            let (mut s0, mut s1, mut s2, mut s3) = (z, z, z, z);
            let (mut q0, mut q1, mut q2, mut q3) = (z, z, z, z);
            // One max accumulator: a second spilled to the stack (16 registers).
            let mut max = zero;
            let zi = _mm256_setzero_si256();
            let (mut zeros, mut tiny) = (zi, zi);
            macro_rules! lane {
                ($p:expr, $s_lo:ident, $s_hi:ident, $q_lo:ident, $q_hi:ident) => {{
                    let v = _mm256_loadu_ps($p);
                    let lo = _mm256_cvtps_pd(_mm_loadu_ps($p));
                    let hi = _mm256_cvtps_pd(_mm_loadu_ps($p.add(4)));
                    // Sums as `lo * 1 + s`, on the FMA pipes.
                    $s_lo = _mm256_fmadd_pd(lo, one, $s_lo);
                    $s_hi = _mm256_fmadd_pd(hi, one, $s_hi);
                    $q_lo = _mm256_fmadd_pd(lo, lo, $q_lo);
                    $q_hi = _mm256_fmadd_pd(hi, hi, $q_hi);
                    let a = _mm256_and_ps(v, abs_mask);
                    max = _mm256_max_ps(max, a);
                    // A true mask lane is -1: subtracting counts it.
                    let is_zero = _mm256_cmp_ps::<_CMP_EQ_OQ>(v, zero);
                    zeros = _mm256_sub_epi32(zeros, _mm256_castps_si256(is_zero));
                    let is_tiny = _mm256_cmp_ps::<_CMP_LT_OQ>(a, min_normal);
                    tiny = _mm256_sub_epi32(tiny, _mm256_castps_si256(is_tiny));
                }};
            }
            for c in chunks {
                let p = c.as_ptr();
                // SAFETY: `c` holds exactly 16 entries (`chunks_exact(16)`):
                // the loads of 8 at `p` and `p + 8`, and of 4 at `p`, `p +
                // 4`, `p + 8` and `p + 12`, read entries 0..16 of `c`.
                unsafe {
                    lane!(p, s0, s1, q0, q1);
                    lane!(p.add(8), s2, s3, q2, q3);
                }
            }
            // SAFETY: the CPU supports AVX2 (this fn's contract).
            unsafe {
                add_lanes(
                    &mut out,
                    zeros,
                    tiny,
                    [s0, s1, s2, s3],
                    [q0, q1, q2, q3],
                    max,
                )
            };
            for &x in tail {
                add_f32(&mut out, x);
            }
        }
        // A NaN or infinity: its square made `sum_sq` NaN or infinite (a
        // finite f32's square is below 1.2e77), or the tail counted it.
        if out.nan + out.inf > 0 {
            out.sum_sq = f64::NAN;
        }
        out
    }

    /// Any entries, NaN and infinities included: sums in f64 lanes, and
    /// per-lane counts of finite, NaN, zero and below-normal entries.
    ///
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
            let (mut finite, mut nan, mut zeros, mut tiny) = (zi, zi, zi, zi);
            let min_normal = _mm256_set1_ps(f32::MIN_POSITIVE);
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
                    // Zero or subnormal: |v| below the smallest normal.
                    let is_tiny = _mm256_cmp_ps::<_CMP_LT_OQ>(a, min_normal);
                    tiny = _mm256_sub_epi32(tiny, _mm256_castps_si256(is_tiny));
                }};
            }
            for c in chunks {
                let p = c.as_ptr();
                // SAFETY: `c` holds exactly 16 entries (`chunks_exact(16)`),
                // so `p + 8` is inside it and the unaligned loads of 8 at `p`
                // and `p + 8` read entries 0..16 of `c`.
                unsafe {
                    lane!(_mm256_loadu_ps(p), s0, s1, q0, q1, max0);
                    lane!(_mm256_loadu_ps(p.add(8)), s2, s3, q2, q3, max1);
                }
            }
            // SAFETY: the CPU supports AVX2 (this fn's contract), what
            // `sum_i32` and `add_lanes` require.
            unsafe {
                let full = (block.len() - tail.len()) as u64;
                let finite = sum_i32(finite);
                let nan = sum_i32(nan);
                out.nan += nan;
                out.inf += full - finite - nan;
                let max = _mm256_max_ps(max0, max1);
                add_lanes(
                    &mut out,
                    zeros,
                    tiny,
                    [s0, s1, s2, s3],
                    [q0, q1, q2, q3],
                    max,
                );
            }
            for &x in tail {
                add_f32(&mut out, x);
            }
        }
        out
    }

    /// Adds both kernels' lane accumulators to `out`: the zero and
    /// below-normal counts, the sums and squares, the max.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn add_lanes(
        out: &mut TensorStats,
        zeros: __m256i,
        tiny: __m256i,
        s: [__m256d; 4],
        q: [__m256d; 4],
        max: __m256,
    ) {
        let add4 =
            |v: [__m256d; 4]| _mm256_add_pd(_mm256_add_pd(v[0], v[1]), _mm256_add_pd(v[2], v[3]));
        // SAFETY: the CPU supports AVX2 (this fn's contract), what `sum_i32`
        // and `sum_pd` require; `m` is 8 f32, the 32 bytes the unaligned
        // store writes.
        unsafe {
            let zeros = sum_i32(zeros);
            out.zeros += zeros;
            out.subnormal += sum_i32(tiny) - zeros;
            out.sum += sum_pd(add4(s));
            out.sum_sq += sum_pd(add4(q));
            let mut m = [0f32; 8];
            _mm256_storeu_ps(m.as_mut_ptr(), max);
            out.max_abs = m.iter().fold(out.max_abs, |acc, &x| acc.max(x as f64));
        }
    }

    /// The sum of `v`'s 8 lanes, each read as a u32 count.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn sum_i32(v: __m256i) -> u64 {
        let mut a = [0i32; 8];
        // SAFETY: `a` is 8 i32, the 32 bytes the unaligned store writes.
        unsafe { _mm256_storeu_si256(a.as_mut_ptr().cast(), v) };
        a.iter().map(|&x| x as u32 as u64).sum()
    }

    /// The sum of `v`'s 4 lanes.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn sum_pd(v: __m256d) -> f64 {
        let mut a = [0f64; 4];
        // SAFETY: `a` is 4 f64, the 32 bytes the unaligned store writes.
        unsafe { _mm256_storeu_pd(a.as_mut_ptr(), v) };
        a.iter().sum()
    }
}

/// Percentiles (`qs` in [0, 1]) of the finite values among an even sample
/// of at most `max_sample` entries (nearest rank). `NaN` when none is finite.
pub fn percentiles<T: Scalar>(values: &[T], qs: &[f64], max_sample: usize) -> Vec<f64> {
    let stride = values.len().div_ceil(max_sample.max(1)).max(1);
    let mut sample: Vec<i64> = Vec::with_capacity(values.len().div_ceil(stride));
    sample.extend(values.iter().step_by(stride).map(|v| order_key(v.as_f64())));
    // The finite values' keys lie strictly between the infinities'.
    let (below, above) = (order_key(f64::NEG_INFINITY), order_key(f64::INFINITY));
    sample.retain(|&k| below < k && k < above);
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
    let mut keys = vec![0; wanted.len()];
    select_ranks(&mut sample, &wanted, 0, &mut keys);
    ranks
        .iter()
        .map(|k| from_order_key(keys[wanted.binary_search(k).expect("rank selected")]))
        .collect()
}

/// An integer whose order is `f64::total_cmp`'s: the bits, with the
/// magnitude bits flipped for negative values. Selecting on integers takes
/// about 60% of the time of selecting on `f64` with `total_cmp`.
fn order_key(v: f64) -> i64 {
    let bits = v.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// The value of an [`order_key`] (the map is its own inverse).
fn from_order_key(key: i64) -> f64 {
    f64::from_bits((key ^ (((key >> 63) as u64) >> 1) as i64) as u64)
}

/// The entries of rank `ranks` (ascending, distinct, offset by `base`) of
/// `values` into `out`: the middle rank first, then the lower ranks in the
/// part below it and the higher ones in the part above, so three
/// percentiles cost about 1.5 selections instead of 3.
fn select_ranks(values: &mut [i64], ranks: &[usize], base: usize, out: &mut [i64]) {
    if ranks.is_empty() {
        return;
    }
    let mid = ranks.len() / 2;
    let k = ranks[mid] - base;
    let (below, &mut at, above) = values.select_nth_unstable(k);
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
    /// underflow in f32), tiny again at another scale, huge (would
    /// overflow), all zero, subnormal, and a tail.
    #[test]
    fn every_block_kind_matches_the_f64_reference() {
        let mut v = Vec::new();
        let scales = [
            1.0f32, 1e-30, 3e-33, 1e25, 0.0, -7.5, 1e-12, 1e-41, 1e-20, 2.0,
        ];
        // Blocks of the AVX-512 kernel's size.
        const B: usize = 512;
        #[cfg(target_arch = "x86_64")]
        assert_eq!(B, avx512::BLOCK);
        for (k, scale) in scales.iter().enumerate() {
            v.extend((0..B).map(|i| {
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
            (fast.n, fast.zeros, fast.subnormal, fast.nan, fast.inf),
            (slow.n, slow.zeros, slow.subnormal, 0, 0)
        );
        assert!(slow.subnormal > 0, "the 1e-41 block");
        assert_eq!(fast.max_abs, slow.max_abs);
        assert!((fast.sum_sq / slow.sum_sq - 1.0).abs() < 1e-6);
        assert!((fast.sum - slow.sum).abs() < 1e-6 * slow.l2());
        // Each block alone, and each run of blocks from the second on (the
        // scale of one block carried to the next), keeps its sums.
        for (a, b) in (0..scales.len()).flat_map(|a| (a + 1..=scales.len()).map(move |b| (a, b))) {
            let part = &v[B * a..B * b];
            let (fast, exact) = (tensor_stats(part), tensor_stats_portable(part));
            assert_eq!(
                (fast.zeros, fast.subnormal, fast.max_abs),
                (exact.zeros, exact.subnormal, exact.max_abs)
            );
            assert!(
                (fast.sum_sq / exact.sum_sq - 1.0).abs() < 1e-6
                    || (fast.sum_sq == 0.0 && exact.sum_sq == 0.0),
                "blocks {a}..{b}: {} vs {}",
                fast.sum_sq,
                exact.sum_sq
            );
            assert!(
                (fast.sum - exact.sum).abs() <= 1e-6 * exact.l2(),
                "blocks {a}..{b}"
            );
        }
    }

    /// A NaN or an infinity in a block after an out-of-range one (summed
    /// at a carried scale), and in an out-of-range block itself, still
    /// reaches the kernel that counts them.
    #[test]
    fn non_finite_entries_after_scaled_blocks_are_counted() {
        const B: usize = 512;
        let tiny = vec![1e-30f32; B];
        for (at, bad) in [
            (B + 3, f32::NAN),
            (B + 7, f32::INFINITY),
            (5, f32::NEG_INFINITY),
        ] {
            let mut v = [tiny.clone(), vec![2e-30f32; B], vec![0.5f32; B]].concat();
            v[at] = bad;
            let (fast, slow) = (tensor_stats(&v), tensor_stats_portable(&v));
            assert_eq!(
                (fast.nan, fast.inf, fast.zeros),
                (slow.nan, slow.inf, slow.zeros)
            );
            assert!(fast.sum_sq.is_finite() && (fast.sum_sq / slow.sum_sq - 1.0).abs() < 1e-12);
            assert_eq!(fast.max_abs, slow.max_abs);
        }
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

    /// At every SIMD level this machine runs, the dispatched kernel gives
    /// the reference's figures: f64 sums to 1e-12 (AVX2, portable) or to
    /// the blocks' 1e-6 (AVX-512), on finite tensors (the unmasked
    /// kernels) and with NaN and Inf (the masked ones), tails included.
    #[test]
    fn every_levels_kernel_matches_the_reference() {
        use crate::tensor::{with_pool, Simd, SIMD_LEVELS};
        for bad in [false, true] {
            let mut v: Vec<f32> = (0..4099)
                .map(|i| ((i as f32) * 0.37).sin() * if i % 5 == 0 { 1e-3 } else { 2.0 })
                .collect();
            v[17] = 0.0;
            v[4000] = 3e-40;
            if bad {
                v[9] = f32::NAN;
                v[2050] = f32::NEG_INFINITY;
            }
            let slow = tensor_stats_portable(&v);
            for level in SIMD_LEVELS.into_iter().filter(|l| l.runs_here()) {
                let fast = with_pool(1, level, || tensor_stats(&v));
                let what = format!("{level}, NaN/Inf: {bad}");
                assert_eq!(counts(&fast), counts(&slow), "{what}");
                assert_eq!((fast.n, fast.max_abs), (slow.n, slow.max_abs), "{what}");
                let tol = if level == Simd::Avx512 { 1e-6 } else { 1e-12 };
                assert!((fast.sum_sq / slow.sum_sq - 1.0).abs() < tol, "{what}");
                assert!(
                    (fast.sum - slow.sum).abs() < tol * slow.sum_sq.sqrt() * 70.0,
                    "{what}: {} vs {}",
                    fast.sum,
                    slow.sum
                );
            }
        }
    }

    /// The counts one entry at a time, by `classify` (independent of the
    /// kernels' comparisons): `(zeros, subnormal, nan, inf)`.
    fn naive_counts<T: Scalar>(values: &[T]) -> (u64, u64, u64, u64) {
        use std::num::FpCategory::*;
        let mut c = (0, 0, 0, 0);
        for v in values {
            match v.classify() {
                Zero => c.0 += 1,
                Subnormal => c.1 += 1,
                Nan => c.2 += 1,
                Infinite => c.3 += 1,
                Normal => {}
            }
        }
        c
    }

    fn counts(s: &TensorStats) -> (u64, u64, u64, u64) {
        (s.zeros, s.subnormal, s.nan, s.inf)
    }

    /// f32 entries of every class: zeros of both signs, subnormals of both
    /// signs (the smallest, the largest, and between), the smallest normal
    /// (not subnormal), ordinary and tiny normals; in whole AVX-512 blocks
    /// that are all subnormal (summed scaled), mixed with normals (summed
    /// as they are) and all zero, and a tail. `bad` adds NaN and Inf.
    fn every_class_f32(bad: bool) -> Vec<f32> {
        const B: usize = 512;
        let largest_subnormal = f32::from_bits(0x007f_ffff);
        let smallest_subnormal = f32::from_bits(1);
        let mut v = Vec::new();
        // All subnormal or zero: the max is below 2^-40, a scaled block.
        v.extend((0..B).map(|i| match i % 5 {
            0 => 0.0,
            1 => -smallest_subnormal,
            2 => largest_subnormal,
            3 => -1e-41,
            _ => 3e-44 * (i as f32),
        }));
        // Normals with a few subnormals and zeros: a plain block.
        v.extend((0..B).map(|i| match i % 37 {
            0 => 1e-40,
            1 => -2e-39,
            2 => -0.0,
            3 => f32::MIN_POSITIVE,
            4 => -f32::MIN_POSITIVE,
            _ => ((i as f32) * 0.61).sin(),
        }));
        v.extend(vec![0.0f32; B]);
        // Tiny normals with subnormals (scaled at the carried scale).
        v.extend((0..B).map(|i| if i % 3 == 0 { -5e-39 } else { 1e-30 }));
        // A tail shorter than a block, with every class.
        v.extend((0..77).map(|i| match i % 4 {
            0 => 0.0,
            1 => -7e-42,
            2 => 1.5,
            _ => 2e-38,
        }));
        if bad {
            for (at, x) in [
                (3, f32::NAN),
                (B + 9, f32::INFINITY),
                (v.len() - 2, f32::NEG_INFINITY),
            ] {
                v[at] = x;
            }
        }
        v
    }

    /// Every kernel path this CPU can run counts zeros, subnormals, NaN and
    /// Inf exactly as the naive count does; a path the CPU lacks is
    /// reported as skipped (the portable path and the dispatcher always
    /// run).
    #[test]
    fn every_kernel_counts_subnormals_exactly() {
        let mut ran = Vec::new();
        for bad in [false, true] {
            let v = every_class_f32(bad);
            let want = naive_counts(&v);
            assert!(
                want.0 > 0 && want.1 > 0,
                "the input has zeros and subnormals"
            );
            assert_eq!((want.2, want.3), if bad { (1, 2) } else { (0, 0) });
            let mut check = |name: &'static str, got: TensorStats| {
                assert_eq!(counts(&got), want, "{name} (NaN/Inf: {bad})");
                assert_eq!(got.n, v.len() as u64, "{name}");
                ran.push(name);
            };
            check("portable", tensor_stats_portable(&v));
            check("dispatch", tensor_stats(&v));
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::is_x86_feature_detected as has;
                if has!("avx512f") {
                    // SAFETY: AVX-512F is available (just detected).
                    check("avx512 masked", unsafe { avx512::stats_f32(&v) });
                }
                if has!("avx512f") && has!("avx512dq") && has!("popcnt") && !bad {
                    // SAFETY: AVX-512F, AVX-512DQ and POPCNT are available.
                    check("avx512 blocked", unsafe { avx512::stats_f32_blocked(&v) });
                    // SAFETY: as above.
                    check("avx512 f64 lanes", unsafe { avx512::stats_f32_finite(&v) });
                }
                if has!("avx2") {
                    // SAFETY: AVX2 is available (just detected).
                    check("avx2", unsafe { avx2::stats_f32(&v) });
                }
                if has!("avx2") && has!("fma") && !bad {
                    // SAFETY: AVX2 and FMA are available (just detected).
                    check("avx2 finite", unsafe { avx2::stats_f32_finite(&v) });
                }
            }
        }
        for path in ["avx512 masked", "avx512 blocked", "avx2", "avx2 finite"] {
            if !ran.contains(&path) {
                crate::tensor::testing::skip(&format!(
                    "the {path} kernel (this CPU lacks its features)"
                ));
            }
        }
    }

    /// f64 tensors count against f64's own smallest normal: f32's
    /// subnormal range is normal in f64.
    #[test]
    fn f64_subnormals_are_counted_against_f64s_range() {
        let v = [
            0.0f64,
            -0.0,
            1e-40,
            -1e-310,
            5e-324,
            f64::MIN_POSITIVE,
            -f64::from_bits(0x000f_ffff_ffff_ffff),
            f64::NAN,
            f64::INFINITY,
            1.0,
        ];
        let want = naive_counts(&v);
        assert_eq!(want, (2, 3, 1, 1));
        assert_eq!(counts(&tensor_stats(&v)), want);
        assert_eq!(counts(&tensor_stats_portable(&v)), want);
        // The same values in f32: 1e-40 is subnormal there, the f64
        // subnormals round to zeros.
        let f: Vec<f32> = v.iter().map(|&x| x as f32).collect();
        assert_eq!(naive_counts(&f), (6, 1, 1, 1));
        assert_eq!(counts(&tensor_stats(&f)), naive_counts(&f));
    }

    #[test]
    fn subnormal_counts_merge_and_give_a_fraction() {
        let v = every_class_f32(false);
        let (a, b) = v.split_at(700);
        let mut merged = tensor_stats(a);
        merged.merge(&tensor_stats(b));
        let whole = tensor_stats(&v);
        assert_eq!(counts(&merged), counts(&whole));
        assert_eq!(
            whole.subnormal_frac(),
            whole.subnormal as f64 / v.len() as f64
        );
        assert!(TensorStats::default().subnormal_frac().is_nan());
    }

    #[test]
    fn tiny_f32_values_keep_their_norm() {
        // (1e-30)^2 underflows in f32; accumulated in f64 it does not.
        let v = vec![1e-30f32; 16];
        assert!((tensor_stats(&v).l2() / 4e-30 - 1.0).abs() < 1e-6);
    }

    #[test]
    fn order_keys_sort_as_total_cmp() {
        let mut v = vec![
            -3.5,
            0.0,
            -0.0,
            2.0,
            -1e-300,
            1e300,
            f64::MIN_POSITIVE,
            -7.0,
            5e-324,
        ];
        let mut keys: Vec<i64> = v.iter().map(|&x| order_key(x)).collect();
        keys.sort_unstable();
        v.sort_by(f64::total_cmp);
        let back: Vec<u64> = keys.iter().map(|&k| from_order_key(k).to_bits()).collect();
        assert_eq!(back, v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (0..101).map(|i| i as f64).collect();
        assert_eq!(
            percentiles(&v, &[0.15, 0.5, 0.85], 1000),
            vec![15.0, 50.0, 85.0]
        );
        assert!(percentiles::<f64>(&[f64::NAN], &[0.5], 10)[0].is_nan());
        // Non-finite values are left out.
        let mixed = [1.0, f64::INFINITY, 2.0, f64::NEG_INFINITY, f64::NAN, 3.0];
        assert_eq!(percentiles(&mixed, &[0.0, 1.0], 10), vec![1.0, 3.0]);
        // Any order of ranks, repeats included, on shuffled values.
        let shuffled: Vec<f64> = (0..1001).map(|i| ((i * 389) % 1001) as f64).collect();
        assert_eq!(
            percentiles(&shuffled, &[0.9, 0.1, 0.5, 0.1, 1.0, 0.0], 5000),
            vec![900.0, 100.0, 500.0, 100.0, 1000.0, 0.0]
        );
    }
}
