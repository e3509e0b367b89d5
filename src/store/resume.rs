//! Resuming a run in place: [`Store::committed_steps`] says how far the
//! store holds a run, and [`Store::resume_run`] drops what it recorded
//! from a checkpoint's step on (steps, probes, series, histograms,
//! evaluations, findings), marks it `running` again in this process, and
//! returns the writer that records the rest under the same id.

use super::host::hostname;
use super::{connect, RunWriter, Store};
use crate::error::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

/// The tables with rows per step, each cleared from the resumed step on.
const STEP_TABLES: [&str; 5] = [
    "steps",
    "layer_steps",
    "layer_series",
    "histograms",
    "evals",
];

impl Store {
    /// Steps of run `run_id` the store holds without a gap from step 0
    /// (the steps after a gap are not counted).
    pub fn committed_steps(&self, run_id: i64) -> Result<usize> {
        self.require_run(run_id)?;
        committed(&self.conn, run_id).map_err(self.err("counting a run's steps"))
    }

    /// A connection of its own that says how far the store holds run
    /// `run_id` ([`Store::committed_steps`]) while the run is written (its
    /// checkpoint folder asks before it removes an old checkpoint).
    pub fn committed_watch(&self, run_id: i64) -> Result<CommittedWatch> {
        Ok(CommittedWatch {
            conn: connect(&self.path)?,
            run_id,
        })
    }

    /// The status of run `run_id` (`running`, `interrupted`, ...).
    pub fn run_status(&self, run_id: i64) -> Result<String> {
        self.require_run(run_id)?;
        self.conn
            .query_row(
                "SELECT status FROM runs WHERE id = ?1",
                params![run_id],
                |r| r.get(0),
            )
            .map_err(self.err("reading a run's status"))
    }

    fn require_run(&self, run_id: i64) -> Result<()> {
        let found = self
            .conn
            .query_row("SELECT 1 FROM runs WHERE id = ?1", params![run_id], |_| {
                Ok(())
            })
            .optional()
            .map_err(self.err("finding a run"))?;
        found.ok_or_else(|| Error::NoSuchRun {
            id: run_id,
            path: self.path.clone(),
        })
    }

    /// Deletes run `run_id`'s rows from step `step` on (its evaluations
    /// from `step` on too: a resume evaluates at `step` again) and its
    /// findings, marks it `running` in this process (no end, no error, no
    /// summary), and returns the writer that records the rest.
    pub fn resume_run(&self, run_id: i64, step: usize, total_steps: usize) -> Result<RunWriter> {
        self.require_run(run_id)?;
        let mut conn = connect(&self.path)?;
        let at = step as i64;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("starting a resume"))?;
        for table in STEP_TABLES {
            tx.execute(
                &format!("DELETE FROM {table} WHERE run_id = ?1 AND step >= ?2"),
                params![run_id, at],
            )
            .map_err(self.err("dropping the steps after a checkpoint"))?;
        }
        tx.execute("DELETE FROM findings WHERE run_id = ?1", params![run_id])
            .map_err(self.err("dropping a run's findings"))?;
        tx.execute(
            "UPDATE runs SET status = 'running', finished_at = NULL, error = NULL, \
             summary = NULL, pid = ?2, host = ?3, total_steps = ?4 WHERE id = ?1",
            params![run_id, std::process::id(), hostname(), total_steps as i64],
        )
        .map_err(self.err("marking a run running"))?;
        tx.commit().map_err(self.err("committing a resume"))?;
        self.writer_for(run_id, total_steps, conn, step.checked_sub(1))
    }
}

/// Steps of `run_id` held without a gap from step 0: with step 0 there,
/// the first step whose successor is missing ends them (one pass over the
/// primary key).
fn committed(conn: &Connection, run_id: i64) -> rusqlite::Result<usize> {
    let n: Option<i64> = conn.query_row(
        "SELECT MIN(s.step) + 1 FROM steps s WHERE s.run_id = ?1 \
         AND EXISTS (SELECT 1 FROM steps z WHERE z.run_id = ?1 AND z.step = 0) \
         AND NOT EXISTS (SELECT 1 FROM steps t WHERE t.run_id = ?1 AND t.step = s.step + 1)",
        params![run_id],
        |r| r.get(0),
    )?;
    Ok(n.unwrap_or(0) as usize)
}

/// Says how far the store holds one run, on a connection of its own
/// ([`Store::committed_watch`]).
pub struct CommittedWatch {
    conn: Connection,
    run_id: i64,
}

impl CommittedWatch {
    /// Steps of the run the store holds without a gap from step 0.
    pub fn steps(&self) -> rusqlite::Result<usize> {
        committed(&self.conn, self.run_id)
    }
}

#[cfg(test)]
mod tests {
    use crate::experiment::trainer::{Event, Sink, StepRecord};
    use crate::experiment::Spec;
    use crate::store::Store;

    fn step(step: usize) -> StepRecord {
        StepRecord {
            step,
            loss: 1.0,
            accuracy: 0.5,
            lr: 0.1,
            grad_norm: 1.0,
        }
    }

    #[test]
    fn a_resume_drops_the_rows_from_its_step_on_and_counts_steps_up_to_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("s.db")).unwrap();
        let spec = Spec::default();
        let mut w = store.begin_run(&spec, 10).unwrap();
        for s in [0, 1, 2, 3, 5, 6] {
            w.event(&Event::Step(&step(s)));
        }
        let id = w.close().unwrap();
        assert_eq!(store.committed_steps(id).unwrap(), 4, "up to the gap");
        assert_eq!(store.run_status(id).unwrap(), "interrupted");
        let mut w = store.resume_run(id, 2, 10).unwrap();
        assert_eq!(store.run_status(id).unwrap(), "running");
        assert_eq!(store.committed_steps(id).unwrap(), 2);
        w.event(&Event::Step(&step(2)));
        w.close().unwrap();
        assert_eq!(store.load(id).unwrap().steps.len(), 3);
        assert!(store.committed_steps(id + 1).is_err(), "no such run");
    }
}
