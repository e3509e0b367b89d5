//! Sweeps in the store: the `sweeps` table, the sweep and cell each run
//! of a sweep is tagged with when it begins, and each run's
//! classification (schema version 3, docs/STORE.md).

use super::Store;
use crate::error::Result;
use crate::experiment::sweep::{Class, Classification};
use crate::experiment::RunStatus;
use rusqlite::{params, OptionalExtension};
use serde::Serialize;

/// The sweep and cell that the runs a [`Store`] begins belong to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepTag {
    /// The sweep's id.
    pub sweep_id: i64,
    /// The cell: axis values, canonical JSON.
    pub cell: String,
}

/// One sweep in the store.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepRow {
    /// Store id.
    pub id: i64,
    /// The sweep's name.
    pub name: String,
    /// Hash of its spec.
    pub hash: String,
    /// Its spec, as written.
    pub spec: String,
    /// Unix seconds.
    pub created_at: f64,
    /// Runs recorded under it.
    pub runs: usize,
}

/// One run of a sweep, with its cell and (once it ended) its class.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepRunRow {
    /// Run id.
    pub id: i64,
    /// The run's name.
    pub name: String,
    /// Where it stands.
    pub status: RunStatus,
    /// The cell, canonical JSON.
    pub cell: String,
    /// The seed.
    pub seed: u64,
    /// Its classification, when stored.
    pub classification: Option<Classification>,
}

impl Store {
    /// Tags the runs begun from now on ([`Store::begin_run`]) with a sweep
    /// and cell (`None`: no sweep).
    pub fn set_tag(&mut self, tag: Option<SweepTag>) {
        self.tag = tag;
    }

    /// The id of the sweep named `name` with spec hash `hash`, inserted
    /// (with `spec`) if it is not there yet.
    pub fn sweep_id(&self, name: &str, hash: &str, spec: &str) -> Result<i64> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO sweeps (name, hash, spec, created_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![name, hash, spec, super::host::now()],
            )
            .map_err(self.err("inserting a sweep"))?;
        self.conn
            .query_row(
                "SELECT id FROM sweeps WHERE name = ?1 AND hash = ?2",
                params![name, hash],
                |r| r.get(0),
            )
            .map_err(self.err("finding a sweep"))
    }

    /// Every sweep, oldest first.
    pub fn sweeps(&self) -> Result<Vec<SweepRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT s.id, s.name, s.hash, s.created_at, s.spec, \
                 (SELECT count(*) FROM runs r WHERE r.sweep_id = s.id) \
                 FROM sweeps s ORDER BY s.id",
            )
            .map_err(self.err("listing sweeps"))?;
        stmt.query_map([], |r| {
            Ok(SweepRow {
                id: r.get(0)?,
                name: r.get(1)?,
                hash: r.get(2)?,
                created_at: r.get(3)?,
                spec: r.get(4)?,
                runs: r.get::<_, i64>(5)? as usize,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(self.err("listing sweeps"))
    }

    /// The sweep with id `key`, or else the latest sweep named `key`.
    pub fn find_sweep(&self, key: &str) -> Result<Option<SweepRow>> {
        let sweeps = self.sweeps()?;
        let by_id = key
            .parse::<i64>()
            .ok()
            .and_then(|id| sweeps.iter().find(|s| s.id == id));
        Ok(by_id
            .or_else(|| sweeps.iter().rev().find(|s| s.name == key))
            .cloned())
    }

    /// Stores the classification of run `run_id` (replacing any).
    pub fn save_classification(&self, run_id: i64, c: &Classification) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO classifications \
                 (run_id, class, rule, evidence, test_accuracy, test_loss) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    run_id,
                    c.class.name(),
                    c.rule,
                    c.evidence.to_string(),
                    c.test_accuracy.filter(|v| v.is_finite()),
                    c.test_loss.filter(|v| v.is_finite()),
                ],
            )
            .map_err(self.err("saving a classification"))?;
        Ok(())
    }

    /// The runs of sweep `sweep_id`, by id, with cells and classes.
    pub fn sweep_runs(&self, sweep_id: i64) -> Result<Vec<SweepRunRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.id, r.name, r.status, coalesce(r.cell, '{}'), r.seed, \
                 c.class, c.rule, c.evidence, c.test_accuracy, c.test_loss \
                 FROM runs r LEFT JOIN classifications c ON c.run_id = r.id \
                 WHERE r.sweep_id = ?1 ORDER BY r.id",
            )
            .map_err(self.err("listing a sweep's runs"))?;
        let rows = stmt
            .query_map([sweep_id], |r| {
                let class: Option<String> = r.get(5)?;
                let classification = class.map(|class| -> rusqlite::Result<_> {
                    let evidence: String = r.get(7)?;
                    Ok(Classification {
                        class: Class::from_name(&class).unwrap_or(Class::Trains),
                        rule: r.get(6)?,
                        evidence: serde_json::from_str(&evidence)
                            .unwrap_or(serde_json::Value::Null),
                        test_accuracy: r.get(8)?,
                        test_loss: r.get(9)?,
                    })
                });
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    classification.transpose()?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err("listing a sweep's runs"))?;
        rows.into_iter()
            .map(|(id, name, status, cell, seed, classification)| {
                Ok(SweepRunRow {
                    id,
                    name,
                    status: self.status(id, &status)?,
                    cell,
                    seed: seed as u64,
                    classification,
                })
            })
            .collect()
    }

    /// Whether sweep `sweep_id` exists.
    pub fn has_sweep(&self, sweep_id: i64) -> Result<bool> {
        self.conn
            .query_row("SELECT 1 FROM sweeps WHERE id = ?1", [sweep_id], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(self.err("finding a sweep"))
    }
}
