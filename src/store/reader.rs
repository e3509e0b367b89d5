//! Reading runs back: the list of runs, a whole [`RunRecord`], and the
//! findings diagnosis saved for a run.

use super::codec::{
    finding_from_json, finding_to_json, hist_tensor, read_series, series_select_sql, severity_name,
    summary_from_json,
};
use super::Store;
use crate::analysis::diagnose::Finding;
use crate::error::{Error, Result};
use crate::experiment::thinning::Thinning;
use crate::experiment::trainer::{EvalRecord, StepRecord};
use crate::experiment::{RunRecord, RunStatus, Spec};
use crate::probe::{Axis, Histogram, HistogramRecord, Series, StepProbe};
use rusqlite::{params, OptionalExtension};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One line of the list of runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRow {
    /// Store id.
    pub id: i64,
    /// The spec's name.
    pub name: String,
    /// Where it stands.
    pub status: RunStatus,
    /// Unix seconds.
    pub created_at: f64,
    /// Unix seconds, when it ended (finished, diverged or failed).
    pub finished_at: Option<f64>,
    /// Steps planned.
    pub total_steps: usize,
    /// Steps recorded.
    pub steps: usize,
    /// Batch loss at the last recorded step.
    pub last_loss: Option<f64>,
    /// Held-out loss at the last evaluation.
    pub test_loss: Option<f64>,
    /// Held-out accuracy at the last evaluation.
    pub test_accuracy: Option<f64>,
}

impl Store {
    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.id, r.name, r.status, r.created_at, r.finished_at, r.total_steps, \
                 (SELECT count(*) FROM steps s WHERE s.run_id = r.id), \
                 (SELECT loss FROM steps s WHERE s.run_id = r.id ORDER BY step DESC LIMIT 1), \
                 (SELECT test_loss FROM evals e WHERE e.run_id = r.id \
                  ORDER BY e.rowid DESC LIMIT 1), \
                 (SELECT test_accuracy FROM evals e WHERE e.run_id = r.id \
                  ORDER BY e.rowid DESC LIMIT 1) \
                 FROM runs r ORDER BY r.id",
            )
            .map_err(self.err("listing runs"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    RunRow {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        status: RunStatus::Running,
                        created_at: r.get(3)?,
                        finished_at: r.get(4)?,
                        total_steps: r.get::<_, i64>(5)? as usize,
                        steps: r.get::<_, i64>(6)? as usize,
                        last_loss: r.get(7)?,
                        test_loss: r.get(8)?,
                        test_accuracy: r.get(9)?,
                    },
                    r.get::<_, String>(2)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err("listing runs"))?;
        rows.into_iter()
            .map(|(mut row, status)| {
                row.status = self.status(row.id, &status)?;
                Ok(row)
            })
            .collect()
    }

    /// The record of run `run_id`: spec, status, steps, evaluations,
    /// probes with their histograms, summary and error, each series
    /// thinned as the run's own [`RecordSink`] thinned it
    /// ([`RunRecord::thinned`]: every step of a run of up to 16,384 steps),
    /// so diagnosis finds what it found when the run ended. Rows are
    /// thinned as they are read: a run of any length loads in bounded
    /// memory.
    ///
    /// [`RecordSink`]: crate::experiment::RecordSink
    pub fn load(&self, run_id: i64) -> Result<RunRecord> {
        let head = self
            .conn
            .query_row(
                "SELECT spec, status, total_steps, error, summary FROM runs WHERE id = ?1",
                [run_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(self.err("reading a run"))?;
        let Some((spec, status, total_steps, error, summary)) = head else {
            return Err(self.no_run(run_id));
        };
        let origin = format!("{} (run {run_id})", self.path.display());
        let summary = summary
            .map(|s| summary_from_json(&s))
            .transpose()
            .map_err(|e| self.corrupt(run_id, "summary", e))?;
        Ok(RunRecord {
            id: Some(run_id),
            spec: Spec::from_stored_toml(&spec, &origin)?,
            status: self.status(run_id, &status)?,
            total_steps: total_steps as usize,
            steps: self.steps(run_id)?,
            evals: self.evals(run_id)?,
            probes: self.probes(run_id)?,
            summary,
            error,
        })
    }

    /// Rows of `table` for run `run_id`.
    fn count(&self, table: &str, run_id: i64) -> Result<usize> {
        self.conn
            .query_row(
                &format!("SELECT count(*) FROM {table} WHERE run_id = ?1"),
                [run_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(self.err("counting rows"))
    }

    /// The steps, thinned as they are read ([`RunRecord::STEPS`]): the
    /// rows left out are never held.
    fn steps(&self, run_id: i64) -> Result<Vec<StepRecord>> {
        let keep = kept(RunRecord::STEPS, self.count("steps", run_id)?);
        let (mut steps, mut i) = (Vec::new(), 0);
        self.each_step(run_id, |s| {
            if keep(i) {
                steps.push(s.clone());
            }
            i += 1;
            Ok(())
        })?;
        Ok(steps)
    }

    /// The evaluations, thinned as they are read ([`RunRecord::EVALS`]).
    fn evals(&self, run_id: i64) -> Result<Vec<EvalRecord>> {
        let keep = kept(RunRecord::EVALS, self.count("evals", run_id)?);
        let (mut evals, mut i) = (Vec::new(), 0);
        self.each_eval(run_id, |e| {
            if keep(i) {
                evals.push(e.clone());
            }
            i += 1;
            Ok(())
        })?;
        Ok(evals)
    }

    /// The probed steps kept ([`RunRecord::PROBES`]): every step with a
    /// layer row or a histogram, thinned.
    fn probe_steps(&self, run_id: i64) -> Result<BTreeSet<usize>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT step FROM layer_steps WHERE run_id = ?1 \
                 UNION SELECT step FROM histograms WHERE run_id = ?1 ORDER BY step",
            )
            .map_err(self.err("reading probed steps"))?;
        let steps: Vec<usize> = stmt
            .query_map([run_id], |r| r.get::<_, i64>(0).map(|s| s as usize))
            .and_then(|rows| rows.collect())
            .map_err(self.err("reading probed steps"))?;
        Ok(RunRecord::PROBES.thin(steps).into_iter().collect())
    }

    /// The probes at the kept probed steps ([`Store::probe_steps`]); rows
    /// of other steps are skipped as they are read.
    fn probes(&self, run_id: i64) -> Result<Vec<StepProbe>> {
        let kept = self.probe_steps(run_id)?;
        let mut by_step: BTreeMap<usize, StepProbe> = BTreeMap::new();
        let probe = |step| StepProbe {
            step,
            layers: Vec::new(),
            histograms: Vec::new(),
        };
        self.each_layer_row(run_id, |step, layer| {
            if kept.contains(&step) {
                by_step
                    .entry(step)
                    .or_insert_with(|| probe(step))
                    .layers
                    .push(layer.clone());
            }
            Ok(())
        })?;
        self.read_series(run_id, &kept, &mut by_step)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT step, layer, tensor, zero, non_finite, neg, pos FROM histograms \
                 WHERE run_id = ?1 ORDER BY step, idx",
            )
            .map_err(self.err("reading histograms"))?;
        let mut rows = stmt
            .query([run_id])
            .map_err(self.err("reading histograms"))?;
        while let Some(r) = rows.next().map_err(self.err("reading histograms"))? {
            let get = || -> rusqlite::Result<_> {
                Ok((
                    r.get::<_, i64>(0)? as usize,
                    r.get::<_, i64>(1)? as usize,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)? as u64,
                    r.get::<_, i64>(4)? as u64,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            };
            let (step, layer, tensor, zero, non_finite, neg, pos) =
                get().map_err(self.err("reading histograms"))?;
            if !kept.contains(&step) {
                continue;
            }
            let counts = |text: &str| {
                serde_json::from_str::<Vec<u64>>(text)
                    .map_err(|e| self.corrupt(run_id, "histogram counts", e))
            };
            let hist = HistogramRecord {
                layer,
                tensor: hist_tensor(&tensor).ok_or_else(|| {
                    self.corrupt(run_id, "histogram tensor", format!("unknown `{tensor}`"))
                })?,
                hist: Histogram {
                    neg: counts(&neg)?,
                    pos: counts(&pos)?,
                    zero,
                    non_finite,
                },
            };
            by_step
                .entry(step)
                .or_insert_with(|| probe(step))
                .histograms
                .push(hist);
        }
        Ok(by_step.into_values().collect())
    }

    /// Puts run `run_id`'s `layer_series` rows into the layers of
    /// `by_step`, each series in its position, each index in order.
    fn read_series(
        &self,
        run_id: i64,
        kept: &BTreeSet<usize>,
        by_step: &mut BTreeMap<usize, StepProbe>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(series_select_sql())
            .map_err(self.err("reading series"))?;
        let mut rows = stmt.query([run_id]).map_err(self.err("reading series"))?;
        while let Some(row) = rows.next().map_err(self.err("reading series"))? {
            let r = read_series(row).map_err(self.err("reading series"))?;
            if !kept.contains(&r.step) {
                continue;
            }
            let corrupt = |what: String| self.corrupt(run_id, "series", what);
            let layer = by_step
                .get_mut(&r.step)
                .and_then(|p| p.layers.iter_mut().find(|l| l.layer == r.layer))
                .ok_or_else(|| {
                    corrupt(format!(
                        "step {} layer {} has no layer row",
                        r.step, r.layer
                    ))
                })?;
            let axis = Axis::from_name(&r.axis)
                .ok_or_else(|| corrupt(format!("unknown axis `{}`", r.axis)))?;
            if r.series == layer.series.len() {
                layer.series.push(Series {
                    tensor: r.tensor.clone(),
                    axis,
                    stats: Vec::new(),
                });
            }
            let series = layer
                .series
                .get_mut(r.series)
                .filter(|s| s.tensor == r.tensor && s.axis == axis && s.stats.len() == r.idx)
                .ok_or_else(|| {
                    corrupt(format!(
                        "step {} layer {}: `{}` index {} out of order",
                        r.step, r.layer, r.tensor, r.idx
                    ))
                })?;
            series.stats.push(r.stats);
        }
        Ok(())
    }

    /// Replaces the findings saved for run `run_id`.
    pub fn save_findings(&self, run_id: i64, findings: &[Finding]) -> Result<()> {
        self.check_run(run_id)?;
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.err("saving findings"))?;
        let write = || -> rusqlite::Result<()> {
            tx.execute("DELETE FROM findings WHERE run_id = ?1", [run_id])?;
            let mut stmt = tx.prepare(
                "INSERT INTO findings (run_id, idx, kind, severity, summary, finding) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (idx, f) in findings.iter().enumerate() {
                stmt.execute(params![
                    run_id,
                    idx as i64,
                    f.kind.name(),
                    severity_name(f.severity),
                    f.summary,
                    finding_to_json(f),
                ])?;
            }
            Ok(())
        };
        write().map_err(self.err("saving findings"))?;
        tx.commit().map_err(self.err("saving findings"))
    }

    /// The findings saved for run `run_id`, in their order.
    pub fn findings(&self, run_id: i64) -> Result<Vec<Finding>> {
        self.check_run(run_id)?;
        let mut stmt = self
            .conn
            .prepare("SELECT finding FROM findings WHERE run_id = ?1 ORDER BY idx")
            .map_err(self.err("reading findings"))?;
        let texts: Vec<String> = stmt
            .query_map([run_id], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(self.err("reading findings"))?;
        texts
            .iter()
            .map(|t| finding_from_json(t).map_err(|e| self.corrupt(run_id, "finding", e)))
            .collect()
    }

    fn check_run(&self, run_id: i64) -> Result<()> {
        let found = self
            .conn
            .query_row("SELECT 1 FROM runs WHERE id = ?1", [run_id], |_| Ok(()))
            .optional()
            .map_err(self.err("looking up a run"))?;
        found.ok_or_else(|| self.no_run(run_id))
    }

    pub(super) fn status(&self, run_id: i64, name: &str) -> Result<RunStatus> {
        RunStatus::from_name(name)
            .ok_or_else(|| self.corrupt(run_id, "status", format!("unknown `{name}`")))
    }

    fn no_run(&self, id: i64) -> Error {
        Error::NoSuchRun {
            id,
            path: self.path.clone(),
        }
    }

    pub(super) fn corrupt(&self, run_id: i64, what: &str, e: impl std::fmt::Display) -> Error {
        Error::Store {
            path: self.path.clone(),
            reason: format!("run {run_id}: unreadable {what}: {e}"),
        }
    }
}

/// Whether the row at each position of a series of `n` rows is kept by
/// `rule` ([`Thinning::thin`]'s rule, applied as rows are read).
fn kept(rule: Thinning, n: usize) -> impl Fn(usize) -> bool {
    let stride = rule.stride(n);
    move |i| i % stride == 0 || i + 1 == n
}
