//! Image shapes and sliding windows.
//!
//! An image tensor is stored channels-last (NHWC): example `b`, row `y`,
//! column `x`, channel `c` at `((b * h + y) * w + x) * c_count + c`. As a
//! [`Matrix`](crate::tensor::Matrix) it is `batch * h * w` *pixel rows* of
//! `c` channels each, so a convolution is one product with the weight, a
//! BatchNorm over the rows is per channel, and an element-wise activation
//! does not care. PyTorch stores NCHW; the fixtures' script transposes.

/// The shape of one example: channels, height, width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Image {
    /// Channels.
    pub c: usize,
    /// Height (rows).
    pub h: usize,
    /// Width (columns).
    pub w: usize,
}

impl Image {
    /// `c x h x w`.
    pub fn new(c: usize, h: usize, w: usize) -> Self {
        Self { c, h, w }
    }

    /// Values per example.
    pub fn len(&self) -> usize {
        self.c * self.h * self.w
    }

    /// True when the image holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Pixels per example.
    pub fn pixels(&self) -> usize {
        self.h * self.w
    }

    /// Examples in a buffer of `len` values (`None` when `len` is not a
    /// whole number of images).
    pub fn batch_of(&self, len: usize) -> Option<usize> {
        (!self.is_empty() && len.is_multiple_of(self.len())).then(|| len / self.len())
    }
}

impl std::fmt::Display for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

/// A square sliding window: kernel size, stride and zero padding (the
/// same on every side, as PyTorch's `padding=p`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Kernel side `k`.
    pub kernel: usize,
    /// Step between windows.
    pub stride: usize,
    /// Zeros added on each side.
    pub pad: usize,
}

impl Window {
    /// `k x k`, stride `stride`, padding `pad`.
    pub fn new(kernel: usize, stride: usize, pad: usize) -> Self {
        Self {
            kernel,
            stride,
            pad,
        }
    }

    /// Output positions along a side of `n`: `(n + 2p - k) / s + 1`
    /// (PyTorch's floor), `None` when the window does not fit.
    pub fn out_len(&self, n: usize) -> Option<usize> {
        let padded = n + 2 * self.pad;
        (self.kernel >= 1 && self.stride >= 1 && padded >= self.kernel)
            .then(|| (padded - self.kernel) / self.stride + 1)
    }

    /// The output image of `input` with `channels` channels.
    pub fn out_image(&self, input: Image, channels: usize) -> Option<Image> {
        Some(Image::new(
            channels,
            self.out_len(input.h)?,
            self.out_len(input.w)?,
        ))
    }

    /// The input coordinate of output position `o`, offset `k` in the
    /// window, along a side of `n`; `None` in the padding.
    #[inline]
    pub fn source(&self, o: usize, k: usize, n: usize) -> Option<usize> {
        (o * self.stride + k)
            .checked_sub(self.pad)
            .filter(|&i| i < n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_follow_pytorch() {
        // conv 3x3, pad 1: same size; stride 2 halves (rounding down).
        assert_eq!(Window::new(3, 1, 1).out_len(28), Some(28));
        assert_eq!(Window::new(3, 2, 1).out_len(28), Some(14));
        assert_eq!(Window::new(3, 2, 1).out_len(7), Some(4));
        assert_eq!(Window::new(2, 2, 0).out_len(7), Some(3));
        assert_eq!(Window::new(5, 1, 0).out_len(3), None);
        let w = Window::new(3, 2, 1);
        assert_eq!(w.source(0, 0, 28), None);
        assert_eq!(w.source(0, 1, 28), Some(0));
        assert_eq!(w.source(13, 2, 28), Some(27));
        assert_eq!(Window::new(3, 1, 1).source(27, 2, 28), None);
        assert_eq!(Image::new(3, 32, 32).batch_of(3072 * 5), Some(5));
        assert_eq!(Image::new(3, 32, 32).batch_of(3071), None);
    }
}
