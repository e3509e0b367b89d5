//! The cache's storage: hashing while copying, part files that become
//! final only by an atomic rename, and the `SHA256SUMS` manifest.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{check_file_name, io_error, md5, Checksum, MANIFEST};
use crate::error::Result;

/// MD5 and SHA-256 of the same bytes, as lowercase hex.
pub(super) struct Digests {
    pub(super) md5: String,
    pub(super) sha256: String,
}

impl Digests {
    pub(super) fn matches(&self, checksum: &Checksum<'_>) -> bool {
        checksum.got(self).eq_ignore_ascii_case(checksum.expected())
    }
}

pub(super) enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

impl CopyError {
    pub(super) fn into_inner(self) -> io::Error {
        match self {
            CopyError::Read(e) | CopyError::Write(e) => e,
        }
    }
}

/// Reads `reader` to the end, hashing every chunk and handing it to `sink`.
pub(super) fn hash_copy(
    mut reader: impl Read,
    mut sink: impl FnMut(&[u8]) -> io::Result<()>,
) -> Result<Digests, CopyError> {
    let mut md5 = md5::Md5::new();
    let mut sha256 = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        md5.update(&buf[..n]);
        sha256.update(&buf[..n]);
        sink(&buf[..n]).map_err(CopyError::Write)?;
    }
    Ok(Digests {
        md5: hex(&md5.finalize()),
        sha256: hex(&sha256.finalize()),
    })
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A hidden `.<name>.<pid>-<n>.part` file beside its destination, removed
/// on drop unless [`PartFile::persist`] renamed it into place.
pub(super) struct PartFile {
    pub(super) path: PathBuf,
    pub(super) file: File,
    persisted: bool,
}

impl PartFile {
    pub(super) fn create(dest: &Path) -> Result<PartFile> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        let name = dest.file_name().unwrap_or_default().to_string_lossy();
        let pid = std::process::id();
        for n in 0u32.. {
            let path = dir.join(format!(".{name}.{pid}-{n}.part"));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    return Ok(PartFile {
                        path,
                        file,
                        persisted: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error(&path, e)),
            }
        }
        unreachable!("u32 part-file counter exhausted")
    }

    /// Flushes to disk and renames over `dest` (atomic within one folder).
    pub(super) fn persist(mut self, dest: &Path) -> Result<()> {
        self.file.sync_all().map_err(|e| io_error(&self.path, e))?;
        fs::rename(&self.path, dest).map_err(|e| io_error(dest, e))?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.persisted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The `SHA256SUMS` manifest: file name -> SHA-256, one `hex  name` line
/// each, sorted by name. Lines that do not parse are dropped.
pub(super) struct Manifest {
    pub(super) entries: BTreeMap<String, String>,
}

impl Manifest {
    pub(super) fn load(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_error(&path, e)),
        };
        let entries = text
            .lines()
            .filter_map(|line| line.split_once("  "))
            .filter(|(sha, name)| sha.len() == 64 && check_file_name(name).is_ok())
            .map(|(sha, name)| (name.to_string(), sha.to_ascii_lowercase()))
            .collect();
        Ok(Manifest { entries })
    }

    /// Writes the manifest through a part file, so readers never see half of it.
    pub(super) fn save(&self, dir: &Path) -> Result<()> {
        let dest = dir.join(MANIFEST);
        let mut part = PartFile::create(&dest)?;
        let text: String = self
            .entries
            .iter()
            .map(|(name, sha)| format!("{sha}  {name}\n"))
            .collect();
        part.file
            .write_all(text.as_bytes())
            .map_err(|e| io_error(&part.path, e))?;
        part.persist(&dest)
    }
}
