//! Where a run's checkpoints live, and which one a resume reads.
//!
//! Beside the store, in a folder named after it: the store `gradscope.db`
//! keeps run 7's checkpoints in `gradscope.checkpoints/run-7/`, one file
//! per checkpoint, `step-<N>.safetensors` (`N` steps done). A
//! [`CheckpointDir`] writes each atomically and then removes all but the
//! last [`KEEP`].

use super::format::{at_path, Checkpoint};
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Checkpoints kept per run among those the store already covers (the
/// newest; older ones are removed after a new one is written), besides
/// every checkpoint ahead of what the store has committed (its rows are
/// written a moment later, and a kill in that moment leaves a resume
/// needing an older one). Our choice.
pub const KEEP: usize = 3;

/// The folder of run `run_id`'s checkpoints, beside the store `db`.
pub fn run_dir(db: &Path, run_id: i64) -> PathBuf {
    let stem = db.file_stem().unwrap_or_default().to_string_lossy();
    db.with_file_name(format!("{stem}.checkpoints"))
        .join(format!("run-{run_id}"))
}

/// The file of the checkpoint after `step` steps in `dir`.
pub fn step_file(dir: &Path, step: usize) -> PathBuf {
    dir.join(format!("step-{step}.safetensors"))
}

/// The checkpoints in `dir`, by step, oldest first (none when the folder
/// does not exist). Other files are ignored.
pub fn list(dir: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.map_err(io)?.path();
        let step = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("step-"))
            .and_then(|n| n.strip_suffix(".safetensors"))
            .and_then(|n| n.parse().ok());
        if let Some(step) = step {
            found.push((step, path));
        }
    }
    found.sort();
    Ok(found)
}

/// Receives a run's checkpoints as the trainer takes them.
pub trait CheckpointSaver: Send {
    /// Stores `checkpoint` (a failure stops the run).
    fn save(&mut self, checkpoint: &mut Checkpoint) -> Result<()>;
}

/// Steps the store holds of the run (see [`CheckpointDir::with_committed`]).
pub type Committed = Box<dyn FnMut() -> Option<usize> + Send>;

/// Writes checkpoints into a folder, keeping the newest [`KEEP`] the
/// store covers and every one ahead of it.
pub struct CheckpointDir {
    dir: PathBuf,
    run_id: Option<i64>,
    keep: usize,
    committed: Option<Committed>,
}

impl CheckpointDir {
    /// Checkpoints of run `run_id` of the store `db` ([`run_dir`]).
    pub fn for_run(db: &Path, run_id: i64) -> Self {
        Self {
            dir: run_dir(db, run_id),
            run_id: Some(run_id),
            keep: KEEP,
            committed: None,
        }
    }

    /// Checkpoints in `dir`, of no stored run.
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            run_id: None,
            keep: KEEP,
            committed: None,
        }
    }

    /// Asks `committed` how many steps the store holds before removing
    /// old checkpoints: those after it are all kept, and [`KEEP`] of those
    /// at or before it (`None`, a failed query: none is removed this time).
    /// Without it every checkpoint counts as covered.
    pub fn with_committed(mut self, committed: Committed) -> Self {
        self.committed = Some(committed);
        self
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Removes the checkpoints after step `step` (a resume from `step`
    /// drops what the interrupted run did after it).
    pub fn remove_after(&self, step: usize) -> Result<()> {
        for (s, path) in list(&self.dir)? {
            if s > step {
                std::fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
            }
        }
        Ok(())
    }
}

impl CheckpointSaver for CheckpointDir {
    fn save(&mut self, checkpoint: &mut Checkpoint) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|source| Error::Io {
            path: self.dir.clone(),
            source,
        })?;
        if let Some(id) = self.run_id {
            checkpoint.metadata.insert("run_id".into(), id.to_string());
        }
        let step: usize = checkpoint.meta_parsed("step")?;
        let path = step_file(&self.dir, step);
        checkpoint.write_atomic(&path).map_err(at_path(&path))?;
        let covered = match &mut self.committed {
            Some(committed) => committed().unwrap_or(0),
            None => usize::MAX,
        };
        let all: Vec<_> = list(&self.dir)?
            .into_iter()
            .filter(|(s, _)| *s <= covered)
            .collect();
        for (_, old) in &all[..all.len().saturating_sub(self.keep)] {
            std::fs::remove_file(old).map_err(|source| Error::Io {
                path: old.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folder_sits_beside_the_store_and_keeps_the_newest() {
        let dir = run_dir(Path::new("/x/runs/gradscope.db"), 7);
        assert_eq!(dir, Path::new("/x/runs/gradscope.checkpoints/run-7"));
        let tmp = tempfile::tempdir().unwrap();
        let mut saver = CheckpointDir::for_run(&tmp.path().join("g.db"), 3);
        for step in [10, 20, 30, 40, 100] {
            let mut c = Checkpoint::default();
            c.metadata.insert("step".into(), step.to_string());
            saver.save(&mut c).unwrap();
        }
        let steps: Vec<usize> = list(saver.dir()).unwrap().iter().map(|s| s.0).collect();
        assert_eq!(steps, [30, 40, 100], "numeric order, newest kept");
        let last = Checkpoint::read(&step_file(saver.dir(), 100)).unwrap();
        assert_eq!(last.metadata["run_id"], "3");
        saver.remove_after(30).unwrap();
        assert_eq!(list(saver.dir()).unwrap().len(), 1);
        // Checkpoints the store does not cover yet are all kept.
        let covered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(30));
        let seen = covered.clone();
        let mut saver = saver.with_committed(Box::new(move || {
            Some(seen.load(std::sync::atomic::Ordering::Relaxed))
        }));
        for step in [40, 50, 60, 70] {
            let mut c = Checkpoint::default();
            c.metadata.insert("step".into(), step.to_string());
            saver.save(&mut c).unwrap();
        }
        assert_eq!(list(saver.dir()).unwrap().len(), 5);
        covered.store(65, std::sync::atomic::Ordering::Relaxed);
        let mut c = Checkpoint::default();
        c.metadata.insert("step".into(), "80".into());
        saver.save(&mut c).unwrap();
        let steps: Vec<usize> = list(saver.dir()).unwrap().iter().map(|s| s.0).collect();
        assert_eq!(steps, [40, 50, 60, 70, 80]);
    }
}
