//! Running one spec from the command line: the library's
//! [`run_recorded`](gradscope::run::run_recorded) with a progress bar
//! attached and the store opened from `--db`; and naming runs that are
//! already stored.

use super::output::{Output, ProgressSink};
use gradscope::experiment::RunData;
use gradscope::experiment::Spec;
use gradscope::run::{Outcome, RunOptions};
use gradscope::store::Store;
use gradscope::tensor::Compute;
use std::path::Path;

/// Trains `spec` on `data` in `compute`'s pool with a progress bar,
/// recording into `db` (when given) and diagnosing the result (see
/// [`gradscope::run::run_recorded`]). From here on, Ctrl-C or SIGTERM
/// stops training after the step it is running (`super::signals`).
pub fn run_recorded(
    spec: &Spec,
    data: &RunData,
    output: Output,
    db: Option<&Path>,
    compute: Compute,
) -> anyhow::Result<Outcome> {
    run_recorded_with(spec, data, output, db, compute, RunOptions::default())
}

/// [`run_recorded`] with checkpoints, a resume or given weights
/// ([`gradscope::run::run_recorded_with`]).
pub fn run_recorded_with(
    spec: &Spec,
    data: &RunData,
    output: Output,
    db: Option<&Path>,
    compute: Compute,
    options: RunOptions<'_>,
) -> anyhow::Result<Outcome> {
    super::signals::install();
    // A signal between runs (during a demo's diagnosis, say) stops before
    // the next one starts.
    if super::signals::stop_requested() {
        return Err(gradscope::Error::Stopped {
            steps: 0,
            total: spec.steps,
        }
        .into());
    }
    let store = db.map(Store::open).transpose()?;
    let progress = ProgressSink::new(output, &super::output::printable(&spec.name));
    let mut progress = super::signals::Stoppable(progress);
    let outcome = gradscope::run::run_recorded_with(
        spec,
        data,
        store.as_ref(),
        compute,
        &mut progress,
        options,
    )?;
    if let (Err(gradscope::Error::Stopped { .. }), Some(id), Some(db)) =
        (&outcome.result, outcome.run_id, db)
    {
        let id = id.to_string();
        let look = super::program::command(&["inspect", &id], db);
        eprintln!("run {id} is recorded as interrupted, its steps kept: `{look}` shows it");
    }
    Ok(outcome)
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

/// Opens the store to change it (`rm`, `gc`); a missing file is an
/// error, not a new empty store.
pub fn open_existing(db: &Path) -> anyhow::Result<Store> {
    check_exists(db)?;
    Store::open(db).map_err(|e| {
        if Store::open_read_only(db).is_ok() {
            anyhow::anyhow!(
                "{}: the store can be read but not written here (a read-only filesystem, \
                 or no write permission)",
                db.display()
            )
        } else {
            e.into()
        }
    })
}

/// Opens the store for a reading command (`runs`, `inspect`, `report`,
/// `diagnose`): read-only where it cannot be written (a read-only
/// filesystem); a missing file is an error, not a new empty store.
pub fn open_to_read(db: &Path) -> anyhow::Result<Store> {
    check_exists(db)?;
    Ok(Store::open_for_reading(db)?)
}

pub fn check_exists(db: &Path) -> anyhow::Result<()> {
    if !db.exists() {
        anyhow::bail!(
            "{}: no such store (train a run first, or pass --db PATH)",
            db.display()
        );
    }
    Ok(())
}
