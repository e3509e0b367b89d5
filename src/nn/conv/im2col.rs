//! Unfolding an NHWC batch into patches (`im2col`) and folding the
//! patches' gradients back (`col2im`), the two copies around a
//! convolution's products.
//!
//! Row `(b, oy, ox)` of the patch matrix `P` holds the window of output
//! pixel `(oy, ox)` of example `b`: for each kernel offset `(ky, kx)` in
//! order, the input pixel's `c` channels (zeros in the padding). Channels-
//! last makes each offset one contiguous copy of `c` values, and the
//! weight's rows the same `(ky, kx, c)` order.
//!
//! The convolution keeps `P` transposed ([`im2col_columns`]: one row per
//! `(ky, kx, c)`, one column per output pixel), the layout the GEMM reads
//! by rows: the forward `P W^T` is then computed as `W P^T` with no
//! transposed copy of `P` (which is `batch * oh * ow x k * k * c`, 29 MB at
//! ResNet-20's first stage), and the weight gradient `g^T P` streams `P^T`
//! once, row by row, instead of gathering six entries from every row of
//! `P` per block. [`im2col`], the row layout, is its reference in tests.
//! Both passes run on halves of their rows across the pool's threads
//! ([`crate::tensor::in_halves`]); each entry is computed by one thread
//! in the same order, so the thread count changes no bit.

use super::shape::{Image, Window};
use crate::tensor::{in_halves, Rows, Scalar, Split, PARALLEL_MIN};

/// Fills `cols` (`k * k * c` rows of `batch * oh * ow`: the patch matrix
/// transposed) from `x` (`batch` images of shape `input`, NHWC), through
/// `planes`, a scratch buffer that takes `x` channel-major when `c > 1`.
pub fn im2col_columns<T: Scalar>(
    x: &[T],
    input: Image,
    window: Window,
    out: Image,
    planes: &mut Vec<T>,
    cols: &mut [T],
) {
    let (c, k) = (input.c, window.kernel);
    let pixels = x.len() / c.max(1);
    let batch = pixels / input.pixels().max(1);
    let width = batch * out.pixels();
    if width == 0 || cols.is_empty() {
        return;
    }
    // One channel's plane is NCHW's: one-channel images need no copy.
    let planes: &[T] = if c == 1 {
        x
    } else {
        planes.resize(x.len(), T::zero());
        channel_major(x, c, planes);
        planes
    };
    // Stride 1 and the width kept (a 'same' convolution): output pixel
    // `(oy, ox)` reads input pixel `(oy, ox)` shifted by one offset per
    // kernel position, so an image's valid rows are one copy.
    let same_width = window.stride == 1 && out.w == input.w;
    let pad = window.pad as isize;
    let split = Split::on_pool(k * k * c, 1).min(PARALLEL_MIN.div_ceil(width));
    in_halves(
        Rows::new(cols, width),
        split,
        &|part: Rows<'_, T>, first: usize| {
            for (j, row) in part.into_slice().chunks_exact_mut(width).enumerate() {
                let j = first + j;
                let (ky, kx, ch) = (j / (k * c), j / c % k, j % c);
                let plane = &planes[ch * pixels..(ch + 1) * pixels];
                // The output columns and rows this offset reads inside the
                // image, and the first input column and row they read.
                let (lo, hi, ix0) = span(window, kx, out.w, input.w);
                let rows = span(window, ky, out.h, input.h);
                for (dst, image) in row
                    .chunks_exact_mut(out.pixels())
                    .zip(plane.chunks_exact(input.pixels()))
                {
                    if same_width {
                        let offset = (ky as isize - pad) * input.w as isize + kx as isize - pad;
                        unfold_same_width(dst, image, out.w, rows, (lo, hi), offset);
                        continue;
                    }
                    for (oy, dst) in dst.chunks_exact_mut(out.w).enumerate() {
                        let src = (rows.0..rows.1).contains(&oy).then(|| {
                            let iy = rows.2 + (oy - rows.0) * window.stride;
                            &image[iy * input.w..][..input.w]
                        });
                        unfold_row(dst, src, (lo, hi, ix0), window.stride);
                    }
                }
            }
        },
        &|(), ()| (),
    );
}

/// One image of a patch column of a stride-1 convolution that keeps the
/// width `w`: entry `i` of the output reads entry `i + offset` of the
/// input for every output row whose input row exists (`rows`, as [`span`]
/// gives them), so those rows are one copy; then the entries outside
/// `lo..hi` of each row (windows in the side padding, which the copy
/// filled from the neighbouring row) and the rows in the padding are
/// zeroed.
fn unfold_same_width<T: Scalar>(
    dst: &mut [T],
    image: &[T],
    w: usize,
    (first, end, _): (usize, usize, usize),
    (lo, hi): (usize, usize),
    offset: isize,
) {
    let (a, b) = (first * w, end * w);
    if a >= b {
        return dst.iter_mut().for_each(|d| *d = T::zero());
    }
    dst[..a].iter_mut().for_each(|d| *d = T::zero());
    dst[b..].iter_mut().for_each(|d| *d = T::zero());
    // The source range, clipped to the image: what falls outside is in the
    // side padding, zeroed below.
    let s_lo = (a as isize + offset).max(0);
    let s_hi = (b as isize + offset).min(image.len() as isize);
    if s_lo < s_hi {
        let (d_lo, d_hi) = ((s_lo - offset) as usize, (s_hi - offset) as usize);
        dst[d_lo..d_hi].copy_from_slice(&image[s_lo as usize..s_hi as usize]);
    }
    for row in dst[a..b].chunks_exact_mut(w) {
        row[..lo].iter_mut().for_each(|d| *d = T::zero());
        row[hi..].iter_mut().for_each(|d| *d = T::zero());
    }
}

/// One output row of a patch column: zeros outside `lo..hi`, and inside
/// every `stride`-th entry of the input row from `ix0` (all zeros when the
/// row is padding).
#[inline]
fn unfold_row<T: Scalar>(
    dst: &mut [T],
    src: Option<&[T]>,
    (lo, hi, ix0): (usize, usize, usize),
    stride: usize,
) {
    let Some(src) = src else {
        dst.iter_mut().for_each(|d| *d = T::zero());
        return;
    };
    dst[..lo].iter_mut().for_each(|d| *d = T::zero());
    dst[hi..].iter_mut().for_each(|d| *d = T::zero());
    let dst = &mut dst[lo..hi];
    if stride == 1 {
        // An element loop, not `copy_from_slice`: these rows are a few
        // entries long, where a call to `memcpy` costs more than the copy.
        let src = &src[ix0..ix0 + dst.len()];
        dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s);
    } else {
        let src = &src[ix0..];
        for (i, d) in dst.iter_mut().enumerate() {
            *d = src[i * stride];
        }
    }
}

/// The output positions `lo..hi` along a side whose kernel offset `k`
/// reads inside a side of `n` (the others read padding), and the input
/// position `lo` reads (position `o` in the range reads
/// `first + (o - lo) * stride`).
fn span(window: Window, k: usize, out_n: usize, n: usize) -> (usize, usize, usize) {
    let lo = (0..out_n)
        .find(|&o| window.source(o, k, n).is_some())
        .unwrap_or(out_n);
    let hi = (lo..out_n)
        .find(|&o| window.source(o, k, n).is_none())
        .unwrap_or(out_n);
    let first = if lo < out_n {
        window.source(lo, k, n).expect("lo reads inside")
    } else {
        0
    };
    (lo, hi, first)
}

/// Pixels per block of [`channel_major`]: a block of `x` (64 pixels of
/// up to 64 channels, 16 KB of f32) stays in L1 while each of its channels
/// is written out as one contiguous run.
const BLOCK: usize = 64;

/// `planes[ch][p] = x[p][ch]`: pixel rows of `c` channels to `c` rows of
/// pixels, on halves of the channels across the pool's threads.
fn channel_major<T: Scalar>(x: &[T], c: usize, planes: &mut [T]) {
    let pixels = x.len() / c;
    let split = Split::on_pool(c, 1).min(PARALLEL_MIN.div_ceil(pixels.max(1)));
    in_halves(
        Rows::new(planes, pixels),
        split,
        &|part: Rows<'_, T>, first: usize| {
            let part = part.into_slice();
            for p0 in (0..pixels).step_by(BLOCK) {
                let n = BLOCK.min(pixels - p0);
                let block = &x[p0 * c..(p0 + n) * c];
                for (j, plane) in part.chunks_exact_mut(pixels).enumerate() {
                    let ch = first + j;
                    for (d, px) in plane[p0..p0 + n].iter_mut().zip(block.chunks_exact(c)) {
                        *d = px[ch];
                    }
                }
            }
        },
        &|(), ()| (),
    );
}

/// Fills `cols` (`batch * oh * ow` rows of `k * k * c`) from `x`
/// (`batch` images of shape `input`, NHWC).
pub fn im2col<T: Scalar>(x: &[T], input: Image, window: Window, out: Image, cols: &mut [T]) {
    let (c, k) = (input.c, window.kernel);
    let row_len = k * k * c;
    for (r, row) in cols.chunks_exact_mut(row_len).enumerate() {
        let (b, pixel) = (r / out.pixels(), r % out.pixels());
        let (oy, ox) = (pixel / out.w, pixel % out.w);
        let image = &x[b * input.len()..(b + 1) * input.len()];
        for ky in 0..k {
            let iy = window.source(oy, ky, input.h);
            for kx in 0..k {
                let dst = &mut row[(ky * k + kx) * c..(ky * k + kx + 1) * c];
                match (iy, window.source(ox, kx, input.w)) {
                    (Some(iy), Some(ix)) => {
                        let at = (iy * input.w + ix) * c;
                        dst.copy_from_slice(&image[at..at + c]);
                    }
                    _ => dst.fill(T::zero()),
                }
            }
        }
    }
}

/// Adds the patch rows' gradients `cols` back onto `dx` (zeroed first):
/// each input pixel gets the sum over every window that read it. Images
/// are shared out among the pool's threads in halves.
pub fn col2im<T: Scalar>(cols: &[T], input: Image, window: Window, out: Image, dx: &mut [T]) {
    let row_len = window.kernel * window.kernel * input.c;
    let image_cols = out.pixels() * row_len;
    let batch = dx.len() / input.len().max(1);
    if batch == 0 || image_cols == 0 {
        return dx.fill(T::zero());
    }
    let split = Split::on_pool(batch, 1).min(PARALLEL_MIN.div_ceil(image_cols));
    in_halves(
        (Rows::new(dx, input.len()), 0..batch),
        split,
        &|(dx, images): (Rows<'_, T>, std::ops::Range<usize>), _| {
            let cols = &cols[images.start * image_cols..images.end * image_cols];
            col2im_images(cols, input, window, out, dx.into_slice());
        },
        &|(), ()| (),
    );
}

/// [`col2im`] of whole images, one thread.
fn col2im_images<T: Scalar>(cols: &[T], input: Image, window: Window, out: Image, dx: &mut [T]) {
    dx.fill(T::zero());
    let (c, k) = (input.c, window.kernel);
    let row_len = k * k * c;
    for (r, row) in cols.chunks_exact(row_len).enumerate() {
        let (b, pixel) = (r / out.pixels(), r % out.pixels());
        let (oy, ox) = (pixel / out.w, pixel % out.w);
        let image = &mut dx[b * input.len()..(b + 1) * input.len()];
        for ky in 0..k {
            let Some(iy) = window.source(oy, ky, input.h) else {
                continue;
            };
            for kx in 0..k {
                let Some(ix) = window.source(ox, kx, input.w) else {
                    continue;
                };
                let at = (iy * input.w + ix) * c;
                let src = &row[(ky * k + kx) * c..(ky * k + kx + 1) * c];
                for (d, s) in image[at..at + c].iter_mut().zip(src) {
                    *d = *d + *s;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x[b, y, x, c]` of an NHWC buffer, 0 outside the image.
    fn at(x: &[f64], s: Image, b: usize, y: isize, xx: isize, c: usize) -> f64 {
        if y < 0 || xx < 0 || y >= s.h as isize || xx >= s.w as isize {
            return 0.0;
        }
        x[((b * s.h + y as usize) * s.w + xx as usize) * s.c + c]
    }

    #[test]
    fn patches_are_the_windows_and_col2im_is_the_adjoint() {
        let input = Image::new(2, 5, 4);
        let window = Window::new(3, 2, 1);
        let out = window.out_image(input, 1).unwrap();
        let batch = 2;
        let x: Vec<f64> = (0..batch * input.len())
            .map(|i| (i as f64 * 0.37).sin())
            .collect();
        let row_len = 9 * input.c;
        let mut cols = vec![0.0; batch * out.pixels() * row_len];
        im2col(&x, input, window, out, &mut cols);
        for b in 0..batch {
            for oy in 0..out.h {
                for ox in 0..out.w {
                    let r = (b * out.h + oy) * out.w + ox;
                    for ky in 0..3 {
                        for kx in 0..3 {
                            for c in 0..input.c {
                                let y = (oy * 2 + ky) as isize - 1;
                                let xx = (ox * 2 + kx) as isize - 1;
                                let got = cols[r * row_len + (ky * 3 + kx) * input.c + c];
                                assert_eq!(got, at(&x, input, b, y, xx, c));
                            }
                        }
                    }
                }
            }
        }
        // <im2col(x), g> = <x, col2im(g)> for any g: col2im is the adjoint.
        let g: Vec<f64> = (0..cols.len()).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut dx = vec![1.0; x.len()];
        col2im(&g, input, window, out, &mut dx);
        let lhs: f64 = cols.iter().zip(&g).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
        assert!(
            (lhs - rhs).abs() < 1e-12 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }

    /// The column layout is the row layout transposed, for every kernel,
    /// stride and padding (windows partly in the padding on both sides,
    /// strides that skip the last column), one or several channels, on one
    /// to three threads (rows cut in halves, unequally); `col2im` gives
    /// the same bits on any thread count.
    #[test]
    fn patch_columns_are_the_rows_transposed_on_any_thread_count() {
        let geometries = [
            (Image::new(1, 6, 5), Window::new(3, 1, 1)),
            (Image::new(3, 7, 6), Window::new(3, 2, 1)),
            (Image::new(4, 6, 6), Window::new(1, 2, 0)),
            (Image::new(2, 9, 8), Window::new(5, 1, 0)),
            (Image::new(3, 8, 5), Window::new(5, 3, 2)),
            (Image::new(16, 28, 28), Window::new(3, 1, 1)),
        ];
        for (input, window) in geometries {
            let out = window.out_image(input, 1).unwrap();
            let batch = 3;
            let x: Vec<f64> = (0..batch * input.len())
                .map(|i| (i as f64 * 0.37).sin())
                .collect();
            let row_len = window.kernel * window.kernel * input.c;
            let rows = batch * out.pixels();
            let mut p = vec![0.0; rows * row_len];
            im2col(&x, input, window, out, &mut p);
            let g: Vec<f64> = (0..p.len()).map(|i| (i as f64 * 0.11).cos()).collect();
            let mut dx_one = vec![f64::NAN; x.len()];
            crate::tensor::with_threads(1, || col2im(&g, input, window, out, &mut dx_one));
            for threads in 1..=3 {
                let what = format!("{input} {window:?} on {threads} threads");
                let mut cols = vec![f64::NAN; p.len()];
                let mut planes = Vec::new();
                crate::tensor::with_threads(threads, || {
                    im2col_columns(&x, input, window, out, &mut planes, &mut cols)
                });
                for r in 0..rows {
                    for j in 0..row_len {
                        assert_eq!(cols[j * rows + r], p[r * row_len + j], "{what} [{r}, {j}]");
                    }
                }
                let mut dx = vec![f64::NAN; x.len()];
                crate::tensor::with_threads(threads, || col2im(&g, input, window, out, &mut dx));
                assert_eq!(dx, dx_one, "{what}: col2im");
            }
        }
    }
}
