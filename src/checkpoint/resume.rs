//! Resuming: what the trainer is told about checkpoints ([`Checkpointing`]:
//! how often to take one, where they go, and whether the run starts fresh,
//! from a checkpoint, or from given weights), and which checkpoint a
//! resume reads ([`pick`]).
//!
//! A resumed run continues as the uninterrupted run would, bit for bit,
//! on the same machine with the same threads and SIMD level: the trainer
//! restores every part of [the run's state](super::state), re-evaluates at
//! the checkpoint's step if the spec evaluates there (the evaluation the
//! interrupted run sent just before the checkpoint), and goes on with the
//! next step.

use super::files::{list, CheckpointSaver};
use super::format::Checkpoint;
use super::state::RunInfo;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// How a run begins.
#[derive(Clone, Copy, Default)]
pub enum Start<'a> {
    /// From the spec's initialization.
    #[default]
    Fresh,
    /// From a checkpoint of the same spec: its whole state.
    Resume(&'a Checkpoint),
    /// From given weights (a checkpoint, or a file written elsewhere):
    /// the parameters, and BatchNorm's running statistics where given;
    /// the rest (optimizer, data order, step) starts fresh.
    Weights(&'a Checkpoint),
}

/// The trainer's checkpoint settings.
#[derive(Default)]
pub struct Checkpointing<'a> {
    /// A checkpoint every this many steps, and one at the end or at a
    /// graceful stop (0: none).
    pub every: usize,
    /// Where they go (none: none are taken).
    pub saver: Option<&'a mut dyn CheckpointSaver>,
    /// How the run begins.
    pub start: Start<'a>,
}

/// The newest checkpoint in `dir` taken after at most `committed` steps
/// (the steps the store holds: a newer checkpoint may have been written
/// just before a kill took the store's last rows).
pub fn pick(dir: &Path, committed: usize) -> Result<(usize, PathBuf)> {
    let all = list(dir)?;
    let newest = all.last().map(|(s, _)| *s);
    all.into_iter()
        .rev()
        .find(|(step, _)| *step <= committed)
        .ok_or_else(|| Error::Checkpoint {
            path: dir.to_path_buf(),
            reason: match newest {
                None => "no checkpoint to resume from (train with --checkpoint-every N)".into(),
                Some(s) => format!(
                    "no checkpoint at or before step {committed}, the last the store holds (the oldest kept is after {s} steps)"
                ),
            },
        })
}

/// What checkpoint `c` says about its run, if it can resume the run of
/// the spec `spec_toml` (the same spec, resolved; not past its end).
pub fn check_resumable(c: &Checkpoint, spec_toml: &str) -> Result<RunInfo> {
    let info = RunInfo::read(c)?;
    if info.spec != spec_toml {
        return Err(c.error(
            "it was written by another spec (a resume runs the checkpoint's own spec)".into(),
        ));
    }
    if info.step > info.total_steps {
        return Err(c.error(format!(
            "step {} is past the run's {} steps",
            info.step, info.total_steps
        )));
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{step_file, CheckpointDir};

    #[test]
    fn a_resume_picks_the_newest_checkpoint_the_store_covers() {
        let tmp = tempfile::tempdir().unwrap();
        let mut saver = CheckpointDir::new(tmp.path().to_path_buf());
        assert!(pick(tmp.path(), 5)
            .unwrap_err()
            .to_string()
            .contains("no checkpoint"));
        for step in [10, 20, 30] {
            let mut c = Checkpoint::default();
            c.metadata.insert("step".into(), step.to_string());
            saver.save(&mut c).unwrap();
        }
        assert_eq!(
            pick(tmp.path(), 30).unwrap(),
            (30, step_file(tmp.path(), 30))
        );
        assert_eq!(pick(tmp.path(), 29).unwrap().0, 20);
        let e = pick(tmp.path(), 9).unwrap_err().to_string();
        assert!(e.contains("before step 9"), "{e}");
    }
}
