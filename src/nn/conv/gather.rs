//! The convolution read in place (an "implicit GEMM"): the patch matrix
//! `P` is never written; our kernel reads each of its entries from the
//! input through two tables of offsets ([`crate::tensor::gathered`]).
//!
//! # The grid
//! The input batch is copied once into a zero-padded grid ([`Grid`]):
//! each image row followed by `pad` zero pixels, each image by `pad` zero
//! rows, and `pad` zero rows (plus `pad` pixels) in front. A row's right
//! padding is the next row's left padding, and an image's bottom padding
//! the next image's top padding, so a window's pixel `(ky, kx)` is always
//! `ky * width + kx` grid pixels past the window's first, for every window
//! of every image. Hence:
//! - `P[i, (ky, kx, c)] = grid[rows[i] + cols[(ky, kx, c)]]`, with
//!   `rows[i]` the place of output pixel `i`'s window and
//!   `cols[(ky, kx, c)] = (ky * width + kx) * c_in + c`;
//! - forward `y = P W^T`: `P` gathered, `W^T` read by rows;
//! - weight gradient `dW^T = P^T g`: `P^T` gathered (the two tables
//!   swapped), `g` read by rows, a chunk of pixels at a time so that the
//!   chunk stays in L2 across the tiles ([`WEIGHT_GRAD_CHUNK_BYTES`]);
//! - input gradient, stride 1: `dx` is the convolution of `g` (in its own
//!   grid, padded by `k - 1 - pad`) with the weight flipped in space and
//!   transposed in channels, so the same gathered product. Strided
//!   convolutions take `col2im(g W)` (the caller's).
//!
//! The grid costs a copy of the input (and of `g`), against the patch
//! matrix's `k * k` copies written and read back: 29 MB per first-stage
//! layer of ResNet-20 at batch 64, which made the im2col path
//! memory-bound (docs/PERFORMANCE.md, "Convolutional nets").
//!
//! # Bits
//! The forward's entries are the same FMA chains as `P W^T` over an
//! unfolded `P` (the same terms in the same order, zeros included). The
//! weight gradient adds chunks' sums, and the input gradient sums over
//! `(ky, kx, c_out)` in one chain where `col2im` adds the nine windows'
//! sums: both round differently from the unfolded path, within f32
//! rounding of the same sums (tested in `conv2d`).

use super::shape::{Image, Window};
use crate::tensor::gathered::{self, Gathered, Layout};
use crate::tensor::{in_halves, Matrix, Rows, Scalar, Split, PARALLEL_MIN};
use std::ops::Range;

/// Bytes of `g` and input rows the weight gradient reads per chunk of
/// pixels (our choice, not tuned further: half of the 1 MiB L2 of the Zen
/// 4 machines we build on; the products run at 102 to 111 GFLOP/s on one
/// thread with it, docs/PERFORMANCE.md).
pub const WEIGHT_GRAD_CHUNK_BYTES: usize = 512 << 10;

/// A batch of images in a zero-padded grid (module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Grid {
    image: Image,
    pad: usize,
}

impl Grid {
    /// Images of shape `image`, padded by `pad` on every side.
    pub fn new(image: Image, pad: usize) -> Self {
        Self { image, pad }
    }

    /// Pixels per grid row: an image row and its right padding.
    fn width(&self) -> usize {
        self.image.w + self.pad
    }

    /// Pixels before image 0's first pixel.
    fn front(&self) -> usize {
        self.pad * self.width() + self.pad
    }

    /// Values of the grid of `batch` images.
    pub fn len(&self, batch: usize) -> usize {
        let rows = batch * (self.image.h + self.pad);
        (self.front() + rows * self.width()) * self.image.c
    }

    /// The grid pixel of image `b`'s pixel `(y, x)`; `y` and `x` may reach
    /// `pad` into the padding on either side.
    fn place(&self, b: usize, y: isize, x: isize) -> usize {
        let row = (b * (self.image.h + self.pad)) as isize + y;
        let at = self.front() as isize + row * self.width() as isize + x;
        usize::try_from(at).expect("a pixel inside the grid")
    }

    /// Whether the grid is the images themselves (no padding).
    fn is_bare(&self) -> bool {
        self.pad == 0
    }

    /// Copies `batch` NHWC images `x` into `grid`, halves of the images
    /// on the pool's threads. The padding is zeroed when the buffer is
    /// (re)sized and never written after.
    pub fn fill<T: Scalar>(&self, x: &[T], batch: usize, grid: &mut Vec<T>) {
        let len = self.len(batch);
        if grid.len() != len {
            grid.clear();
            grid.resize(len, T::zero());
        }
        let (c, h, w) = (self.image.c, self.image.h, self.image.w);
        // Image b's rows lie in its own span of the grid, from its pixel
        // (0, 0): row y at y * width pixels.
        let span = (h + self.pad) * self.width() * c;
        let first = self.place(0, 0, 0) * c;
        let images = Rows::new(&mut grid[first..first + batch * span], span);
        let split = Split::on_pool(batch, 1).min(PARALLEL_MIN.div_ceil(self.image.len()));
        let row_step = self.width() * c;
        in_halves(
            (0..batch, images),
            split,
            &|(range, part): (Range<usize>, Rows<'_, T>), _| {
                let src = &x[range.start * self.image.len()..range.end * self.image.len()];
                for (dst, image) in part
                    .into_slice()
                    .chunks_exact_mut(span)
                    .zip(src.chunks_exact(self.image.len()))
                {
                    for (y, row) in image.chunks_exact(w * c).enumerate() {
                        dst[y * row_step..][..w * c].copy_from_slice(row);
                    }
                }
            },
            &|(), ()| (),
        );
    }

    /// For each output pixel of `batch` images through `window` (whose
    /// padding is the grid's), the offset of its window's first value.
    fn window_rows(&self, window: Window, out: Image, batch: usize, rows: &mut Vec<usize>) {
        let (s, p) = (window.stride as isize, window.pad as isize);
        rows.clear();
        for b in 0..batch {
            for oy in 0..out.h as isize {
                for ox in 0..out.w as isize {
                    rows.push(self.place(b, oy * s - p, ox * s - p) * self.image.c);
                }
            }
        }
    }

    /// For each entry `(ky, kx, c)` of a `k x k` window, its offset from
    /// the window's first value.
    fn window_cols(&self, kernel: usize) -> Vec<usize> {
        let (c, width) = (self.image.c, self.width());
        let mut cols = Vec::with_capacity(kernel * kernel * c);
        for ky in 0..kernel {
            for kx in 0..kernel {
                cols.extend((0..c).map(|ch| (ky * width + kx) * c + ch));
            }
        }
        cols
    }
}

/// A product's operand: a grid and the tables that gather a patch
/// matrix from it, kept between steps (the row table for the batch size
/// it was built for).
struct Patches<T> {
    grid: Grid,
    window: Window,
    out: Image,
    /// The images in their grid (unused for a bare grid).
    values: Vec<T>,
    /// Whether `values` holds the images of the last training forward
    /// (an evaluation in between overwrites them).
    holds_training_input: bool,
    rows: Vec<usize>,
    rows_batch: Option<usize>,
    cols: Vec<usize>,
}

impl<T: Scalar> Patches<T> {
    fn new(input: Image, window: Window, out: Image) -> Self {
        let grid = Grid::new(input, window.pad);
        Self {
            grid,
            window,
            out,
            values: Vec::new(),
            holds_training_input: false,
            rows: Vec::new(),
            rows_batch: None,
            cols: grid.window_cols(window.kernel),
        }
    }

    /// Lays `batch` images `x` in the grid and builds the row table.
    fn load(&mut self, x: &[T], batch: usize) {
        if !self.grid.is_bare() {
            self.grid.fill(x, batch, &mut self.values);
        }
        if self.rows_batch != Some(batch) {
            self.grid
                .window_rows(self.window, self.out, batch, &mut self.rows);
            self.rows_batch = Some(batch);
        }
    }

    /// The grid's values: `x` itself when bare.
    fn data<'a>(&'a self, x: &'a [T]) -> &'a [T] {
        if self.grid.is_bare() {
            x
        } else {
            &self.values
        }
    }
}

/// A convolution's products on gathered patches (module doc).
pub struct Gather<T> {
    forward: Patches<T>,
    /// `g` in its grid, for the input gradient (stride 1 only).
    backward: Option<Patches<T>>,
    /// `W^T`: `k * k * c_in` rows of `c_out`.
    weight_t: Vec<T>,
    /// `W` flipped in space, channels swapped: `k * k * c_out` rows of
    /// `c_in` (stride 1 only).
    weight_flip: Vec<T>,
}

impl<T: Scalar> Gather<T> {
    /// The products of a convolution of `input` through `window` to
    /// `out`, when our kernel runs here ([`gathered::runs_here`]).
    pub fn new(input: Image, window: Window, out: Image) -> Option<Self> {
        if !gathered::runs_here::<T>() || window.pad >= window.kernel {
            return None;
        }
        let backward = (window.stride == 1).then(|| {
            let flipped = Window::new(window.kernel, 1, window.kernel - 1 - window.pad);
            Patches::new(out, flipped, input)
        });
        Some(Self {
            forward: Patches::new(input, window, out),
            backward,
            weight_t: Vec::new(),
            weight_flip: Vec::new(),
        })
    }

    /// Whether the input gradient is computed here (stride 1).
    pub fn has_input_grad(&self) -> bool {
        self.backward.is_some()
    }

    /// `y = P W^T` for `batch` images `x` into `y` (pixel rows); a
    /// training forward keeps the grid for the weight gradient.
    pub fn forward(&mut self, x: &[T], batch: usize, weight: &Matrix<T>, train: bool, y: &mut [T]) {
        let p = &mut self.forward;
        p.load(x, batch);
        p.holds_training_input = train;
        transpose_into(weight, &mut self.weight_t);
        let a = Gathered {
            data: p.data(x),
            rows: &p.rows,
            cols: &p.cols,
        };
        gathered::product(y, Layout::Rows, false, a, &self.weight_t, weight.rows());
    }

    /// `dW (+)= g^T P` for the training forward's images `x`, a chunk of
    /// pixels at a time.
    pub fn weight_grad(&mut self, x: &[T], g: &[T], batch: usize, accumulate: bool, dw: &mut [T]) {
        let p = &mut self.forward;
        if !p.holds_training_input || p.rows_batch != Some(batch) {
            p.load(x, batch);
            p.holds_training_input = true;
        }
        let c_out = p.out.c;
        let per_pixel = (p.grid.image.c + c_out) * size_of::<T>();
        let chunk = (WEIGHT_GRAD_CHUNK_BYTES / per_pixel).max(1);
        let data = p.data(x);
        for (i, pixels) in p.rows.chunks(chunk).enumerate() {
            let start = i * chunk;
            // dW^T (k k c_in x c_out) = P^T g: P^T's rows are P's columns.
            let a = Gathered {
                data,
                rows: &p.cols,
                cols: pixels,
            };
            let g_rows = &g[start * c_out..(start + pixels.len()) * c_out];
            let more = accumulate || i > 0;
            gathered::product(dw, Layout::Transposed, more, a, g_rows, c_out);
        }
    }

    /// `dx` for `batch` images from `g` (pixel rows), stride 1 only
    /// ([`Self::has_input_grad`]).
    pub fn input_grad(&mut self, g: &[T], batch: usize, weight: &Matrix<T>, dx: &mut [T]) {
        let p = self
            .backward
            .as_mut()
            .expect("the gathered input gradient is for stride 1");
        p.load(g, batch);
        flip_into(weight, p.window.kernel, &mut self.weight_flip);
        let c_in = weight.cols() / (p.window.kernel * p.window.kernel);
        let a = Gathered {
            data: p.data(g),
            rows: &p.rows,
            cols: &p.cols,
        };
        gathered::product(dx, Layout::Rows, false, a, &self.weight_flip, c_in);
    }
}

/// `out = w^T`, row-major.
fn transpose_into<T: Scalar>(w: &Matrix<T>, out: &mut Vec<T>) {
    let (rows, cols) = w.shape();
    out.resize(rows * cols, T::zero());
    for (r, row) in w.as_slice().chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
}

/// `out[(ky, kx, o), i] = w[o, (k-1-ky, k-1-kx, i)]` for `w` of
/// `c_out x (k k c_in)`: `k k c_out` rows of `c_in`.
fn flip_into<T: Scalar>(w: &Matrix<T>, kernel: usize, out: &mut Vec<T>) {
    let (c_out, fan_in) = w.shape();
    let c_in = fan_in / (kernel * kernel);
    out.resize(c_out * fan_in, T::zero());
    let w = w.as_slice();
    for ky in 0..kernel {
        for kx in 0..kernel {
            let src = ((kernel - 1 - ky) * kernel + (kernel - 1 - kx)) * c_in;
            for o in 0..c_out {
                let dst = ((ky * kernel + kx) * c_out + o) * c_in;
                out[dst..dst + c_in].copy_from_slice(&w[o * fan_in + src..][..c_in]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every window entry the tables name is the image value (or a zero
    /// of the padding) that the window covers, for strides 1 and 2,
    /// paddings 0 to 2 and two images.
    #[test]
    fn tables_gather_each_window_from_the_grid() {
        let input = Image::new(2, 5, 4);
        let batch = 2;
        let x: Vec<f64> = (0..batch * input.len()).map(|i| i as f64 + 1.0).collect();
        for (k, s, pad) in [
            (3, 1, 1),
            (3, 2, 1),
            (1, 1, 0),
            (2, 2, 0),
            (5, 1, 2),
            (3, 1, 2),
        ] {
            let window = Window::new(k, s, pad);
            let out = window.out_image(input, 1).unwrap();
            let grid = Grid::new(input, pad);
            let mut values = Vec::new();
            grid.fill(&x, batch, &mut values);
            let mut rows = Vec::new();
            grid.window_rows(window, out, batch, &mut rows);
            let cols = grid.window_cols(k);
            let mut i = 0;
            for b in 0..batch {
                for oy in 0..out.h {
                    for ox in 0..out.w {
                        for ky in 0..k {
                            for kx in 0..k {
                                for c in 0..input.c {
                                    let want = match (
                                        window.source(oy, ky, input.h),
                                        window.source(ox, kx, input.w),
                                    ) {
                                        (Some(y), Some(xx)) => {
                                            x[((b * input.h + y) * input.w + xx) * input.c + c]
                                        }
                                        _ => 0.0,
                                    };
                                    let got = values[rows[i] + cols[(ky * k + kx) * input.c + c]];
                                    assert_eq!(
                                        got, want,
                                        "{window:?} b{b} ({oy},{ox}) k({ky},{kx}) c{c}"
                                    );
                                }
                            }
                        }
                        i += 1;
                    }
                }
            }
            assert_eq!(i, rows.len());
        }
    }
}
