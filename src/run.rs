//! One run, end to end: train a spec with the caller's sink attached
//! (a progress bar, a live stream), record it into the store, diagnose
//! the record and save the findings next to it. `train` and `demo` call
//! it; sweeps and the server will.
//!
//! ```text
//! spec, data --train--> Tee(caller's sink, RecordSink, RunWriter) --> RunRecord --diagnose--> findings
//!                                                     |                                          |
//!                                                     +--------------- store <-------------------+
//! ```

use crate::analysis::diagnose::{diagnose, Finding};
use crate::checkpoint::{check_resumable, Checkpoint, CheckpointDir, CheckpointSaver};
use crate::checkpoint::{Checkpointing, Start};
use crate::error::{Error, Result};
use crate::experiment::plan::{plan, MemoryLimit};
use crate::experiment::trainer::{train_with, Summary};
use crate::experiment::RunData;
use crate::experiment::{RecordSink, RunRecord, RunStatus, Sink, Spec, Tee};
use crate::store::Store;
use crate::tensor::Compute;

/// What one recorded run left behind.
pub struct Outcome {
    /// The trainer's result (an error when it diverged or failed).
    pub result: Result<Summary>,
    /// The whole record, in memory.
    pub record: RunRecord,
    /// The run's id in the store, when recorded.
    pub run_id: Option<i64>,
    /// Diagnosis of the record.
    pub findings: Vec<Finding>,
}

/// Trains `spec` on `data` in a pool built by `compute` (its threads and
/// SIMD level), reporting to
/// `sink`, recording into `store` (when given) and diagnosing the result.
/// Store errors are errors (a failed write stops training: see
/// [`RunWriter`](crate::store::RunWriter)); a training error is in
/// [`Outcome::result`], with everything recorded before it kept (in the
/// store and the record).
///
/// The spec is first [planned](plan) against the data and the memory
/// available: a spec that cannot start (a batch larger than the data, a
/// model the data does not suit, more memory than the machine has)
/// fails there, in [`Outcome::result`], and leaves no run in the store.
pub fn run_recorded(
    spec: &Spec,
    data: &RunData,
    store: Option<&Store>,
    compute: Compute,
    sink: &mut dyn Sink,
) -> Result<Outcome> {
    run_recorded_with(spec, data, store, compute, sink, RunOptions::default())
}

/// How a recorded run begins, and whether it takes checkpoints
/// (docs/CHECKPOINTS.md).
#[derive(Clone, Copy, Default)]
pub struct RunOptions<'a> {
    /// A checkpoint every this many steps, at the end and at a graceful
    /// stop, in the store's checkpoint folder (0: none).
    pub checkpoint_every: usize,
    /// Continue this run of the store from this checkpoint of it: the
    /// store drops what the run recorded after the checkpoint's step.
    pub resume: Option<(i64, &'a Checkpoint)>,
    /// Start from these weights.
    pub init_from: Option<&'a Checkpoint>,
    /// Refuse a run whose memory estimate exceeds this many bytes
    /// ([`plan`]); without it, the memory available.
    pub max_memory: Option<f64>,
}

/// [`run_recorded`] with checkpoints, a resume or given weights. A
/// resumed run is diagnosed whole (read back from the store).
pub fn run_recorded_with(
    spec: &Spec,
    data: &RunData,
    store: Option<&Store>,
    compute: Compute,
    sink: &mut dyn Sink,
    options: RunOptions<'_>,
) -> Result<Outcome> {
    let limit = match options.max_memory {
        Some(bytes) => Some(MemoryLimit::given(bytes)),
        None => MemoryLimit::available(),
    };
    let planned = plan(spec, data).and_then(|p| p.fits(limit.as_ref()));
    let total_steps = match planned {
        Ok(p) => p.total_steps,
        Err(error) => {
            let mut record = RecordSink::new(spec.clone()).record;
            record.status = RunStatus::Failed;
            record.error = Some(error.to_string());
            return Ok(Outcome {
                result: Err(error),
                record,
                run_id: None,
                findings: Vec::new(),
            });
        }
    };
    let mut writer = match (store, options.resume) {
        (Some(store), Some((id, c))) => {
            let info = check_resumable(c, &spec.to_toml())?;
            Some(store.resume_run(id, info.step, info.total_steps)?)
        }
        (None, Some((id, _))) => {
            return Err(Error::InvalidConfig {
                field: "resume".into(),
                reason: format!("run {id} continues in its store; none is open"),
            })
        }
        (store, None) => store.map(|s| s.begin_run(spec, total_steps)).transpose()?,
    };
    let mut saver = match (store, &writer) {
        (Some(store), Some(w)) if options.checkpoint_every > 0 => {
            let watch = store.committed_watch(w.run_id())?;
            let dir = CheckpointDir::for_run(store.path(), w.run_id())
                .with_committed(Box::new(move || watch.steps().ok()));
            if let Some((_, c)) = options.resume {
                dir.remove_after(c.meta_parsed("step")?)?;
            }
            Some(dir)
        }
        _ => None,
    };
    let checkpoints = Checkpointing {
        every: options.checkpoint_every,
        saver: saver.as_mut().map(|s| s as &mut dyn CheckpointSaver),
        start: match (options.resume, options.init_from) {
            (Some((_, c)), _) => Start::Resume(c),
            (None, Some(c)) => Start::Weights(c),
            (None, None) => Start::Fresh,
        },
    };
    let mut record = RecordSink::new(spec.clone());
    let result = {
        let mut sinks: Vec<&mut dyn Sink> = vec![sink, &mut record];
        if let Some(w) = writer.as_mut() {
            sinks.push(w);
        }
        let mut tee = Tee(sinks);
        compute.install(|| train_with(spec, data, &mut tee, checkpoints))
    };
    let run_id = writer.map(|w| w.close()).transpose()?;
    let mut record = match (store, run_id, options.resume) {
        (Some(store), Some(id), Some(_)) => store.load(id)?,
        _ => record.record,
    };
    record.id = run_id;
    let findings = diagnose(&record);
    if let (Some(store), Some(id)) = (store, run_id) {
        store.save_findings(id, &findings)?;
    }
    Ok(Outcome {
        result,
        record,
        run_id,
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::trainer::NullSink;

    /// The run is in the store with its findings, as in memory.
    #[test]
    fn a_recorded_run_is_stored_and_diagnosed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("runs.db")).unwrap();
        let spec = Spec::from_toml(
            "steps = 3\nbatch = 8\n[data]\nname = \"xor\"\ntrain_size = 64\ntest_size = 32\n",
            "test",
        )
        .unwrap();
        let data = spec.prepare_data().unwrap();
        let out = run_recorded(
            &spec,
            &data,
            Some(&store),
            Compute::threads(1),
            &mut NullSink,
        )
        .unwrap();
        assert!(out.result.is_ok());
        let id = out.run_id.unwrap();
        assert_eq!(store.load(id).unwrap().steps.len(), 3);
        assert_eq!(store.findings(id).unwrap(), out.findings);
    }

    /// Counts the steps the trainer reported.
    struct Steps(usize);

    impl Sink for Steps {
        fn event(&mut self, event: &crate::experiment::Event<'_>) {
            if let crate::experiment::Event::Step(_) = event {
                self.0 += 1;
            }
        }
    }

    /// A full disk (the database capped 8 MB past its schema, so
    /// writes fail with SQLite's "database or disk is full") stops the
    /// run within a flush instead of training to the end; the error says
    /// so; the run is marked `failed` with the reason; every committed
    /// step stays, contiguous from 0.
    #[test]
    fn a_full_disk_stops_the_run_at_once_and_marks_it_failed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.db");
        let mut store = Store::open(&path).unwrap();
        let pages: u64 = rusqlite::Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        store.fill_at_pages(pages + 2000);
        let total = 2_000_000;
        let spec = Spec::from_toml(
            &format!(
                "steps = {total}\nbatch = 8\n[model]\ndepth = 1\nwidth = 8\n\
                 [data]\nname = \"xor\"\ntrain_size = 64\ntest_size = 32\n"
            ),
            "test",
        )
        .unwrap();
        let data = spec.prepare_data().unwrap();
        let mut steps = Steps(0);
        let err = run_recorded(&spec, &data, Some(&store), Compute::threads(1), &mut steps)
            .err()
            .expect("a full store is an error");
        let message = err.to_string();
        assert!(message.contains("full"), "{message}");
        assert!(message.contains("the run stops here"), "{message}");
        assert!(
            steps.0 < total / 10,
            "trained {} steps after the failure",
            steps.0
        );
        let store = Store::open(&path).unwrap();
        let run = &store.runs().unwrap()[0];
        assert_eq!(run.status, RunStatus::Failed);
        let record = store.load(run.id).unwrap();
        assert!(record.error.as_deref().unwrap().contains("full"));
        assert!(
            run.steps > 0 && run.steps < steps.0,
            "{} of {}",
            run.steps,
            steps.0
        );
        assert_eq!(record.steps_done(), run.steps, "steps contiguous from 0");
    }
}
