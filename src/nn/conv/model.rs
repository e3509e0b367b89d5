//! The CNN builder: He et al. 2016's CIFAR family (section 4.2) and its
//! plain counterpart, from a spec's `[model]` table with `kind = "cnn"`.
//!
//! ```text
//! layers.0        conv 3x3, c_in -> channels[0]  [+ norm] + activation   (the stem)
//! layers.t        a block: conv 3x3 [+ norm] + activation, conv 3x3 [+ norm]
//!                 residual: layers.t.branch.0.., plus layers.t.projection
//!                 (option B) when the block changes the shape
//! layers.t+1      activation (after the sum, for a residual block)
//! ...             n blocks per stage; each stage after the first starts
//!                 with stride 2 (half the image, the next stage's channels)
//! layers.m        global average pooling
//! layers.m+1      linear(channels[last] -> classes), the logits
//! ```
//!
//! With `channels = [16, 32, 64]` that is `6n + 2` weighted layers
//! (ResNet-20 at `n = 3`, ResNet-32 at `n = 5`). A conv layer followed by
//! BatchNorm has no bias (its mean is removed anyway), as in He et al.
//! Every conv layer and the output layer are probed [`Dense`] blocks; the
//! shortcuts, the activation after each sum and the pooling are not.

use super::{Conv2d, GlobalAvgPool, Image, Window, ZeroPadShortcut};
use crate::error::{Error, Result};
use crate::nn::{
    ActivationLayer, BatchNorm, Dense, Layer, Linear, Mlp, ModelConfig, Norm, NormPlacement,
    Residual, Sequential,
};
use crate::tensor::Scalar;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::str::FromStr;

/// The shortcut of a residual block that changes the image's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Shortcut {
    /// He et al.'s option A: subsample, pad the new channels with zeros
    /// (no parameters; their CIFAR nets, the default).
    #[default]
    Zeros,
    /// Option B: a 1x1 convolution with the block's stride.
    Projection,
}

impl Shortcut {
    /// The names [`Shortcut::from_str`] accepts.
    pub const NAMES: &'static str = "zeros (a), projection (b)";
}

impl fmt::Display for Shortcut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Shortcut::Zeros => "zeros",
            Shortcut::Projection => "projection",
        })
    }
}

impl FromStr for Shortcut {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "zeros" | "a" => Ok(Shortcut::Zeros),
            "projection" | "b" => Ok(Shortcut::Projection),
            _ => Err(Error::UnknownName {
                what: "shortcut",
                name: s.into(),
                expected: Self::NAMES.into(),
            }),
        }
    }
}

crate::names::serde_via_str!(Shortcut);

/// A CNN's settings (the `[model]` keys that apply to `cnn`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvSettings {
    /// Channels of each stage; the stem has the first stage's.
    pub channels: Vec<usize>,
    /// Blocks per stage (He et al.'s `n`).
    pub n: usize,
    /// Identity shortcuts around each block (a ResNet), or none (plain).
    pub residual: bool,
    /// The shortcut of a block that changes the shape.
    pub shortcut: Shortcut,
    /// The input image `[channels, height, width]`; empty: from the data
    /// ([`ConvSettings::image_for`]).
    pub image: Vec<usize>,
}

impl Default for ConvSettings {
    /// ResNet-20: 16, 32, 64 channels, `n = 3`, option A shortcuts.
    fn default() -> Self {
        Self {
            channels: vec![16, 32, 64],
            n: 3,
            residual: true,
            shortcut: Shortcut::Zeros,
            image: Vec::new(),
        }
    }
}

impl ConvSettings {
    /// Weighted layers: the stem, two per block, the output layer.
    pub fn layers(&self) -> usize {
        2 * self.channels.len() * self.n + 2
    }

    /// The net in a few words: `residual CNN, 20 layers (n = 3, channels
    /// 16/32/64, zeros shortcuts)`.
    pub fn describe(&self) -> String {
        let channels: Vec<String> = self.channels.iter().map(|c| c.to_string()).collect();
        let (kind, shortcut) = if self.residual {
            ("residual", format!(", {} shortcuts", self.shortcut))
        } else {
            ("plain", String::new())
        };
        format!(
            "{kind} CNN, {} layers (n = {}, channels {}{shortcut})",
            self.layers(),
            self.n,
            channels.join("/")
        )
    }

    /// The input image for `features` per example: the `image` key, else
    /// one channel of a square (MNIST's 28 x 28), else three channels of
    /// a square (CIFAR's 3 x 32 x 32).
    pub fn image_for(&self, features: usize) -> Result<Image> {
        let bad = |reason: String| {
            Err(Error::InvalidConfig {
                field: "model.image".into(),
                reason,
            })
        };
        if let [c, h, w] = self.image[..] {
            let image = Image::new(c, h, w);
            if image.len() != features {
                return bad(format!(
                    "{image} is {} values per example; the data has {features}",
                    image.len()
                ));
            }
            return Ok(image);
        }
        if !self.image.is_empty() {
            return bad("is [channels, height, width]".into());
        }
        for c in [1, 3] {
            let side = ((features / c) as f64).sqrt().round() as usize;
            if c * side * side == features && side > 0 {
                return Ok(Image::new(c, side, side));
            }
        }
        bad(format!(
            "{features} features are not a square image of 1 or 3 channels: \
             set image = [channels, height, width]"
        ))
    }

    /// Checks every field, naming the first bad one.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, reason: &str| {
            Err(Error::InvalidConfig {
                field: format!("model.{field}"),
                reason: reason.into(),
            })
        };
        if self.channels.is_empty() || self.channels.contains(&0) {
            return bad(
                "channels",
                "needs at least one stage, each of at least 1 channel",
            );
        }
        if self.n == 0 {
            return bad("n", "must be at least 1 block per stage");
        }
        if !(self.image.is_empty() || self.image.len() == 3 && !self.image.contains(&0)) {
            return bad("image", "is [channels, height, width], each at least 1");
        }
        if self.residual
            && self.shortcut == Shortcut::Zeros
            && self.channels.windows(2).any(|w| w[1] < w[0])
        {
            return bad(
                "shortcut",
                "zeros (option A) cannot narrow the channels: use projection",
            );
        }
        Ok(())
    }
}

/// Builds `config`'s CNN (its `conv` settings; `input` features per
/// example, `output` classes), initialized from `seed`.
pub fn build<T: Scalar>(config: &ModelConfig, seed: u64) -> Result<Mlp<T>> {
    let s = &config.conv;
    s.validate()?;
    let mut b = Builder {
        config,
        rng: ChaCha8Rng::seed_from_u64(seed),
        image: s.image_for(config.input)?,
        blocks: Vec::new(),
        t: 0,
    };
    b.stem(s.channels[0])?;
    for (stage, &channels) in s.channels.iter().enumerate() {
        for j in 0..s.n {
            let stride = if stage > 0 && j == 0 { 2 } else { 1 };
            b.block(channels, stride)?;
        }
    }
    let pooled = b.image;
    b.blocks.push(Box::new(GlobalAvgPool::new(pooled)));
    b.t += 1;
    let mut output = Linear::<T>::new(pooled.c, config.output, config.bias);
    let bias = output.bias.as_mut().map(|p| &mut p.value);
    config
        .init
        .fill(&mut output.weight.value, bias, slope(config), &mut b.rng);
    let at = ("layers", b.t);
    b.blocks.push(Box::new(Dense::new(
        output,
        None,
        NormPlacement::Before,
        None,
        at,
    )));
    Ok(Mlp {
        net: Sequential::new(b.blocks),
    })
}

fn slope(config: &ModelConfig) -> f64 {
    config.activation.leaky_slope()
}

/// The network being built: where the next module goes and the image it
/// will see.
struct Builder<'a, T> {
    config: &'a ModelConfig,
    rng: ChaCha8Rng,
    image: Image,
    blocks: Vec<Box<dyn Layer<T>>>,
    /// Flat index of the next top-level module.
    t: usize,
}

impl<T: Scalar> Builder<'_, T> {
    /// A 3x3 conv of the current image, `stride`, initialized.
    fn conv(&mut self, input: Image, channels: usize, window: Window) -> Result<Conv2d<T>> {
        let bias = self.config.bias && self.config.norm == Norm::None;
        let mut conv =
            Conv2d::new(input, channels, window, bias).ok_or_else(|| Error::InvalidConfig {
                field: "model.channels".into(),
                reason: format!(
                    "a {}x{} window does not fit a {input} image",
                    window.kernel, window.kernel
                ),
            })?;
        let bias = conv.bias.as_mut().map(|p| &mut p.value);
        self.config.init.fill(
            &mut conv.weight.value,
            bias,
            slope(self.config),
            &mut self.rng,
        );
        Ok(conv)
    }

    /// `conv [+ norm] [+ activation]` as one probed block at `at`.
    fn conv_block(
        &mut self,
        input: Image,
        channels: usize,
        stride: usize,
        activation: bool,
        at: (&str, usize),
    ) -> Result<Dense<T, Conv2d<T>>> {
        let conv = self.conv(input, channels, Window::new(3, stride, 1))?;
        let norm: Option<Box<dyn Layer<T>>> = match self.config.norm {
            Norm::None => None,
            Norm::Batch => Some(Box::new(BatchNorm::new(
                channels,
                self.config.bn_momentum,
                self.config.norm_eps,
            ))),
            Norm::Layer => {
                return Err(Error::InvalidConfig {
                    field: "model.norm".into(),
                    reason: "a cnn takes none or batch (BatchNorm2d)".into(),
                })
            }
        };
        let act = activation.then(|| ActivationLayer::new(self.config.activation));
        Ok(Dense::new(conv, norm, NormPlacement::Before, act, at))
    }

    fn stem(&mut self, channels: usize) -> Result<()> {
        let block = self.conv_block(self.image, channels, 1, true, ("layers", self.t))?;
        self.t += block.parts();
        self.image = block.linear.output_image();
        self.blocks.push(Box::new(block));
        Ok(())
    }

    /// Two 3x3 convs (the first with `stride`), around a shortcut when the
    /// net is residual, and the activation after them.
    fn block(&mut self, channels: usize, stride: usize) -> Result<()> {
        let input = self.image;
        let path = format!("layers.{}", self.t);
        let residual = self.config.conv.residual;
        let (container, first) = if residual {
            (format!("{path}.branch"), 0)
        } else {
            ("layers".to_string(), self.t)
        };
        let a = self.conv_block(input, channels, stride, true, (&container, first))?;
        let mid = a.linear.output_image();
        let b = self.conv_block(mid, channels, 1, false, (&container, first + a.parts()))?;
        self.image = b.linear.output_image();
        if residual {
            let changes = self.image != input;
            let shortcut: Option<Box<dyn Layer<T>>> = match (changes, self.config.conv.shortcut) {
                (false, _) => None,
                (true, Shortcut::Zeros) => Some(Box::new(
                    ZeroPadShortcut::new(input, channels, stride)
                        .expect("validated: channels grow"),
                )),
                (true, Shortcut::Projection) => {
                    let mut p = Conv2d::new(input, channels, Window::new(1, stride, 0), false)
                        .expect("a 1x1 window fits");
                    let (init, slope) = (self.config.init, slope(self.config));
                    init.fill(&mut p.weight.value, None, slope, &mut self.rng);
                    Some(Box::new(p))
                }
            };
            let branch = Sequential::new(vec![Box::new(a), Box::new(b)]);
            self.blocks
                .push(Box::new(Residual::new(branch, shortcut).named(path)));
            self.t += 1;
        } else {
            self.t += a.parts() + b.parts();
            self.blocks.push(Box::new(a));
            self.blocks.push(Box::new(b));
        }
        self.blocks
            .push(Box::new(ActivationLayer::new(self.config.activation)));
        self.t += 1;
        Ok(())
    }
}
