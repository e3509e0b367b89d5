//! Merging stores: the runs of another store (a sweep's shard run on
//! another machine) copied into this one, with everything recorded about
//! them, under fresh ids. Merging is idempotent: a run already here is
//! not copied again.
//!
//! A run is "already here" when this store holds the same run:
//! - a sweep's run: the same sweep (name and hash) and run name, ended
//!   with its classification. A sweep's run that did not end with one is
//!   not copied (resuming the sweep runs it again); one here that did not
//!   is replaced by a finished copy from the other store;
//! - any other run: the same name, creation time, host and process id.

use super::{sql_err, Store};
use crate::error::{Error, Result};
use rusqlite::{params, OptionalExtension, Transaction};
use std::collections::HashMap;
use std::path::Path;

/// The tables that hang off `runs(id)`, copied with each run.
const RUN_TABLES: [&str; 7] = [
    "steps",
    "evals",
    "layer_steps",
    "layer_series",
    "histograms",
    "findings",
    "classifications",
];

/// What a merge did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Merged {
    /// Runs copied.
    pub runs: usize,
    /// Runs already here (or unfinished runs of a sweep), not copied.
    pub skipped: usize,
    /// Unfinished sweep runs here replaced by finished copies.
    pub replaced: usize,
}

/// One run of the other store, as the merge sees it.
struct Source {
    id: i64,
    name: String,
    created_at: f64,
    host: String,
    pid: i64,
    sweep: Option<i64>,
    done: bool,
}

impl Store {
    /// Copies the runs of the store at `other` (migrated first, if older)
    /// into this one, with their sweeps; see the module doc for which.
    pub fn merge_from(&mut self, other: &Path) -> Result<Merged> {
        let same = std::fs::canonicalize(other).ok() == std::fs::canonicalize(&self.path).ok();
        if same {
            return Err(Error::Store {
                path: self.path.clone(),
                reason: "cannot merge a store into itself".into(),
            });
        }
        drop(Store::open(other)?);
        let path = self.path.clone();
        self.conn
            .execute("ATTACH DATABASE ?1 AS src", [other.display().to_string()])
            .map_err(sql_err(&path, "attaching the store to merge"))?;
        let merged = self.merge_attached();
        let detached = self
            .conn
            .execute("DETACH DATABASE src", [])
            .map_err(sql_err(&path, "detaching the merged store"));
        let merged = merged?;
        detached?;
        Ok(merged)
    }

    fn merge_attached(&mut self) -> Result<Merged> {
        let path = self.path.clone();
        let err = |doing| sql_err(&path, doing);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err("locking to merge"))?;
        let sweeps = map_sweeps(&tx).map_err(err("merging sweeps"))?;
        let sources = sources(&tx).map_err(err("listing the runs to merge"))?;
        let mut merged = Merged::default();
        for s in sources {
            let sweep = s.sweep.and_then(|id| sweeps.get(&id).copied());
            let here: Option<(i64, bool)> = match sweep {
                Some(sweep_id) => tx
                    .query_row(
                        "SELECT r.id, c.run_id IS NOT NULL \
                         AND r.status IN ('finished', 'diverged') FROM main.runs r \
                         LEFT JOIN main.classifications c ON c.run_id = r.id \
                         WHERE r.sweep_id = ?1 AND r.name = ?2 \
                         ORDER BY 2 DESC LIMIT 1",
                        params![sweep_id, s.name],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional(),
                None => tx
                    .query_row(
                        "SELECT id, 1 FROM main.runs WHERE name = ?1 AND created_at = ?2 \
                         AND host = ?3 AND pid = ?4",
                        params![s.name, s.created_at, s.host, s.pid],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional(),
            }
            .map_err(err("finding a run to merge"))?;
            let copy = match here {
                Some((_, true)) => false,
                _ if sweep.is_some() && !s.done => false,
                Some((id, false)) => {
                    tx.execute("DELETE FROM main.runs WHERE id = ?1", [id])
                        .map_err(err("replacing an unfinished run"))?;
                    merged.replaced += 1;
                    true
                }
                None => true,
            };
            if copy {
                copy_run(&tx, s.id, sweep).map_err(err("copying a run"))?;
                merged.runs += 1;
            } else {
                merged.skipped += 1;
            }
        }
        tx.commit().map_err(err("committing the merge"))?;
        Ok(merged)
    }
}

/// Inserts the other store's sweeps that are not here; their ids here by
/// their ids there.
fn map_sweeps(tx: &Transaction<'_>) -> rusqlite::Result<HashMap<i64, i64>> {
    tx.execute(
        "INSERT OR IGNORE INTO main.sweeps (name, hash, spec, created_at) \
         SELECT name, hash, spec, created_at FROM src.sweeps ORDER BY id",
        [],
    )?;
    let mut stmt = tx.prepare(
        "SELECT s.id, m.id FROM src.sweeps s \
         JOIN main.sweeps m ON m.name = s.name AND m.hash = s.hash",
    )?;
    let pairs = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    pairs.collect()
}

/// The other store's runs, oldest first.
fn sources(tx: &Transaction<'_>) -> rusqlite::Result<Vec<Source>> {
    let mut stmt = tx.prepare(
        "SELECT r.id, r.name, r.created_at, r.host, r.pid, r.sweep_id, \
         c.run_id IS NOT NULL AND r.status IN ('finished', 'diverged') \
         FROM src.runs r LEFT JOIN src.classifications c ON c.run_id = r.id ORDER BY r.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Source {
            id: r.get(0)?,
            name: r.get(1)?,
            created_at: r.get(2)?,
            host: r.get(3)?,
            pid: r.get(4)?,
            sweep: r.get(5)?,
            done: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// Copies run `id` of the other store and its rows in every table, under
/// a fresh id here, in sweep `sweep` (its id here).
fn copy_run(tx: &Transaction<'_>, id: i64, sweep: Option<i64>) -> rusqlite::Result<()> {
    let cols = columns(tx, "runs")?;
    let kept: Vec<&String> = cols.iter().filter(|c| *c != "id").collect();
    let select: Vec<String> = kept
        .iter()
        .map(|c| match c.as_str() {
            "sweep_id" => "?2".to_string(),
            c => c.to_string(),
        })
        .collect();
    tx.execute(
        &format!(
            "INSERT INTO main.runs ({}) SELECT {} FROM src.runs WHERE id = ?1",
            join(&kept),
            select.join(", ")
        ),
        params![id, sweep],
    )?;
    let new_id = tx.last_insert_rowid();
    for table in RUN_TABLES {
        let cols = columns(tx, table)?;
        let select: Vec<&str> = cols
            .iter()
            .map(|c| if c == "run_id" { "?1" } else { c.as_str() })
            .collect();
        tx.execute(
            &format!(
                "INSERT INTO main.{table} ({}) SELECT {} FROM src.{table} WHERE run_id = ?2",
                join(&cols.iter().collect::<Vec<_>>()),
                select.join(", ")
            ),
            params![new_id, id],
        )?;
    }
    Ok(())
}

/// The columns of `table` here, in table order.
fn columns(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = tx.prepare(&format!("PRAGMA main.table_info({table})"))?;
    let names = stmt.query_map([], |r| r.get::<_, String>(1))?;
    names.collect()
}

fn join(cols: &[&String]) -> String {
    cols.iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
