//! The file: safetensors (an 8-byte little-endian header length, a JSON
//! header of tensor names, dtypes, shapes and byte offsets plus a
//! `__metadata__` map of strings, then the raw little-endian data).
//!
//! [`Checkpoint`] is the whole file in memory: its metadata and its
//! tensors by name. Reading never trusts the file: the `safetensors`
//! crate checks the header against the data (offsets inside the buffer,
//! covering it exactly, sizes that do not overflow), and every failure is
//! an [`Error::Checkpoint`] naming the file; nothing panics on a hostile
//! file ([`Checkpoint::from_bytes`] is the pure entry point a fuzz target
//! calls). Writing goes to a temporary file in the same folder, synced,
//! then renamed over the target, so a kill leaves the old file or the new
//! one, never a torn one.
//!
//! A `rows x cols` matrix is a 2-D tensor, except a `1 x n` row that is
//! not a `weight` (a bias, BatchNorm's running statistics), which is 1-D
//! as PyTorch keeps it; reading accepts either form for a `1 x n` row.
//!
//! ```
//! use gradscope::checkpoint::{Checkpoint, Tensor};
//! let mut c = Checkpoint::default();
//! c.metadata.insert("step".into(), "3".into());
//! c.tensors.insert("layers.0.bias".into(), Tensor::f32(vec![2], vec![0.5, -1.0]));
//! let back = Checkpoint::from_bytes(&c.to_bytes().unwrap()).unwrap();
//! assert_eq!(back, c);
//! ```

use crate::error::{Error, Result};
use crate::tensor::{Matrix, Scalar};
use safetensors::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A tensor's elements, in one of the dtypes gradscope writes, or the raw
/// bytes of another (a file written elsewhere: listed, never loaded).
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    /// `F32`.
    F32(Vec<f32>),
    /// `F64`.
    F64(Vec<f64>),
    /// `I64` (the data order).
    I64(Vec<i64>),
    /// Any other dtype, by its safetensors name, as stored.
    Other {
        /// The dtype (`F16`, `BF16`, `U8`, ...).
        dtype: String,
        /// The little-endian bytes.
        bytes: Vec<u8>,
    },
}

/// One named tensor of a checkpoint: its shape and elements (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// The elements.
    pub data: TensorData,
}

impl Tensor {
    /// An `F32` tensor.
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Self {
        Self {
            shape,
            data: TensorData::F32(data),
        }
    }

    /// An `I64` tensor.
    pub fn i64(shape: Vec<usize>, data: Vec<i64>) -> Self {
        Self {
            shape,
            data: TensorData::I64(data),
        }
    }

    /// `m` in its own dtype (`f32` or `f64`), written as the module doc
    /// says (`1 x n` rows 1-D unless `name` is a weight).
    pub fn from_matrix<T: Scalar>(name: &str, m: &Matrix<T>) -> Self {
        let shape = if m.rows() == 1 && !is_weight(name) {
            vec![m.cols()]
        } else {
            vec![m.rows(), m.cols()]
        };
        let values = m.as_slice().iter().map(|v| v.as_f64());
        // Through f64 and back: exact for both dtypes.
        let data = match T::NAME {
            "f32" => TensorData::F32(values.map(|v| v as f32).collect()),
            _ => TensorData::F64(values.collect()),
        };
        Self { shape, data }
    }

    /// The dtype's safetensors name (`F32`).
    pub fn dtype(&self) -> &str {
        match &self.data {
            TensorData::F32(_) => "F32",
            TensorData::F64(_) => "F64",
            TensorData::I64(_) => "I64",
            TensorData::Other { dtype, .. } => dtype,
        }
    }

    /// Elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether its shape holds a `rows x cols` matrix (or, for one row,
    /// a vector of `cols`).
    pub fn fits(&self, rows: usize, cols: usize) -> bool {
        self.shape == [rows, cols] || (rows == 1 && self.shape == [cols])
    }

    /// Its elements as `f64` (exact for every float dtype gradscope
    /// writes); `None` for an integer or foreign dtype.
    pub fn floats(&self) -> Option<Vec<f64>> {
        match &self.data {
            TensorData::F32(v) => Some(v.iter().map(|&x| x as f64).collect()),
            TensorData::F64(v) => Some(v.clone()),
            _ => None,
        }
    }

    /// Its elements as a `rows x cols` matrix of `T`: an error (a reason,
    /// without the file) when the shape does not fit or the dtype is not
    /// a float; with `exact`, the dtype must be `T`'s own (a resume).
    pub fn to_matrix<T: Scalar>(
        &self,
        rows: usize,
        cols: usize,
        exact: bool,
    ) -> std::result::Result<Matrix<T>, String> {
        if !self.fits(rows, cols) {
            return Err(format!(
                "shape {:?}, the model's is [{rows}, {cols}]",
                self.shape
            ));
        }
        if exact && !self.dtype().eq_ignore_ascii_case(T::NAME) {
            return Err(format!("dtype {}, the run's is {}", self.dtype(), T::NAME));
        }
        let values = self.floats().ok_or_else(|| {
            format!(
                "dtype {}: gradscope reads F32 and F64 tensors",
                self.dtype()
            )
        })?;
        Matrix::from_vec(rows, cols, values.into_iter().map(T::cast).collect())
            .map_err(|e| e.to_string())
    }

    fn bytes(&self) -> Cow<'_, [u8]> {
        fn le<const N: usize, X: Copy>(v: &[X], f: impl Fn(X) -> [u8; N]) -> Vec<u8> {
            v.iter().flat_map(|&x| f(x)).collect()
        }
        match &self.data {
            TensorData::F32(v) => le(v, f32::to_le_bytes).into(),
            TensorData::F64(v) => le(v, f64::to_le_bytes).into(),
            TensorData::I64(v) => le(v, i64::to_le_bytes).into(),
            TensorData::Other { bytes, .. } => bytes.into(),
        }
    }
}

/// Whether `name` is a weight (a matrix even with one row).
fn is_weight(name: &str) -> bool {
    name.rsplit('.')
        .next()
        .is_some_and(|last| last.starts_with("weight"))
}

/// A tensor on its way into the `safetensors` serializer.
struct Out {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Out {
    fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }

    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// A checkpoint file in memory: the `__metadata__` strings and the tensors
/// by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// The `__metadata__` map.
    pub metadata: BTreeMap<String, String>,
    /// Every tensor, by name.
    pub tensors: BTreeMap<String, Tensor>,
}

/// What [`Checkpoint::from_bytes`] names as the file.
pub const IN_MEMORY: &str = "(bytes)";

impl Checkpoint {
    /// Parses a safetensors file's bytes. Never panics: a truncated,
    /// corrupted or hostile buffer is an [`Error::Checkpoint`] saying what
    /// is wrong (the file named [`IN_MEMORY`]; [`Checkpoint::read`] names
    /// the real one).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |reason: String| Error::Checkpoint {
            path: IN_MEMORY.into(),
            reason,
        };
        let file = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a safetensors file ({e})")))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a safetensors file ({e})")))?;
        let metadata = header
            .metadata()
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut tensors = BTreeMap::new();
        for (name, view) in file.iter() {
            let data = view.data();
            let data = match view.dtype() {
                Dtype::F32 => TensorData::F32(decode(data, f32::from_le_bytes)),
                Dtype::F64 => TensorData::F64(decode(data, f64::from_le_bytes)),
                Dtype::I64 => TensorData::I64(decode(data, i64::from_le_bytes)),
                other => TensorData::Other {
                    dtype: format!("{other}"),
                    bytes: data.to_vec(),
                },
            };
            let shape = view.shape().to_vec();
            tensors.insert(name.to_string(), Tensor { shape, data });
        }
        Ok(Self { metadata, tensors })
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut outs = Vec::with_capacity(self.tensors.len());
        for (name, t) in &self.tensors {
            let dtype = match &t.data {
                TensorData::F32(_) => Dtype::F32,
                TensorData::F64(_) => Dtype::F64,
                TensorData::I64(_) => Dtype::I64,
                TensorData::Other { dtype, .. } => {
                    return Err(Error::Checkpoint {
                        path: IN_MEMORY.into(),
                        reason: format!("tensor `{name}`: cannot write dtype {dtype}"),
                    })
                }
            };
            let bytes = t.bytes().into_owned();
            outs.push((
                name.as_str(),
                Out {
                    dtype,
                    shape: t.shape.clone(),
                    bytes,
                },
            ));
        }
        let meta = self
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        safetensors::serialize(outs.iter().map(|(n, o)| (*n, o)), Some(meta)).map_err(|e| {
            Error::Checkpoint {
                path: IN_MEMORY.into(),
                reason: format!("cannot serialize: {e}"),
            }
        })
    }

    /// Reads and parses the file at `path` (errors name it).
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes).map_err(at_path(path))
    }

    /// Writes the file at `path` atomically: a temporary file beside it,
    /// synced, renamed over `path`.
    pub fn write_atomic(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        let tmp = temp_path(path);
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| Error::Io { path: p, source }
        };
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(path)(e));
        }
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(path)(e)
        })?;
        // The rename itself is durable once the folder is synced.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }

    /// Inserts `m` as the tensor `name` ([`Tensor::from_matrix`]).
    pub fn put<T: Scalar>(&mut self, name: &str, m: &Matrix<T>) {
        self.tensors
            .insert(name.to_string(), Tensor::from_matrix(name, m));
    }

    /// A metadata value, or an error naming the missing key.
    pub fn meta(&self, key: &str) -> Result<&str> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| self.error(format!("no `{key}` in its metadata")))
    }

    /// A metadata value parsed as `V`, or an error naming the key.
    pub fn meta_parsed<V: std::str::FromStr>(&self, key: &str) -> Result<V> {
        let raw = self.meta(key)?;
        raw.parse()
            .map_err(|_| self.error(format!("metadata `{key}` = `{raw}` is not valid")))
    }

    /// An [`Error::Checkpoint`] about this checkpoint (named
    /// [`IN_MEMORY`]: the caller that knows the file renames it).
    pub fn error(&self, reason: String) -> Error {
        Error::Checkpoint {
            path: IN_MEMORY.into(),
            reason,
        }
    }
}

/// `bytes` (a whole number of `N`-byte values: the crate checked the
/// length against the shape) as values.
fn decode<const N: usize, X>(bytes: &[u8], f: impl Fn([u8; N]) -> X) -> Vec<X> {
    bytes
        .chunks_exact(N)
        .map(|c| f(c.try_into().expect("chunks of N bytes")))
        .collect()
}

/// `path` with `.tmp-<pid>` appended to its name.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Renames a [`Error::Checkpoint`] about [`IN_MEMORY`] to `path`.
pub fn at_path(path: &Path) -> impl Fn(Error) -> Error + '_ {
    move |e| match e {
        Error::Checkpoint { path: p, reason } if p == Path::new(IN_MEMORY) => Error::Checkpoint {
            path: path.to_path_buf(),
            reason,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkpoint {
        let mut c = Checkpoint::default();
        c.metadata.insert("spec".into(), "steps = 3\n".into());
        let m = Matrix::from_rows(&[vec![1.0f32, -2.5], vec![3.0, 1e-30]]);
        c.tensors.insert(
            "layers.0.weight".into(),
            Tensor::from_matrix("layers.0.weight", &m),
        );
        let b = Matrix::from_rows(&[vec![0.25f64, 7.0, -0.0]]);
        c.tensors.insert(
            "layers.0.bias".into(),
            Tensor::from_matrix("layers.0.bias", &b),
        );
        c.tensors
            .insert("data.order".into(), Tensor::i64(vec![3], vec![2, 0, 1]));
        c
    }

    #[test]
    fn a_checkpoint_round_trips_bit_for_bit() {
        let c = sample();
        let back = Checkpoint::from_bytes(&c.to_bytes().unwrap()).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.tensors["layers.0.bias"].shape, [3]);
        assert_eq!(back.tensors["layers.0.weight"].shape, [2, 2]);
        let bias: Matrix<f64> = back.tensors["layers.0.bias"].to_matrix(1, 3, true).unwrap();
        assert_eq!(bias.as_slice()[2].to_bits(), (-0.0f64).to_bits());
        // The wrong dtype for a resume, or the wrong shape, says so.
        let e = back.tensors["layers.0.bias"].to_matrix::<f32>(1, 3, true);
        assert!(e.unwrap_err().contains("dtype F64"));
        let e = back.tensors["layers.0.bias"].to_matrix::<f64>(3, 1, false);
        assert!(e.unwrap_err().contains("shape [3]"));
    }

    /// Regression guard for the loader on hostile input: every truncation
    /// and a flipped bit in every header byte give an error or a
    /// checkpoint, never a panic; a truncated file is always an error.
    #[test]
    fn truncated_and_bit_flipped_files_are_errors_not_panics() {
        let bytes = sample().to_bytes().unwrap();
        for len in 0..bytes.len() {
            let e = Checkpoint::from_bytes(&bytes[..len]).unwrap_err();
            assert!(e.to_string().starts_with(IN_MEMORY), "{e}");
        }
        let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let mut errors = 0;
        for i in 0..header {
            for bit in [0, 3, 7] {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                errors += Checkpoint::from_bytes(&b).is_err() as usize;
            }
        }
        // Most flips break the header (a few land in a name or a value).
        assert!(errors > header, "{errors} errors of {} flips", 3 * header);
        // A huge claimed header length.
        let mut b = bytes.clone();
        b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Checkpoint::from_bytes(&b).is_err());
    }

    #[test]
    fn a_file_is_written_atomically_and_read_back_with_its_name_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.safetensors");
        sample().write_atomic(&path).unwrap();
        assert_eq!(Checkpoint::read(&path).unwrap(), sample());
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let e = Checkpoint::read(&path).unwrap_err().to_string();
        assert!(e.starts_with(&path.display().to_string()), "{e}");
    }
}
