//! gradscope's own GEMM for f32 and f64, built for AVX-512 and for AVX2
//! with FMA ([`Kernel`]): `C = alpha A B (+ C)` with `A` read by
//! broadcasting and `B` by rows, so neither operand is ever packed.
//!
//! # Why our own
//! The `gemm` crate repacks its left operand on every product; in a
//! training step that is the layer's weight, repacked in the forward and
//! the input-gradient product (12 to 22% of a step, docs/PERFORMANCE.md).
//! Here the weight is never copied: any orientation of `A` is broadcast
//! through two strides, and `super::own_gemm` picks, per product, which
//! operand is `A` (on the benchmark's shapes):
//! - forward `y = x W^T`: computed as `y^T = W x^T`, `W` broadcast row by
//!   row (six rows streamed at once, one element per 16-lane FMA row),
//!   `x^T` (batch-sized, a transpose into scratch) read by rows, the tile
//!   written back transposed;
//! - input gradient `dx = g W`: `g` broadcast, `W` read by rows; above L2
//!   transposed like the forward (`W^T` broadcast, `g^T` read by rows);
//! - weight gradient `dW += g^T x`: `g^T` broadcast (six adjacent entries
//!   of a row of `g`), `x` read by rows.
//!
//! # The microkernel
//! One generic tile body over the instruction set and element type
//! ([`super::isa::Isa`]), compiled inside a function enabling AVX-512 and
//! inside one enabling AVX2 and FMA, for f32 and for f64. Dense products
//! run the AVX-512 build at the `avx512` SIMD level ([`Kernel::best`]);
//! gathered convolutions run the level's build, AVX-512 or AVX2
//! ([`Kernel::of_level`]); `Backend::GradscopeAvx2` asks for the AVX2
//! build (which also tests and measures it on an AVX-512 machine). On
//! AVX-512 a tile is `R <= 6` rows by `V <= 4` vectors of 16 f32 (8 f64):
//! 24 `zmm` accumulators, 4 row vectors of `B` and one broadcast per row
//! of `A` per step of `k`, so each step is 24 FMAs against 10 loads. On
//! AVX2 (16 registers) it is `R <= 6` by `V <= 2` vectors of 8 f32 (4
//! f64): 12 `ymm` accumulators, 2 of `B` and a broadcast, 12 FMAs against
//! 8 loads. The
//! last vector of a tile is loaded and stored under a mask, so any `n`
//! works without padding. Each entry of `C` is one chain of FMAs over `k` in order: the
//! result does not depend on the tiling or the thread count.
//!
//! Prefetch, one line per step of `k`: where `A`'s rows run along `k`
//! (the forward's `W`, the input gradient's `g`), the lines of the next
//! block of rows, so the next tile does not wait for six new streams to
//! ramp up; otherwise (a step of `k` jumps a row, six rows share a line)
//! the stream `PF` steps ahead. A tile that accumulates into `C` prefetches
//! its part of `C` before its loop.
//!
//! # Loop order and threads
//! Tiles are visited so that the larger operand is streamed once: when `A`
//! is larger (the forward product, `A = W`), row blocks are the outer loop
//! and a row block of `A` stays in L1 across the column blocks; otherwise
//! column blocks are outer and a `k x 64` panel of `B` stays in L2 across
//! the row blocks. Threads split the outer loop in halves.

use super::isa::{Avx2, Avx512, Elem, Isa};
use super::split::{in_halves, Split};
use num_traits::{One, Zero};
use std::arch::x86_64::*;
use std::ops::Range;

/// Rows of `A` per tile.
const MR: usize = 6;
/// The most columns a tile has (AVX-512's 4 vectors of 16).
const MAX_NR: usize = 64;
/// Steps of `k` ahead that the broadcast stream is prefetched (measured:
/// docs/PERFORMANCE.md, "Our GEMM").
const PF: usize = 24;
/// Bytes per cache line.
const LINE: usize = 64;

/// Which build of the kernel runs a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// 16 f32 or 8 f64 lanes: 6 x 64 or 6 x 32 tiles.
    Avx512,
    /// 8 f32 or 4 f64 lanes: 6 x 16 or 6 x 8 tiles.
    Avx2,
}

impl Kernel {
    /// The build `Backend::Gradscope` runs dense products on at the
    /// current SIMD level (`super::simd`): AVX-512's at `avx512`; none
    /// (the `gemm` crate) below. At `avx2` the crate's own AVX2 code
    /// trained the benchmark MLPs up to 40% faster than our AVX2 build,
    /// and never slower by more than noise (docs/PERFORMANCE.md, "Dense
    /// products at the AVX2 level"), so it keeps them.
    pub fn best() -> Option<Self> {
        (super::simd::simd() == super::simd::Simd::Avx512).then_some(Self::Avx512)
    }

    /// The build of the current SIMD level, for the products only our
    /// kernel computes (a convolution's gathered patches,
    /// `super::gathered`): AVX-512's, AVX2's, or none at `portable`. On
    /// AVX2 it trains ResNet-20 1.7x faster than unfolded patches on the
    /// `gemm` crate.
    pub fn of_level() -> Option<Self> {
        match super::simd::simd() {
            super::simd::Simd::Avx512 => Some(Self::Avx512),
            super::simd::Simd::Avx2 => Some(Self::Avx2),
            super::simd::Simd::Portable => None,
        }
    }

    /// The build `backend` asks for, where this machine runs it.
    pub fn of(backend: super::Backend) -> Option<Self> {
        match backend {
            super::Backend::Gradscope => Self::best(),
            super::Backend::GradscopeAvx2 => Self::Avx2.runs_here().then_some(Self::Avx2),
            _ => None,
        }
    }

    /// Whether this machine runs this build.
    pub fn runs_here(self) -> bool {
        match self {
            Self::Avx512 => Avx512::available(),
            Self::Avx2 => Avx2::available(),
        }
    }

    /// The name `gradscope bench` prints.
    pub fn name(self) -> &'static str {
        match self {
            Self::Avx512 => Avx512::NAME,
            Self::Avx2 => Avx2::NAME,
        }
    }

    /// Columns per tile for elements `E`.
    fn tile_cols<E: Elem>(self) -> usize {
        match self {
            Self::Avx512 => E::Avx512::LANES * E::Avx512::VECTORS,
            Self::Avx2 => E::Avx2::LANES * E::Avx2::VECTORS,
        }
    }
}

/// Where the product `C` (`m x n`) goes.
#[derive(Clone, Copy, Debug)]
pub enum Out<E> {
    /// `C` itself, row-major with leading dimension `ld`.
    Rows { ptr: *mut E, ld: usize },
    /// `C^T` (`n x m`), row-major with leading dimension `ld`.
    Transposed { ptr: *mut E, ld: usize },
}

/// One product `C = alpha A B (+ bias_i on row i) (+ C when accumulate)`:
/// `A` is `m x k` with element `(i, p)` at `a[i * a_rs + p * a_cs]`, or,
/// gathered, at `a[a_rows[i] + a_cols[p]]` when `a_rows` is not null (a
/// convolution's patches read in place: `super::gathered`); `B` is `k x n`
/// with row `p` at `b[p * ldb..][..n]`; `bias` is null or `m` long.
#[derive(Clone, Copy, Debug)]
pub struct Problem<E> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: *const E,
    pub a_rs: usize,
    pub a_cs: usize,
    /// Null, or `m` offsets: where each row of a gathered `A` starts.
    pub a_rows: *const usize,
    /// `k` offsets (when `a_rows` is not null): each column's place in a row.
    pub a_cols: *const usize,
    pub b: *const E,
    pub ldb: usize,
    pub out: Out<E>,
    pub alpha: E,
    pub bias: *const E,
    pub accumulate: bool,
}

// SAFETY: a `Problem` is plain data plus pointers; it only crosses threads
// inside one `run`, whose contract keeps the buffers live until it returns
// (the type is private to the tensor module).
unsafe impl<E: Send> Send for Problem<E> {}
// SAFETY: a `Problem` is only shared among the threads of one `run`, which
// write disjoint tiles of `out` and only read `a`, `b` and `bias` (the type
// is private to the tensor module; `run`'s contract covers the pointers).
unsafe impl<E: Sync> Sync for Problem<E> {}

/// Computes `p` on up to `threads` threads with `kernel`.
///
/// # Safety
/// The machine must run `kernel` ([`Kernel::runs_here`]); the pointers and
/// strides must describe live buffers of the stated shapes, with `k` at
/// least 1 (a tile starts reading at `B`'s first row), and `out` must not
/// overlap `a`, `b` or `bias`.
pub unsafe fn run<E: Elem>(p: &Problem<E>, kernel: Kernel, threads: usize) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    let row_blocks = p.m.div_ceil(MR);
    let col_blocks = p.n.div_ceil(kernel.tile_cols::<E>());
    // The larger operand is streamed once (module doc). Threads take
    // halves of the outer blocks.
    let rows_outer = p.m >= p.n;
    let outer = if rows_outer { row_blocks } else { col_blocks };
    in_halves(
        0..outer,
        Split::new(outer, 1, threads.max(1)),
        &|blocks: Range<usize>, _| {
            // SAFETY: `run`'s contract (the caller's); each leaf writes
            // the tiles of its own outer blocks, disjoint from the others'.
            unsafe { tiles(p, kernel, rows_outer, blocks, row_blocks, col_blocks) }
        },
        &|(), ()| (),
    );
}

/// Runs the tiles of the outer `blocks` (row blocks when `rows_outer`,
/// else column blocks), across all blocks of the other dimension.
///
/// # Safety
/// As [`run`]; `row_blocks` and `col_blocks` are `p`'s (`m` over [`MR`],
/// `n` over the kernel's tile columns, rounded up), and `blocks` lies within the outer ones.
unsafe fn tiles<E: Elem>(
    p: &Problem<E>,
    kernel: Kernel,
    rows_outer: bool,
    blocks: Range<usize>,
    row_blocks: usize,
    col_blocks: usize,
) {
    if rows_outer {
        for rb in blocks {
            for cb in 0..col_blocks {
                // SAFETY: `run`'s contract (the caller's); `rb` is in
                // `blocks`, `cb < col_blocks`: a tile of `C`.
                unsafe { tile_at(p, kernel, rb, cb) };
            }
        }
    } else {
        for cb in blocks {
            for rb in 0..row_blocks {
                // SAFETY: `run`'s contract (the caller's); `cb` is in
                // `blocks`, `rb < row_blocks`: a tile of `C`.
                unsafe { tile_at(p, kernel, rb, cb) };
            }
        }
    }
}

/// The tile at row block `rb`, column block `cb`.
///
/// # Safety
/// As [`run`]; `rb` and `cb` name a tile of `C` (`rb * MR < m`,
/// `cb * kernel.tile_cols() < n`).
unsafe fn tile_at<E: Elem>(p: &Problem<E>, kernel: Kernel, rb: usize, cb: usize) {
    let nr = kernel.tile_cols::<E>();
    let i0 = rb * MR;
    let j0 = cb * nr;
    let rows = (p.m - i0).min(MR);
    let cols = (p.n - j0).min(nr);
    let gather = !p.a_rows.is_null();
    macro_rules! dispatch {
        ($tile:ident, $lanes:expr; $($v:literal)*) => {{
            let vectors = cols.div_ceil($lanes);
            let at = At { i0, j0, cols };
            match (rows, vectors, gather) {
                $(
                    (1, $v, false) => $tile::<E, 1, $v, false>(p, at),
                    (2, $v, false) => $tile::<E, 2, $v, false>(p, at),
                    (3, $v, false) => $tile::<E, 3, $v, false>(p, at),
                    (4, $v, false) => $tile::<E, 4, $v, false>(p, at),
                    (5, $v, false) => $tile::<E, 5, $v, false>(p, at),
                    (6, $v, false) => $tile::<E, 6, $v, false>(p, at),
                    (1, $v, true) => $tile::<E, 1, $v, true>(p, at),
                    (2, $v, true) => $tile::<E, 2, $v, true>(p, at),
                    (3, $v, true) => $tile::<E, 3, $v, true>(p, at),
                    (4, $v, true) => $tile::<E, 4, $v, true>(p, at),
                    (5, $v, true) => $tile::<E, 5, $v, true>(p, at),
                    (6, $v, true) => $tile::<E, 6, $v, true>(p, at),
                )*
                _ => unreachable!("tile of {rows} rows, {vectors} vectors"),
            }
        }};
    }
    // SAFETY: `run`'s contract (the caller's), the kernel's instruction
    // set among it; `at` is the tile at (`rb`, `cb`), inside `C`, and
    // `rows`, `vectors` are its shape, which is the tile's contract;
    // `GATHER` says whether `A` is gathered.
    unsafe {
        match kernel {
            Kernel::Avx512 => dispatch!(tile_avx512, E::Avx512::LANES; 1 2 3 4),
            Kernel::Avx2 => dispatch!(tile_avx2, E::Avx2::LANES; 1 2),
        }
    }
}

/// A tile's place in `C`.
#[derive(Clone, Copy)]
struct At {
    i0: usize,
    j0: usize,
    cols: usize,
}

/// `V` vectors of `B`'s row at `b`, the last under `mask` (inside an
/// `unsafe` block of [`tile`]; a macro, so the vectors stay in
/// registers). A branch to skip the mask in full tiles made the AVX2
/// build 40% slower; the write-back, once per tile, does skip it.
macro_rules! load_row {
    ($b:expr, $mask:expr, $v:expr) => {{
        let mut bv = [I::zero(); $v];
        for (v, slot) in bv.iter_mut().enumerate() {
            *slot = if v + 1 == $v {
                I::load_masked($mask, $b.add(I::LANES * v))
            } else {
                I::load($b.add(I::LANES * v))
            };
        }
        bv
    }};
}

/// [`tile`] on AVX-512.
///
/// # Safety
/// As [`tile`], on a machine with AVX-512 F.
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512<E: Elem, const R: usize, const V: usize, const GATHER: bool>(
    p: &Problem<E>,
    at: At,
) {
    // SAFETY: the caller's contract; AVX-512 F is enabled here.
    unsafe { tile::<E::Avx512, R, V, GATHER>(p, at) }
}

/// [`tile`] on AVX2.
///
/// # Safety
/// As [`tile`], on a machine with AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2<E: Elem, const R: usize, const V: usize, const GATHER: bool>(
    p: &Problem<E>,
    at: At,
) {
    // SAFETY: the caller's contract; AVX2 and FMA are enabled here.
    unsafe { tile::<E::Avx2, R, V, GATHER>(p, at) }
}

/// One `R x V LANES` tile: accumulate over `k` in registers, then write.
/// `GATHER`: `A` is read through `a_rows` and `a_cols` (`Problem`).
/// Inlined into the function that enables `I` ([`tile_avx512`],
/// [`tile_avx2`]).
///
/// # Safety
/// As [`run`], with `I` enabled in the caller; `at` is a tile of `C` of
/// `R` rows (`at.i0 + R <= m`) and `V` vectors
/// (`LANES (V - 1) < at.cols <= LANES V`, `at.j0 + at.cols <= n`);
/// `GATHER` is whether `a_rows` is not null.
#[inline(always)]
unsafe fn tile<I: Isa, const R: usize, const V: usize, const GATHER: bool>(
    p: &Problem<I::E>,
    at: At,
) {
    if let (Out::Rows { ptr, ld }, true) = (p.out, p.accumulate) {
        // The tile's part of C is read back at the end: fetch it meanwhile.
        for r in 0..R {
            // SAFETY: row `i0 + r < m` of `C` and its columns
            // `j0 + LANES v` (`LANES v < cols`) and `j0 + cols - 1`, all
            // below `n`: offsets inside `C` (`tile`'s contract).
            unsafe {
                let c = ptr.add((at.i0 + r) * ld + at.j0);
                for v in 0..V {
                    _mm_prefetch::<_MM_HINT_T0>(c.add(I::LANES * v) as *const i8);
                }
                _mm_prefetch::<_MM_HINT_T0>(c.add(at.cols - 1) as *const i8);
            }
        }
    }
    // SAFETY: `I` is enabled (`tile`'s contract). `mask`: the lanes of
    // the last vector inside `C`.
    let (mut acc, mask) = unsafe { ([[I::zero(); V]; R], I::mask(at.cols - I::LANES * (V - 1))) };
    let full = at.cols == I::LANES * V;
    if GATHER {
        // A gathered `A`: each row of the tile a pointer, each step one
        // offset read from `a_cols`.
        // SAFETY: `a_rows` has `m` entries and `i0 + r < m`; each row's
        // entries are inside `A` at every offset of `a_cols` (`tile`'s
        // contract).
        let rows: [*const I::E; R] =
            std::array::from_fn(|r| unsafe { p.a.add(*p.a_rows.add(at.i0 + r)) });
        let mut b = p.b.wrapping_add(at.j0);
        for step in 0..p.k {
            // SAFETY: `a_cols` has `k` entries; `b` is `B`'s row `step` from
            // column `j0`, loaded as in the strided loop below.
            unsafe {
                let off = *p.a_cols.add(step);
                let bv = load_row!(b, mask, V);
                for (r, row) in acc.iter_mut().enumerate() {
                    let s = I::splat(*rows[r].add(off));
                    for (v, lane) in row.iter_mut().enumerate() {
                        *lane = I::fma(s, bv[v], *lane);
                    }
                }
            }
            b = b.wrapping_add(p.ldb);
        }
    } else {
        // SAFETY: `A`'s row `i0 < m` at `k`-step 0, and `B`'s first row (`k >= 1`)
        // at column `j0 < n`: inside both operands (`tile`'s contract).
        let (mut a, mut b) = unsafe { (p.a.add(at.i0 * p.a_rs), p.b.add(at.j0)) };
        // Rows of A along k (a_cs = 1): fetch the next row block's lines, one
        // per step, meanwhile; otherwise the stream PF steps ahead.
        let next = p.a.wrapping_add((at.i0 + MR) * p.a_rs);
        let along_k = p.a_cs == 1;
        for step in 0..p.k {
            // SAFETY: at `step < k`, `b` is `B`'s row `step` from column `j0`:
            // the full vectors end below `j0 + 16 (V - 1) < j0 + cols <= n` and
            // the last is loaded under `mask`, the tile's columns; `a` is
            // `A`'s entry (`i0`, `step`), and `r < R` keeps row `i0 + r < m`.
            unsafe {
                let bv = load_row!(b, mask, V);
                for (r, row) in acc.iter_mut().enumerate() {
                    let s = I::splat(*a.add(r * p.a_rs));
                    for (v, lane) in row.iter_mut().enumerate() {
                        *lane = I::fma(s, bv[v], *lane);
                    }
                }
            }
            // May point past A near the end (wrapping: no UB; a prefetch never
            // faults).
            let pf = if along_k {
                next.wrapping_add((step % MR) * p.a_rs + (step / MR) * LINE / size_of::<I::E>())
            } else {
                a.wrapping_add(PF * p.a_cs)
            };
            // SAFETY: a prefetch never faults, at any address.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(pf as *const i8) };
            // After the last step these point past the operands, unread.
            a = a.wrapping_add(p.a_cs);
            b = b.wrapping_add(p.ldb);
        }
    }
    if p.alpha != I::E::one() {
        // SAFETY: `I` is enabled (`tile`'s contract).
        let alpha = unsafe { I::splat(p.alpha) };
        for row in acc.iter_mut() {
            for lane in row.iter_mut() {
                // SAFETY: as above.
                *lane = unsafe { I::mul(*lane, alpha) };
            }
        }
    }
    if !p.bias.is_null() {
        for (r, row) in acc.iter_mut().enumerate() {
            // SAFETY: a non-null `bias` has `m` entries (`run`'s
            // contract), and `i0 + r < m`; `I` is enabled.
            let bias = unsafe { I::splat(*p.bias.add(at.i0 + r)) };
            for lane in row.iter_mut() {
                // SAFETY: `I` is enabled (`tile`'s contract).
                *lane = unsafe { I::add(*lane, bias) };
            }
        }
    }
    match p.out {
        Out::Rows { ptr, ld } => {
            for (r, row) in acc.iter().enumerate() {
                // SAFETY: row `i0 + r < m` of `C`, vectors from column
                // `j0 + LANES v`, the last under `mask`: only the tile's
                // entries, inside `C`, which this thread alone writes and
                // which overlaps neither operand (`run`'s contract).
                unsafe {
                    let c = ptr.add((at.i0 + r) * ld + at.j0);
                    for (v, lane) in row.iter().enumerate() {
                        let at_v = c.add(I::LANES * v);
                        let mut x = *lane;
                        if v + 1 == V && !full {
                            if p.accumulate {
                                x = I::add(x, I::load_masked(mask, at_v));
                            }
                            I::store_masked(mask, at_v, x);
                        } else {
                            if p.accumulate {
                                x = I::add(x, I::load(at_v));
                            }
                            I::store(at_v, x);
                        }
                    }
                }
            }
        }
        Out::Transposed { ptr, ld } => {
            let mut buf = [[I::E::zero(); MAX_NR]; R];
            for (r, row) in acc.iter().enumerate() {
                for (v, lane) in row.iter().enumerate() {
                    // SAFETY: LANES floats at `LANES v`, `v < V <=
                    // VECTORS`, inside `buf[r]`'s `MAX_NR >= LANES VECTORS`;
                    // `I` is enabled.
                    unsafe { I::store(buf[r].as_mut_ptr().add(I::LANES * v), *lane) };
                }
            }
            for j in 0..at.cols {
                // SAFETY: `C^T`'s row `j0 + j < n`, columns `i0 + r < m`
                // (`r < R`): only the tile's entries, inside `C^T`, which
                // this thread alone writes and which overlaps neither
                // operand (`run`'s contract).
                unsafe {
                    let c = ptr.add((at.j0 + j) * ld + at.i0);
                    for (r, row) in buf.iter().enumerate() {
                        let x = row[j];
                        *c.add(r) = if p.accumulate { *c.add(r) + x } else { x };
                    }
                }
            }
        }
    }
}

/// Rows `part` of `src^T`, for a row-major `rows x cols` `src`: `out` is
/// `part.len() x rows` (all of `src^T` when `part` is `0..cols`). In
/// 16 x 16 blocks transposed in registers (masked at the edges).
///
/// # Safety
/// The machine must support AVX-512 F ([`Kernel::runs_here`]).
///
/// # Panics
/// When the slices' lengths do not match the shapes.
#[target_feature(enable = "avx512f")]
pub unsafe fn transpose(
    src: &[f32],
    rows: usize,
    cols: usize,
    part: std::ops::Range<usize>,
    out: &mut [f32],
) {
    assert_eq!(src.len(), rows * cols, "transpose source");
    assert!(part.end <= cols, "transpose part");
    assert_eq!(out.len(), part.len() * rows, "transpose destination");
    for r0 in (0..rows).step_by(16) {
        let nr = (rows - r0).min(16);
        let row_mask: __mmask16 = if nr == 16 { !0 } else { (1u16 << nr) - 1 };
        for c0 in part.clone().step_by(16) {
            let nc = (part.end - c0).min(16);
            let col_mask: __mmask16 = if nc == 16 { !0 } else { (1u16 << nc) - 1 };
            let mut x = [_mm512_setzero_ps(); 16];
            for (i, v) in x.iter_mut().enumerate().take(nr) {
                // SAFETY: `src` is `rows x cols` (asserted): row
                // `r0 + i < rows`, columns `c0..c0 + nc` under `col_mask`,
                // with `c0 + nc <= part.end <= cols` (asserted).
                *v = unsafe {
                    _mm512_maskz_loadu_ps(col_mask, src.as_ptr().add((r0 + i) * cols + c0))
                };
            }
            let y = transpose16(x);
            for (j, v) in y.iter().enumerate().take(nc) {
                let at = (c0 - part.start + j) * rows + r0;
                // SAFETY: `out` is `part.len() x rows` (asserted): row
                // `c0 - part.start + j < part.len()`, columns `r0..r0 + nr`
                // under `row_mask`, with `r0 + nr <= rows`.
                unsafe { _mm512_mask_storeu_ps(out.as_mut_ptr().add(at), row_mask, *v) };
            }
        }
    }
}

/// The 16 x 16 transpose of 16 rows: unpack pairs of rows, then pairs of
/// pairs, then exchange 128-bit lanes in two rounds.
#[inline]
#[target_feature(enable = "avx512f")]
fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // u[4j + q], lane L: rows 4j..4j+4 of column 4L + q.
    let mut u = [_mm512_setzero_ps(); 16];
    for j in 0..4 {
        let (a, b) = (_mm512_castps_pd(t[4 * j]), _mm512_castps_pd(t[4 * j + 2]));
        let (c, d) = (
            _mm512_castps_pd(t[4 * j + 1]),
            _mm512_castps_pd(t[4 * j + 3]),
        );
        u[4 * j] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        u[4 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        u[4 * j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        u[4 * j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    // Output row 4L + q gathers lane L of u[q], u[4 + q], u[8 + q], u[12 + q].
    let mut out = [_mm512_setzero_ps(); 16];
    for q in 0..4 {
        let v0 = _mm512_shuffle_f32x4::<0x88>(u[q], u[4 + q]);
        let v1 = _mm512_shuffle_f32x4::<0xDD>(u[q], u[4 + q]);
        let v2 = _mm512_shuffle_f32x4::<0x88>(u[8 + q], u[12 + q]);
        let v3 = _mm512_shuffle_f32x4::<0xDD>(u[8 + q], u[12 + q]);
        out[q] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
        out[4 + q] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
        out[8 + q] = _mm512_shuffle_f32x4::<0xDD>(v0, v2);
        out[12 + q] = _mm512_shuffle_f32x4::<0xDD>(v1, v3);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::tensor::testing::{our_kernel_runs, skip, NO_AVX512};

    #[test]
    fn transpose_matches_the_definition_on_edge_shapes() {
        if !our_kernel_runs() {
            return skip(NO_AVX512);
        }
        for (rows, cols) in [
            (1, 1),
            (16, 16),
            (3, 40),
            (17, 33),
            (64, 5),
            (31, 16),
            (128, 256),
        ] {
            let src: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
            let mut out = vec![f32::NAN; rows * cols];
            // SAFETY: AVX-512 F checked.
            unsafe { transpose(&src, rows, cols, 0..cols, &mut out) };
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        out[c * rows + r],
                        src[r * cols + c],
                        "{rows}x{cols} at {r},{c}"
                    );
                }
            }
            // A part starting mid-matrix, as the two-thread split does.
            let part = cols / 3..cols;
            let mut tail = vec![f32::NAN; part.len() * rows];
            // SAFETY: as above.
            unsafe { transpose(&src, rows, cols, part.clone(), &mut tail) };
            assert_eq!(
                tail,
                out[part.start * rows..],
                "{rows}x{cols} from {}",
                part.start
            );
        }
    }
}
