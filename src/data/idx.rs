//! IDX files (LeCun's MNIST format), gzip or raw.
//!
//! Layout: two zero bytes, a type code (0x08 = u8), the number of
//! dimensions `k`, then `k` big-endian u32 sizes, then the payload, row
//! major. A file whose first bytes are the gzip magic (1f 8b) is inflated
//! first. Every defect is an [`Error::BadData`] naming the file and what is
//! wrong; no byte sequence makes the reader panic.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::nn::conv::Image;
use crate::tensor::Matrix;
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::Path;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// A decoded IDX array of bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// Sizes, outermost first (`[n, 28, 28]` for MNIST images).
    pub dims: Vec<usize>,
    /// Row-major payload.
    pub data: Vec<u8>,
}

/// Reads an IDX file, gzip or raw.
pub fn read(path: &Path) -> Result<IdxArray> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&bytes, path)
}

/// Decodes IDX bytes (gzip or raw); `path` names the source in errors.
pub fn parse(bytes: &[u8], path: &Path) -> Result<IdxArray> {
    let bad = |reason: String| Error::BadData {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.is_empty() {
        return Err(bad("empty file".into()));
    }
    let gz_name = path.extension().is_some_and(|e| e == "gz");
    let inflated;
    let raw: &[u8] = if bytes.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::new();
        GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| bad(format!("corrupt gzip stream: {e}")))?;
        inflated = out;
        &inflated
    } else if gz_name {
        return Err(bad(
            "not gzip (the name ends in .gz but the file does not start with 1f 8b)".into(),
        ));
    } else {
        bytes
    };
    if raw.len() < 4 {
        return Err(bad(format!(
            "truncated header: {} bytes, need at least 4",
            raw.len()
        )));
    }
    if raw[0] != 0 || raw[1] != 0 {
        return Err(bad(format!(
            "wrong magic number {:02x} {:02x} {:02x} {:02x}: an IDX file starts with 00 00",
            raw[0], raw[1], raw[2], raw[3]
        )));
    }
    if raw[2] != 0x08 {
        return Err(bad(format!(
            "element type 0x{:02x} is not supported (gradscope reads u8 IDX, type 0x08)",
            raw[2]
        )));
    }
    let k = raw[3] as usize;
    if k == 0 {
        return Err(bad("zero dimensions".into()));
    }
    let header = 4 + 4 * k;
    if raw.len() < header {
        return Err(bad(format!(
            "truncated header: {k} dimensions need {header} bytes, file has {}",
            raw.len()
        )));
    }
    let dims: Vec<usize> = raw[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("dimensions {dims:?} overflow")))?;
    let payload = &raw[header..];
    if payload.len() < count {
        return Err(bad(format!(
            "truncated: dimensions {dims:?} need {count} bytes of data, found {}",
            payload.len()
        )));
    }
    if payload.len() > count {
        return Err(bad(format!(
            "{} bytes after the data that dimensions {dims:?} describe",
            payload.len() - count
        )));
    }
    Ok(IdxArray {
        dims,
        data: payload.to_vec(),
    })
}

/// Encodes a u8 array as raw IDX bytes (for tests and tools).
pub fn encode(array: &IdxArray) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, array.dims.len() as u8];
    for &d in &array.dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(&array.data);
    out
}

/// Builds a dataset from an images file (`n x ...`) and a labels file
/// (`n`), scaling pixels to `byte / 255`; an `n x h x w` images file gives
/// grey images (`Dataset::image` is 1 x h x w).
pub fn load_pair(images: &Path, labels: &Path, classes: usize, name: &str) -> Result<Dataset> {
    let img = read(images)?;
    let lab = read(labels)?;
    dataset_from(&img, images, &lab, labels, classes, name)
}

/// Pairs decoded arrays into a dataset, checking they agree.
pub fn dataset_from(
    img: &IdxArray,
    images: &Path,
    lab: &IdxArray,
    labels: &Path,
    classes: usize,
    name: &str,
) -> Result<Dataset> {
    if lab.dims.len() != 1 {
        return Err(Error::BadData {
            path: labels.to_path_buf(),
            reason: format!("labels must have 1 dimension, found {:?}", lab.dims),
        });
    }
    let n = img.dims[0];
    if lab.dims[0] != n {
        return Err(Error::BadData {
            path: labels.to_path_buf(),
            reason: format!(
                "{} labels for {n} images in {}",
                lab.dims[0],
                images.display()
            ),
        });
    }
    if let Some(pos) = lab.data.iter().position(|&l| l as usize >= classes) {
        return Err(Error::BadData {
            path: labels.to_path_buf(),
            reason: format!(
                "label {} at index {pos} is not below {classes}",
                lab.data[pos]
            ),
        });
    }
    let d = img.data.len().checked_div(n).unwrap_or(0);
    let features = img.data.iter().map(|&b| b as f32 / 255.0).collect();
    // `n x h x w` arrays are grey images; any other rank is plain rows.
    let image = match img.dims[..] {
        [_, h, w] => Some(Image::new(1, h, w)),
        _ => None,
    };
    Ok(Dataset {
        name: name.to_string(),
        features: Matrix::from_vec(n, d, features)?,
        labels: lab.data.iter().map(|&l| l as usize).collect(),
        classes,
        image,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn p(name: &str) -> &Path {
        Path::new(name)
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn err(bytes: &[u8], name: &str) -> String {
        parse(bytes, p(name)).unwrap_err().to_string()
    }

    fn sample() -> IdxArray {
        IdxArray {
            dims: vec![2, 3],
            data: vec![1, 2, 3, 4, 5, 6],
        }
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        let a = sample();
        assert_eq!(parse(&encode(&a), p("a.idx")).unwrap(), a);
        assert_eq!(parse(&gzip(&encode(&a)), p("a.idx.gz")).unwrap(), a);
    }

    #[test]
    fn empty_file() {
        assert_eq!(err(&[], "x.gz"), "x.gz: empty file");
    }

    #[test]
    fn not_gzip() {
        assert_eq!(
            err(&encode(&sample()), "x.gz"),
            "x.gz: not gzip (the name ends in .gz but the file does not start with 1f 8b)"
        );
    }

    #[test]
    fn corrupt_gzip() {
        let mut z = gzip(&encode(&sample()));
        z.truncate(z.len() / 2);
        assert!(err(&z, "x.gz").starts_with("x.gz: corrupt gzip stream"));
    }

    #[test]
    fn wrong_magic() {
        assert_eq!(
            err(&[1, 2, 8, 1, 0, 0, 0, 0], "x"),
            "x: wrong magic number 01 02 08 01: an IDX file starts with 00 00"
        );
    }

    #[test]
    fn unsupported_type() {
        assert!(err(&[0, 0, 0x0d, 1, 0, 0, 0, 0], "x").contains("element type 0x0d"));
    }

    #[test]
    fn truncated_header_and_payload() {
        assert_eq!(
            err(&[0, 0, 8, 3, 0, 0, 0, 2], "x"),
            "x: truncated header: 3 dimensions need 16 bytes, file has 8"
        );
        let mut b = encode(&sample());
        b.pop();
        assert_eq!(
            err(&b, "x"),
            "x: truncated: dimensions [2, 3] need 6 bytes of data, found 5"
        );
        b.extend_from_slice(&[0, 0]);
        assert_eq!(
            err(&b, "x"),
            "x: 1 bytes after the data that dimensions [2, 3] describe"
        );
    }

    #[test]
    fn label_count_mismatch() {
        let img = sample();
        let lab = IdxArray {
            dims: vec![3],
            data: vec![0, 1, 2],
        };
        let e = dataset_from(&img, p("i.gz"), &lab, p("l.gz"), 10, "t").unwrap_err();
        assert_eq!(e.to_string(), "l.gz: 3 labels for 2 images in i.gz");
    }

    #[test]
    fn three_dimensional_images_carry_their_shape() {
        let img = IdxArray {
            dims: vec![2, 1, 3],
            data: vec![0, 51, 255, 0, 0, 0],
        };
        let lab = IdxArray {
            dims: vec![2],
            data: vec![1, 0],
        };
        let d = dataset_from(&img, p("i"), &lab, p("l"), 2, "t").unwrap();
        assert_eq!(d.image, Some(Image::new(1, 1, 3)));
        assert_eq!(d.features.row(0), &[0.0, 0.2, 1.0]);
        // Two dimensions are plain feature rows, not images.
        let flat = dataset_from(&sample(), p("i"), &lab, p("l"), 2, "t").unwrap();
        assert_eq!(flat.image, None);
    }

    #[test]
    fn label_out_of_range() {
        let lab = IdxArray {
            dims: vec![2],
            data: vec![0, 12],
        };
        let e = dataset_from(&sample(), p("i"), &lab, p("l"), 10, "t").unwrap_err();
        assert_eq!(e.to_string(), "l: label 12 at index 1 is not below 10");
    }

    #[test]
    fn dimension_overflow_is_an_error_not_a_panic() {
        let b = [
            0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        ];
        let e = err(&b, "x");
        assert!(e.contains("overflow") || e.contains("truncated"), "{e}");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: mutate a valid file byte by byte.
        let base = gzip(&encode(&sample()));
        let raw = encode(&sample());
        for src in [&base, &raw] {
            for i in 0..src.len() {
                for v in [0u8, 1, 0x7f, 0xff] {
                    let mut b = src.clone();
                    b[i] = v;
                    let _ = parse(&b, p("f.gz"));
                    let _ = parse(&b[..i], p("f"));
                }
            }
        }
    }
}
