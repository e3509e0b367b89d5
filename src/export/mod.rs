//! Exports: a run's store rows in the formats other tools read.
//!
//! - **TensorBoard** ([`tensorboard`]): one event file per run, scalars
//!   for the curves and every per-layer figure, histograms; framed as
//!   TFRecords ([`tfrecord`]) of hand-written protobuf messages
//!   ([`proto`]).
//! - **CSV, JSON, Parquet** ([`csv`], [`json`], [`parquet`]): the probe
//!   table ([`table`]) in long form (`run, step, layer, path, tensor,
//!   metric, value`) or wide form (one row per run, step and layer, a
//!   column per figure).
//!
//! Everything streams from the store ([`Store::each_layer_row`] and its
//! siblings): memory does not grow with the run's length. Files are
//! written under a temporary name and renamed once complete, so a failed
//! export leaves no half-written file behind. The formats, columns and
//! tags are documented in docs/EXPORT.md.

pub mod csv;
pub mod json;
pub mod parquet;
pub mod proto;
pub mod table;
pub mod tensorboard;
pub mod tfrecord;

pub use table::Shape;

use crate::error::{Error, Result};
use crate::store::Store;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A format of the probe table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// RFC 4180 CSV with a header line.
    Csv,
    /// A JSON array of row objects.
    Json,
    /// Apache Parquet.
    Parquet,
}

impl TableFormat {
    /// The file extension (`csv`).
    pub fn extension(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Json => "json",
            TableFormat::Parquet => "parquet",
        }
    }
}

/// Receives the rows of a table, in order.
pub trait TableWriter {
    /// One row: a cell per column.
    fn row(&mut self, cells: &[table::Cell<'_>]) -> io::Result<()>;
    /// Ends the table (closing brackets, a Parquet footer) and flushes.
    fn finish(self: Box<Self>) -> io::Result<()>;
}

/// A writer of `format` over `out`, its header written.
pub fn table_writer<'w, W: Write + Send + 'w>(
    format: TableFormat,
    shape: Shape,
    out: W,
) -> io::Result<Box<dyn TableWriter + 'w>> {
    let columns = table::columns(shape);
    Ok(match format {
        TableFormat::Csv => Box::new(csv::CsvWriter::new(out, &columns)?),
        TableFormat::Json => Box::new(json::JsonWriter::new(out, &columns)?),
        TableFormat::Parquet => Box::new(parquet::ParquetWriter::new(out, &columns)?),
    })
}

/// Writes the probe table of runs `run_ids`, one after the other, as
/// `format` in `shape` to `out` (`dest` names it in errors); returns the
/// rows written. Each run is looked up first: an unknown id fails before
/// anything is written.
pub fn write_table<W: Write + Send>(
    store: &Store,
    run_ids: &[i64],
    format: TableFormat,
    shape: Shape,
    out: W,
    dest: &Path,
) -> Result<u64> {
    for &id in run_ids {
        store.run_head(id)?;
    }
    let io = |source| Error::Io {
        path: dest.to_path_buf(),
        source,
    };
    let mut writer = table_writer(format, shape, out).map_err(io)?;
    let mut rows = 0u64;
    for &id in run_ids {
        store.each_layer_row(id, |step, l| {
            table::rows(shape, id, step, l, |cells| {
                rows += 1;
                writer.row(cells)
            })
            .map_err(io)
        })?;
    }
    writer.finish().map_err(io)?;
    Ok(rows)
}

/// Writes the probe table of `run_ids` into the file `path`, through a
/// temporary file in the same folder renamed once complete; returns the
/// rows written.
pub fn export_table(
    store: &Store,
    run_ids: &[i64],
    format: TableFormat,
    shape: Shape,
    path: &Path,
) -> Result<u64> {
    for &id in run_ids {
        store.run_head(id)?;
    }
    write_atomically(path, |out, tmp| {
        write_table(store, run_ids, format, shape, out, tmp)
    })
}

/// Writes the TensorBoard event files of `run_ids` into `dir` (created if
/// missing), one folder per run; returns each file and its events.
pub fn export_tensorboard(
    store: &Store,
    run_ids: &[i64],
    dir: &Path,
) -> Result<Vec<(PathBuf, u64)>> {
    for &id in run_ids {
        store.run_head(id)?;
    }
    run_ids
        .iter()
        .map(|&id| tensorboard::export_run(store, id, dir))
        .collect()
}

/// Calls `write` with a buffered temporary file next to `path` (and the
/// temporary's path, for errors), then renames it to `path`; on error the
/// temporary is removed and `path` left as it was.
pub(crate) fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>, &Path) -> Result<T>,
) -> Result<T> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // No `tfevents` in the name: TensorBoard would read it half written.
    let tmp = path.with_file_name(format!(
        ".{}.{}.partial",
        name.replace("tfevents", "tfev"),
        std::process::id()
    ));
    let file = File::create(&tmp).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut out = BufWriter::new(file);
    let result = write(&mut out, path).and_then(|v| {
        out.flush().map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(v)
    });
    drop(out);
    match result {
        Ok(v) => {
            std::fs::rename(&tmp, path).map_err(|source| {
                let _ = std::fs::remove_file(&tmp);
                Error::Io {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
            Ok(v)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
