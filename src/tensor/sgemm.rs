//! gradscope's own f32 GEMM for AVX-512: `C = alpha A B (+ C)` with `A`
//! read by broadcasting and `B` by rows, so neither operand is ever packed.
//!
//! # Why our own
//! The `gemm` crate repacks its left operand on every product; in a
//! training step that is the layer's weight, repacked in the forward and
//! the input-gradient product (12 to 22% of a step, docs/PERFORMANCE.md).
//! Here the weight is always the operand that needs no copy:
//! - forward `y = x W^T`: computed as `y^T = W x^T`, `W` broadcast row by
//!   row (six rows streamed at once, one element per 16-lane FMA row),
//!   `x^T` (batch-sized, a transpose into scratch) read by rows, the tile
//!   written back transposed;
//! - input gradient `dx = g W`: `g` broadcast, `W` read by rows;
//! - weight gradient `dW += g^T x`: `g^T` broadcast (six adjacent entries
//!   of a row of `g`), `x` read by rows.
//!
//! # The microkernel
//! A tile is `R <= 6` rows by `V <= 4` vectors of 16 columns: 24 `zmm`
//! accumulators, 4 row vectors of `B` and one broadcast per row of `A` per
//! step of `k`, so each step is 24 FMAs against 10 loads. The last vector
//! of a tile is loaded and stored under a mask, so any `n` works without
//! padding. Each entry of `C` is one chain of FMAs over `k` in order: the
//! result does not depend on the tiling or the thread count.
//!
//! # Loop order and threads
//! Tiles are visited so that the larger operand is streamed once: when `A`
//! is larger (the forward product, `A = W`), row blocks are the outer loop
//! and a row block of `A` stays in L1 across the column blocks; otherwise
//! column blocks are outer and a `k x 64` panel of `B` stays in L2 across
//! the row blocks. Threads split the outer loop in halves.

use std::arch::x86_64::*;

/// Rows of `A` per tile.
const MR: usize = 6;
/// 16-lane vectors of `B` per tile row.
const NV: usize = 4;
/// Columns per tile.
const NR: usize = 16 * NV;
const PF: usize = 24;

/// Whether this machine runs the kernel (AVX-512 F).
pub fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Where the product `C` (`m x n`) goes.
#[derive(Clone, Copy, Debug)]
pub enum Out {
    /// `C` itself, row-major with leading dimension `ld`.
    Rows { ptr: *mut f32, ld: usize },
    /// `C^T` (`n x m`), row-major with leading dimension `ld`.
    Transposed { ptr: *mut f32, ld: usize },
}

/// One product `C = alpha A B (+ C when accumulate)`: `A` is `m x k` with
/// element `(i, p)` at `a[i * a_rs + p * a_cs]`; `B` is `k x n` with row
/// `p` at `b[p * ldb..][..n]`.
#[derive(Clone, Copy, Debug)]
pub struct Problem {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: *const f32,
    pub a_rs: usize,
    pub a_cs: usize,
    pub b: *const f32,
    pub ldb: usize,
    pub out: Out,
    pub alpha: f32,
    pub accumulate: bool,
}

// SAFETY: a `Problem` is only shared among the threads of one `run`, which
// write disjoint tiles of `out` and only read `a` and `b`.
unsafe impl Send for Problem {}
unsafe impl Sync for Problem {}

/// Computes `p` on up to `threads` threads.
///
/// # Safety
/// The machine must support AVX-512 F ([`available`]); the pointers and
/// strides must describe live buffers of the stated shapes, and `out` must
/// not overlap `a` or `b`.
pub unsafe fn run(p: &Problem, threads: usize) {
    if p.m == 0 || p.n == 0 {
        return;
    }
    let row_blocks = p.m.div_ceil(MR);
    let col_blocks = p.n.div_ceil(NR);
    // The larger operand is streamed once (module doc).
    let rows_outer = p.m >= p.n;
    split(p, rows_outer, 0, row_blocks, 0, col_blocks, threads.max(1));
}

/// Runs the tiles `[r0, r1) x [c0, c1)` (in blocks), splitting the outer
/// dimension in halves while threads remain.
#[allow(clippy::too_many_arguments)]
unsafe fn split(
    p: &Problem,
    rows_outer: bool,
    r0: usize,
    r1: usize,
    c0: usize,
    c1: usize,
    threads: usize,
) {
    let (lo, hi) = if rows_outer { (r0, r1) } else { (c0, c1) };
    if threads > 1 && hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let (t1, t2) = (threads / 2, threads - threads / 2);
        if rows_outer {
            rayon::join(
                || split(p, true, r0, mid, c0, c1, t1),
                || split(p, true, mid, r1, c0, c1, t2),
            );
        } else {
            rayon::join(
                || split(p, false, r0, r1, c0, mid, t1),
                || split(p, false, r0, r1, mid, c1, t2),
            );
        }
        return;
    }
    if rows_outer {
        for rb in r0..r1 {
            for cb in c0..c1 {
                tile_at(p, rb, cb);
            }
        }
    } else {
        for cb in c0..c1 {
            for rb in r0..r1 {
                tile_at(p, rb, cb);
            }
        }
    }
}

/// The tile at row block `rb`, column block `cb`.
unsafe fn tile_at(p: &Problem, rb: usize, cb: usize) {
    let i0 = rb * MR;
    let j0 = cb * NR;
    let rows = (p.m - i0).min(MR);
    let cols = (p.n - j0).min(NR);
    let vectors = cols.div_ceil(16);
    let tail = cols - 16 * (vectors - 1);
    let mask: __mmask16 = if tail == 16 { !0 } else { (1u16 << tail) - 1 };
    let at = At { i0, j0, cols, mask };
    macro_rules! dispatch {
        ($($r:literal)*) => {
            match (rows, vectors) {
                $(
                    ($r, 1) => tile::<$r, 1>(p, at),
                    ($r, 2) => tile::<$r, 2>(p, at),
                    ($r, 3) => tile::<$r, 3>(p, at),
                    ($r, 4) => tile::<$r, 4>(p, at),
                )*
                _ => unreachable!("tile of {rows} rows, {vectors} vectors"),
            }
        };
    }
    dispatch!(1 2 3 4 5 6);
}

/// A tile's place in `C`.
#[derive(Clone, Copy)]
struct At {
    i0: usize,
    j0: usize,
    cols: usize,
    /// Lanes of the last vector inside `C`.
    mask: __mmask16,
}

/// One `R x 16V` tile: accumulate over `k` in registers, then write.
#[target_feature(enable = "avx512f")]
unsafe fn tile<const R: usize, const V: usize>(p: &Problem, at: At) {
    if let (Out::Rows { ptr, ld }, true) = (p.out, p.accumulate) {
        // The tile's part of C is read back at the end: fetch it meanwhile.
        for r in 0..R {
            let c = ptr.add((at.i0 + r) * ld + at.j0);
            for v in 0..V {
                _mm_prefetch::<_MM_HINT_T0>(c.add(16 * v) as *const i8);
            }
            _mm_prefetch::<_MM_HINT_T0>(c.add(at.cols - 1) as *const i8);
        }
    }
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    let mut a = p.a.add(at.i0 * p.a_rs);
    let mut b = p.b.add(at.j0);
    for _ in 0..p.k {
        let mut bv = [_mm512_setzero_ps(); V];
        for (v, slot) in bv.iter_mut().enumerate() {
            *slot = if v + 1 == V {
                _mm512_maskz_loadu_ps(at.mask, b.add(16 * v))
            } else {
                _mm512_loadu_ps(b.add(16 * v))
            };
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let s = _mm512_set1_ps(*a.add(r * p.a_rs));
            for (v, lane) in row.iter_mut().enumerate() {
                *lane = _mm512_fmadd_ps(s, bv[v], *lane);
            }
        }
        if PF > 0 {
            _mm_prefetch::<_MM_HINT_T0>(a.add(PF * p.a_cs) as *const i8);
        }
        a = a.add(p.a_cs);
        b = b.add(p.ldb);
    }
    let alpha = _mm512_set1_ps(p.alpha);
    if p.alpha != 1.0 {
        for row in acc.iter_mut() {
            for lane in row.iter_mut() {
                *lane = _mm512_mul_ps(*lane, alpha);
            }
        }
    }
    match p.out {
        Out::Rows { ptr, ld } => {
            for (r, row) in acc.iter().enumerate() {
                let c = ptr.add((at.i0 + r) * ld + at.j0);
                for (v, lane) in row.iter().enumerate() {
                    let m = if v + 1 == V { at.mask } else { !0 };
                    let mut x = *lane;
                    if p.accumulate {
                        x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, c.add(16 * v)));
                    }
                    _mm512_mask_storeu_ps(c.add(16 * v), m, x);
                }
            }
        }
        Out::Transposed { ptr, ld } => {
            let mut buf = [[0f32; NR]; R];
            for (r, row) in acc.iter().enumerate() {
                for (v, lane) in row.iter().enumerate() {
                    _mm512_storeu_ps(buf[r].as_mut_ptr().add(16 * v), *lane);
                }
            }
            for j in 0..at.cols {
                let c = ptr.add((at.j0 + j) * ld + at.i0);
                for (r, row) in buf.iter().enumerate() {
                    let x = row[j];
                    *c.add(r) = if p.accumulate { *c.add(r) + x } else { x };
                }
            }
        }
    }
}
