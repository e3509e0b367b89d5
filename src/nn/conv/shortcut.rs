//! He et al. 2016's option A shortcut: when a residual block halves the
//! image and widens the channels, the identity path takes every
//! `stride`-th pixel and pads the new channels with zeros, adding no
//! parameters (their CIFAR-10 nets use it). Option B, a 1x1 convolution
//! with the same stride, is a [`super::Conv2d`].

use super::shape::Image;
use crate::nn::layer::{Layer, Mode};
use crate::tensor::{Grads, Matrix, Scalar};

/// `x[:, ::s, ::s, :]` with `out.c - in.c` zero channels after the input's.
pub struct ZeroPadShortcut<T> {
    input: Image,
    stride: usize,
    out: Image,
    output: Matrix<T>,
    input_grad: Matrix<T>,
}

impl<T: Scalar> ZeroPadShortcut<T> {
    /// The shortcut from `input` images to `channels` channels at
    /// `stride`; `None` when it would drop channels.
    pub fn new(input: Image, channels: usize, stride: usize) -> Option<Self> {
        (channels >= input.c && stride >= 1).then(|| Self {
            input,
            stride,
            out: Image::new(channels, input.h.div_ceil(stride), input.w.div_ceil(stride)),
            output: Matrix::default(),
            input_grad: Matrix::default(),
        })
    }
}

/// The source pixel offset (within a batch of `input` images) of output
/// pixel `(b, oy, ox)` at `stride`.
fn source(input: Image, stride: usize, b: usize, oy: usize, ox: usize) -> usize {
    ((b * input.h + oy * stride) * input.w + ox * stride) * input.c
}

impl<T: Scalar> Layer<T> for ZeroPadShortcut<T> {
    fn kind(&self) -> String {
        "zero_pad_shortcut".into()
    }

    fn forward(&mut self, x: &Matrix<T>, _mode: Mode) -> &Matrix<T> {
        let batch = self
            .input
            .batch_of(x.len())
            .expect("shortcut input is a batch of images");
        let (out, c_in) = (self.out, self.input.c);
        self.output.resize(batch * out.pixels(), out.c);
        let (x, y) = (x.as_slice(), self.output.as_mut_slice());
        for b in 0..batch {
            for oy in 0..out.h {
                for ox in 0..out.w {
                    let o = ((b * out.h + oy) * out.w + ox) * out.c;
                    let i = source(self.input, self.stride, b, oy, ox);
                    y[o..o + c_in].copy_from_slice(&x[i..i + c_in]);
                    y[o + c_in..o + out.c].fill(T::zero());
                }
            }
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
        let (out, c_in) = (self.out, self.input.c);
        let batch = g.len() / out.len();
        self.input_grad.resize(x.rows(), x.cols());
        self.input_grad.fill(T::zero());
        for b in 0..batch {
            for oy in 0..out.h {
                for ox in 0..out.w {
                    let o = ((b * out.h + oy) * out.w + ox) * out.c;
                    let i = source(self.input, self.stride, b, oy, ox);
                    self.input_grad.as_mut_slice()[i..i + c_in]
                        .copy_from_slice(&g.as_slice()[o..o + c_in]);
                }
            }
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.input_grad
    }
}
