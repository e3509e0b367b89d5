//! Unpacking chosen members of a verified `.tar.gz` into the cache: one
//! pass over the archive, each member written through a part file and
//! renamed into place, so a final name never holds a partial member.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use flate2::read::GzDecoder;

use super::io_error;
use super::store::{hash_copy, CopyError, PartFile};
use crate::error::{Error, Result};

/// Unpacks the members `folder/<name>` of the gzip tar `archive`, for each
/// name in `names`, to `dir/<name>`, and returns `(name, SHA-256)` in the
/// order of `names`. `check(name, size)` vets a member's size before it is
/// written (an `Err` is the reason it is refused). Other members are
/// skipped; the paths inside the archive only select members, they never
/// name a file written. A wanted member missing from the archive is an
/// error, and members unpacked before an error stay.
pub(super) fn unpack(
    archive: &Path,
    folder: &str,
    names: &[&str],
    dir: &Path,
    check: &dyn Fn(&str, u64) -> std::result::Result<(), String>,
) -> Result<Vec<(String, String)>> {
    let bad = |reason: String| Error::BadData {
        path: archive.to_path_buf(),
        reason,
    };
    let file = File::open(archive).map_err(|e| io_error(archive, e))?;
    let mut tar = tar::Archive::new(GzDecoder::new(io::BufReader::new(file)));
    let mut sums: Vec<Option<String>> = vec![None; names.len()];
    let entries = tar
        .entries()
        .map_err(|e| bad(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("corrupt archive: {e}")))?;
        let wanted = {
            let path = entry
                .path()
                .map_err(|e| bad(format!("corrupt archive: {e}")))?;
            let mut parts = path.components().map(|c| c.as_os_str());
            match (parts.next(), parts.next(), parts.next()) {
                (Some(f), Some(name), None) if f == folder => {
                    names.iter().position(|n| name == std::ffi::OsStr::new(n))
                }
                _ => None,
            }
        };
        let Some(i) = wanted else { continue };
        if !entry.header().entry_type().is_file() {
            return Err(bad(format!("{folder}/{} is not a plain file", names[i])));
        }
        check(names[i], entry.size())
            .map_err(|reason| bad(format!("{folder}/{}: {reason}", names[i])))?;
        let dest = dir.join(names[i]);
        let mut part = PartFile::create(&dest)?;
        let digests =
            hash_copy(&mut entry, |chunk| part.file.write_all(chunk)).map_err(|e| match e {
                CopyError::Read(e) => bad(format!("corrupt archive: {e}")),
                CopyError::Write(e) => io_error(&part.path, e),
            })?;
        part.persist(&dest)?;
        sums[i] = Some(digests.sha256);
    }
    names
        .iter()
        .zip(sums)
        .map(|(name, sum)| {
            sum.map(|sha| (name.to_string(), sha))
                .ok_or_else(|| bad(format!("{folder}/{name} is not in the archive")))
        })
        .collect()
}
