//! CIFAR-10 (Krizhevsky 2009), its binary version: 50,000 training and
//! 10,000 test images, 32 x 32 in colour, 10 classes.
//!
//! Each batch file (`data_batch_1.bin` .. `data_batch_5.bin`, then
//! `test_batch.bin`) is a run of 3,073-byte records: one label byte, then
//! the image as three 1,024-byte planes, red, green and blue, each row-major
//! (top row first). Rows of a [`Dataset`] are channels-last instead, as the
//! conv layers read them (NHWC: pixel-major, channel-minor): value
//! `3 * (32 * y + x) + c` of a row is channel `c` of pixel `(y, x)`, as
//! `byte / 255` like MNIST's pixels.
//!
//! ```
//! use gradscope::data::cifar10::{parse_batch, RECORD};
//! // One record: label 7, red plane all 255, green 0, blue 51.
//! let mut record = vec![7u8];
//! record.extend([[255u8; 1024], [0; 1024], [51; 1024]].concat());
//! assert_eq!(record.len(), RECORD);
//! let (pixels, labels) = parse_batch(&record, "b.bin".as_ref()).unwrap();
//! assert_eq!(labels, [7]);
//! assert_eq!(pixels[..3], [1.0, 0.0, 0.2]); // pixel (0, 0): R, G, B
//! ```
//!
//! `gradscope data fetch cifar10` downloads the archive and unpacks the six
//! batches into [`default_dir`] ([`crate::data::fetch::fetch_cifar10`]).

use super::mnist::Split;
use super::Dataset;
use crate::error::{Error, Result};
use crate::nn::conv::Image;
use crate::tensor::Matrix;
use std::path::{Path, PathBuf};

/// Classes, in label order.
pub const CLASS_NAMES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// One image: 3 channels of 32 x 32.
pub const IMAGE: Image = Image { c: 3, h: 32, w: 32 };

/// Bytes per record: the label, then the image.
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// Records in each batch of the canonical set.
pub const PER_BATCH: usize = 10_000;

/// The training batches, in order.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];

/// The test batch.
pub const TEST_FILE: &str = "test_batch.bin";

/// Where `gradscope data fetch cifar10` puts the batches: `cifar10/` in the
/// cache ([`crate::data::fetch::cache_dir`]).
pub fn default_dir() -> PathBuf {
    super::fetch::cache_dir().join("cifar10")
}

/// Decodes one batch file's bytes into NHWC pixel rows (`byte / 255`,
/// [`IMAGE`]`.len()` values per record) and labels; `path` names the file
/// in errors. Any whole number of records is accepted.
pub fn parse_batch(bytes: &[u8], path: &Path) -> Result<(Vec<f32>, Vec<usize>)> {
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    parse_batch_onto(bytes, path, &mut pixels, &mut labels)?;
    Ok((pixels, labels))
}

/// [`parse_batch`], appending to `pixels` and `labels` (left as they were
/// on an error).
fn parse_batch_onto(
    bytes: &[u8],
    path: &Path,
    pixels: &mut Vec<f32>,
    labels: &mut Vec<usize>,
) -> Result<()> {
    let bad = |reason: String| Error::BadData {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(bad(format!(
            "{} bytes is not a whole number of {RECORD}-byte records \
             (a label byte and 3 x 32 x 32 pixel bytes)",
            bytes.len()
        )));
    }
    let records = bytes.chunks_exact(RECORD);
    if let Some(i) = records
        .clone()
        .position(|r| r[0] as usize >= CLASS_NAMES.len())
    {
        return Err(bad(format!(
            "label {} of record {i} is not below 10",
            bytes[i * RECORD]
        )));
    }
    let plane = IMAGE.pixels();
    let start = pixels.len();
    pixels.resize(start + bytes.len() / RECORD * IMAGE.len(), 0.0);
    for (record, row) in records.zip(pixels[start..].chunks_exact_mut(IMAGE.len())) {
        labels.push(record[0] as usize);
        let (r, g, b) = (
            &record[1..1 + plane],
            &record[1 + plane..1 + 2 * plane],
            &record[1 + 2 * plane..],
        );
        for (p, px) in row.chunks_exact_mut(3).enumerate() {
            px[0] = r[p] as f32 / 255.0;
            px[1] = g[p] as f32 / 255.0;
            px[2] = b[p] as f32 / 255.0;
        }
    }
    Ok(())
}

/// Reads the training batches (all five, in order) or the test batch from
/// `dir`. A missing file is an error naming it and the command that
/// fetches it.
pub fn load_dir(dir: &Path, split: Split) -> Result<Dataset> {
    let files: &[&str] = match split {
        Split::Train => &TRAIN_FILES,
        Split::Test => &[TEST_FILE],
    };
    let mut pixels = Vec::with_capacity(files.len() * PER_BATCH * IMAGE.len());
    let mut labels = Vec::with_capacity(files.len() * PER_BATCH);
    for name in files {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => Error::BadData {
                path: path.clone(),
                reason: "not found: `gradscope data fetch cifar10` downloads CIFAR-10 \
                         (163 MB) and unpacks its batches into the cache; \
                         or pass a folder holding them with --data-dir"
                    .into(),
            },
            _ => Error::Io {
                path: path.clone(),
                source,
            },
        })?;
        parse_batch_onto(&bytes, &path, &mut pixels, &mut labels)?;
    }
    let split_name = match split {
        Split::Train => "train",
        Split::Test => "test",
    };
    Ok(Dataset {
        name: format!("cifar10:{split_name}"),
        features: Matrix::from_vec(labels.len(), IMAGE.len(), pixels)?,
        labels,
        classes: CLASS_NAMES.len(),
        image: Some(IMAGE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record whose channel `c` at pixel `p` holds `(p + 7c + label) % 256`.
    fn record(label: u8) -> Vec<u8> {
        let mut r = vec![label];
        for c in 0..3 {
            r.extend((0..1024).map(|p| ((p + 7 * c + label as usize) % 256) as u8));
        }
        r
    }

    #[test]
    fn planes_become_channels_last_rows() {
        let bytes = [record(3), record(9)].concat();
        let (pixels, labels) = parse_batch(&bytes, Path::new("b")).unwrap();
        assert_eq!(labels, [3, 9]);
        assert_eq!(pixels.len(), 2 * 3072);
        for (n, label) in [(0, 3), (1, 9)] {
            for p in [0, 1, 33, 1023] {
                for c in 0..3 {
                    let want = ((p + 7 * c + label) % 256) as f32 / 255.0;
                    assert_eq!(
                        pixels[n * 3072 + 3 * p + c],
                        want,
                        "image {n} pixel {p} channel {c}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_batches_are_errors_naming_the_file() {
        let e = parse_batch(&[0; 100], Path::new("x.bin")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "x.bin: 100 bytes is not a whole number of 3073-byte records \
             (a label byte and 3 x 32 x 32 pixel bytes)"
        );
        assert!(parse_batch(&[], Path::new("x.bin")).is_err());
        let e = parse_batch(&[record(1), record(10)].concat(), Path::new("x.bin")).unwrap_err();
        assert_eq!(e.to_string(), "x.bin: label 10 of record 1 is not below 10");
    }

    #[test]
    fn a_folder_loads_train_and_test_with_their_shape() {
        let tmp = tempfile::tempdir().unwrap();
        for (i, name) in TRAIN_FILES.iter().enumerate() {
            std::fs::write(tmp.path().join(name), [record(i as u8), record(9)].concat()).unwrap();
        }
        std::fs::write(tmp.path().join(TEST_FILE), record(5)).unwrap();
        let train = load_dir(tmp.path(), Split::Train).unwrap();
        assert_eq!((train.len(), train.dim(), train.classes), (10, 3072, 10));
        assert_eq!(train.labels, [0, 9, 1, 9, 2, 9, 3, 9, 4, 9]);
        assert_eq!(train.image, Some(Image::new(3, 32, 32)));
        let test = load_dir(tmp.path(), Split::Test).unwrap();
        assert_eq!(
            (test.len(), test.labels[0], test.name.as_str()),
            (1, 5, "cifar10:test")
        );
    }

    #[test]
    fn a_missing_batch_names_the_file_and_the_fetch_command() {
        let tmp = tempfile::tempdir().unwrap();
        let e = load_dir(tmp.path(), Split::Test).unwrap_err().to_string();
        let path = tmp.path().join("test_batch.bin");
        assert!(
            e.starts_with(&format!("{}: not found: ", path.display())),
            "{e}"
        );
        assert!(e.contains("`gradscope data fetch cifar10`"), "{e}");
    }
}
