//! The element type of a [`Matrix`](super::Matrix): `f32` (training default)
//! or `f64` (gradient checks, and training when a vanished gradient must be
//! resolved below f32's smallest subnormal, 1.4e-45).
//!
//! Besides the `num_traits::Float` arithmetic, a scalar knows how to multiply
//! matrices (dispatching to the GEMM crate for its own width), its exact `erf`
//! and a fast, vectorizable `exp` used in the hot activation loops.

use num_traits::Float;
use std::fmt::{Debug, Display};

/// A floating-point element type the engine can train in.
pub trait Scalar:
    Float + Default + Debug + Display + Send + Sync + std::iter::Sum + 'static
{
    /// `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Converts an `f64` constant or statistic to this type (rounding).
    fn cast(x: f64) -> Self;

    /// Widens to `f64`, exactly.
    fn as_f64(self) -> f64;

    /// The error function (exact to the type's precision).
    fn erf(self) -> Self;

    /// `exp(x)`, written so loops over slices vectorize. For f32 it is a
    /// Cody-Waite range reduction and a degree-6 polynomial (max relative
    /// error about 2 ulp over the whole range, 0 below -87.3 and +inf above
    /// 88.7); for f64 it is the standard library's `exp`.
    fn exp_fast(self) -> Self;

    /// `tanh(x)`, written so loops over slices vectorize. For f32 it is
    /// Eigen's rational approximation (degree 13 over 6, inputs clamped to
    /// +-7.905, where f32 `tanh` is 1; `x` itself below 4e-4), within
    /// 4e-7 of the exact value everywhere, 1e-6 relative (see the test); for f64 it is the
    /// standard library's `tanh`.
    fn tanh_fast(self) -> Self;

    /// `C = alpha A B + beta C` through the `matrixmultiply` crate.
    ///
    /// # Safety
    /// The pointers and strides must describe valid `m x k`, `k x n` and
    /// `m x n` matrices, and `c` must not alias `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn matrixmultiply(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Scalar for f32 {
    const NAME: &'static str = "f32";

    #[inline]
    fn cast(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erff(self)
    }
    #[inline]
    fn exp_fast(self) -> Self {
        exp_f32(self)
    }
    #[inline]
    fn tanh_fast(self) -> Self {
        tanh_f32(self)
    }

    /// `matrixmultiply::sgemm`.
    ///
    /// # Safety
    /// As [`Scalar::matrixmultiply`].
    unsafe fn matrixmultiply(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: the caller upholds the trait's `# Safety` (valid `m x k`,
        // `k x n` and `m x n` matrices at these strides, `c` aliasing
        // neither `a` nor `b`), which is `sgemm`'s own contract.
        unsafe {
            matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }
}

impl Scalar for f64 {
    const NAME: &'static str = "f64";

    #[inline]
    fn cast(x: f64) -> Self {
        x
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erf(self)
    }
    #[inline]
    fn exp_fast(self) -> Self {
        self.exp()
    }
    #[inline]
    fn tanh_fast(self) -> Self {
        self.tanh()
    }

    /// `matrixmultiply::dgemm`.
    ///
    /// # Safety
    /// As [`Scalar::matrixmultiply`].
    unsafe fn matrixmultiply(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: the caller upholds the trait's `# Safety` (valid `m x k`,
        // `k x n` and `m x n` matrices at these strides, `c` aliasing
        // neither `a` nor `b`), which is `dgemm`'s own contract.
        unsafe {
            matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
        }
    }
}

/// Branch-free f32 `exp`: `x = n ln2 + r`, `|r| <= ln2/2`, `exp(r)` by a
/// minimax polynomial (Cephes `expf` coefficients), `2^n` built in the
/// exponent bits. Inputs outside the finite range saturate to 0 or +inf.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const HI: f32 = 88.722_83;
    const LO: f32 = -87.336_55;
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let xc = x.clamp(LO, HI);
    let n = round_half_away(xc * LOG2E);
    let r = xc - n * LN2_HI - n * LN2_LO;
    let r2 = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5e-1;
    let e = p * r2 + r + 1.0;
    // 2^n for n in [-126, 128]: split n in two halves so 2^128 is reachable.
    // n is an integer there, so n + 1.5 * 2^23 is exact and its low bits are
    // n: the same as `n as i32` without a (non-vectorizing) saturating cast.
    // (A NaN input gives a garbage n here, but `e` is NaN, so y is NaN.)
    let n = (n + ROUND_MAGIC).to_bits() as i32 - ROUND_MAGIC.to_bits() as i32;
    let h = n / 2;
    let s1 = f32::from_bits(((h + 127) as u32) << 23);
    let s2 = f32::from_bits(((n - h + 127) as u32) << 23);
    let y = e * s1 * s2;
    if x < LO {
        0.0
    } else if x > HI {
        f32::INFINITY
    } else {
        y
    }
}

/// Branch-free f32 `tanh`: Eigen's `generic_fast_tanh_float`, an odd
/// degree-13 polynomial over an even degree-6 one, on inputs clamped to
/// `+-7.905311` (beyond, f32 `tanh` rounds to 1 and the ratio would pass
/// it); below `4e-4` in magnitude `tanh(x)` is `x` to f32 precision. A NaN
/// input stays NaN (`clamp` keeps it).
#[inline(always)]
fn tanh_f32(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    let xc = x.clamp(-CLAMP, CLAMP);
    let x2 = xc * xc;
    let p = ((((((-2.760_768_5e-16 * x2 + 2.000_188e-13) * x2 - 8.604_672e-11) * x2
        + 5.122_297e-8)
        * x2
        + 1.485_722_4e-5)
        * x2
        + 6.372_619_3e-4)
        * x2
        + 4.893_524_6e-3)
        * xc;
    let q = ((1.198_258_4e-6 * x2 + 1.185_347e-4) * x2 + 2.268_434_6e-3) * x2 + 4.893_525e-3;
    if x.abs() < 4e-4 {
        x
    } else {
        p / q
    }
}

/// `1.5 * 2^23`: adding it to an `f32` of magnitude below `2^22` rounds to
/// an integer (nearest-even), held in the low mantissa bits.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// `v.round()` (half away from zero) for `|v| < 2^22`, without a libm
/// call, so loops over it vectorize on baseline x86-64 (no SSE4.1
/// `roundps`): adding and removing `1.5 * 2^23` rounds to nearest-even,
/// and a tie (`|v - t| = 1/2`, exact) is then pushed away from zero.
#[inline(always)]
fn round_half_away(v: f32) -> f32 {
    let t = (v + ROUND_MAGIC) - ROUND_MAGIC;
    if (v - t).abs() == 0.5 {
        v + 0.5f32.copysign(v)
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_matches_std_within_3_ulp() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.5 {
            let got = x.exp_fast() as f64;
            let want = (x as f64).exp();
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_7;
        }
        // 3 ulp of f32 is 3 * 2^-23 = 3.6e-7 relative.
        assert!(worst < 3.6e-7, "worst relative error {worst}");
    }

    #[test]
    fn fast_tanh_is_within_4e7_of_tanh_and_never_past_one() {
        let (mut worst_abs, mut worst_rel) = (0.0f64, 0.0f64);
        let mut x = -12.0f32;
        while x < 12.0 {
            let got = x.tanh_fast() as f64;
            let want = (x as f64).tanh();
            worst_abs = worst_abs.max((got - want).abs());
            if want.abs() > 1e-3 {
                worst_rel = worst_rel.max(((got - want) / want).abs());
            }
            assert!(got.abs() <= 1.0, "tanh({x}) = {got}");
            x += 0.000_37;
        }
        assert!(
            worst_abs < 4e-7 && worst_rel < 1e-6,
            "worst errors: absolute {worst_abs}, relative {worst_rel}"
        );
        // Tiny inputs: exact; odd; NaN stays NaN.
        assert_eq!(1e-5f32.tanh_fast(), 1e-5);
        assert_eq!((-0.3f32).tanh_fast(), -(0.3f32.tanh_fast()));
        assert!(f32::NAN.tanh_fast().is_nan());
        assert_eq!(0.7f64.tanh_fast(), 0.7f64.tanh());
    }

    #[test]
    fn round_half_away_matches_std_round() {
        for v in [
            0.0f32,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            -2.5,
            0.499_999_97,
            126.5,
            -126.5,
        ] {
            assert_eq!(round_half_away(v), v.round(), "{v}"); // -0.0 == 0.0 here
        }
        let mut v = -130.0f32;
        while v < 130.0 {
            assert_eq!(round_half_away(v), v.round(), "{v}");
            v += 0.013_7;
        }
    }

    #[test]
    fn fast_exp_saturates_outside_the_finite_range() {
        assert_eq!((-100.0f32).exp_fast(), 0.0);
        assert_eq!(100.0f32.exp_fast(), f32::INFINITY);
        assert_eq!(0.0f32.exp_fast(), 1.0);
        assert!(f32::NAN.exp_fast().is_nan());
    }

    #[test]
    fn erf_is_exact_enough() {
        // erf(1) = 0.8427007929497149 (Abramowitz & Stegun table 7.1)
        assert!((Scalar::erf(1.0f64) - 0.842_700_792_949_714_9).abs() < 1e-15);
        assert!((Scalar::erf(1.0f32) - 0.842_700_8).abs() < 1e-7);
    }
}
