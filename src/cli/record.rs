//! Running one spec with everything attached: progress bar, in-memory
//! record, the store (unless `--no-record`), then diagnosis of the record
//! (findings saved next to the run).

use super::output::{Output, ProgressSink};
use gradscope::analysis::diagnose::{diagnose, Finding};
use gradscope::experiment::trainer::{train, Prepared, Summary};
use gradscope::experiment::{RecordSink, RunRecord, Spec, Tee};
use gradscope::store::Store;
use gradscope::tensor::with_threads;
use std::path::Path;

/// What one recorded run left behind.
pub struct Outcome {
    /// The trainer's result (an error when it diverged or failed).
    pub result: gradscope::Result<Summary>,
    /// The whole record, in memory.
    pub record: RunRecord,
    /// The run's id in the store, when recorded.
    pub run_id: Option<i64>,
    /// Diagnosis of the record.
    pub findings: Vec<Finding>,
}

/// Trains `spec` on `data` on `threads` threads, recording into `db`
/// (when given) and diagnosing the result. Store errors are errors; a
/// training error is in [`Outcome::result`], with everything recorded
/// before it kept.
pub fn run_recorded(
    spec: &Spec,
    data: &Prepared,
    output: Output,
    db: Option<&Path>,
    threads: usize,
) -> anyhow::Result<Outcome> {
    let store = db.map(Store::open).transpose()?;
    let mut writer = match &store {
        Some(s) => Some(s.begin_run(spec, 0)?),
        None => None,
    };
    let mut progress = ProgressSink::new(output, &spec.name);
    let mut record = RecordSink::new(spec.clone());
    let result = {
        let mut sinks: Vec<&mut dyn gradscope::experiment::trainer::Sink> =
            vec![&mut progress, &mut record];
        if let Some(w) = writer.as_mut() {
            sinks.push(w);
        }
        let mut tee = Tee(sinks);
        with_threads(threads, || train(spec, data, &mut tee))
    };
    let run_id = writer.map(|w| w.close()).transpose()?;
    let mut record = record.record;
    record.id = run_id;
    let findings = diagnose(&record);
    if let (Some(store), Some(id)) = (&store, run_id) {
        store.save_findings(id, &findings)?;
    }
    Ok(Outcome {
        result,
        record,
        run_id,
        findings,
    })
}

/// A run named on the command line: its id, or `last`.
pub fn resolve_run(store: &Store, run: &str) -> anyhow::Result<i64> {
    if run == "last" {
        let runs = store.runs()?;
        return runs
            .last()
            .map(|r| r.id)
            .ok_or_else(|| anyhow::anyhow!("no runs in {} yet", store.path().display()));
    }
    run.parse()
        .map_err(|_| anyhow::anyhow!("`{run}` is not a run id (a number, or `last`)"))
}

/// Opens the store for reading; a missing file is an error, not a new
/// empty store.
pub fn open_existing(db: &Path) -> anyhow::Result<Store> {
    if !db.exists() {
        anyhow::bail!(
            "{}: no such store (train a run first, or pass --db PATH)",
            db.display()
        );
    }
    Ok(Store::open(db)?)
}
