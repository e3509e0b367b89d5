//! Convolutional networks: [`Conv2d`] (one product with the patch
//! matrix, read in place by our kernel ([`gather`]) or unfolded
//! ([`im2col`]) for the GEMM crate), pooling ([`MaxPool2d`], [`AvgPool2d`],
//! [`GlobalAvgPool`]), [`Flatten`], He et al.'s zero-padding shortcut
//! ([`ZeroPadShortcut`]), and the CNN builder ([`model`]).
//!
//! **Layout: NHWC, as pixel rows.** Between layers an image batch is a
//! `batch * h * w` x `c` matrix ([`shape`]): the convolution's product
//! writes it directly (no transpose), BatchNorm over its rows is
//! `BatchNorm2d` (per channel, over the batch and the pixels) with no new
//! code, an activation is element-wise, and a conv layer is a
//! [`Dense`](super::Dense) block around a [`Conv2d`], so it is probed
//! with the same figures as a dense layer, its channels being the
//! block's units (a dead channel is one that is off at every pixel of
//! every example). PyTorch (NCHW) computes the same numbers with its
//! tensors permuted; see [`conv2d`] for the weight's layout. Every layer
//! here, a basic block and whole CNNs from the builder are checked
//! against PyTorch's numbers (`tests/torch_conv.rs`; the fixture's script,
//! `scripts/torch_conv_reference.py`, documents the conversions).

pub mod conv2d;
pub mod gather;
pub mod im2col;
pub mod model;
pub mod pool;
pub mod shape;
pub mod shortcut;

pub use conv2d::Conv2d;
pub use model::ConvSettings;
pub use pool::{AvgPool2d, Flatten, GlobalAvgPool, MaxPool2d};
pub use shape::{Image, Window};
pub use shortcut::ZeroPadShortcut;
