//! What the dashboard (`gradscope serve`, docs/API.md) reads: runs with
//! their sweep, class and findings in one row; every run's progress in one
//! cheap query; the steps a run has rows at; and the rows at a chosen set
//! of steps, one column per figure asked for. Reads only: the dashboard
//! opens the store read-only, so a run still `running` whose process is
//! gone reads `interrupted` here without being marked so.

use super::host::{hostname, pid_alive};
use super::schema::{layer_columns, DERIVED, RAW};
use super::Store;
use crate::error::{Error, Result};
use crate::experiment::RunStatus;
use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;
use std::collections::BTreeMap;

/// One run as the dashboard lists it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunItem {
    /// Store id.
    pub id: i64,
    /// The spec's name.
    pub name: String,
    /// Where it stands.
    pub status: RunStatus,
    /// Unix seconds.
    pub created_at: f64,
    /// Unix seconds, when it ended.
    pub finished_at: Option<f64>,
    /// Steps planned.
    pub total_steps: usize,
    /// Steps recorded: the last recorded step plus one.
    pub steps: usize,
    /// Batch loss at the last recorded step.
    pub last_loss: Option<f64>,
    /// Held-out loss at the last evaluation.
    pub test_loss: Option<f64>,
    /// Held-out accuracy at the last evaluation.
    pub test_accuracy: Option<f64>,
    /// Its sweep, if any.
    pub sweep_id: Option<i64>,
    /// Its sweep cell's axis values.
    pub cell: Option<serde_json::Value>,
    /// Its sweep classification, once it has one.
    pub class: Option<String>,
    /// Findings saved for it.
    pub findings: usize,
    /// The most severe saved finding's severity (`info`, `warning`,
    /// `critical`).
    pub worst: Option<String>,
}

/// Which runs to list; `None` fields do not filter.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunFilter {
    /// Only runs in this state.
    pub status: Option<RunStatus>,
    /// Only runs of this sweep.
    pub sweep: Option<i64>,
    /// Only runs whose name holds this, case-insensitively.
    pub name: Option<String>,
}

/// A run's progress, for the event stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    /// Store id.
    pub id: i64,
    /// Where it stands.
    pub status: RunStatus,
    /// Steps recorded.
    pub steps: usize,
    /// Steps planned.
    pub total_steps: usize,
    /// Findings saved (diagnosis saves them just after a run ends).
    pub findings: usize,
    /// Its sweep classification, once it has one (saved after the
    /// findings).
    pub class: Option<String>,
}

/// The tables whose rows are keyed by step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepTable {
    /// `steps`: one row per training step.
    Steps,
    /// `layer_steps`: one row per layer per probed step.
    Layers,
}

impl StepTable {
    fn name(self) -> &'static str {
        match self {
            StepTable::Steps => "steps",
            StepTable::Layers => "layer_steps",
        }
    }
}

/// One layer's columns at a set of steps.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerColumns {
    /// Depth index.
    pub layer: usize,
    /// Its path (`layers.3`).
    pub path: String,
    /// One column per field asked for, one value per step asked for
    /// (NaN where the layer has no row or the value is missing).
    pub columns: Vec<Vec<f64>>,
}

/// One histogram at a step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistogramAt {
    /// Depth index.
    pub layer: usize,
    /// The layer's path; empty if the step has no layer row.
    pub path: String,
    /// `weight_grad`, `pre_grad` or `output`.
    pub tensor: String,
    /// Entries exactly zero.
    pub zero: u64,
    /// NaN and infinite entries.
    pub non_finite: u64,
    /// Negative values per bin ([`Histogram::edge`](crate::probe::Histogram::edge)).
    pub neg: Vec<u64>,
    /// Positive values per bin.
    pub pos: Vec<u64>,
}

/// One per-axis series of a layer (`layer_series`) at a step.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesAt {
    /// Depth index.
    pub layer: usize,
    /// What was measured (`hidden_grad`).
    pub tensor: String,
    /// The axis (`time_step`, `channel`, `head`).
    pub axis: String,
    /// The figure at each index along the axis.
    pub values: Vec<f64>,
}

/// What a run's answers depend on ([`Store::run_version`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunVersion {
    /// Which run the id names: when it was made, where, by which process.
    pub born: String,
    /// What its writes change: status (as read live), planned steps, end,
    /// error and summary, last step, last probed step, findings (count
    /// and last row: diagnosing again replaces them) and classification.
    pub state: String,
}

impl RunVersion {
    /// Both parts, as one key.
    pub fn key(&self) -> String {
        format!("{}|{}", self.born, self.state)
    }
}

/// A run's texts: its resolved spec (TOML), its summary (JSON, once
/// finished) and its error.
#[derive(Clone, Debug, PartialEq)]
pub struct RunTexts {
    /// The resolved spec, TOML.
    pub spec: String,
    /// The summary, JSON.
    pub summary: Option<String>,
    /// Why it failed or diverged.
    pub error: Option<String>,
}

/// One per-axis series a run records, as found at its first step.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeriesKind {
    /// Depth index.
    pub layer: usize,
    /// What is measured (`hidden_grad`).
    pub tensor: String,
    /// Along which axis (`time_step`).
    pub axis: String,
    /// Its length.
    pub len: usize,
}

/// Whether `field` names a `layer_steps` figure (`pre_grad_rms`,
/// `saturated`): one of its columns other than the keys.
pub fn is_layer_field(field: &str) -> bool {
    layer_columns()[4..].iter().any(|c| c == field)
}

/// Whether `figure` names a per-tensor figure (`rms`, `max_abs`).
pub fn is_figure(figure: &str) -> bool {
    RAW.iter().chain(DERIVED.iter()).any(|f| *f == figure)
}

impl Store {
    /// The runs `filter` keeps, oldest first.
    pub fn run_items(&self, filter: &RunFilter) -> Result<Vec<RunItem>> {
        // A `running` run whose process is gone lists as `interrupted`:
        // asked for those, take the stored `running` ones too and keep
        // what their live status says (below).
        self.items(
            "WHERE (?1 IS NULL OR r.status = ?1 \
             OR (?1 = 'interrupted' AND r.status = 'running')) \
             AND (?2 IS NULL OR r.sweep_id = ?2) \
             AND (?3 IS NULL OR instr(lower(r.name), lower(?3)) > 0)",
            params![
                filter.status.map(|s| s.name()),
                filter.sweep,
                filter.name.as_deref()
            ],
        )
        .map(|items| {
            items
                .into_iter()
                .filter(|i| filter.status.is_none_or(|s| s == i.status))
                .collect()
        })
    }

    /// Run `run_id` as listed; [`Error::NoSuchRun`] if it is not here.
    pub fn run_item(&self, run_id: i64) -> Result<RunItem> {
        self.items("WHERE r.id = ?1", params![run_id])?
            .pop()
            .ok_or_else(|| Error::NoSuchRun {
                id: run_id,
                path: self.path.clone(),
            })
    }

    fn items(&self, filter: &str, params: impl rusqlite::Params) -> Result<Vec<RunItem>> {
        let sql = format!(
            "SELECT r.id, r.name, r.status, r.created_at, r.finished_at, r.total_steps, \
             (SELECT max(step) FROM steps s WHERE s.run_id = r.id), \
             (SELECT loss FROM steps s WHERE s.run_id = r.id ORDER BY step DESC LIMIT 1), \
             (SELECT test_loss FROM evals e WHERE e.run_id = r.id ORDER BY e.rowid DESC LIMIT 1), \
             (SELECT test_accuracy FROM evals e WHERE e.run_id = r.id ORDER BY e.rowid DESC LIMIT 1), \
             r.sweep_id, r.cell, c.class, \
             (SELECT count(*) FROM findings f WHERE f.run_id = r.id), \
             (SELECT f.severity FROM findings f WHERE f.run_id = r.id ORDER BY \
              CASE f.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END LIMIT 1), \
             r.host, r.pid \
             FROM runs r LEFT JOIN classifications c ON c.run_id = r.id {filter} ORDER BY r.id"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err("listing runs"))?;
        let rows = stmt
            .query_map(params, |r| {
                let cell: Option<String> = r.get(11)?;
                Ok((
                    RunItem {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        status: RunStatus::Running,
                        created_at: r.get(3)?,
                        finished_at: r.get(4)?,
                        total_steps: r.get::<_, i64>(5)? as usize,
                        steps: r.get::<_, Option<i64>>(6)?.map_or(0, |s| s as usize + 1),
                        last_loss: r.get(7)?,
                        test_loss: r.get(8)?,
                        test_accuracy: r.get(9)?,
                        sweep_id: r.get(10)?,
                        cell: cell.and_then(|c| serde_json::from_str(&c).ok()),
                        class: r.get(12)?,
                        findings: r.get::<_, i64>(13)? as usize,
                        worst: r.get(14)?,
                    },
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(15)?,
                    r.get::<_, i64>(16)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err("listing runs"))?;
        let here = hostname();
        rows.into_iter()
            .map(|(mut item, status, host, pid)| {
                item.status = self.live_status(item.id, &status, &host, pid, &here)?;
                Ok(item)
            })
            .collect()
    }

    /// Every run's progress, by id: one index lookup per run.
    pub fn progress(&self) -> Result<Vec<Progress>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.id, r.status, r.total_steps, \
                 (SELECT max(step) FROM steps s WHERE s.run_id = r.id), r.host, r.pid, \
                 (SELECT count(*) FROM findings f WHERE f.run_id = r.id), \
                 (SELECT class FROM classifications c WHERE c.run_id = r.id) \
                 FROM runs r ORDER BY r.id",
            )
            .map_err(self.err("reading progress"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)? as usize,
                    r.get::<_, Option<i64>>(3)?.map_or(0, |s| s as usize + 1),
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)? as usize,
                    r.get::<_, Option<String>>(7)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err("reading progress"))?;
        let here = hostname();
        rows.into_iter()
            .map(
                |(id, status, total_steps, steps, host, pid, findings, class)| {
                    Ok(Progress {
                        id,
                        status: self.live_status(id, &status, &host, pid, &here)?,
                        steps,
                        total_steps,
                        findings,
                        class,
                    })
                },
            )
            .collect()
    }

    /// The stored status, except that a `running` run of this host whose
    /// process is gone is `interrupted` (what [`Store::open`] would mark).
    fn live_status(
        &self,
        id: i64,
        status: &str,
        host: &str,
        pid: i64,
        here: &str,
    ) -> Result<RunStatus> {
        let status = self.status(id, status)?;
        Ok(
            if status == RunStatus::Running && host == here && !pid_alive(pid) {
                RunStatus::Interrupted
            } else {
                status
            },
        )
    }

    /// What run `run_id`'s answers depend on, for reuse: which run this
    /// id names (an id freed by `gradscope rm` is given to the next run),
    /// and what a write to it changes. [`Error::NoSuchRun`] if it is not
    /// here.
    pub fn run_version(&self, run_id: i64) -> Result<RunVersion> {
        let row = self
            .conn
            .query_row(
                "SELECT r.status, r.host, r.pid, r.created_at, r.total_steps, r.finished_at, \
                 r.error IS NOT NULL, r.summary IS NOT NULL, \
                 (SELECT max(step) FROM steps WHERE run_id = ?1), \
                 (SELECT max(step) FROM layer_steps WHERE run_id = ?1), \
                 (SELECT count(*) FROM findings WHERE run_id = ?1), \
                 (SELECT max(rowid) FROM findings WHERE run_id = ?1), \
                 c.class, c.rule \
                 FROM runs r LEFT JOIN classifications c ON c.run_id = r.id WHERE r.id = ?1",
                [run_id],
                |r| {
                    let born = format!(
                        "{}/{}/{}",
                        r.get::<_, f64>(3)?.to_bits(),
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?
                    );
                    let state = format!(
                        "{}/{:?}/{}/{}/{:?}/{:?}/{}/{:?}/{:?}/{:?}",
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<f64>>(5)?.map(f64::to_bits),
                        r.get::<_, bool>(6)?,
                        r.get::<_, bool>(7)?,
                        r.get::<_, Option<i64>>(8)?,
                        r.get::<_, Option<i64>>(9)?,
                        r.get::<_, i64>(10)?,
                        r.get::<_, Option<i64>>(11)?,
                        r.get::<_, Option<String>>(12)?,
                        r.get::<_, Option<String>>(13)?,
                    );
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        born,
                        state,
                    ))
                },
            )
            .optional()
            .map_err(self.err("reading a run"))?;
        let Some((status, host, pid, born, state)) = row else {
            return Err(Error::NoSuchRun {
                id: run_id,
                path: self.path.clone(),
            });
        };
        let status = self.live_status(run_id, &status, &host, pid, &hostname())?;
        Ok(RunVersion {
            born,
            state: format!("{}/{state}", status.name()),
        })
    }

    /// Calls `f` inside one read transaction, so that every query it
    /// makes sees the same commit (a run's version and its rows agree).
    pub fn in_snapshot<T>(&self, f: impl FnOnce(&Store) -> T) -> Result<T> {
        self.conn
            .execute_batch("BEGIN")
            .map_err(self.err("starting a read"))?;
        let out = f(self);
        // Ending a read loses nothing: where COMMIT fails, roll back, so
        // the connection is left outside any transaction.
        if self.conn.execute_batch("COMMIT").is_err() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        Ok(out)
    }

    /// SQLite's `data_version`: it changes when another connection commits
    /// to the database, so a poller reads again only after a change.
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(self.err("reading the data version"))
    }

    /// The steps run `run_id` has rows at in `table` after step `after`
    /// (all of them for `None`), in order.
    pub fn row_steps(
        &self,
        run_id: i64,
        table: StepTable,
        after: Option<usize>,
    ) -> Result<Vec<usize>> {
        let sql = format!(
            "SELECT DISTINCT step FROM {} WHERE run_id = ?1 AND step > ?2 ORDER BY step",
            table.name()
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err("reading steps"))?;
        let after = after.map_or(-1, |a| a as i64);
        stmt.query_map(params![run_id, after], |r| Ok(r.get::<_, i64>(0)? as usize))
            .and_then(|rows| rows.collect())
            .map_err(self.err("reading steps"))
    }

    /// The training steps' `columns` (of `steps`: `loss`, `accuracy`,
    /// `lr`, `grad_norm`) at `steps`, one column each; NaN where missing.
    pub fn step_columns(
        &self,
        run_id: i64,
        steps: &[usize],
        columns: &[&str],
    ) -> Result<Vec<Vec<f64>>> {
        let mut out = vec![vec![f64::NAN; steps.len()]; columns.len()];
        let at = position_of(steps);
        self.each_at(run_id, "steps", steps, columns, |step, row| {
            if let Some(&i) = at.get(&step) {
                for (c, col) in out.iter_mut().enumerate() {
                    col[i] = real(row, c + 1)?;
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// The layers' `fields` (columns of `layer_steps`, checked with
    /// [`is_layer_field`] by the caller) at `steps`, one entry per layer
    /// in depth order.
    pub fn layer_columns_at(
        &self,
        run_id: i64,
        steps: &[usize],
        fields: &[&str],
    ) -> Result<Vec<LayerColumns>> {
        assert!(fields.iter().all(|f| is_layer_field(f)), "unchecked field");
        let at = position_of(steps);
        let mut layers: BTreeMap<usize, LayerColumns> = BTreeMap::new();
        let mut columns = vec!["layer", "path"];
        columns.extend_from_slice(fields);
        self.each_at(run_id, "layer_steps", steps, &columns, |step, row| {
            let layer = row.get::<_, i64>(1)? as usize;
            let entry = match layers.entry(layer) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => e.insert(LayerColumns {
                    layer,
                    path: row.get(2)?,
                    columns: vec![vec![f64::NAN; steps.len()]; fields.len()],
                }),
            };
            if let Some(&i) = at.get(&step) {
                for (c, col) in entry.columns.iter_mut().enumerate() {
                    col[i] = real(row, c + 3)?;
                }
            }
            Ok(())
        })?;
        Ok(layers.into_values().collect())
    }

    /// Calls `f` with each row of `table` for run `run_id` at one of
    /// `steps`, selecting `step` then `columns`.
    fn each_at(
        &self,
        run_id: i64,
        table: &str,
        steps: &[usize],
        columns: &[&str],
        mut f: impl FnMut(usize, &Row) -> rusqlite::Result<()>,
    ) -> Result<()> {
        if steps.is_empty() {
            return Ok(());
        }
        // The steps are numbers this program chose, so they are written
        // into the statement; SQLite seeks the primary key once for each.
        let list = steps
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT step, {} FROM {table} WHERE run_id = ?1 AND step IN ({list}) ORDER BY step",
            columns.join(", ")
        );
        let mut stmt = self.conn.prepare(&sql).map_err(self.err("reading rows"))?;
        let mut rows = stmt.query([run_id]).map_err(self.err("reading rows"))?;
        while let Some(row) = rows.next().map_err(self.err("reading rows"))? {
            let step = row.get::<_, i64>(0).map_err(self.err("reading rows"))? as usize;
            f(step, row).map_err(self.err("reading rows"))?;
        }
        Ok(())
    }

    /// Run `run_id`'s evaluations with steps in `from..=to`, in the order
    /// they were reported: steps, then train loss, train accuracy, test
    /// loss and test accuracy.
    pub fn evals_between(
        &self,
        run_id: i64,
        from: usize,
        to: usize,
    ) -> Result<(Vec<usize>, [Vec<f64>; 4])> {
        let mut steps = Vec::new();
        let mut cols: [Vec<f64>; 4] = Default::default();
        self.each_eval(run_id, |e| {
            if (from..=to).contains(&e.step) {
                steps.push(e.step);
                let values = [e.train_loss, e.train_accuracy, e.test_loss, e.test_accuracy];
                for (col, v) in cols.iter_mut().zip(values) {
                    col.push(v);
                }
            }
            Ok(())
        })?;
        Ok((steps, cols))
    }

    /// The layers of run `run_id` (depth index and path), from its first
    /// probed step.
    pub fn run_layers(&self, run_id: i64) -> Result<Vec<(usize, String)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT layer, path FROM layer_steps WHERE run_id = ?1 AND step = \
                 (SELECT min(step) FROM layer_steps WHERE run_id = ?1) ORDER BY layer",
            )
            .map_err(self.err("reading layers"))?;
        stmt.query_map([run_id], |r| Ok((r.get::<_, i64>(0)? as usize, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(self.err("reading layers"))
    }

    /// Run `run_id`'s spec, summary and error.
    pub fn run_texts(&self, run_id: i64) -> Result<RunTexts> {
        self.conn
            .query_row(
                "SELECT spec, summary, error FROM runs WHERE id = ?1",
                [run_id],
                |r| {
                    Ok(RunTexts {
                        spec: r.get(0)?,
                        summary: r.get(1)?,
                        error: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(self.err("reading a run"))?
            .ok_or_else(|| Error::NoSuchRun {
                id: run_id,
                path: self.path.clone(),
            })
    }

    /// The per-axis series run `run_id` records (`layer_series` at its
    /// first step that has any).
    pub fn series_kinds(&self, run_id: i64) -> Result<Vec<SeriesKind>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT layer, tensor, axis, count(*) FROM layer_series WHERE run_id = ?1 \
                 AND step = (SELECT min(step) FROM layer_series WHERE run_id = ?1) \
                 GROUP BY layer, series ORDER BY layer, series",
            )
            .map_err(self.err("reading series"))?;
        stmt.query_map([run_id], |r| {
            Ok(SeriesKind {
                layer: r.get::<_, i64>(0)? as usize,
                tensor: r.get(1)?,
                axis: r.get(2)?,
                len: r.get::<_, i64>(3)? as usize,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(self.err("reading series"))
    }

    /// The steps run `run_id` has histograms at.
    pub fn histogram_steps(&self, run_id: i64) -> Result<Vec<usize>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT step FROM histograms WHERE run_id = ?1 ORDER BY step")
            .map_err(self.err("reading histograms"))?;
        stmt.query_map([run_id], |r| Ok(r.get::<_, i64>(0)? as usize))
            .and_then(|rows| rows.collect())
            .map_err(self.err("reading histograms"))
    }

    /// The step of `table` (`histograms` or `layer_series`) nearest
    /// `step` at which run `run_id` has rows (the earlier on a tie).
    fn nearest_step(&self, run_id: i64, table: &str, step: usize) -> Result<Option<usize>> {
        let one = |sql: String| -> Result<Option<usize>> {
            self.conn
                .query_row(&sql, params![run_id, step as i64], |r| r.get::<_, i64>(0))
                .optional()
                .map(|s| s.map(|s| s as usize))
                .map_err(self.err("finding a step"))
        };
        let below = one(format!(
            "SELECT step FROM {table} WHERE run_id = ?1 AND step <= ?2 ORDER BY step DESC LIMIT 1"
        ))?;
        let above = one(format!(
            "SELECT step FROM {table} WHERE run_id = ?1 AND step >= ?2 ORDER BY step LIMIT 1"
        ))?;
        Ok(match (below, above) {
            (Some(b), Some(a)) => Some(if a - step < step - b { a } else { b }),
            (b, a) => b.or(a),
        })
    }

    /// The histograms of run `run_id` at the histogram step nearest
    /// `step` (that step with them), or `None` if it has none.
    pub fn histograms_near(
        &self,
        run_id: i64,
        step: usize,
    ) -> Result<Option<(usize, Vec<HistogramAt>)>> {
        let Some(step) = self.nearest_step(run_id, "histograms", step)? else {
            return Ok(None);
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT h.layer, coalesce(l.path, ''), h.tensor, h.zero, h.non_finite, h.neg, h.pos \
                 FROM histograms h LEFT JOIN layer_steps l \
                 ON l.run_id = h.run_id AND l.step = h.step AND l.layer = h.layer \
                 WHERE h.run_id = ?1 AND h.step = ?2 ORDER BY h.idx",
            )
            .map_err(self.err("reading histograms"))?;
        let rows = stmt
            .query_map(params![run_id, step as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)? as usize,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)? as u64,
                    r.get::<_, i64>(4)? as u64,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err("reading histograms"))?;
        let counts = |text: &str| {
            serde_json::from_str::<Vec<u64>>(text)
                .map_err(|e| self.corrupt(run_id, "histogram counts", e))
        };
        let hists = rows
            .into_iter()
            .map(|(layer, path, tensor, zero, non_finite, neg, pos)| {
                Ok(HistogramAt {
                    layer,
                    path,
                    tensor,
                    zero,
                    non_finite,
                    neg: counts(&neg)?,
                    pos: counts(&pos)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some((step, hists)))
    }

    /// Run `run_id`'s per-axis series (`layer_series`) at the step
    /// nearest `step` that has them, each as `figure` (checked with
    /// [`is_figure`] by the caller) along its axis; `None` if it has none.
    pub fn series_near(
        &self,
        run_id: i64,
        step: usize,
        figure: &str,
    ) -> Result<Option<(usize, Vec<SeriesAt>)>> {
        assert!(is_figure(figure), "unchecked figure");
        let Some(step) = self.nearest_step(run_id, "layer_series", step)? else {
            return Ok(None);
        };
        let sql = format!(
            "SELECT layer, series, tensor, axis, {figure} FROM layer_series \
             WHERE run_id = ?1 AND step = ?2 ORDER BY layer, series, idx"
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(self.err("reading series"))?;
        let mut rows = stmt
            .query(params![run_id, step as i64])
            .map_err(self.err("reading series"))?;
        let mut out: Vec<(usize, SeriesAt)> = Vec::new();
        while let Some(r) = rows.next().map_err(self.err("reading series"))? {
            let get = || -> rusqlite::Result<_> {
                Ok((
                    r.get::<_, i64>(0)? as usize,
                    r.get::<_, i64>(1)? as usize,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    real(r, 4)?,
                ))
            };
            let (layer, series, tensor, axis, value) = get().map_err(self.err("reading series"))?;
            match out.last_mut() {
                Some((s, at)) if *s == series && at.layer == layer => at.values.push(value),
                _ => out.push((
                    series,
                    SeriesAt {
                        layer,
                        tensor,
                        axis,
                        values: vec![value],
                    },
                )),
            }
        }
        Ok(Some((step, out.into_iter().map(|(_, s)| s).collect())))
    }
}

/// Where each of `steps` sits in it.
fn position_of(steps: &[usize]) -> std::collections::HashMap<usize, usize> {
    steps.iter().enumerate().map(|(i, &s)| (s, i)).collect()
}

/// Column `i` of `row` as a real; NULL and integers too.
fn real(row: &Row, i: usize) -> rusqlite::Result<f64> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(i)? {
        ValueRef::Real(v) => v,
        ValueRef::Integer(v) => v as f64,
        _ => f64::NAN,
    })
}
