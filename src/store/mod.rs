//! The run store: an embedded SQLite database, one file per workspace, that
//! holds every run's spec, steps, evaluations, per-layer probes (with their
//! per-axis series), histograms and findings. The schema is documented in
//! docs/STORE.md.
//!
//! [`Store::open`] creates the file if needed, switches it to WAL mode with
//! a busy timeout (so concurrent sweep workers share it), applies the
//! migrations, and marks runs whose process is gone as `interrupted`.
//! [`Store::begin_run`] returns a [`RunWriter`], a trainer [`Sink`] that
//! hands events to a writer thread; the thread commits them in batched
//! transactions, so training never waits on disk and a kill loses at most
//! the last uncommitted batch. [`Store::load`] reads a run back as a
//! [`RunRecord`]. [`Store::run_sizes`], [`Store::remove_runs`] and
//! [`Store::compact`] account for and reclaim disk space. Sweeps, their
//! runs' cells and classifications are in [`sweeps`](Store::sweep_runs);
//! [`Store::merge_from`] merges another store's runs into this one.
//!
//! [`Sink`]: crate::experiment::trainer::Sink
//! [`RunRecord`]: crate::experiment::RunRecord

mod codec;
mod host;
mod merge;
mod reader;
mod resume;
mod schema;
mod space;
mod sweeps;
mod writer;

pub use host::git_describe;
pub use merge::Merged;
pub use reader::RunRow;
pub use resume::CommittedWatch;
pub use schema::SCHEMA_VERSION;
pub use space::Compacted;
pub use sweeps::{SweepRow, SweepRunRow, SweepTag};
pub use writer::{RunWriter, FLUSH_INTERVAL, FLUSH_ROWS};

use crate::error::{Error, Result};
use rusqlite::{params, Connection};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a connection waits for another writer before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An open store (one SQLite connection).
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The sweep and cell that runs begun from here belong to.
    tag: Option<SweepTag>,
}

impl Store {
    /// Opens the database at `path`, creating it if missing: WAL mode, a
    /// [`BUSY_TIMEOUT`], migrations up to [`SCHEMA_VERSION`], then every run
    /// of this host still `running` whose process is gone is marked
    /// `interrupted`.
    ///
    /// Fails with [`Error::Store`] when the file is not a database or its
    /// schema is newer than this gradscope knows.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        let mut conn = connect(&path)?;
        schema::migrate(&mut conn, &path)?;
        let store = Store {
            conn,
            path,
            tag: None,
        };
        store.mark_interrupted()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Marks `running` runs of this host whose process no longer exists as
    /// `interrupted`; returns how many. Runs of other hosts are left alone
    /// (their processes cannot be checked from here).
    fn mark_interrupted(&self) -> Result<usize> {
        let host = host::hostname();
        let mut stmt = self
            .conn
            .prepare("SELECT id, pid FROM runs WHERE status = 'running' AND host = ?1")
            .map_err(sql_err(&self.path, "listing running runs"))?;
        let running: Vec<(i64, i64)> = stmt
            .query_map([&host], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(sql_err(&self.path, "listing running runs"))?;
        let mut marked = 0;
        for (id, pid) in running {
            if !host::pid_alive(pid) {
                marked += self
                    .conn
                    .execute(
                        "UPDATE runs SET status = 'interrupted' \
                         WHERE id = ?1 AND status = 'running'",
                        params![id],
                    )
                    .map_err(sql_err(&self.path, "marking a run interrupted"))?;
            }
        }
        Ok(marked)
    }

    fn err(&self, doing: &'static str) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
        sql_err(&self.path, doing)
    }
}

/// A connection to `path` with the store's settings.
fn connect(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path).map_err(sql_err(path, "opening"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sql_err(path, "setting the busy timeout"))?;
    // WAL: readers never block the writer, and a killed writer leaves the
    // last committed transaction intact. NORMAL sync is safe against a
    // process kill (only a power cut can lose the last commits).
    // Switching a fresh file to WAL takes a lock that SQLite does not
    // wait for through the busy timeout: two processes creating one store
    // at once (sweep workers) retry here instead.
    let started = std::time::Instant::now();
    let mode: String = loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other.map_err(sql_err(path, "switching to WAL mode"))?,
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Store {
            path: path.to_path_buf(),
            reason: format!("cannot use WAL mode (journal mode is {mode})"),
        });
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .map_err(sql_err(path, "setting pragmas"))?;
    Ok(conn)
}

/// Wraps a SQLite error with the file and what was being done.
fn sql_err(path: &Path, doing: &'static str) -> impl FnOnce(rusqlite::Error) -> Error {
    let path = path.to_path_buf();
    move |e| Error::Store {
        path,
        reason: format!("{doing}: {e}"),
    }
}

#[cfg(test)]
mod tests;
