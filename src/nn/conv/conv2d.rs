//! 2-D convolution (cross-correlation, as PyTorch's `Conv2d`, groups 1)
//! as one product: `Y = im2col(X) W^T + b`.
//!
//! # Shapes
//! - `x`: `batch` images of shape `input`, NHWC (any matrix shape holding
//!   `batch * input.len()` values: the first layer reads data rows of
//!   `h * w * c` features, later ones pixel rows).
//! - patches `P`: `batch * oh * ow` rows of `k * k * c_in`, kept transposed
//!   (`k * k * c_in` rows of `batch * oh * ow`, [`super::im2col`]).
//! - `W` (`weight`): `c_out x (k * k * c_in)`, each row in `(ky, kx, c_in)`
//!   order; PyTorch's is `c_out x c_in x k x k`, the same numbers permuted.
//! - `y`: pixel rows, `batch * oh * ow` rows of `c_out`.
//!
//! Backward, with `g = dL/dy` as pixel rows: `dL/dW = g^T P`, `dL/db` the
//! column sums of `g`, and `dL/dx = col2im(g W)`, shaped as `x` was.
//!
//! # Two paths
//! Where our f32 kernel runs (the `avx512` and `avx2` SIMD levels), `P`
//! is never written: the
//! products read it in place from a padded copy of the input
//! ([`super::gather`], 1.4 to 1.9x faster on ResNet-20, docs/PERFORMANCE.md),
//! and at stride 1 the input gradient is a convolution of `g` the same
//! way. Elsewhere (f64, the GEMM crate) `P` is unfolded, as below.
//!
//! # Memory and speed of the unfolded path
//! Both products with `P` read `P^T` by rows, as it is kept (the forward
//! runs as `y^T = W P^T`): neither copies it. Where the patches are large
//! the batch goes through in chunks of images ([`CHUNK_BYTES`]), each
//! chunk's patches still in cache when its product reads them: always for
//! `g W` before `col2im`, in the forward when `P^T` exceeds
//! [`WHOLE_BYTES`] (its chunks are then copied into the `P^T` kept), and
//! in evaluation, which keeps no patches (those of a thousand 28 x 28
//! images of 16 channels would take 450 MB per layer). No chunking
//! changes a bit: each entry of a product is one sum over its own row.
//! Every buffer is kept and reused, so a warmed-up step allocates nothing.

use super::gather::Gather;
use super::im2col::{col2im, im2col_columns};
use super::shape::{Image, Window};
use crate::nn::layer::{join, Affine, Layer, Mode, NamedParam};
use crate::tensor::{gathered, matmul, Grads, Matrix, Op, Param, Scalar};

/// Bytes of patches (`P^T`, or `g W` in the backward pass) a chunk of
/// images takes when the batch is convolved a chunk at a time (our
/// choice, measured on ResNet-20's shapes: docs/PERFORMANCE.md,
/// "Convolutional nets"): small enough to stay in cache between the copy
/// that writes it and the product that reads it.
pub const CHUNK_BYTES: usize = 4 << 20;

/// Above this many bytes of `P^T` for the whole batch, training convolves
/// a chunk of images at a time too (our choice, measured as
/// [`CHUNK_BYTES`]): each chunk's product reads its patches from cache,
/// and they are then copied into the `P^T` kept for the backward pass.
/// At or below it one unfolding and one product are faster (ResNet-20's
/// second and third stages, 14 and 7 MB at batch 64: the copies cost
/// more than the cache saves; its first stage, 29 MB, gains a quarter).
pub const WHOLE_BYTES: usize = 16 << 20;

/// A convolution layer.
pub struct Conv2d<T> {
    /// `c_out x (k * k * c_in)`.
    pub weight: Param<T>,
    /// `1 x c_out`, when the layer has a bias.
    pub bias: Option<Param<T>>,
    input: Image,
    window: Window,
    out: Image,
    /// The products on patches read in place, where our kernel runs
    /// ([`super::gather`]); otherwise the patches are unfolded.
    gather: Option<Gather<T>>,
    /// `P^T`: `k * k * c_in` rows of `batch * oh * ow`.
    patches: Matrix<T>,
    /// The input channel-major, on the way to `patches`.
    planes: Vec<T>,
    output: Matrix<T>,
    /// One chunk's `P^T`, when the batch is convolved in chunks.
    chunk_patches: Matrix<T>,
    /// One chunk's output.
    chunk_output: Matrix<T>,
    /// `g` copied into pixel rows, when it did not arrive so shaped.
    grad_rows: Matrix<T>,
    /// One chunk of images' rows of `g`, for the input gradient.
    grad_chunk: Matrix<T>,
    patch_grad: Matrix<T>,
    input_grad: Matrix<T>,
}

impl<T: Scalar> Conv2d<T> {
    /// A zero-initialized convolution of `input` images to `channels`
    /// output channels through `window`; `None` when the window does not
    /// fit the image.
    pub fn new(input: Image, channels: usize, window: Window, bias: bool) -> Option<Self> {
        let out = window.out_image(input, channels)?;
        let fan_in = window.kernel * window.kernel * input.c;
        Some(Self {
            weight: Param::new(Matrix::zeros(channels, fan_in)),
            bias: bias.then(|| Param::new(Matrix::zeros(1, channels))),
            input,
            window,
            out,
            gather: Gather::new(input, window, out),
            patches: Matrix::default(),
            planes: Vec::new(),
            output: Matrix::default(),
            chunk_patches: Matrix::default(),
            chunk_output: Matrix::default(),
            grad_rows: Matrix::default(),
            grad_chunk: Matrix::default(),
            patch_grad: Matrix::default(),
            input_grad: Matrix::default(),
        })
    }

    /// This convolution on unfolded patches even where our kernel would
    /// gather them (tests compare the two paths).
    pub fn unfolded(mut self) -> Self {
        self.gather = None;
        self
    }

    /// Whether the patches are gathered in place ([`super::gather`]):
    /// where our kernel runs at the current SIMD level (a layer built at
    /// one level may train in a pool at a lower one; the forward and
    /// backward of a step run in one pool, so they take the same path).
    pub fn gathers(&self) -> bool {
        self.gather.is_some() && gathered::runs_here::<T>()
    }

    /// The input image shape.
    pub fn input(&self) -> Image {
        self.input
    }

    /// The output image shape.
    pub fn output_image(&self) -> Image {
        self.out
    }

    /// The window (kernel, stride, padding).
    pub fn window(&self) -> Window {
        self.window
    }

    fn batch(&self, x: &Matrix<T>) -> usize {
        self.input.batch_of(x.len()).unwrap_or_else(|| {
            panic!(
                "conv input of {} values is not a batch of {} images",
                x.len(),
                self.input
            )
        })
    }
}

impl<T: Scalar> Layer<T> for Conv2d<T> {
    fn kind(&self) -> String {
        format!("conv{}x{}", self.window.kernel, self.window.kernel)
    }

    fn forward(&mut self, x: &Matrix<T>, mode: Mode) -> &Matrix<T> {
        let batch = self.batch(x);
        let (per_image, k_rows) = (self.out.pixels(), self.weight.value.cols());
        let geometry = (self.input, self.window, self.out);
        self.output.resize(batch * per_image, self.out.c);
        // Training keeps P^T (or, gathered, the input's grid) for the
        // backward pass.
        let keep = mode == Mode::Train;
        let here = gathered::runs_here::<T>();
        if let Some(gather) = self.gather.as_mut().filter(|_| here) {
            let y = self.output.as_mut_slice();
            gather.forward(x.as_slice(), batch, &self.weight.value, keep, y);
            add_bias(&mut self.output, &self.bias);
            return &self.output;
        }
        if keep && batch * per_image * k_rows * size_of::<T>() <= WHOLE_BYTES {
            im2col(
                x.as_slice(),
                geometry,
                &mut self.planes,
                &mut self.patches,
                batch,
            );
            product(&mut self.output, &self.patches, &self.weight, &self.bias);
            return &self.output;
        }
        if keep {
            self.patches.resize(k_rows, batch * per_image);
        }
        let chunk = images_per_chunk::<T>(per_image * k_rows);
        let (per_in, per_out) = (self.input.len(), self.out.len());
        for first in (0..batch).step_by(chunk) {
            let n = chunk.min(batch - first);
            let images = &x.as_slice()[first * per_in..(first + n) * per_in];
            im2col(
                images,
                geometry,
                &mut self.planes,
                &mut self.chunk_patches,
                n,
            );
            self.chunk_output.resize(n * per_image, self.out.c);
            product(
                &mut self.chunk_output,
                &self.chunk_patches,
                &self.weight,
                &self.bias,
            );
            self.output.as_mut_slice()[first * per_out..(first + n) * per_out]
                .copy_from_slice(self.chunk_output.as_slice());
            if keep {
                // Columns first * per_image.. of P^T, row by row.
                let width = batch * per_image;
                let at = first * per_image;
                for (j, row) in self
                    .chunk_patches
                    .as_slice()
                    .chunks_exact(n * per_image)
                    .enumerate()
                {
                    let dst = &mut self.patches.as_mut_slice()[j * width + at..][..row.len()];
                    dst.copy_from_slice(row);
                }
            }
        }
        &self.output
    }

    fn output(&self) -> &Matrix<T> {
        &self.output
    }

    fn backward(
        &mut self,
        x: &Matrix<T>,
        grad_output: &Matrix<T>,
        need_input_grad: bool,
        grads: Grads,
    ) {
        let rows = self.batch(x) * self.out.pixels();
        let g = if grad_output.shape() == (rows, self.out.c) {
            grad_output
        } else {
            assert_eq!(grad_output.len(), rows * self.out.c, "conv output grad");
            self.grad_rows.resize(rows, self.out.c);
            self.grad_rows
                .as_mut_slice()
                .copy_from_slice(grad_output.as_slice());
            &self.grad_rows
        };
        // dL/dW (+)= g^T P, P gathered or kept transposed
        let accumulate = grads == Grads::Accumulate;
        let batch = rows / self.out.pixels();
        let here = gathered::runs_here::<T>();
        match self.gather.as_mut().filter(|_| here) {
            Some(gather) => {
                let dw = self.weight.grad.as_mut_slice();
                gather.weight_grad(x.as_slice(), g.as_slice(), batch, accumulate, dw);
            }
            None => matmul(
                &mut self.weight.grad,
                accumulate,
                T::one(),
                g,
                Op::T,
                &self.patches,
                Op::T,
            ),
        }
        if let Some(b) = &mut self.bias {
            b.start_grad(grads);
            g.add_col_sums_into(b.grad.as_mut_slice());
        }
        if need_input_grad {
            self.input_grad.resize(x.rows(), x.cols());
            let (w, geometry) = (&self.weight.value, (self.input, self.window, self.out));
            if let Some(gather) = self.gather.as_mut().filter(|g| here && g.has_input_grad()) {
                let dx = self.input_grad.as_mut_slice();
                gather.input_grad(g.as_slice(), batch, w, dx);
                return;
            }
            let chunk = images_per_chunk::<T>(self.out.pixels() * w.cols());
            if batch <= chunk {
                input_grad(
                    g,
                    w,
                    geometry,
                    &mut self.patch_grad,
                    self.input_grad.as_mut_slice(),
                );
                return;
            }
            let (per_out, per_in) = (self.out.len(), self.input.len());
            for first in (0..batch).step_by(chunk) {
                let n = chunk.min(batch - first);
                let rows = &g.as_slice()[first * per_out..(first + n) * per_out];
                self.grad_chunk.resize(n * self.out.pixels(), self.out.c);
                self.grad_chunk.as_mut_slice().copy_from_slice(rows);
                let dx = &mut self.input_grad.as_mut_slice()[first * per_in..(first + n) * per_in];
                input_grad(&self.grad_chunk, w, geometry, &mut self.patch_grad, dx);
            }
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.input_grad
    }

    fn collect_params<'a>(&'a mut self, prefix: &str, out: &mut Vec<NamedParam<'a, T>>) {
        out.push(NamedParam {
            path: join(prefix, "weight"),
            param: &mut self.weight,
        });
        if let Some(b) = &mut self.bias {
            out.push(NamedParam {
                path: join(prefix, "bias"),
                param: b,
            });
        }
    }
}

/// Images per chunk ([`CHUNK_BYTES`]), for `per_image` patch entries per
/// image.
fn images_per_chunk<T>(per_image: usize) -> usize {
    (CHUNK_BYTES / (per_image * size_of::<T>()).max(1)).max(1)
}

/// `dx = col2im(g W)` for the images of `g` (pixel rows), through the
/// scratch `patch_grad`. Each entry is the same on any chunking: a row of
/// `g W` is one sum over the output channels, and `col2im` adds each
/// image's windows on their own.
fn input_grad<T: Scalar>(
    g: &Matrix<T>,
    w: &Matrix<T>,
    (input, window, out): (Image, Window, Image),
    patch_grad: &mut Matrix<T>,
    dx: &mut [T],
) {
    patch_grad.resize(g.rows(), w.cols());
    matmul(patch_grad, false, T::one(), g, Op::N, w, Op::N);
    col2im(patch_grad.as_slice(), input, window, out, dx);
}

/// Fills `patches` with `P^T` of `batch` images `x` (`planes`: scratch).
fn im2col<T: Scalar>(
    x: &[T],
    (input, window, out): (Image, Window, Image),
    planes: &mut Vec<T>,
    patches: &mut Matrix<T>,
    batch: usize,
) {
    let k = window.kernel;
    patches.resize(k * k * input.c, batch * out.pixels());
    im2col_columns(x, input, window, out, planes, patches.as_mut_slice());
}

/// `dst = P W^T (+ b)` from `P^T`.
fn product<T: Scalar>(
    dst: &mut Matrix<T>,
    patches: &Matrix<T>,
    w: &Param<T>,
    b: &Option<Param<T>>,
) {
    matmul(dst, false, T::one(), patches, Op::T, &w.value, Op::T);
    add_bias(dst, b);
}

/// `dst += b` on every pixel row. Added after the product, as our kernel
/// adds a bias to a finished tile: the same bits.
fn add_bias<T: Scalar>(dst: &mut Matrix<T>, b: &Option<Param<T>>) {
    if let Some(b) = b {
        let b = b.value.as_slice();
        for row in dst.as_mut_slice().chunks_exact_mut(b.len()) {
            row.iter_mut().zip(b).for_each(|(y, &b)| *y = *y + b);
        }
    }
}

impl<T: Scalar> Affine<T> for Conv2d<T> {
    fn weight(&self) -> &Param<T> {
        &self.weight
    }

    fn per_channel(&self) -> bool {
        true
    }

    fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluation convolves a chunk of images at a time (the last chunk
    /// short); the result is the one-product training forward's, and a
    /// training step after it still has its own patches.
    #[test]
    fn chunked_evaluation_equals_the_whole_batch_product() {
        let input = Image::new(2, 5, 4);
        let mut conv = Conv2d::<f64>::new(input, 3, Window::new(3, 2, 1), true).unwrap();
        let w = conv.weight.value.as_mut_slice();
        w.iter_mut()
            .enumerate()
            .for_each(|(i, v)| *v = (i as f64 * 0.7).sin());
        conv.bias.as_mut().unwrap().value.as_mut_slice()[1] = 0.5;
        let batch = 2 * images_per_chunk::<f64>(9 * input.c * 3 * 2) + 5;
        let data = (0..batch * input.len())
            .map(|i| (i as f64 * 0.13).cos())
            .collect();
        let x = Matrix::from_vec(batch, input.len(), data).unwrap();
        let train = conv.forward(&x, Mode::Train).clone();
        let eval = conv.forward(&x, Mode::Eval).clone();
        let worst = train
            .as_slice()
            .iter()
            .zip(eval.as_slice())
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert_eq!(train.shape(), eval.shape());
        assert!(worst < 1e-12, "chunked evaluation differs by {worst:e}");
        // A training forward after evaluation unfolds the whole batch again.
        conv.forward(&x, Mode::Train);
        let g = Matrix::filled(train.rows(), train.cols(), 1.0);
        conv.backward(&x, &g, true, Grads::Overwrite);
        assert_eq!(conv.input_grad().shape(), x.shape());
    }

    /// Keeping `P` transposed and chunking change no bit: the output and
    /// the weight gradient equal the products on the row layout (`P W^T +
    /// b` and `g^T P`, the layout this layer kept before), and the input
    /// gradient `col2im(g W)` over the whole batch, in f32 (our kernel on
    /// AVX-512) and f64, on one and two threads. 40 images of 16 x 28 x 27
    /// take 17 MB of patches in f32 and 35 MB in f64 at stride 1, so the
    /// forward goes by chunks (9 and 4 images) as the input gradient does;
    /// at stride 2 the forward is whole and the input gradient chunked.
    ///
    /// Gathered (f32 on AVX-512 or AVX2, [`super::super::gather`]): the output
    /// keeps every bit; the gradients, summed in other orders, agree to
    /// f32 rounding: 1e-4 of the largest entry, as a weight gradient's
    /// one chain over 30,240 pixels rounds (1.4e-5 measured).
    #[test]
    fn patch_columns_give_the_row_layout_bits() {
        fn close<T: Scalar>(a: &Matrix<T>, b: &Matrix<T>) -> bool {
            let scale = b
                .as_slice()
                .iter()
                .fold(0.0f64, |m, v| m.max(v.as_f64().abs()));
            let worst = a
                .as_slice()
                .iter()
                .zip(b.as_slice())
                .fold(0.0f64, |m, (x, y)| m.max((x.as_f64() - y.as_f64()).abs()));
            a.shape() == b.shape() && worst <= 1e-4 * scale
        }
        fn check<T: Scalar>() {
            for gathered in [false, true] {
                check_path::<T>(gathered);
            }
        }
        fn check_path<T: Scalar>(gathered: bool) {
            use crate::nn::conv::im2col::im2col;
            use crate::tensor::{affine, with_threads};
            let input = Image::new(16, 28, 27);
            for (window, bias) in [(Window::new(3, 1, 1), true), (Window::new(3, 2, 1), false)] {
                let mut conv = Conv2d::<T>::new(input, 24, window, bias).unwrap();
                if !gathered {
                    conv = conv.unfolded();
                } else if !conv.gathers() {
                    // f64 has no gathered path; f32 has one only where our
                    // kernel runs, and says when it is skipped.
                    if size_of::<T>() == 4 {
                        crate::tensor::testing::skip(crate::tensor::testing::NO_AVX512);
                    }
                    return;
                }
                // Gathered gradients are summed in other orders.
                let same = |a: &Matrix<T>, b: &Matrix<T>| {
                    if gathered {
                        close(a, b)
                    } else {
                        a == b
                    }
                };
                let w = conv.weight.value.as_mut_slice();
                w.iter_mut()
                    .enumerate()
                    .for_each(|(i, v)| *v = T::cast((i as f64 * 0.7).sin()));
                if let Some(b) = &mut conv.bias {
                    b.value.as_mut_slice()[3] = T::cast(0.25);
                }
                let batch = 40;
                let data = (0..batch * input.len())
                    .map(|i| T::cast((i as f64 * 0.13).cos()))
                    .collect();
                let x = Matrix::from_vec(batch, input.len(), data).unwrap();
                let out = conv.output_image();
                let rows = batch * out.pixels();
                let mut p = Matrix::<T>::zeros(rows, 9 * input.c);
                im2col(x.as_slice(), input, window, out, p.as_mut_slice());
                let g = Matrix::from_vec(
                    rows,
                    out.c,
                    (0..rows * out.c)
                        .map(|i| T::cast((i as f64 * 0.3).sin()))
                        .collect(),
                )
                .unwrap();
                for threads in [1, 2] {
                    let (y, dw, dx) = with_threads(threads, || {
                        let y = conv.forward(&x, Mode::Train).clone();
                        conv.backward(&x, &g, true, Grads::Overwrite);
                        (y, conv.weight.grad.clone(), conv.input_grad().clone())
                    });
                    let (want_y, want_dw, want_dx) = with_threads(threads, || {
                        let mut y = Matrix::zeros(rows, out.c);
                        match &conv.bias {
                            Some(b) => affine(&mut y, &p, &conv.weight.value, b.value.as_slice()),
                            None => matmul(
                                &mut y,
                                false,
                                T::one(),
                                &p,
                                Op::N,
                                &conv.weight.value,
                                Op::T,
                            ),
                        }
                        let mut dw = Matrix::zeros(out.c, 9 * input.c);
                        matmul(&mut dw, false, T::one(), &g, Op::T, &p, Op::N);
                        let mut dp = Matrix::zeros(rows, 9 * input.c);
                        matmul(
                            &mut dp,
                            false,
                            T::one(),
                            &g,
                            Op::N,
                            &conv.weight.value,
                            Op::N,
                        );
                        let mut dx = Matrix::zeros(batch, input.len());
                        col2im(dp.as_slice(), input, window, out, dx.as_mut_slice());
                        (y, dw, dx)
                    });
                    assert!(
                        y == want_y,
                        "{window:?} bias {bias}, {threads} threads: output"
                    );
                    assert!(
                        same(&dw, &want_dw),
                        "{window:?} bias {bias}, {threads} threads, gathered {gathered}: dL/dW"
                    );
                    assert!(
                        same(&dx, &want_dx),
                        "{window:?} bias {bias}, {threads} threads, gathered {gathered}: dL/dx"
                    );
                }
            }
        }
        check::<f32>();
        check::<f64>();
    }
}
