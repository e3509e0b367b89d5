//! Streaming a run's rows out of the store, one at a time, for exports:
//! its head (name, times, host), its steps, evaluations, per-layer probe
//! rows and histograms. Unlike [`Store::load`], nothing is collected: a
//! run of a million steps is read with the memory of one row, and every
//! stored row is seen, whatever the in-memory record keeps.

use super::codec::{hist_tensor, layer_select_sql, read_layer, unreal};
use super::Store;
use crate::error::Result;
use crate::experiment::trainer::{EvalRecord, StepRecord};
use crate::probe::{HistTensor, Histogram, LayerProbe, TensorStats};
use rusqlite::OptionalExtension;

/// What an export says about a run besides its rows.
#[derive(Clone, Debug, PartialEq)]
pub struct RunHead {
    /// Store id.
    pub id: i64,
    /// The spec's name.
    pub name: String,
    /// The host it ran on.
    pub host: String,
    /// Unix seconds, when it was inserted.
    pub created_at: f64,
    /// Unix seconds, when it ended; `None` while running or when its
    /// process died.
    pub finished_at: Option<f64>,
    /// Steps planned.
    pub total_steps: usize,
}

/// One stored histogram with what its layer row says about the same
/// tensor at the same step (for the figures a histogram lacks: sum, sum
/// of squares, largest magnitude).
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramRow {
    /// The step.
    pub step: usize,
    /// Depth index.
    pub layer: usize,
    /// The layer's path (`layers.3`); empty if the step has no layer row.
    pub path: String,
    /// Which tensor.
    pub tensor: HistTensor,
    /// The counts.
    pub hist: Histogram,
    /// The same tensor's statistics from the layer row, when there is one.
    pub stats: Option<TensorStats>,
}

impl Store {
    /// Run `run_id`'s head; [`Error::NoSuchRun`](crate::Error::NoSuchRun)
    /// if it is not in the store.
    pub fn run_head(&self, run_id: i64) -> Result<RunHead> {
        let head = self
            .conn
            .query_row(
                "SELECT name, host, created_at, finished_at, total_steps FROM runs WHERE id = ?1",
                [run_id],
                |r| {
                    Ok(RunHead {
                        id: run_id,
                        name: r.get(0)?,
                        host: r.get(1)?,
                        created_at: r.get(2)?,
                        finished_at: r.get(3)?,
                        total_steps: r.get::<_, i64>(4)? as usize,
                    })
                },
            )
            .optional()
            .map_err(self.err("reading a run"))?;
        head.ok_or_else(|| crate::Error::NoSuchRun {
            id: run_id,
            path: self.path.clone(),
        })
    }

    /// Calls `f` with each step of run `run_id`, in step order.
    pub fn each_step(
        &self,
        run_id: i64,
        mut f: impl FnMut(&StepRecord) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT step, loss, accuracy, lr, grad_norm FROM steps \
                 WHERE run_id = ?1 ORDER BY step",
            )
            .map_err(self.err("reading steps"))?;
        let mut rows = stmt.query([run_id]).map_err(self.err("reading steps"))?;
        while let Some(r) = rows.next().map_err(self.err("reading steps"))? {
            let get = || -> rusqlite::Result<StepRecord> {
                Ok(StepRecord {
                    step: r.get::<_, i64>(0)? as usize,
                    loss: unreal(r.get(1)?),
                    accuracy: unreal(r.get(2)?),
                    lr: unreal(r.get(3)?),
                    grad_norm: unreal(r.get(4)?),
                })
            };
            f(&get().map_err(self.err("reading steps"))?)?;
        }
        Ok(())
    }

    /// Calls `f` with each evaluation of run `run_id`, in the order they
    /// were reported.
    pub fn each_eval(
        &self,
        run_id: i64,
        mut f: impl FnMut(&EvalRecord) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT step, train_loss, train_accuracy, test_loss, test_accuracy FROM evals \
                 WHERE run_id = ?1 ORDER BY rowid",
            )
            .map_err(self.err("reading evaluations"))?;
        let mut rows = stmt
            .query([run_id])
            .map_err(self.err("reading evaluations"))?;
        while let Some(r) = rows.next().map_err(self.err("reading evaluations"))? {
            let get = || -> rusqlite::Result<EvalRecord> {
                Ok(EvalRecord {
                    step: r.get::<_, i64>(0)? as usize,
                    train_loss: unreal(r.get(1)?),
                    train_accuracy: unreal(r.get(2)?),
                    test_loss: unreal(r.get(3)?),
                    test_accuracy: unreal(r.get(4)?),
                })
            };
            f(&get().map_err(self.err("reading evaluations"))?)?;
        }
        Ok(())
    }

    /// Calls `f` with each `layer_steps` row of run `run_id` (its step and
    /// the layer's probe, without series), ordered by step, then layer.
    pub fn each_layer_row(
        &self,
        run_id: i64,
        mut f: impl FnMut(usize, &LayerProbe) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(layer_select_sql())
            .map_err(self.err("reading probes"))?;
        let mut rows = stmt.query([run_id]).map_err(self.err("reading probes"))?;
        while let Some(row) = rows.next().map_err(self.err("reading probes"))? {
            let (step, layer) = read_layer(row).map_err(self.err("reading probes"))?;
            f(step, &layer)?;
        }
        Ok(())
    }

    /// Calls `f` with each histogram of run `run_id`, ordered by step, then
    /// position in the step's list.
    pub fn each_histogram(
        &self,
        run_id: i64,
        mut f: impl FnMut(&HistogramRow) -> Result<()>,
    ) -> Result<()> {
        // The layer row's figures of the histogram's tensor (`output` is
        // the `out` columns).
        let pick = |field: &str| {
            format!(
                "CASE h.tensor WHEN 'weight_grad' THEN l.weight_grad_{field} \
                 WHEN 'pre_grad' THEN l.pre_grad_{field} ELSE l.out_{field} END"
            )
        };
        let sql = format!(
            "SELECT h.step, h.layer, h.tensor, h.zero, h.non_finite, h.neg, h.pos, l.path, \
             {}, {}, {}, {}, {}, {}, {}, {} \
             FROM histograms h LEFT JOIN layer_steps l \
             ON l.run_id = h.run_id AND l.step = h.step AND l.layer = h.layer \
             WHERE h.run_id = ?1 ORDER BY h.step, h.idx",
            pick("n"),
            pick("sum"),
            pick("sum_sq"),
            pick("max_abs"),
            pick("nan"),
            pick("inf"),
            pick("zeros"),
            pick("subnormal"),
        );
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(self.err("reading histograms"))?;
        let mut rows = stmt
            .query([run_id])
            .map_err(self.err("reading histograms"))?;
        while let Some(r) = rows.next().map_err(self.err("reading histograms"))? {
            let get = || -> rusqlite::Result<_> {
                let count = |i: usize| -> rusqlite::Result<u64> {
                    Ok(r.get::<_, Option<i64>>(i)?.unwrap_or(0) as u64)
                };
                let stats = match r.get::<_, Option<i64>>(8)? {
                    None => None,
                    Some(n) => Some(TensorStats {
                        n: n as u64,
                        sum: unreal(r.get(9)?),
                        sum_sq: unreal(r.get(10)?),
                        max_abs: unreal(r.get(11)?),
                        nan: count(12)?,
                        inf: count(13)?,
                        zeros: count(14)?,
                        subnormal: count(15)?,
                    }),
                };
                Ok((
                    r.get::<_, i64>(0)? as usize,
                    r.get::<_, i64>(1)? as usize,
                    r.get::<_, String>(2)?,
                    count(3)?,
                    count(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                    stats,
                ))
            };
            let (step, layer, tensor, zero, non_finite, neg, pos, path, stats) =
                get().map_err(self.err("reading histograms"))?;
            let counts = |text: &str| {
                serde_json::from_str::<Vec<u64>>(text)
                    .map_err(|e| self.corrupt(run_id, "histogram counts", e))
            };
            let tensor = hist_tensor(&tensor).ok_or_else(|| {
                self.corrupt(run_id, "histogram tensor", format!("unknown `{tensor}`"))
            })?;
            f(&HistogramRow {
                step,
                layer,
                path,
                tensor,
                hist: Histogram {
                    neg: counts(&neg)?,
                    pos: counts(&pos)?,
                    zero,
                    non_finite,
                },
                stats,
            })?;
        }
        Ok(())
    }
}
