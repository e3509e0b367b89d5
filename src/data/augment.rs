//! Light, seeded augmentation of image batches: a random crop of the image
//! padded with zeros, and a horizontal flip, applied to each training
//! batch after it is gathered (never to evaluation).
//!
//! Rows are images in NHWC order ([`Image`]: value `(y * w + x) * c + k` is
//! channel `k` of pixel `(y, x)`). For each example, in order:
//!
//! - `crop(p)`: pad `p` zeros on every side and cut an `h x w` window at a
//!   uniformly drawn offset, that is `out(y, x) = in(y + dy, x + dx)` with
//!   `dy, dx` uniform in `[-p, p]`, and 0 where `(y + dy, x + dx)` falls
//!   outside the image ([`shift_in_place`]). `crop` alone pads an eighth of
//!   the smaller side, rounded down (4 for CIFAR's 32 x 32, as He et al.
//!   2016; 3 for MNIST's 28 x 28): our choice.
//! - `flip`: with probability 1/2, `out(y, x) = in(y, w - 1 - x)`
//!   ([`flip_in_place`]).
//!
//! The zeros are zeros of the scaled features (black for `unit` scaling,
//! the training mean under `standardize`). Every draw comes from one
//! `ChaCha8Rng` seeded from the run's seed ([`AUGMENT_SEED`]), so the same
//! seed gives the same batches, bit for bit, and nothing is allocated per
//! batch.
//!
//! ```
//! use gradscope::data::augment::{flip_in_place, shift_in_place};
//! use gradscope::nn::conv::Image;
//! // One 2 x 3 grey image.
//! let image = Image::new(1, 2, 3);
//! let mut px = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
//! shift_in_place(&mut px, image, 1, -1); // out(y, x) = in(y + 1, x - 1)
//! assert_eq!(px, [0.0, 4.0, 5.0, 0.0, 0.0, 0.0]);
//! flip_in_place(&mut px, image);
//! assert_eq!(px, [5.0, 4.0, 0.0, 0.0, 0.0, 0.0]);
//! ```

use crate::error::{Error, Result};
use crate::nn::conv::Image;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt;
use std::str::FromStr;

/// Mixed into the run's seed for the augmentation stream, so that it is
/// not the stream that shuffles the batches (our choice).
pub const AUGMENT_SEED: u64 = 0xa06_3e47;

/// The crop's padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pad {
    /// An eighth of the image's smaller side (`crop`).
    Auto,
    /// This many pixels (`crop(p)`).
    Pixels(usize),
}

/// What `data.augment` asks for: `none`, `crop`, `crop(p)`, `flip`, or a
/// crop and a flip joined by `+` (`crop+flip`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Augment {
    /// Random crop with zero padding, if any.
    pub crop: Option<Pad>,
    /// Random horizontal flip.
    pub flip: bool,
}

impl Augment {
    /// The names [`Augment::from_str`] accepts.
    pub const NAMES: &'static str = "none, crop, crop(pad), flip, crop+flip";

    /// True when nothing is augmented.
    pub fn is_none(&self) -> bool {
        self.crop.is_none() && !self.flip
    }

    /// The crop's padding for `image`: 0 without a crop.
    pub fn pad_for(&self, image: Image) -> usize {
        match self.crop {
            None => 0,
            Some(Pad::Auto) => image.h.min(image.w) / 8,
            Some(Pad::Pixels(p)) => p,
        }
    }

    /// The augmenter for batches of `image`s, drawing from `seed` (the
    /// run's); `None` when nothing is augmented. `image` is the data's
    /// shape: data that are not images (`None`) refuse any augmentation,
    /// and a padding must leave part of the image in every crop.
    pub fn build(&self, image: Option<Image>, seed: u64) -> Result<Option<Augmenter>> {
        if self.is_none() {
            return Ok(None);
        }
        let bad = |reason: String| {
            Err(Error::InvalidConfig {
                field: "data.augment".into(),
                reason,
            })
        };
        let Some(image) = image else {
            return bad(format!(
                "`{self}` transforms images (mnist, fashion, cifar10, shapeset); these data are not images"
            ));
        };
        let pad = self.pad_for(image);
        if pad >= image.h.min(image.w) {
            return bad(format!(
                "a crop padding of {pad} must be smaller than the {}x{} image's sides",
                image.h, image.w
            ));
        }
        Ok(Some(Augmenter {
            image,
            pad,
            flip: self.flip,
            rng: ChaCha8Rng::seed_from_u64(seed ^ AUGMENT_SEED),
        }))
    }
}

impl fmt::Display for Augment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        match self.crop {
            None => {}
            Some(Pad::Auto) => parts.push("crop".to_string()),
            Some(Pad::Pixels(p)) => parts.push(format!("crop({p})")),
        }
        if self.flip {
            parts.push("flip".into());
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join("+"))
        }
    }
}

impl FromStr for Augment {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let unknown = || Error::UnknownName {
            what: "augmentation",
            name: s.into(),
            expected: Augment::NAMES.into(),
        };
        if s.trim() == "none" {
            return Ok(Augment::default());
        }
        let mut a = Augment::default();
        for part in s.split('+') {
            let (name, args) = crate::names::split_call(part).ok_or_else(unknown)?;
            match (name, args.as_slice()) {
                ("crop", []) if a.crop.is_none() => a.crop = Some(Pad::Auto),
                ("crop", [p]) if a.crop.is_none() => {
                    a.crop = Some(Pad::Pixels(p.parse().map_err(|_| unknown())?))
                }
                ("flip", []) if !a.flip => a.flip = true,
                _ => return Err(unknown()),
            }
        }
        Ok(a)
    }
}

crate::names::serde_via_str!(Augment);

/// Applies an [`Augment`] to batches, drawing from its own seeded stream.
#[derive(Clone, Debug)]
pub struct Augmenter {
    image: Image,
    pad: usize,
    flip: bool,
    rng: ChaCha8Rng,
}

impl Augmenter {
    /// The shape of the images it transforms.
    pub fn image(&self) -> Image {
        self.image
    }

    /// The crop's padding in pixels (0: no crop).
    pub fn pad(&self) -> usize {
        self.pad
    }

    /// Its generator's position (in 32-bit words of its ChaCha8 stream):
    /// what a checkpoint saves to continue the same draws.
    pub fn rng_word(&self) -> u128 {
        self.rng.get_word_pos()
    }

    /// Moves its generator to `word` ([`Augmenter::rng_word`] of an
    /// augmenter built from the same seed).
    pub fn set_rng_word(&mut self, word: u128) {
        self.rng.set_word_pos(word);
    }

    /// Augments every example of `batch` (NHWC rows, one image each) in
    /// place: a crop offset `(dy, dx)` drawn when cropping, then a coin
    /// when flipping, example by example.
    ///
    /// # Panics
    ///
    /// When `batch` is not a whole number of images.
    pub fn apply<T: Copy + Default>(&mut self, batch: &mut [T]) {
        let len = self.image.len();
        assert!(
            len > 0 && batch.len().is_multiple_of(len),
            "a batch of {} values is not a whole number of {} images",
            batch.len(),
            self.image
        );
        let p = self.pad as isize;
        for example in batch.chunks_exact_mut(len) {
            if p > 0 {
                let dy = self.rng.gen_range(-p..=p);
                let dx = self.rng.gen_range(-p..=p);
                shift_in_place(example, self.image, dy, dx);
            }
            if self.flip && self.rng.gen_bool(0.5) {
                flip_in_place(example, self.image);
            }
        }
    }
}

/// Shifts one NHWC image in place: `out(y, x) = in(y + dy, x + dx)`, zero
/// where that pixel is outside the image (a crop at offset `(dy, dx)` of
/// the zero-padded image).
///
/// # Panics
///
/// When `img` does not hold exactly one `image`.
pub fn shift_in_place<T: Copy + Default>(img: &mut [T], image: Image, dy: isize, dx: isize) {
    assert_eq!(img.len(), image.len(), "one {image} image");
    let (h, w, c) = (image.h as isize, image.w as isize, image.c);
    // Output columns whose source column is inside: x + dx in [0, w).
    let (x0, x1) = ((-dx).clamp(0, w), (w - dx).clamp(0, w));
    let row_len = image.w * c;
    // Walk rows so that a source row is read before it is written over:
    // downward when reading from below (dy >= 0), upward otherwise.
    let mut visit = |y: isize| {
        let out = y as usize * row_len;
        let sy = y + dy;
        if !(0..h).contains(&sy) || x0 >= x1 {
            img[out..out + row_len].fill(T::default());
            return;
        }
        let src = sy as usize * row_len + ((x0 + dx) as usize) * c;
        let (a, b) = (x0 as usize * c, x1 as usize * c);
        img.copy_within(src..src + (b - a), out + a);
        img[out..out + a].fill(T::default());
        img[out + b..out + row_len].fill(T::default());
    };
    if dy >= 0 {
        (0..h).for_each(&mut visit);
    } else {
        (0..h).rev().for_each(&mut visit);
    }
}

/// Mirrors one NHWC image left to right in place: `out(y, x) = in(y, w -
/// 1 - x)`, each pixel's channels kept together.
///
/// # Panics
///
/// When `img` does not hold exactly one `image`.
pub fn flip_in_place<T: Copy>(img: &mut [T], image: Image) {
    assert_eq!(img.len(), image.len(), "one {image} image");
    let c = image.c;
    for row in img.chunks_exact_mut(image.w * c) {
        for x in 0..image.w / 2 {
            let (l, r) = (x * c, (image.w - 1 - x) * c);
            for k in 0..c {
                row.swap(l + k, r + k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `c x h x w` image whose value at `(y, x, k)` is `1 + 100y + 10x + k`
    /// (never 0, so a padded zero is told apart).
    fn ramp(image: Image) -> Vec<f32> {
        let mut v = Vec::with_capacity(image.len());
        for y in 0..image.h {
            for x in 0..image.w {
                for k in 0..image.c {
                    v.push((1 + 100 * y + 10 * x + k) as f32);
                }
            }
        }
        v
    }

    fn at(img: &[f32], image: Image, y: usize, x: usize, k: usize) -> f32 {
        img[(y * image.w + x) * image.c + k]
    }

    /// `shift_in_place` against the definition, pixel by pixel.
    fn shifted_naive(src: &[f32], image: Image, dy: isize, dx: isize) -> Vec<f32> {
        let mut out = vec![0.0; image.len()];
        for y in 0..image.h as isize {
            for x in 0..image.w as isize {
                let (sy, sx) = (y + dy, x + dx);
                if (0..image.h as isize).contains(&sy) && (0..image.w as isize).contains(&sx) {
                    for k in 0..image.c {
                        out[((y as usize) * image.w + x as usize) * image.c + k] =
                            at(src, image, sy as usize, sx as usize, k);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn crop_keeps_pixel_values_shifted_by_the_offset() {
        let image = Image::new(3, 5, 7);
        let src = ramp(image);
        for dy in -6..=6 {
            for dx in -8..=8 {
                let mut img = src.clone();
                shift_in_place(&mut img, image, dy, dx);
                assert_eq!(
                    img,
                    shifted_naive(&src, image, dy, dx),
                    "offset ({dy}, {dx})"
                );
            }
        }
        // One value by hand: out(1, 2) = in(1 + 2, 2 - 1) = 1 + 300 + 10 + k.
        let mut img = src.clone();
        shift_in_place(&mut img, image, 2, -1);
        assert_eq!(at(&img, image, 1, 2, 2), 313.0);
        assert_eq!(at(&img, image, 4, 2, 0), 0.0, "below the image: padding");
        assert_eq!(at(&img, image, 0, 0, 1), 0.0, "left of the image: padding");
    }

    #[test]
    fn offset_zero_and_flip_twice_are_the_identity() {
        let image = Image::new(3, 4, 5);
        let src = ramp(image);
        let mut img = src.clone();
        shift_in_place(&mut img, image, 0, 0);
        assert_eq!(img, src);
        flip_in_place(&mut img, image);
        assert_ne!(img, src);
        // out(y, x) = in(y, w - 1 - x), channels in their order.
        assert_eq!(at(&img, image, 2, 0, 1), at(&src, image, 2, 4, 1));
        assert_eq!(at(&img, image, 2, 2, 2), at(&src, image, 2, 2, 2));
        flip_in_place(&mut img, image);
        assert_eq!(img, src);
    }

    #[test]
    fn names_round_trip_and_refuse_repeats() {
        for (text, crop, flip) in [
            ("none", None, false),
            ("crop", Some(Pad::Auto), false),
            ("crop(2)", Some(Pad::Pixels(2)), false),
            ("flip", None, true),
            ("crop+flip", Some(Pad::Auto), true),
            ("crop(4)+flip", Some(Pad::Pixels(4)), true),
        ] {
            let a: Augment = text.parse().unwrap();
            assert_eq!(a, Augment { crop, flip }, "{text}");
            assert_eq!(a.to_string(), text);
        }
        assert_eq!(
            "flip+crop".parse::<Augment>().unwrap().to_string(),
            "crop+flip"
        );
        for bad in [
            "",
            "crop+crop",
            "flip+flip",
            "crop(x)",
            "rotate",
            "none+flip",
            "crop(1, 2)",
        ] {
            assert!(bad.parse::<Augment>().is_err(), "{bad:?}");
        }
        assert_eq!(Augment::default().to_string(), "none");
    }

    #[test]
    fn default_padding_is_an_eighth_of_the_side() {
        let crop = Augment {
            crop: Some(Pad::Auto),
            flip: false,
        };
        assert_eq!(crop.pad_for(Image::new(3, 32, 32)), 4);
        assert_eq!(crop.pad_for(Image::new(1, 28, 28)), 3);
        assert_eq!(Augment::default().pad_for(Image::new(3, 32, 32)), 0);
    }

    #[test]
    fn build_refuses_rows_that_are_not_images_and_oversized_pads() {
        let a: Augment = "crop+flip".parse().unwrap();
        let e = a.build(None, 0).unwrap_err().to_string();
        assert!(
            e.contains("data.augment") && e.contains("not images"),
            "{e}"
        );
        let big: Augment = "crop(28)".parse().unwrap();
        assert!(big.build(Some(Image::new(1, 28, 28)), 0).is_err());
        assert!(Augment::default().build(None, 0).unwrap().is_none());
    }

    fn batch(image: Image, n: usize) -> Vec<f32> {
        (0..n)
            .flat_map(|i| ramp(image).into_iter().map(move |v| v + 1000.0 * i as f32))
            .collect()
    }

    #[test]
    fn same_seed_same_batches_other_seed_other_batches() {
        let image = Image::new(3, 8, 8);
        let a: Augment = "crop(2)+flip".parse().unwrap();
        let run = |seed| {
            let mut aug = a.build(Some(image), seed).unwrap().unwrap();
            let mut out = Vec::new();
            for _ in 0..3 {
                let mut b = batch(image, 4);
                aug.apply(&mut b);
                out.push(b);
            }
            out
        };
        let first = run(7);
        assert_eq!(first, run(7));
        assert_ne!(first, run(8));
        // Successive batches are augmented differently.
        assert_ne!(first[0], first[1]);
    }

    #[test]
    fn every_augmented_example_is_a_shift_of_at_most_pad_then_maybe_a_flip() {
        let image = Image::new(3, 6, 6);
        let a: Augment = "crop(2)+flip".parse().unwrap();
        let mut aug = a.build(Some(image), 1).unwrap().unwrap();
        let src = batch(image, 64);
        let mut out = src.clone();
        aug.apply(&mut out);
        let (mut flipped, mut moved) = (0, 0);
        for (s, o) in src.chunks(image.len()).zip(out.chunks(image.len())) {
            let mut found = None;
            'search: for dy in -2..=2 {
                for dx in -2..=2 {
                    let shifted = shifted_naive(s, image, dy, dx);
                    let mut mirrored = shifted.clone();
                    flip_in_place(&mut mirrored, image);
                    for (f, candidate) in [(false, shifted), (true, mirrored)] {
                        if candidate == o {
                            found = Some((dy, dx, f));
                            break 'search;
                        }
                    }
                }
            }
            let (dy, dx, f) = found.expect("a shift within the padding, maybe flipped");
            flipped += f as usize;
            moved += (dy, dx).ne(&(0, 0)) as usize;
        }
        // 64 fair coins: all heads or all tails has odds 2^-63.
        assert!(flipped > 0 && flipped < 64, "{flipped} of 64 flipped");
        assert!(moved > 32, "{moved} of 64 moved (24 of 25 offsets move)");
    }

    #[test]
    #[should_panic(expected = "not a whole number of 3x2x2 images")]
    fn a_batch_of_partial_images_panics() {
        let mut aug = Augment {
            crop: None,
            flip: true,
        }
        .build(Some(Image::new(3, 2, 2)), 0)
        .unwrap()
        .unwrap();
        aug.apply(&mut [0.0f32; 13]);
    }
}
