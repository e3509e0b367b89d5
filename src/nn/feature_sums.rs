//! Per-feature reductions over the rows of a batch, in fixed blocks of
//! rows: BatchNorm's statistics and its backward pass's sums.
//!
//! The rows are cut into blocks of [`BLOCK_ROWS`]; each block's
//! per-feature results are computed on its own (the block still in
//! cache for a second pass over it) and the blocks' results are then
//! merged one feature at a time in block order. The cut does not depend
//! on the thread count, so neither does any bit: threads take halves of
//! the blocks, or, when the batch is one block (an MLP's 128 rows), halves
//! of its features. A conv layer's BatchNorm (`batch * h * w` rows of a
//! few channels: 50,176 x 16 in ResNet-20's first stage) uses both
//! threads, which splitting the features alone did not.
//!
//! ```text
//! cells: block 0: feature 0 .. f-1 | block 1: feature 0 .. f-1 | ...
//!        each cell [a, b]: two per-feature results of one block
//! ```

use crate::tensor::{in_halves, Rows, Scalar, Split, PARALLEL_MIN};
use std::ops::Range;

/// Rows per block (our choice: 512 rows of 64 f32 features are 128 KiB,
/// well inside L2, so a block's second pass reads it from cache).
pub const BLOCK_ROWS: usize = 512;

/// Features summed together, in registers (a cut between threads inside
/// a block falls on a multiple of it).
const LANES: usize = 32;

/// Two per-feature results of one block of rows.
pub type Cell = [f64; 2];

/// Fills `cells` (zeroed first) with one [`Cell`] per block of [`BLOCK_ROWS`] rows and
/// feature of an `n x f` batch: `block(rows, features, out)` computes the
/// cells of `features` over `rows` into `out` (one per feature). Cells
/// run on halves of the blocks (or of the features, for one block)
/// across the pool's threads when there are [`PARALLEL_MIN`] entries or
/// more. Returns the number of blocks.
pub fn by_blocks(
    n: usize,
    f: usize,
    cells: &mut Vec<Cell>,
    block: impl Fn(Range<usize>, Range<usize>, &mut [Cell]) + Sync,
) -> usize {
    let blocks = n.div_ceil(BLOCK_ROWS);
    cells.clear();
    cells.resize(blocks * f, [0.0; 2]);
    if blocks == 0 || f == 0 {
        return blocks;
    }
    // Cut at whole blocks, or at LANES features inside the only block.
    let grain = if blocks > 1 { f } else { LANES };
    let entries_per_cell = n.min(BLOCK_ROWS);
    let split = Split::on_pool(blocks * f, grain).min(PARALLEL_MIN.div_ceil(entries_per_cell));
    in_halves(
        Rows::new(&mut cells[..], 1),
        split,
        &|part: Rows<'_, Cell>, first: usize| {
            let part = part.into_slice();
            let mut at = first;
            while at < first + part.len() {
                let (b, j0) = (at / f, at % f);
                let j1 = f.min(j0 + first + part.len() - at);
                let rows = b * BLOCK_ROWS..n.min((b + 1) * BLOCK_ROWS);
                block(rows, j0..j1, &mut part[at - first..at - first + j1 - j0]);
                at += j1 - j0;
            }
        },
        &|(), ()| (),
    );
    blocks
}

/// Per-feature mean and biased variance of the `n x f` row-major `x`,
/// in f64, into `mean` and `var`: each block's mean and sum of squared
/// deviations (two passes over the block), merged in block order by
/// Chan et al.'s update. `cells`: scratch.
pub fn mean_var<T: Scalar>(
    x: &[T],
    (n, f): (usize, usize),
    cells: &mut Vec<Cell>,
    mean: &mut [f64],
    var: &mut [f64],
) {
    let blocks = by_blocks(n, f, cells, |rows, cols, out| {
        let count = rows.len() as f64;
        // 16 features at a time, their sums in registers.
        for (j0, out) in cols.clone().step_by(LANES).zip(out.chunks_mut(LANES)) {
            let w = out.len();
            let mut sum = [0.0f64; LANES];
            for r in rows.clone() {
                let xr = &x[r * f + j0..][..w];
                sum.iter_mut().zip(xr).for_each(|(s, &v)| *s += v.as_f64());
            }
            let mean = sum.map(|s| s / count);
            let mut dev = [0.0f64; LANES];
            for r in rows.clone() {
                let xr = &x[r * f + j0..][..w];
                for ((d, &v), m) in dev.iter_mut().zip(xr).zip(&mean) {
                    let e = v.as_f64() - m;
                    *d += e * e;
                }
            }
            for (t, c) in out.iter_mut().enumerate() {
                *c = [mean[t], dev[t]];
            }
        }
    });
    mean.fill(0.0);
    var.fill(0.0);
    for j in 0..f {
        let (mut count, mut m, mut m2) = (0.0f64, 0.0f64, 0.0f64);
        for b in 0..blocks {
            let [mb, m2b] = cells[b * f + j];
            let nb = (n.min((b + 1) * BLOCK_ROWS) - b * BLOCK_ROWS) as f64;
            let total = count + nb;
            let delta = mb - m;
            m += delta * nb / total;
            m2 += m2b + delta * delta * count * nb / total;
            count = total;
        }
        mean[j] = m;
        var[j] = if n > 0 { m2 / n as f64 } else { 0.0 };
    }
}

/// Per-feature `sum g` and `sum g h` of two `n x f` row-major matrices
/// into `sum_g` and `sum_gh`: in `T` within a block, merged in f64 in
/// block order. `cells`:
/// scratch.
pub fn sums<T: Scalar>(
    g: &[T],
    h: &[T],
    (n, f): (usize, usize),
    cells: &mut Vec<Cell>,
    sum_g: &mut [f64],
    sum_gh: &mut [f64],
) {
    let blocks = by_blocks(n, f, cells, |rows, cols, out| {
        for (j0, out) in cols.clone().step_by(LANES).zip(out.chunks_mut(LANES)) {
            let w = out.len();
            // In `T` within the block (as fast as the passes around it),
            // in f64 across blocks.
            let (mut sg, mut sgh) = ([T::zero(); LANES], [T::zero(); LANES]);
            for r in rows.clone() {
                let (gr, hr) = (&g[r * f + j0..][..w], &h[r * f + j0..][..w]);
                let sums = sg.iter_mut().zip(sgh.iter_mut());
                for ((s, sh), (&gv, &hv)) in sums.zip(gr.iter().zip(hr)) {
                    *s = *s + gv;
                    *sh = *sh + gv * hv;
                }
            }
            for (t, c) in out.iter_mut().enumerate() {
                *c = [sg[t].as_f64(), sgh[t].as_f64()];
            }
        }
    });
    sum_g.fill(0.0);
    sum_gh.fill(0.0);
    for b in 0..blocks {
        for j in 0..f {
            let [s, sh] = cells[b * f + j];
            sum_g[j] += s;
            sum_gh[j] += sh;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::with_threads;

    /// Over several blocks (the last one short) and one, the merged mean
    /// and variance equal the two-pass f64 figures over the whole batch,
    /// and the sums the f64 ones to f32 rounding; one, two and three
    /// threads give the same bits.
    #[test]
    fn blocks_merge_to_the_whole_batch_figures_on_any_thread_count() {
        for (n, f) in [(3 * BLOCK_ROWS + 17, 20), (100, 70), (BLOCK_ROWS, 1)] {
            let x: Vec<f32> = (0..n * f)
                .map(|i| (i as f32 * 0.37).sin() * 3.0 + 100.0)
                .collect();
            let g: Vec<f32> = (0..n * f).map(|i| (i as f32 * 0.11).cos()).collect();
            let run = |threads| {
                with_threads(threads, || {
                    let mut cells = Vec::new();
                    let (mut mean, mut var) = (vec![0.0; f], vec![0.0; f]);
                    mean_var(&x, (n, f), &mut cells, &mut mean, &mut var);
                    let (mut sg, mut sgh) = (vec![0.0; f], vec![0.0; f]);
                    sums(&g, &x, (n, f), &mut cells, &mut sg, &mut sgh);
                    (mean, var, sg, sgh)
                })
            };
            let (mean, var, sg, sgh) = run(1);
            for j in 0..f {
                let col = || (0..n).map(|r| x[r * f + j] as f64);
                let m = col().sum::<f64>() / n as f64;
                let v = col().map(|v| (v - m).powi(2)).sum::<f64>() / n as f64;
                let s: f64 = (0..n).map(|r| g[r * f + j] as f64).sum();
                let sh: f64 = (0..n)
                    .map(|r| g[r * f + j] as f64 * x[r * f + j] as f64)
                    .sum();
                assert!((mean[j] - m).abs() <= 1e-12 * m.abs(), "{n}x{f} mean {j}");
                assert!((var[j] - v).abs() <= 1e-10 * v, "{n}x{f} var {j}");
                // f32 within a block of 512: rounding of 1e-5 of the terms.
                let size: f64 = (0..n)
                    .map(|r| (g[r * f + j] as f64 * x[r * f + j] as f64).abs())
                    .sum();
                let g_size: f64 = (0..n).map(|r| (g[r * f + j] as f64).abs()).sum();
                assert!((sg[j] - s).abs() <= 1e-5 * g_size, "{n}x{f} sum {j}");
                assert!((sgh[j] - sh).abs() <= 1e-5 * size, "{n}x{f} sum gh {j}");
            }
            let one = run(1);
            assert!(
                one == run(2) && one == run(3),
                "{n}x{f}: threads changed bits"
            );
        }
    }
}
