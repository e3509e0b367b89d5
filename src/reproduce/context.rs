//! Where a reproduction runs: its mode, its worker threads, its store, and
//! the caller's progress observer; and the sweeps it runs there.

use crate::error::{Error, Result};
use crate::experiment::sweep::engine::{run_sweep, Shard, SweepEvent};
use crate::experiment::sweep::SweepSpec;
use crate::experiment::RunRecord;
use crate::store::{Store, SweepRunRow};
use serde::Serialize;
use std::path::PathBuf;

/// How much to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Minutes in total across all reproductions: enough for the
    /// qualitative result (the CI tests run these).
    Quick,
    /// The reduced-to-two-cores version of the paper's setup, for
    /// docs/REPRODUCTIONS.md.
    Full,
}

impl Mode {
    /// `quick` or `full`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Quick => "quick",
            Mode::Full => "full",
        }
    }
}

/// What a reproduction reports as it goes (the library never prints).
#[derive(Debug)]
pub enum Progress<'a> {
    /// A sweep starts: its name, its runs and those already done.
    Sweep {
        /// The sweep's name.
        name: &'a str,
        /// Runs in it.
        total: usize,
        /// Runs already in the store (not run again).
        done: usize,
    },
    /// A run of the current sweep ended.
    RunEnded {
        /// The run's name.
        name: &'a str,
        /// Its training error, if any.
        error: Option<&'a str>,
    },
    /// A measurement that is not a run (at initialization).
    Measuring(&'a str),
}

/// A sweep spec of a reproduction, both modes, embedded in the binary.
pub struct SweepFile {
    /// The full mode's file in the repository (`reproductions/he2015.toml`).
    pub path: &'static str,
    /// The quick mode's file (`reproductions/quick/he2015.toml`).
    pub quick_path: &'static str,
    /// The full mode's text.
    pub full: &'static str,
    /// The quick mode's text.
    pub quick: &'static str,
}

/// `sweep_file!("he2015")`: the [`SweepFile`] of
/// `reproductions/he2015.toml` and `reproductions/quick/he2015.toml`;
/// `sweep_file!(full_only "he2015-cnn")`: a sweep the quick mode never
/// runs, both modes naming the full file.
#[macro_export]
#[doc(hidden)]
macro_rules! sweep_file {
    (full_only $name:literal) => {
        $crate::reproduce::SweepFile {
            path: concat!("reproductions/", $name, ".toml"),
            quick_path: concat!("reproductions/", $name, ".toml"),
            full: include_str!(concat!("../../reproductions/", $name, ".toml")),
            quick: include_str!(concat!("../../reproductions/", $name, ".toml")),
        }
    };
    ($name:literal) => {
        $crate::reproduce::SweepFile {
            path: concat!("reproductions/", $name, ".toml"),
            quick_path: concat!("reproductions/quick/", $name, ".toml"),
            full: include_str!(concat!("../../reproductions/", $name, ".toml")),
            quick: include_str!(concat!("../../reproductions/quick/", $name, ".toml")),
        }
    };
}

/// A run of a sweep, read back.
pub struct SweptRun {
    /// Its row: id, name, status, cell, seed, class.
    pub row: SweepRunRow,
    /// The cell's values by axis key, as JSON.
    pub cell: serde_json::Map<String, serde_json::Value>,
    /// Everything it recorded.
    pub record: RunRecord,
}

impl SweptRun {
    /// Whether the cell has `key` at `value` (a number, string or bool:
    /// `"0.5"` matches `0.5`, `"tanh"` matches `"tanh"`, `"true"` matches
    /// `true`).
    pub fn has(&self, key: &str, value: &str) -> bool {
        self.cell.get(key).is_some_and(|v| match v {
            serde_json::Value::String(s) => s == value,
            serde_json::Value::Number(n) => value
                .parse::<f64>()
                .is_ok_and(|x| n.as_f64().is_some_and(|y| (x - y).abs() <= 1e-9 * x.abs())),
            serde_json::Value::Bool(b) => value.parse::<bool>() == Ok(*b),
            _ => false,
        })
    }

    /// The final held-out accuracy (NaN when the run did not finish).
    pub fn test_accuracy(&self) -> f64 {
        self.record
            .summary
            .as_ref()
            .map_or(f64::NAN, |s| s.test_accuracy)
    }

    /// The final held-out loss (NaN when the run did not finish).
    pub fn test_loss(&self) -> f64 {
        self.record
            .summary
            .as_ref()
            .map_or(f64::NAN, |s| s.test_loss)
    }

    /// The final training-set loss (NaN when the run did not finish).
    pub fn train_loss(&self) -> f64 {
        self.record
            .summary
            .as_ref()
            .map_or(f64::NAN, |s| s.train_loss)
    }

    /// The final training-set accuracy (NaN when the run did not finish).
    pub fn train_accuracy(&self) -> f64 {
        self.record
            .summary
            .as_ref()
            .map_or(f64::NAN, |s| s.train_accuracy)
    }
}

/// A sweep's runs, read back in the sweep's order.
pub struct SweepResult {
    /// The sweep's id in the store.
    pub sweep_id: i64,
    /// The sweep's name.
    pub name: String,
    /// The file it came from.
    pub path: &'static str,
    /// The parsed sweep spec.
    pub spec: SweepSpec,
    /// Its runs.
    pub runs: Vec<SweptRun>,
}

impl SweepResult {
    /// The runs whose cell has every `(key, value)` of `cell` (all seeds).
    pub fn select(&self, cell: &[(&str, &str)]) -> Vec<&SweptRun> {
        self.runs
            .iter()
            .filter(|r| cell.iter().all(|(k, v)| r.has(k, v)))
            .collect()
    }

    /// The one run with `cell` (the first seed's, when there are several).
    ///
    /// # Errors
    /// [`Error::BadData`] naming the sweep and cell when no run has it.
    pub fn one(&self, cell: &[(&str, &str)]) -> Result<&SweptRun> {
        self.select(cell)
            .into_iter()
            .next()
            .ok_or_else(|| Error::BadData {
                path: PathBuf::from(self.path),
                reason: format!("sweep `{}` has no run with {cell:?}", self.name),
            })
    }

    /// The mean of `f` over the runs with `cell` (NaN when there are none).
    pub fn mean(&self, cell: &[(&str, &str)], f: impl Fn(&SweptRun) -> f64) -> f64 {
        let runs = self.select(cell);
        if runs.is_empty() {
            return f64::NAN;
        }
        runs.iter().map(|r| f(r)).sum::<f64>() / runs.len() as f64
    }
}

/// Where a reproduction runs.
pub struct Context<'a> {
    /// Quick or full.
    pub mode: Mode,
    /// Runs at once (each on one thread).
    pub jobs: usize,
    /// The store the runs are recorded in.
    pub db: PathBuf,
    observe: &'a mut dyn FnMut(&Progress<'_>),
}

impl<'a> Context<'a> {
    /// A context recording into `db`, telling `observe` as it goes.
    pub fn new(
        mode: Mode,
        jobs: usize,
        db: PathBuf,
        observe: &'a mut dyn FnMut(&Progress<'_>),
    ) -> Self {
        Self {
            mode,
            jobs: jobs.max(1),
            db,
            observe,
        }
    }

    /// `quick` in quick mode, `full` in full mode.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        match self.mode {
            Mode::Quick => quick,
            Mode::Full => full,
        }
    }

    /// Tells the observer.
    pub fn progress(&mut self, p: &Progress<'_>) {
        (self.observe)(p);
    }

    /// Runs (or resumes) the mode's sweep of `file` and reads its runs back.
    ///
    /// # Errors
    /// A sweep spec that does not parse, a store error, or a run that
    /// failed for another reason than diverging ([`Error::BadData`] naming
    /// the run and its error): a reproduction compares finished runs.
    pub fn sweep(&mut self, file: &SweepFile) -> Result<SweepResult> {
        let (path, text) = self.pick((file.quick_path, file.quick), (file.path, file.full));
        let spec = SweepSpec::from_toml(text, path)?;
        let observe = &mut *self.observe;
        let mut on_event = |event: &SweepEvent<'_>| match event {
            SweepEvent::Planned { total, done, .. } => observe(&Progress::Sweep {
                name: &spec.name,
                total: *total,
                done: done.len(),
            }),
            SweepEvent::Ended { run, error, .. } => observe(&Progress::RunEnded {
                name: &run.name,
                error: error.as_deref(),
            }),
        };
        let outcome = run_sweep(&spec, &self.db, self.jobs, Shard::ALL, &mut on_event)?;
        let store = Store::open(&self.db)?;
        let mut runs = Vec::with_capacity(outcome.runs.len());
        for row in outcome.runs {
            let record = store.load(row.id)?;
            if record.summary.is_none() && record.status != crate::experiment::RunStatus::Diverged {
                return Err(Error::BadData {
                    path: PathBuf::from(path),
                    reason: format!(
                        "run {} `{}` did not finish ({}): {}",
                        row.id,
                        row.name,
                        record.status.name(),
                        record.error.as_deref().unwrap_or("no error recorded")
                    ),
                });
            }
            let cell = match serde_json::from_str(&row.cell) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            };
            runs.push(SweptRun { row, cell, record });
        }
        Ok(SweepResult {
            sweep_id: outcome.sweep_id,
            name: spec.name.clone(),
            path,
            spec,
            runs,
        })
    }
}
