//! Writing a run: [`Store::begin_run`] inserts it as `running` and returns a
//! [`RunWriter`], a trainer [`Sink`] that sends owned copies of the events
//! to a writer thread. The thread owns its own connection and commits what
//! it has every [`FLUSH_INTERVAL`] or [`FLUSH_ROWS`] rows, and at once on
//! the run's end, each batch in one transaction: training does not wait
//! on disk (unless the thread falls [`QUEUE_EVENTS`] events behind, which
//! bounds the memory the queue takes), every commit leaves the database consistent, and a kill loses at
//! most the batch not yet committed.

use super::codec::{
    insert_layer, insert_series, layer_insert_sql, real, series_insert_sql, summary_to_json,
};
use super::host::{git_describe, hostname, now};
use super::{connect, Store};
use crate::error::{Error, Result};
use crate::experiment::trainer::{EvalRecord, Event, Sink, StepRecord, Summary};
use crate::experiment::{RunStatus, Spec};
use crate::probe::StepProbe;
use rusqlite::{params, Connection, ErrorCode, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest time an event waits in memory before it is committed.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// Rows (steps, layer rows, series rows, histograms, evals) that trigger a
/// commit before [`FLUSH_INTERVAL`] is up.
pub const FLUSH_ROWS: usize = 20_000;

/// Events waiting for the writer thread at most: when it falls this far
/// behind (a fast net on a slow disk), the trainer waits for it, so
/// memory stays bounded however long the run.
pub const QUEUE_EVENTS: usize = 1_024;

/// Times a batch is retried when another writer holds the database past
/// the busy timeout.
const BUSY_RETRIES: usize = 5;

/// An event, owned, on its way to the writer thread.
enum Msg {
    Started {
        total_steps: usize,
    },
    Step(StepRecord),
    Probe(StepProbe),
    Eval(EvalRecord),
    Finished {
        summary: Summary,
        at: f64,
    },
    Failed {
        status: RunStatus,
        error: String,
        at: f64,
    },
    /// The writer was closed before the run ended.
    Abandoned,
}

impl Msg {
    fn rows(&self) -> usize {
        match self {
            Msg::Probe(p) => {
                let series = p.layers.iter().flat_map(|l| &l.series);
                p.layers.len() + p.histograms.len() + series.map(|s| s.stats.len()).sum::<usize>()
            }
            _ => 1,
        }
    }

    fn ends_run(&self) -> bool {
        matches!(self, Msg::Finished { .. } | Msg::Failed { .. })
    }
}

/// Records one run into the store; a trainer [`Sink`].
///
/// Call [`RunWriter::close`] to flush and see write errors; dropping it
/// also flushes (and waits for the writer thread) but drops the error. A
/// writer closed before the trainer's `Finished` or `Failed` event marks
/// its run `interrupted`.
///
/// **A failed write stops the run.** When a batch cannot be committed (a
/// full disk, a store removed under it), the thread marks the run
/// `failed` with the reason and the last step committed (when even that
/// small update cannot be written, the run stays `running` and the next
/// open marks it `interrupted`), writes nothing more, and
/// [`Sink::stop_requested`] turns true: the trainer stops after the step
/// it is running, and `close` returns the error. Every step committed
/// before stays.
pub struct RunWriter {
    run_id: i64,
    path: PathBuf,
    total_steps: usize,
    tx: Option<SyncSender<Msg>>,
    thread: Option<JoinHandle<Result<()>>>,
    /// Set by the thread when a write failed.
    failed: Arc<AtomicBool>,
}

impl Store {
    /// Inserts a `running` run of `spec` planned for `total_steps` steps and
    /// returns the writer that records it (the trainer's `Started` event
    /// corrects `total_steps` if it differs). Records this process's id and
    /// host, the gradscope version and [`git_describe`], and the sweep and
    /// cell of [`Store::set_tag`], if set.
    pub fn begin_run(&self, spec: &Spec, total_steps: usize) -> Result<RunWriter> {
        let conn = connect(&self.path)?;
        if let Some(pages) = self.page_limit {
            conn.pragma_update(None, "max_page_count", pages)
                .map_err(self.err("limiting the pages"))?;
        }
        self.conn
            .execute(
                "INSERT INTO runs (name, spec, status, created_at, seed, gradscope_version, \
                 git_describe, pid, host, total_steps, sweep_id, cell) \
                 VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    spec.name,
                    spec.to_toml(),
                    now(),
                    spec.seed as i64,
                    env!("CARGO_PKG_VERSION"),
                    git_describe(),
                    std::process::id(),
                    hostname(),
                    total_steps as i64,
                    self.tag.as_ref().map(|t| t.sweep_id),
                    self.tag.as_ref().map(|t| t.cell.as_str()),
                ],
            )
            .map_err(self.err("inserting a run"))?;
        let run_id = self.conn.last_insert_rowid();
        self.writer_for(run_id, total_steps, conn, None)
    }

    /// The writer of run `run_id` (in the store) on its own connection.
    /// `committed`: the last step the store already holds (a resumed
    /// run's), for the message of a failed write.
    pub(super) fn writer_for(
        &self,
        run_id: i64,
        total_steps: usize,
        conn: Connection,
        committed: Option<usize>,
    ) -> Result<RunWriter> {
        let (tx, rx) = mpsc::sync_channel(QUEUE_EVENTS);
        let path = self.path.clone();
        let failed = Arc::new(AtomicBool::new(false));
        let flag = failed.clone();
        let thread = std::thread::Builder::new()
            .name(format!("gradscope-store-run-{run_id}"))
            .spawn(move || {
                let mut thread = WriteThread {
                    conn,
                    run_id,
                    path: &path,
                    committed,
                };
                // A panic (a bug) stops the run like a failed write: it
                // must not leave training going with nothing recorded.
                let result =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| thread.run(rx)))
                        .unwrap_or_else(|_| {
                            Err(Error::Store {
                                path: thread.path.to_path_buf(),
                                reason: format!("the writer thread of run {run_id} panicked"),
                            })
                        });
                if let Err(e) = &result {
                    thread.mark_failed(e);
                    flag.store(true, Ordering::Release);
                }
                result
            })
            .map_err(|e| Error::Store {
                path: self.path.clone(),
                reason: format!("cannot start the writer thread: {e}"),
            })?;
        Ok(RunWriter {
            run_id,
            path: self.path.clone(),
            total_steps,
            tx: Some(tx),
            thread: Some(thread),
            failed,
        })
    }
}

impl RunWriter {
    /// The run's id in the store.
    pub fn run_id(&self) -> i64 {
        self.run_id
    }

    /// Commits what is left, stops the writer thread and returns the run id,
    /// or the first error the thread met (after which it wrote nothing more).
    pub fn close(mut self) -> Result<i64> {
        self.finish()?;
        Ok(self.run_id)
    }

    fn finish(&mut self) -> Result<()> {
        drop(self.tx.take());
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| {
                Err(Error::Store {
                    path: self.path.clone(),
                    reason: format!("the writer thread of run {} panicked", self.run_id),
                })
            }),
            None => Ok(()),
        }
    }
}

impl Drop for RunWriter {
    fn drop(&mut self) {
        // The error is the caller's to see through `close`; here it is lost.
        let _ = self.finish();
    }
}

impl Sink for RunWriter {
    fn event(&mut self, event: &Event<'_>) {
        let msg = match event {
            Event::Started { total_steps, .. } => {
                if *total_steps == self.total_steps {
                    return;
                }
                self.total_steps = *total_steps;
                Msg::Started {
                    total_steps: *total_steps,
                }
            }
            Event::Step(s) => Msg::Step((*s).clone()),
            Event::Probe(p) => Msg::Probe((*p).clone()),
            Event::Eval(e) => Msg::Eval((*e).clone()),
            Event::Finished(s) => Msg::Finished {
                summary: (*s).clone(),
                at: now(),
            },
            Event::Failed { status, error } => Msg::Failed {
                status: *status,
                error: error.to_string(),
                at: now(),
            },
        };
        if let Some(tx) = &self.tx {
            // A closed channel means the thread stopped on an error, which
            // `close` reports and `stop_requested` says.
            let _ = tx.send(msg);
        }
    }

    /// True once a write failed: the run cannot be recorded any more.
    fn stop_requested(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }
}

/// The writer thread's state: its connection, and the last step it
/// committed.
struct WriteThread<'a> {
    conn: Connection,
    run_id: i64,
    path: &'a Path,
    committed: Option<usize>,
}

impl WriteThread<'_> {
    /// Gathers messages into batches and commits them, until the channel
    /// closes or a batch cannot be committed.
    fn run(&mut self, rx: Receiver<Msg>) -> Result<()> {
        let mut batch = Vec::new();
        let (mut rows, mut deadline, mut ended) = (0, Instant::now(), false);
        loop {
            let msg = if batch.is_empty() {
                match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                }
            } else {
                match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                    Ok(m) => m,
                    Err(RecvTimeoutError::Timeout) => {
                        self.flush(&mut batch)?;
                        rows = 0;
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            };
            if batch.is_empty() {
                deadline = Instant::now() + FLUSH_INTERVAL;
            }
            let ends = msg.ends_run();
            ended |= ends;
            rows += msg.rows();
            batch.push(msg);
            if ends || rows >= FLUSH_ROWS || Instant::now() >= deadline {
                self.flush(&mut batch)?;
                rows = 0;
            }
        }
        if !ended {
            batch.push(Msg::Abandoned);
        }
        self.flush(&mut batch)
    }

    /// Commits `batch` in one transaction (retrying while the database is
    /// busy) and empties it.
    fn flush(&mut self, batch: &mut Vec<Msg>) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut attempt = 0;
        loop {
            match write_batch(&mut self.conn, batch, self.run_id) {
                Ok(()) => {
                    let last = batch.iter().rev().find_map(|m| match m {
                        Msg::Step(s) => Some(s.step),
                        _ => None,
                    });
                    self.committed = last.or(self.committed);
                    batch.clear();
                    return Ok(());
                }
                Err(e) if is_busy(&e) && attempt < BUSY_RETRIES => attempt += 1,
                Err(e) => {
                    let kept = match self.committed {
                        Some(step) => format!("steps 0 to {step} are kept"),
                        None => "no step was committed".into(),
                    };
                    return Err(Error::Store {
                        path: self.path.to_path_buf(),
                        reason: format!(
                            "writing run {} failed ({e}): the run stops here; {kept}",
                            self.run_id
                        ),
                    });
                }
            }
        }
    }

    /// Marks the run `failed` with `error`, if the store takes that much.
    fn mark_failed(&self, error: &Error) {
        let _ = self.conn.execute(
            "UPDATE runs SET status = 'failed', finished_at = ?2, error = ?3 \
             WHERE id = ?1 AND status = 'running'",
            params![self.run_id, now(), error.to_string()],
        );
    }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn write_batch(conn: &mut Connection, batch: &[Msg], run_id: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for msg in batch {
        match msg {
            Msg::Started { total_steps } => {
                tx.prepare_cached("UPDATE runs SET total_steps = ?2 WHERE id = ?1")?
                    .execute(params![run_id, *total_steps as i64])?;
            }
            Msg::Step(s) => {
                tx.prepare_cached(
                    "INSERT INTO steps (run_id, step, loss, accuracy, lr, grad_norm) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    run_id,
                    s.step as i64,
                    real(s.loss),
                    real(s.accuracy),
                    real(s.lr),
                    real(s.grad_norm),
                ])?;
            }
            Msg::Probe(p) => write_probe(&tx, run_id, p)?,
            Msg::Eval(e) => {
                tx.prepare_cached(
                    "INSERT INTO evals (run_id, step, train_loss, train_accuracy, test_loss, \
                     test_accuracy) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    run_id,
                    e.step as i64,
                    real(e.train_loss),
                    real(e.train_accuracy),
                    real(e.test_loss),
                    real(e.test_accuracy),
                ])?;
            }
            Msg::Finished { summary, at } => {
                tx.prepare_cached(
                    "UPDATE runs SET status = 'finished', finished_at = ?2, summary = ?3 \
                     WHERE id = ?1",
                )?
                .execute(params![run_id, at, summary_to_json(summary)])?;
            }
            Msg::Failed { status, error, at } => {
                tx.prepare_cached(
                    "UPDATE runs SET status = ?2, finished_at = ?3, error = ?4 WHERE id = ?1",
                )?
                .execute(params![run_id, status.name(), at, error])?;
            }
            Msg::Abandoned => {
                tx.prepare_cached(
                    "UPDATE runs SET status = 'interrupted' WHERE id = ?1 AND status = 'running'",
                )?
                .execute(params![run_id])?;
            }
        }
    }
    tx.commit()
}

fn write_probe(tx: &Connection, run_id: i64, p: &StepProbe) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(layer_insert_sql())?;
    for layer in &p.layers {
        insert_layer(&mut stmt, run_id, p.step, layer)?;
    }
    if p.layers.iter().any(|l| !l.series.is_empty()) {
        let mut stmt = tx.prepare_cached(series_insert_sql())?;
        for layer in &p.layers {
            insert_series(&mut stmt, run_id, p.step, layer)?;
        }
    }
    let mut stmt = tx.prepare_cached(
        "INSERT INTO histograms (run_id, step, idx, layer, tensor, zero, non_finite, neg, pos) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for (idx, h) in p.histograms.iter().enumerate() {
        let json = |c: &[u64]| serde_json::to_string(c).expect("counts serialize");
        stmt.execute(params![
            run_id,
            p.step as i64,
            idx as i64,
            h.layer as i64,
            h.tensor.name(),
            h.hist.zero as i64,
            h.hist.non_finite as i64,
            json(&h.hist.neg),
            json(&h.hist.pos),
        ])?;
    }
    Ok(())
}
