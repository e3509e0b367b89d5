//! Running a sweep: its runs in parallel on `jobs` worker threads, each
//! run single-threaded ([`run_recorded`] with 1 thread), all recorded in
//! one store under the sweep's id, each classified ([`classify()`]) as it
//! ends.
//!
//! **Resuming.** The sweep is found again by its name and content hash.
//! A run already stored as `finished` or `diverged` with a classification
//! is skipped. Every other run of the sweep (`interrupted` by a kill,
//! `failed`, or ended without its classification being saved) is
//! **removed** from the store and run again; removing instead of marking
//! keeps one row per run, so counts and maps need no filter. A run still
//! `running` under a live process (another sweep process on the same
//! store) is left to it. Each worker commits as it goes, so a SIGKILL
//! loses at most the runs in flight.
//!
//! The library never prints: progress goes to the caller's observer as
//! [`SweepEvent`]s.

use super::{classify, Classification, SweepRun, SweepSpec};
use crate::error::{Error, Result};
use crate::experiment::trainer::NullSink;
use crate::experiment::RunStatus;
use crate::run::run_recorded;
use crate::store::{Store, SweepRunRow, SweepTag};
use crate::tensor::Compute;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// What a sweep reports to its observer, in order: `Planned` once, then
/// one `Ended` per run it runs.
#[derive(Debug)]
pub enum SweepEvent<'a> {
    /// What is left to do.
    Planned {
        /// The sweep's id in the store.
        sweep_id: i64,
        /// Runs in the sweep.
        total: usize,
        /// Runs already done (skipped), with their classifications.
        done: Vec<Classification>,
        /// Unfinished runs removed to be run again.
        removed: usize,
    },
    /// A run ended.
    Ended {
        /// The run.
        run: &'a SweepRun,
        /// Its id in the store.
        run_id: Option<i64>,
        /// Its classification (`None` when it failed for another reason
        /// than a NaN/Inf).
        classification: Option<Classification>,
        /// The training error, if any.
        error: Option<String>,
    },
}

/// What a sweep left in the store.
#[derive(Debug)]
pub struct SweepOutcome {
    /// The sweep's id.
    pub sweep_id: i64,
    /// Runs run now.
    pub ran: usize,
    /// Runs skipped, already done.
    pub skipped: usize,
    /// Every stored run of the sweep's shard, in the sweep's order.
    pub runs: Vec<SweepRunRow>,
}

/// Runs (or resumes) the runs of `shard` of `sweep` into the store at
/// `db` on `jobs` worker threads, telling `observe` as it goes. A store error stops the sweep
/// (after the runs in flight end); a run's training error does not.
pub fn run_sweep(
    sweep: &SweepSpec,
    db: &Path,
    jobs: usize,
    shard: Shard,
    observe: &mut dyn FnMut(&SweepEvent<'_>),
) -> Result<SweepOutcome> {
    let mut runs = sweep.runs()?;
    runs.retain(|r| shard.contains(r.index));
    let in_shard: BTreeSet<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    let mut store = Store::open(db)?;
    let sweep_id = store.sweep_id(&sweep.name, &sweep.hash(), &sweep.text)?;
    let mut stored = store.sweep_runs(sweep_id)?;
    stored.retain(|r| in_shard.contains(r.name.as_str()));
    let is_done = |r: &SweepRunRow| {
        matches!(r.status, RunStatus::Finished | RunStatus::Diverged) && r.classification.is_some()
    };
    let taken: BTreeSet<&str> = stored
        .iter()
        .filter(|r| is_done(r) || r.status == RunStatus::Running)
        .map(|r| r.name.as_str())
        .collect();
    let stale: Vec<i64> = stored
        .iter()
        .filter(|r| !is_done(r) && r.status != RunStatus::Running)
        .map(|r| r.id)
        .collect();
    store.remove_runs(&stale)?;
    let done: Vec<Classification> = stored
        .iter()
        .filter(|r| is_done(r))
        .filter_map(|r| r.classification.clone())
        .collect();
    let todo: Vec<&SweepRun> = runs
        .iter()
        .filter(|r| !taken.contains(r.name.as_str()))
        .collect();
    observe(&SweepEvent::Planned {
        sweep_id,
        total: runs.len(),
        done,
        removed: stale.len(),
    });
    let skipped = runs.len() - todo.len();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<Result<Ended>>();
    let mut first_error = None;
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, todo.len().max(1)) {
            let tx = tx.clone();
            let (todo, next) = (&todo, &next);
            scope.spawn(move || {
                let mut store = match Store::open(db) {
                    Ok(s) => s,
                    Err(e) => return drop(tx.send(Err(e))),
                };
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(run) = todo.get(i) else { return };
                    let ended = run_one(&mut store, sweep_id, i, run);
                    let failed = ended.is_err();
                    if tx.send(ended).is_err() || failed {
                        // Stop taking runs: the sweep is ending.
                        next.store(todo.len(), Ordering::SeqCst);
                        return;
                    }
                }
            });
        }
        drop(tx);
        for ended in rx {
            match ended {
                Ok(e) => observe(&SweepEvent::Ended {
                    run: todo[e.index],
                    run_id: e.run_id,
                    classification: e.classification,
                    error: e.error,
                }),
                Err(e) => {
                    next.store(todo.len(), Ordering::SeqCst);
                    first_error.get_or_insert(e);
                }
            }
        }
    });
    if let Some(e) = first_error {
        return Err(e);
    }
    let order: HashMap<&str, usize> = runs.iter().map(|r| (r.name.as_str(), r.index)).collect();
    let mut rows = store.sweep_runs(sweep_id)?;
    rows.retain(|r| in_shard.contains(r.name.as_str()));
    rows.sort_by_key(|r| order.get(r.name.as_str()).copied().unwrap_or(usize::MAX));
    Ok(SweepOutcome {
        sweep_id,
        ran: todo.len(),
        skipped,
        runs: rows,
    })
}

/// Part `index` of `count` disjoint parts of a sweep: the runs whose
/// position in the sweep's order is `index` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// Which part, 0-based.
    pub index: usize,
    /// How many parts.
    pub count: usize,
}

impl Shard {
    /// The whole sweep, one part.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Whether the run at `position` in the sweep's order is in this part.
    pub fn contains(self, position: usize) -> bool {
        position % self.count == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `I/N`, with `0 <= I < N`.
    fn from_str(s: &str) -> std::result::Result<Shard, String> {
        let parsed = s
            .split_once('/')
            .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
        match parsed {
            Some((index, count)) if index < count => Ok(Shard { index, count }),
            _ => Err(format!(
                "`{s}` is not a shard I/N with 0 <= I < N (e.g. 0/4)"
            )),
        }
    }
}

/// One run's end, sent from a worker.
struct Ended {
    index: usize,
    run_id: Option<i64>,
    classification: Option<Classification>,
    error: Option<String>,
}

/// Trains, records and classifies one run of the sweep on this thread.
fn run_one(store: &mut Store, sweep_id: i64, index: usize, run: &SweepRun) -> Result<Ended> {
    store.set_tag(Some(SweepTag {
        sweep_id,
        cell: run.cell.clone(),
    }));
    let data = run.spec.prepare_data()?;
    let outcome = run_recorded(
        &run.spec,
        &data,
        Some(&*store),
        Compute::threads(1),
        &mut NullSink,
    )?;
    let status = outcome.record.status;
    let classification = matches!(status, RunStatus::Finished | RunStatus::Diverged).then(|| {
        let mut c = classify(status, &outcome.findings);
        let last_eval = outcome.record.evals.last();
        c.test_accuracy = outcome
            .record
            .summary
            .as_ref()
            .map(|s| s.test_accuracy)
            .or(last_eval.map(|e| e.test_accuracy));
        c.test_loss = outcome
            .record
            .summary
            .as_ref()
            .map(|s| s.test_loss)
            .or(last_eval.map(|e| e.test_loss));
        c
    });
    if let (Some(id), Some(c)) = (outcome.run_id, &classification) {
        store.save_classification(id, c)?;
    }
    Ok(Ended {
        index,
        run_id: outcome.run_id,
        classification,
        error: outcome.result.err().map(|e: Error| e.to_string()),
    })
}
