//! Pooling over NHWC pixel rows: [`MaxPool2d`] and [`AvgPool2d`] over a
//! sliding window, and [`GlobalAvgPool`], the mean of each channel over
//! the image (a ResNet's last spatial layer), whose output is one row per
//! example.
//!
//! Backward: max pooling sends each output's gradient to the input that
//! won its window (the first such, in window order, as PyTorch); average
//! pooling spreads it evenly over the window's `k * k` positions, padding
//! included (PyTorch's `count_include_pad=True`).

use super::shape::{Image, Window};
use crate::nn::layer::{Layer, Mode};
use crate::tensor::{Grads, Matrix, Scalar};

/// Which reduction a window pool applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reduce {
    Max,
    Mean,
}

/// A window pool: max or mean over `window`, per channel.
struct WindowPool<T> {
    reduce: Reduce,
    input: Image,
    window: Window,
    out: Image,
    output: Matrix<T>,
    /// Max pooling: the input offset (within the batch) each output took.
    argmax: Vec<usize>,
    input_grad: Matrix<T>,
}

impl<T: Scalar> WindowPool<T> {
    fn new(reduce: Reduce, input: Image, window: Window) -> Option<Self> {
        Some(Self {
            reduce,
            input,
            window,
            out: window.out_image(input, input.c)?,
            output: Matrix::default(),
            argmax: Vec::new(),
            input_grad: Matrix::default(),
        })
    }

    fn forward(&mut self, x: &Matrix<T>) -> &Matrix<T> {
        let (input, out, win) = (self.input, self.out, self.window);
        let batch = input
            .batch_of(x.len())
            .expect("pool input is a batch of images");
        self.output.resize(batch * out.pixels(), out.c);
        self.argmax.resize(batch * out.len(), 0);
        let scale = T::cast(1.0 / (win.kernel * win.kernel) as f64);
        let (x, y) = (x.as_slice(), self.output.as_mut_slice());
        for b in 0..batch {
            for oy in 0..out.h {
                for ox in 0..out.w {
                    let o = ((b * out.h + oy) * out.w + ox) * out.c;
                    for c in 0..out.c {
                        let (mut best, mut at, mut sum) =
                            (T::neg_infinity(), usize::MAX, T::zero());
                        for ky in 0..win.kernel {
                            let Some(iy) = win.source(oy, ky, input.h) else {
                                continue;
                            };
                            for kx in 0..win.kernel {
                                let Some(ix) = win.source(ox, kx, input.w) else {
                                    continue;
                                };
                                let i = ((b * input.h + iy) * input.w + ix) * input.c + c;
                                let v = x[i];
                                sum = sum + v;
                                if v > best || at == usize::MAX {
                                    (best, at) = (v, i);
                                }
                            }
                        }
                        match self.reduce {
                            Reduce::Max => {
                                y[o + c] = best;
                                self.argmax[o + c] = at;
                            }
                            Reduce::Mean => y[o + c] = sum * scale,
                        }
                    }
                }
            }
        }
        &self.output
    }

    fn backward(&mut self, x: &Matrix<T>, g: &Matrix<T>) {
        let (input, out, win) = (self.input, self.out, self.window);
        self.input_grad.resize(x.rows(), x.cols());
        let dx = self.input_grad.as_mut_slice();
        dx.fill(T::zero());
        let g = g.as_slice();
        match self.reduce {
            Reduce::Max => {
                for (o, &i) in self.argmax.iter().enumerate() {
                    dx[i] = dx[i] + g[o];
                }
            }
            Reduce::Mean => {
                let scale = T::cast(1.0 / (win.kernel * win.kernel) as f64);
                let batch = g.len() / out.len();
                for b in 0..batch {
                    for oy in 0..out.h {
                        for ox in 0..out.w {
                            let o = ((b * out.h + oy) * out.w + ox) * out.c;
                            for ky in 0..win.kernel {
                                let Some(iy) = win.source(oy, ky, input.h) else {
                                    continue;
                                };
                                for kx in 0..win.kernel {
                                    let Some(ix) = win.source(ox, kx, input.w) else {
                                        continue;
                                    };
                                    let i = ((b * input.h + iy) * input.w + ix) * input.c;
                                    for c in 0..out.c {
                                        dx[i + c] = dx[i + c] + g[o + c] * scale;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

macro_rules! window_pool {
    ($name:ident, $reduce:expr, $kind:literal, $doc:literal) => {
        #[doc = $doc]
        pub struct $name<T>(WindowPool<T>);

        impl<T: Scalar> $name<T> {
            /// A pool of `input` images through `window`; `None` when the
            /// window does not fit.
            pub fn new(input: Image, window: Window) -> Option<Self> {
                WindowPool::new($reduce, input, window).map(Self)
            }

            /// The output image shape.
            pub fn output_image(&self) -> Image {
                self.0.out
            }
        }

        impl<T: Scalar> Layer<T> for $name<T> {
            fn kind(&self) -> String {
                $kind.into()
            }

            fn forward(&mut self, x: &Matrix<T>, _mode: Mode) -> &Matrix<T> {
                self.0.forward(x)
            }

            fn output(&self) -> &Matrix<T> {
                &self.0.output
            }

            fn backward(&mut self, x: &Matrix<T>, g: &Matrix<T>, need: bool, _grads: Grads) {
                if need {
                    self.0.backward(x, g);
                }
            }

            fn input_grad(&self) -> &Matrix<T> {
                &self.0.input_grad
            }
        }
    };
}

window_pool!(
    MaxPool2d,
    Reduce::Max,
    "max_pool",
    "The maximum over each window, per channel (PyTorch's `MaxPool2d`)."
);
window_pool!(
    AvgPool2d,
    Reduce::Mean,
    "avg_pool",
    "The mean over each window, per channel (PyTorch's `AvgPool2d`)."
);

/// The mean of each channel over the whole image: `batch x c`.
pub struct GlobalAvgPool<T> {
    input: Image,
    output: Matrix<T>,
    input_grad: Matrix<T>,
}

impl<T: Scalar> GlobalAvgPool<T> {
    /// A pool of `input` images.
    pub fn new(input: Image) -> Self {
        Self {
            input,
            output: Matrix::default(),
            input_grad: Matrix::default(),
        }
    }
}

impl<T: Scalar> Layer<T> for GlobalAvgPool<T> {
    fn kind(&self) -> String {
        "global_avg_pool".into()
    }

    fn forward(&mut self, x: &Matrix<T>, _mode: Mode) -> &Matrix<T> {
        let s = self.input;
        let batch = s
            .batch_of(x.len())
            .expect("pool input is a batch of images");
        self.output.resize(batch, s.c);
        self.output.fill(T::zero());
        let scale = T::cast(1.0 / s.pixels() as f64);
        for (image, y) in x
            .as_slice()
            .chunks_exact(s.len())
            .zip(self.output.as_mut_slice().chunks_exact_mut(s.c))
        {
            for pixel in image.chunks_exact(s.c) {
                for (acc, v) in y.iter_mut().zip(pixel) {
                    *acc = *acc + *v;
                }
            }
            y.iter_mut().for_each(|v| *v = *v * scale);
        }
        &self.output
    }

    fn output(&self) -> &Matrix<T> {
        &self.output
    }

    fn backward(&mut self, x: &Matrix<T>, g: &Matrix<T>, need: bool, _grads: Grads) {
        if !need {
            return;
        }
        let s = self.input;
        self.input_grad.resize(x.rows(), x.cols());
        let scale = T::cast(1.0 / s.pixels() as f64);
        for (image, gy) in self
            .input_grad
            .as_mut_slice()
            .chunks_exact_mut(s.len())
            .zip(g.as_slice().chunks_exact(s.c))
        {
            for pixel in image.chunks_exact_mut(s.c) {
                for (d, v) in pixel.iter_mut().zip(gy) {
                    *d = *v * scale;
                }
            }
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.input_grad
    }
}

/// Pixel rows to one row per example (`batch x h*w*c`, NHWC order), for
/// a fully connected layer after convolutions.
pub struct Flatten<T> {
    input: Image,
    output: Matrix<T>,
    input_grad: Matrix<T>,
}

impl<T: Scalar> Flatten<T> {
    /// Flattens `input` images.
    pub fn new(input: Image) -> Self {
        Self {
            input,
            output: Matrix::default(),
            input_grad: Matrix::default(),
        }
    }
}

impl<T: Scalar> Layer<T> for Flatten<T> {
    fn kind(&self) -> String {
        "flatten".into()
    }

    fn forward(&mut self, x: &Matrix<T>, _mode: Mode) -> &Matrix<T> {
        let batch = self
            .input
            .batch_of(x.len())
            .expect("flatten input is a batch of images");
        self.output.resize(batch, self.input.len());
        self.output.as_mut_slice().copy_from_slice(x.as_slice());
        &self.output
    }

    fn output(&self) -> &Matrix<T> {
        &self.output
    }

    fn backward(&mut self, x: &Matrix<T>, g: &Matrix<T>, need: bool, _grads: Grads) {
        if need {
            self.input_grad.resize(x.rows(), x.cols());
            self.input_grad.as_mut_slice().copy_from_slice(g.as_slice());
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.input_grad
    }
}
