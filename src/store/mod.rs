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
//! transactions, so training does not wait on disk and a kill loses at most
//! the last uncommitted batch. [`Store::load`] reads a run back as a
//! [`RunRecord`]; [`Store::each_layer_row`] and its siblings stream a
//! run's rows one at a time instead (exports). [`Store::run_sizes`], [`Store::remove_runs`] and
//! [`Store::compact`] account for and reclaim disk space. Sweeps, their
//! runs' cells and classifications are in [`sweeps`](Store::sweep_runs);
//! [`Store::merge_from`] merges another store's runs into this one.
//!
//! [`Sink`]: crate::experiment::trainer::Sink
//! [`RunRecord`]: crate::experiment::RunRecord

mod codec;
mod dashboard;
mod host;
mod merge;
mod probe_rows;
mod reader;
mod resume;
mod schema;
mod space;
mod sweeps;
mod writer;

pub use dashboard::{
    is_figure, is_layer_field, HistogramAt, LayerColumns, Progress, RunFilter, RunItem, RunTexts,
    RunVersion, SeriesAt, SeriesKind, StepTable,
};
pub use host::git_describe;
pub use merge::Merged;
pub use probe_rows::{HistogramRow, RunHead};
pub use reader::RunRow;
pub use resume::CommittedWatch;
pub use schema::{SCHEMA_VERSION, TENSORS};
pub use space::Compacted;
pub use sweeps::{SweepRow, SweepRunRow, SweepTag};
pub use writer::{RunWriter, FLUSH_INTERVAL, FLUSH_ROWS, QUEUE_EVENTS};

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
    /// A bound on the database's pages for the writers of runs begun from
    /// here (`PRAGMA max_page_count`): a full disk, for tests.
    page_limit: Option<u64>,
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
            page_limit: None,
        };
        store.mark_interrupted()?;
        Ok(store)
    }

    /// Opens the database at `path` for reading: as [`Store::open`] where
    /// the file can be written, else read-only (a store on a read-only
    /// filesystem, or a file without write permission), without
    /// migrating or marking runs. Writing through a read-only store fails
    /// ([`Store::is_read_only`] tells). A missing file is not created.
    pub fn open_for_reading(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        match Store::open(path) {
            Ok(store) => Ok(store),
            // Where the file cannot be written, the read-only attempt's
            // error says more; otherwise (a corrupt file) the first does.
            Err(writable) => Store::open_read_only(path).map_err(|read_only| {
                if is_read_only_error(&writable) {
                    read_only
                } else {
                    writable
                }
            }),
        }
    }

    /// Opens the database at `path` read-only: no WAL switch, no
    /// migration, no run marked `interrupted` (a run whose process is gone
    /// still reads `running`). On a read-only filesystem, where SQLite
    /// cannot create the WAL's shared-memory file, it opens the file as
    /// immutable. Refuses a schema that needs migrating.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref().to_path_buf();
        if !path.is_file() {
            return Err(Error::Store {
                path,
                reason: "no such store".into(),
            });
        }
        // `mode=ro` reads a WAL store through its shared memory; where
        // that cannot be made (a read-only filesystem) the file is opened
        // as immutable, which no other process can be writing there.
        let conn = match connect_read_only(&path, "mode=ro") {
            Err(CannotOpen(_)) => connect_read_only(&path, "immutable=1"),
            other => other,
        }
        .map_err(ReadOnlyError::into_error)?;
        let version = schema::version(&conn, &path)?;
        if version > SCHEMA_VERSION {
            return Err(Error::Store {
                path,
                reason: format!(
                    "database schema version {version} is newer than this gradscope knows \
                     (version {SCHEMA_VERSION}); hint: use a newer gradscope to read it"
                ),
            });
        }
        if version != SCHEMA_VERSION {
            return Err(Error::Store {
                path,
                reason: format!(
                    "schema version {version} needs migrating to version {SCHEMA_VERSION}, \
                     which needs write access: open it once where it can be written"
                ),
            });
        }
        Ok(Store {
            conn,
            path,
            tag: None,
            page_limit: None,
        })
    }

    /// Whether this store was opened read-only ([`Store::open_read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.conn
            .is_readonly(rusqlite::DatabaseName::Main)
            .unwrap_or(false)
    }

    /// Makes the database full at `pages` pages for the writers of runs
    /// begun from here on: their writes then fail as on a full disk
    /// (`SQLITE_FULL`). For tests of what a full disk does to a run.
    #[doc(hidden)]
    pub fn fill_at_pages(&mut self, pages: u64) {
        self.page_limit = Some(pages);
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
    // Before anything that writes (the WAL switch, the migrations): a
    // database of another program is refused as it is.
    refuse_foreign(&conn, path)?;
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

/// Why a read-only connection failed: SQLite could not open the file
/// (`SQLITE_CANTOPEN`: on a read-only filesystem, the WAL's shared memory),
/// or anything else.
enum ReadOnlyError {
    CannotOpen(Error),
    Other(Error),
}

use ReadOnlyError::{CannotOpen, Other};

impl ReadOnlyError {
    fn into_error(self) -> Error {
        match self {
            CannotOpen(e) | Other(e) => e,
        }
    }
}

/// A read-only connection to `path`, opened by URI with `mode` (`mode=ro`,
/// or `immutable=1` where the WAL's shared memory cannot be created),
/// checked to be readable and a store.
fn connect_read_only(path: &Path, mode: &str) -> std::result::Result<Connection, ReadOnlyError> {
    use rusqlite::OpenFlags;
    let classify = |doing: &'static str| {
        move |e: rusqlite::Error| {
            let cannot_open = e.sqlite_error_code() == Some(rusqlite::ErrorCode::CannotOpen);
            let e = sql_err(path, doing)(e);
            if cannot_open {
                CannotOpen(e)
            } else {
                Other(e)
            }
        }
    };
    // The path as a URI's: `%`, `?` and `#` escaped.
    let mut uri = String::from("file:");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push('?');
    uri.push_str(mode);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(&uri, flags).map_err(classify("opening"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(classify("setting the busy timeout"))?;
    // The first read is where a WAL store's shared memory is opened.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(classify("reading the schema"))?;
    refuse_foreign(&conn, path).map_err(Other)?;
    Ok(conn)
}

/// Refuses a database that is not a store, before anything writes to
/// it: one that holds tables with a schema version of 0 (a store records
/// its migrations there), or a version but no `runs` table (another
/// program's use of `user_version`). Both are read in one statement, one
/// snapshot: a store being created by another process is seen before or
/// after its migration commits, never half way.
fn refuse_foreign(conn: &Connection, path: &Path) -> Result<()> {
    let (version, tables, runs): (i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), \
             (SELECT count(*) FROM sqlite_master WHERE type = 'table'), \
             (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'runs')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(sql_err(path, "reading the schema"))?;
    if (version == 0 && tables > 0) || (version > 0 && runs == 0) {
        return Err(Error::Store {
            path: path.to_path_buf(),
            reason: format!(
                "not a gradscope store (an SQLite database with {tables} tables of another \
                 program's): left unchanged"
            ),
        });
    }
    Ok(())
}

/// Whether `e` says the database could not be written or created.
fn is_read_only_error(e: &Error) -> bool {
    let text = e.to_string();
    [
        "readonly",
        "read-only",
        "unable to open",
        "Permission denied",
    ]
    .iter()
    .any(|s| text.contains(s))
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
