//! The register operations our GEMM kernel ([`super::sgemm`]) is written
//! in, on the two x86-64 instruction sets it is built for, for f32 and
//! f64: AVX-512 (16 f32 or 8 f64 lanes, 32 registers, masks in `k`
//! registers) and AVX2 + FMA (8 f32 or 4 f64 lanes, 16 registers, masks
//! as vectors). The kernel's tile is one generic body over [`Isa`],
//! compiled once per instruction set and element type inside a function
//! that enables the set, so each build inlines its own intrinsics.
//!
//! Every method is `#[inline(always)]` and has no `#[target_feature]` of
//! its own (the two cannot be combined): it is only ever called, inlined,
//! from a function that enables the instruction set, which is its safety
//! contract.

use super::Scalar;
use std::arch::x86_64::*;

/// An instruction set's vector register of one element type and the
/// operations on it.
pub trait Isa: Copy + 'static {
    /// The element: f32 or f64.
    type E: Scalar;
    /// A register of [`Self::LANES`] elements.
    type V: Copy;
    /// The lanes a masked load or store touches.
    type Mask: Copy;
    /// Elements per register.
    const LANES: usize;
    /// Registers of `B` per tile row (the tile is `MR x VECTORS * LANES`).
    const VECTORS: usize;
    /// The name `gradscope bench` prints.
    const NAME: &'static str;

    /// Whether this machine runs the instruction set.
    fn available() -> bool;

    /// The first `lanes` lanes (`1..=LANES`).
    ///
    /// # Safety
    /// The instruction set is enabled in the caller (module doc).
    unsafe fn mask(lanes: usize) -> Self::Mask;
    /// All lanes zero.
    ///
    /// # Safety
    /// As [`Self::mask`].
    unsafe fn zero() -> Self::V;
    /// `x` in every lane.
    ///
    /// # Safety
    /// As [`Self::mask`].
    unsafe fn splat(x: Self::E) -> Self::V;
    /// `LANES` elements at `p`.
    ///
    /// # Safety
    /// As [`Self::mask`]; `p` points to `LANES` readable elements.
    unsafe fn load(p: *const Self::E) -> Self::V;
    /// The masked lanes at `p`, zero elsewhere.
    ///
    /// # Safety
    /// As [`Self::mask`]; the masked lanes at `p` are readable.
    unsafe fn load_masked(mask: Self::Mask, p: *const Self::E) -> Self::V;
    /// `v`'s lanes to `p`.
    ///
    /// # Safety
    /// As [`Self::mask`]; `p` points to `LANES` writable elements.
    unsafe fn store(p: *mut Self::E, v: Self::V);
    /// `v`'s masked lanes to `p`.
    ///
    /// # Safety
    /// As [`Self::mask`]; the masked lanes at `p` are writable.
    unsafe fn store_masked(mask: Self::Mask, p: *mut Self::E, v: Self::V);
    /// `a b + c`, fused.
    ///
    /// # Safety
    /// As [`Self::mask`].
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b`.
    ///
    /// # Safety
    /// As [`Self::mask`].
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a b`.
    ///
    /// # Safety
    /// As [`Self::mask`].
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
}

/// AVX-512 F on f32: 16 lanes, tiles of 6 x 64.
#[derive(Clone, Copy, Debug)]
pub struct Avx512;

/// AVX2 with FMA on f32: 8 lanes, tiles of 6 x 16 (12 accumulators, two
/// registers of `B` and a broadcast: 15 of the 16 registers).
#[derive(Clone, Copy, Debug)]
pub struct Avx2;

/// AVX-512 F on f64: 8 lanes, tiles of 6 x 32.
#[derive(Clone, Copy, Debug)]
pub struct Avx512F64;

/// AVX2 with FMA on f64: 4 lanes, tiles of 6 x 8.
#[derive(Clone, Copy, Debug)]
pub struct Avx2F64;

/// An element type our kernel is built for, and its build on each
/// instruction set.
pub trait Elem: Scalar {
    /// The AVX-512 build's register operations.
    type Avx512: Isa<E = Self>;
    /// The AVX2 build's register operations.
    type Avx2: Isa<E = Self>;
}

impl Elem for f32 {
    type Avx512 = Avx512;
    type Avx2 = Avx2;
}

impl Elem for f64 {
    type Avx512 = Avx512F64;
    type Avx2 = Avx2F64;
}

// SAFETY (every method of the four impls): the caller enables the
// instruction set (the trait's contract) and upholds each method's
// pointer contract, which is the intrinsic's.
impl Isa for Avx512 {
    type E = f32;
    type V = __m512;
    type Mask = __mmask16;
    const LANES: usize = 16;
    const VECTORS: usize = 4;
    const NAME: &'static str = "avx512";

    fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
    }

    #[inline(always)]
    unsafe fn mask(lanes: usize) -> __mmask16 {
        if lanes >= 16 {
            !0
        } else {
            (1u16 << lanes) - 1
        }
    }
    #[inline(always)]
    unsafe fn zero() -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(mask: __mmask16, p: *const f32) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_maskz_loadu_ps(mask, p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m512) {
        // SAFETY: see the impl.
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(mask: __mmask16, p: *mut f32, v: __m512) {
        // SAFETY: see the impl.
        unsafe { _mm512_mask_storeu_ps(p, mask, v) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m512, b: __m512, c: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512, b: __m512) -> __m512 {
        // SAFETY: see the impl.
        unsafe { _mm512_mul_ps(a, b) }
    }
}

impl Isa for Avx2 {
    type E = f32;
    type V = __m256;
    type Mask = __m256i;
    const LANES: usize = 8;
    const VECTORS: usize = 2;
    const NAME: &'static str = "avx2";

    fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }

    #[inline(always)]
    unsafe fn mask(lanes: usize) -> __m256i {
        // Lane i is on when i < lanes: -1 where `lanes - i > 0`.
        // SAFETY: see the impl.
        unsafe {
            let index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes.min(8) as i32), index)
        }
    }
    #[inline(always)]
    unsafe fn zero() -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(mask: __m256i, p: *const f32) -> __m256 {
        // SAFETY: see the impl (masked-off lanes are not read).
        unsafe { _mm256_maskload_ps(p, mask) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: __m256) {
        // SAFETY: see the impl.
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(mask: __m256i, p: *mut f32, v: __m256) {
        // SAFETY: see the impl (masked-off lanes are not written).
        unsafe { _mm256_maskstore_ps(p, mask, v) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m256, b: __m256, c: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256, b: __m256) -> __m256 {
        // SAFETY: see the impl.
        unsafe { _mm256_mul_ps(a, b) }
    }
}

impl Isa for Avx512F64 {
    type E = f64;
    type V = __m512d;
    type Mask = __mmask8;
    const LANES: usize = 8;
    const VECTORS: usize = 4;
    const NAME: &'static str = "avx512";

    fn available() -> bool {
        Avx512::available()
    }

    #[inline(always)]
    unsafe fn mask(lanes: usize) -> __mmask8 {
        if lanes >= 8 {
            !0
        } else {
            (1u8 << lanes) - 1
        }
    }
    #[inline(always)]
    unsafe fn zero() -> __m512d {
        // SAFETY: see the impl.
        unsafe { _mm512_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn splat(x: f64) -> __m512d {
        // SAFETY: see the impl.
        unsafe { _mm512_set1_pd(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m512d {
        // SAFETY: see the impl.
        unsafe { _mm512_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(mask: __mmask8, p: *const f64) -> __m512d {
        // SAFETY: see the impl.
        unsafe { _mm512_maskz_loadu_pd(mask, p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f64, v: __m512d) {
        // SAFETY: see the impl.
        unsafe { _mm512_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(mask: __mmask8, p: *mut f64, v: __m512d) {
        // SAFETY: see the impl.
        unsafe { _mm512_mask_storeu_pd(p, mask, v) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m512d, b: __m512d, c: __m512d) -> __m512d {
        // SAFETY: see the impl.
        unsafe { _mm512_fmadd_pd(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: see the impl.
        unsafe { _mm512_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m512d, b: __m512d) -> __m512d {
        // SAFETY: see the impl.
        unsafe { _mm512_mul_pd(a, b) }
    }
}

impl Isa for Avx2F64 {
    type E = f64;
    type V = __m256d;
    type Mask = __m256i;
    const LANES: usize = 4;
    const VECTORS: usize = 2;
    const NAME: &'static str = "avx2";

    fn available() -> bool {
        Avx2::available()
    }

    #[inline(always)]
    unsafe fn mask(lanes: usize) -> __m256i {
        // Lane i is on when i < lanes, as for f32, in 64-bit lanes.
        // SAFETY: see the impl.
        unsafe {
            let index = _mm256_setr_epi64x(0, 1, 2, 3);
            _mm256_cmpgt_epi64(_mm256_set1_epi64x(lanes.min(4) as i64), index)
        }
    }
    #[inline(always)]
    unsafe fn zero() -> __m256d {
        // SAFETY: see the impl.
        unsafe { _mm256_setzero_pd() }
    }
    #[inline(always)]
    unsafe fn splat(x: f64) -> __m256d {
        // SAFETY: see the impl.
        unsafe { _mm256_set1_pd(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> __m256d {
        // SAFETY: see the impl.
        unsafe { _mm256_loadu_pd(p) }
    }
    #[inline(always)]
    unsafe fn load_masked(mask: __m256i, p: *const f64) -> __m256d {
        // SAFETY: see the impl (masked-off lanes are not read).
        unsafe { _mm256_maskload_pd(p, mask) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f64, v: __m256d) {
        // SAFETY: see the impl.
        unsafe { _mm256_storeu_pd(p, v) }
    }
    #[inline(always)]
    unsafe fn store_masked(mask: __m256i, p: *mut f64, v: __m256d) {
        // SAFETY: see the impl (masked-off lanes are not written).
        unsafe { _mm256_maskstore_pd(p, mask, v) }
    }
    #[inline(always)]
    unsafe fn fma(a: __m256d, b: __m256d, c: __m256d) -> __m256d {
        // SAFETY: see the impl.
        unsafe { _mm256_fmadd_pd(a, b, c) }
    }
    #[inline(always)]
    unsafe fn add(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: see the impl.
        unsafe { _mm256_add_pd(a, b) }
    }
    #[inline(always)]
    unsafe fn mul(a: __m256d, b: __m256d) -> __m256d {
        // SAFETY: see the impl.
        unsafe { _mm256_mul_pd(a, b) }
    }
}
