//! Disk space: what each run takes, removing runs, and giving freed pages
//! back to the file system.
//!
//! SQLite stores the rows of many runs on one page, so a run's size is its
//! share of each table: the table's bytes (its pages and its indexes',
//! from the `dbstat` table) times the run's fraction of the table's rows.
//! Deleting runs frees pages inside the file; [`Store::compact`] (VACUUM)
//! returns them to the disk, when no run trains into the store and no
//! other connection holds it.

use super::Store;
use crate::error::{Error, Result};
use rusqlite::params_from_iter;
use std::collections::BTreeMap;
use std::path::Path;

/// The tables that hold rows of a run, keyed by `run_id`.
const RUN_TABLES: [&str; 6] = [
    "steps",
    "evals",
    "layer_steps",
    "layer_series",
    "histograms",
    "findings",
];

/// What [`Store::compact`] did: the file's size (with its write-ahead log)
/// before and after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compacted {
    /// Bytes before.
    pub before: u64,
    /// Bytes after.
    pub after: u64,
}

impl Store {
    /// The bytes each run takes in the file (its share of every table and
    /// index), by run id; runs with no rows are absent.
    pub fn run_sizes(&self) -> Result<BTreeMap<i64, u64>> {
        let mut sizes = BTreeMap::new();
        for table in RUN_TABLES {
            let bytes: i64 = self
                .conn
                .query_row(
                    "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ?1 \
                     OR name IN (SELECT name FROM sqlite_schema \
                                 WHERE type = 'index' AND tbl_name = ?1)",
                    [table],
                    |r| r.get(0),
                )
                .map_err(self.err("measuring the tables"))?;
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT run_id, count(*) FROM {table} GROUP BY run_id"
                ))
                .map_err(self.err("counting rows per run"))?;
            let counts: Vec<(i64, i64)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .and_then(|rows| rows.collect())
                .map_err(self.err("counting rows per run"))?;
            let rows: i64 = counts.iter().map(|c| c.1).sum();
            for (run, n) in counts {
                let share = (bytes as f64 * n as f64 / rows as f64).round() as u64;
                *sizes.entry(run).or_insert(0) += share;
            }
        }
        Ok(sizes)
    }

    /// Removes runs `ids` and everything recorded about them, in one
    /// transaction; returns how many there were. Refuses, removing none,
    /// when an id is unknown or a run is still training.
    pub fn remove_runs(&mut self, ids: &[i64]) -> Result<usize> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(super::sql_err(&path, "locking to remove runs"))?;
        for &id in ids {
            let status: Option<String> = tx
                .query_row("SELECT status FROM runs WHERE id = ?1", [id], |r| r.get(0))
                .map(Some)
                .or_else(|e| match e {
                    rusqlite::Error::QueryReturnedNoRows => Ok(None),
                    e => Err(e),
                })
                .map_err(super::sql_err(&path, "reading a run's status"))?;
            match status.as_deref() {
                None => {
                    return Err(Error::NoSuchRun {
                        id,
                        path: path.clone(),
                    })
                }
                Some("running") => {
                    return Err(Error::Store {
                        path: path.clone(),
                        reason: format!(
                            "run {id} is still training; stop it first (runs whose \
                             process is gone are marked interrupted and can be removed)"
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        let placeholders = vec!["?"; ids.len()].join(", ");
        // Foreign keys are on: the run's rows in every table go with it.
        let removed = tx
            .execute(
                &format!("DELETE FROM runs WHERE id IN ({placeholders})"),
                params_from_iter(ids),
            )
            .map_err(super::sql_err(&path, "removing runs"))?;
        tx.commit()
            .map_err(super::sql_err(&path, "committing the removal"))?;
        Ok(removed)
    }

    /// Gives the file's free pages back to the file system: the
    /// write-ahead log checkpointed and truncated, then `VACUUM`, then the
    /// log truncated again. Refuses, changing nothing, while a run trains
    /// into the store, or while another connection keeps the log from
    /// being truncated (VACUUM in WAL mode writes a copy of the database
    /// into the log: with a reader holding it, the file would grow).
    pub fn compact(&self) -> Result<Compacted> {
        let before = file_bytes(&self.path);
        let running: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM runs WHERE status = 'running'",
                [],
                |r| r.get(0),
            )
            .map_err(self.err("looking for running runs"))?;
        if running > 0 {
            return Err(Error::Store {
                path: self.path.clone(),
                reason: format!(
                    "{running} run(s) still training into this store; compact it when they end"
                ),
            });
        }
        self.checkpoint()?;
        self.conn
            .execute_batch("VACUUM")
            .map_err(self.err("compacting"))?;
        self.checkpoint()?;
        Ok(Compacted {
            before,
            after: file_bytes(&self.path),
        })
    }

    /// Checkpoints and truncates the write-ahead log; fails when another
    /// connection keeps it from finishing (SQLite says so in the pragma's
    /// row, `busy` or fewer frames checkpointed than logged, not as an
    /// error).
    fn checkpoint(&self) -> Result<()> {
        let (busy, log, done): (i64, i64, i64) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(self.err("checkpointing the write-ahead log"))?;
        if busy != 0 || log != done {
            return Err(Error::Store {
                path: self.path.clone(),
                reason: "another process has the store open (a report, a viewer); \
                         compact it when it is closed"
                    .into(),
            });
        }
        Ok(())
    }

    /// Bytes of the file and its write-ahead log.
    pub fn file_bytes(&self) -> u64 {
        file_bytes(&self.path)
    }
}

/// Bytes of the database at `path` and its `-wal` file.
fn file_bytes(path: &Path) -> u64 {
    let len = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    len(path) + len(Path::new(&wal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::trainer::NullSink;
    use crate::experiment::Spec;

    /// A store with runs of `steps` steps each, on a small generated set.
    fn store_with(dir: &Path, steps: &[usize]) -> Store {
        let store = Store::open(dir.join("g.db")).unwrap();
        for &n in steps {
            let spec = Spec::from_toml(
                &format!(
                    "steps = {n}\nbatch = 8\n[data]\nname = \"xor\"\n\
                     train_size = 64\ntest_size = 32\n"
                ),
                "test",
            )
            .unwrap();
            let data = spec.prepare_data().unwrap();
            crate::run::run_recorded(
                &spec,
                &data,
                Some(&store),
                crate::tensor::Compute::threads(1),
                &mut NullSink,
            )
            .unwrap();
        }
        store
    }

    #[test]
    fn sizes_follow_the_rows_and_add_up_to_the_tables() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), &[20, 200]);
        let sizes = store.run_sizes().unwrap();
        let (small, large) = (sizes[&1], sizes[&2]);
        assert!(large > 5 * small, "{small} {large}");
        // Every byte of the run tables is someone's: the shares add up to
        // no more than the file.
        assert!(small + large <= store.file_bytes());
    }

    #[test]
    fn removing_runs_takes_all_their_rows_and_compacting_gives_space_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with(dir.path(), &[300, 10]);
        let full = store.compact().unwrap().after;
        assert_eq!(store.remove_runs(&[1]).unwrap(), 1);
        for table in RUN_TABLES {
            let left: i64 = store
                .conn
                .query_row(
                    &format!("SELECT count(*) FROM {table} WHERE run_id = 1"),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(left, 0, "{table}");
        }
        let c = store.compact().unwrap();
        assert!(c.after < full / 2, "{} -> {}", full, c.after);
        assert_eq!(store.runs().unwrap().len(), 1);
        assert!(store.load(2).is_ok());
    }

    #[test]
    fn removal_refuses_unknown_and_running_runs_and_removes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = store_with(dir.path(), &[5]);
        let err = store.remove_runs(&[1, 9]).unwrap_err().to_string();
        assert!(err.contains('9'), "{err}");
        // A run of this process that has not finished is `running`.
        let _live = store.begin_run(&Spec::default(), 10).unwrap();
        let err = store.remove_runs(&[1, 2]).unwrap_err().to_string();
        assert!(err.contains("run 2 is still training"), "{err}");
        assert_eq!(store.runs().unwrap().len(), 2);
        // Nor is the store compacted under a training run.
        let err = store.compact().unwrap_err().to_string();
        assert!(err.contains("still training"), "{err}");
    }

    /// A second connection holding a read transaction keeps the log from
    /// being truncated: compacting refuses instead of growing the file.
    #[test]
    fn compacting_refuses_while_another_connection_reads() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with(dir.path(), &[50]);
        let reader = rusqlite::Connection::open(dir.path().join("g.db")).unwrap();
        reader
            .execute_batch("BEGIN; SELECT count(*) FROM steps;")
            .unwrap();
        let _: i64 = reader
            .query_row("SELECT count(*) FROM steps", [], |r| r.get(0))
            .unwrap();
        let err = store.compact().unwrap_err().to_string();
        assert!(err.contains("another process"), "{err}");
        reader.execute_batch("COMMIT").unwrap();
        assert!(store.compact().is_ok());
    }
}
