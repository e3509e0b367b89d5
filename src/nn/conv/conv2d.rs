//! 2-D convolution (cross-correlation, as PyTorch's `Conv2d`, groups 1)
//! as one product: `Y = im2col(X) W^T + b`.
//!
//! # Shapes
//! - `x`: `batch` images of shape `input`, NHWC (any matrix shape holding
//!   `batch * input.len()` values: the first layer reads data rows of
//!   `h * w * c` features, later ones pixel rows).
//! - patches: `batch * oh * ow` rows of `k * k * c_in` ([`super::im2col`]).
//! - `W` (`weight`): `c_out x (k * k * c_in)`, each row in `(ky, kx, c_in)`
//!   order; PyTorch's is `c_out x c_in x k x k`, the same numbers permuted.
//! - `y`: pixel rows, `batch * oh * ow` rows of `c_out`.
//!
//! Backward, with `g = dL/dy` as pixel rows: `dL/dW = g^T P`, `dL/db` the
//! column sums of `g`, and `dL/dx = col2im(g W)`, shaped as `x` was. The
//! patch matrix and every other buffer are kept and reused, so a warmed-up
//! step allocates nothing. Evaluation keeps no patches for a backward, so
//! it convolves [`EVAL_CHUNK`] images at a time: the patch matrix of a
//! thousand 28 x 28 images of 16 channels would take 450 MB per layer.

use super::im2col::{col2im, im2col as unfold};
use super::shape::{Image, Window};
use crate::nn::layer::{join, Affine, Layer, Mode, NamedParam};
use crate::tensor::{affine, matmul, Grads, Matrix, Op, Param, Scalar};

/// Images convolved at a time in evaluation (our choice: a training
/// batch's worth).
pub const EVAL_CHUNK: usize = 64;

/// A convolution layer.
pub struct Conv2d<T> {
    /// `c_out x (k * k * c_in)`.
    pub weight: Param<T>,
    /// `1 x c_out`, when the layer has a bias.
    pub bias: Option<Param<T>>,
    input: Image,
    window: Window,
    out: Image,
    patches: Matrix<T>,
    output: Matrix<T>,
    /// One chunk's output in evaluation.
    chunk_output: Matrix<T>,
    /// `g` copied into pixel rows, when it did not arrive so shaped.
    grad_rows: Matrix<T>,
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
            patches: Matrix::default(),
            output: Matrix::default(),
            chunk_output: Matrix::default(),
            grad_rows: Matrix::default(),
            patch_grad: Matrix::default(),
            input_grad: Matrix::default(),
        })
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
        let per_image = self.out.pixels();
        self.output.resize(batch * per_image, self.out.c);
        if mode == Mode::Train || batch <= EVAL_CHUNK {
            im2col(
                x.as_slice(),
                self.input,
                self.window,
                self.out,
                &mut self.patches,
                batch,
            );
            product(&mut self.output, &self.patches, &self.weight, &self.bias);
            return &self.output;
        }
        let values = self.out.len();
        for first in (0..batch).step_by(EVAL_CHUNK) {
            let n = EVAL_CHUNK.min(batch - first);
            let images = &x.as_slice()[first * self.input.len()..(first + n) * self.input.len()];
            im2col(
                images,
                self.input,
                self.window,
                self.out,
                &mut self.patches,
                n,
            );
            self.chunk_output.resize(n * per_image, self.out.c);
            product(
                &mut self.chunk_output,
                &self.patches,
                &self.weight,
                &self.bias,
            );
            self.output.as_mut_slice()[first * values..(first + n) * values]
                .copy_from_slice(self.chunk_output.as_slice());
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
        // dL/dW (+)= g^T P
        let accumulate = grads == Grads::Accumulate;
        matmul(
            &mut self.weight.grad,
            accumulate,
            T::one(),
            g,
            Op::T,
            &self.patches,
            Op::N,
        );
        if let Some(b) = &mut self.bias {
            b.start_grad(grads);
            g.add_col_sums_into(b.grad.as_mut_slice());
        }
        if need_input_grad {
            self.patch_grad.resize(rows, self.weight.value.cols());
            matmul(
                &mut self.patch_grad,
                false,
                T::one(),
                g,
                Op::N,
                &self.weight.value,
                Op::N,
            );
            self.input_grad.resize(x.rows(), x.cols());
            col2im(
                self.patch_grad.as_slice(),
                self.input,
                self.window,
                self.out,
                self.input_grad.as_mut_slice(),
            );
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

/// Fills `patches` with the patch rows of `batch` images `x`.
fn im2col<T: Scalar>(
    x: &[T],
    input: Image,
    window: Window,
    out: Image,
    patches: &mut Matrix<T>,
    batch: usize,
) {
    let k = window.kernel;
    patches.resize(batch * out.pixels(), k * k * input.c);
    unfold(x, input, window, out, patches.as_mut_slice());
}

/// `dst = P W^T (+ b)`.
fn product<T: Scalar>(
    dst: &mut Matrix<T>,
    patches: &Matrix<T>,
    w: &Param<T>,
    b: &Option<Param<T>>,
) {
    match b {
        Some(b) => affine(dst, patches, &w.value, b.value.as_slice()),
        None => matmul(dst, false, T::one(), patches, Op::N, &w.value, Op::T),
    }
}

impl<T: Scalar> Affine<T> for Conv2d<T> {
    fn weight(&self) -> &Param<T> {
        &self.weight
    }

    fn bias(&self) -> Option<&Param<T>> {
        self.bias.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluation convolves `EVAL_CHUNK` images at a time (the last chunk
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
        let batch = 2 * EVAL_CHUNK + 5;
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
}
