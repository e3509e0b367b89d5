//! A run's record in memory: what the trainer reported, in order, with
//! each series bounded ([`thinning`](super::thinning): every step of a
//! run of up to 16,384 steps, evenly spaced steps and the last of a longer
//! one), so a run of a million steps holds as little memory as one of ten
//! thousand. The store writes every step and reads the record back
//! thinned the same way; diagnosis and reports read it.

use super::events::{EvalRecord, Event, RunStatus, Sink, StepRecord, Summary};
use super::thinning::{Thinner, Thinning, EVAL_CAP, PROBE_CAP, STEP_CAP};
use super::Spec;
use crate::probe::StepProbe;
use serde::{Deserialize, Serialize};

/// What is recorded about one run: every series thinned by
/// [`RunRecord::STEPS`], [`RunRecord::PROBES`] and [`RunRecord::EVALS`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// Store id, when stored.
    pub id: Option<i64>,
    /// The resolved spec.
    pub spec: Spec,
    /// Where it stands.
    pub status: RunStatus,
    /// Total steps planned.
    pub total_steps: usize,
    /// The steps, in order: every step up to [`RunRecord::STEPS`]'s cap,
    /// evenly spaced ones and the last beyond it.
    pub steps: Vec<StepRecord>,
    /// The evaluations, in order (thinned likewise).
    pub evals: Vec<EvalRecord>,
    /// Per-layer probes at the probed steps, in order (thinned likewise).
    pub probes: Vec<StepProbe>,
    /// The end of the run, when it finished.
    pub summary: Option<Summary>,
    /// The error that ended it, if any.
    pub error: Option<String>,
}

impl RunRecord {
    /// How the steps are thinned.
    pub const STEPS: Thinning = Thinning { cap: STEP_CAP };
    /// How the probed steps are thinned.
    pub const PROBES: Thinning = Thinning { cap: PROBE_CAP };
    /// How the evaluations are thinned.
    pub const EVALS: Thinning = Thinning { cap: EVAL_CAP };

    /// The record with each series thinned as a [`RecordSink`] would have
    /// thinned it (a record read back whole from the store).
    pub fn thinned(mut self) -> Self {
        self.steps = Self::STEPS.thin(self.steps);
        self.probes = Self::PROBES.thin(self.probes);
        self.evals = Self::EVALS.thin(self.evals);
        self
    }

    /// An empty record for `spec`.
    pub fn new(spec: Spec) -> Self {
        Self {
            id: None,
            spec,
            status: RunStatus::Running,
            total_steps: 0,
            steps: Vec::new(),
            evals: Vec::new(),
            probes: Vec::new(),
            summary: None,
            error: None,
        }
    }

    /// Steps done: the last recorded step's index plus one (0 before the
    /// first). Not `steps.len()`, which thinning bounds.
    pub fn steps_done(&self) -> usize {
        self.steps.last().map_or(0, |s| s.step + 1)
    }

    /// Number of layers probed (0 when nothing was).
    pub fn depth(&self) -> usize {
        self.probes.first().map_or(0, |p| p.layers.len())
    }
}

/// A sink that keeps the run's record in memory, each series thinned
/// as it grows (bounded memory however long the run).
pub struct RecordSink {
    /// What has been recorded so far.
    pub record: RunRecord,
    steps: Thinner,
    probes: Thinner,
    evals: Thinner,
}

impl RecordSink {
    /// Recording for `spec`.
    pub fn new(spec: Spec) -> Self {
        Self {
            record: RunRecord::new(spec),
            steps: Thinner::new(RunRecord::STEPS),
            probes: Thinner::new(RunRecord::PROBES),
            evals: Thinner::new(RunRecord::EVALS),
        }
    }
}

impl Sink for RecordSink {
    fn event(&mut self, event: &Event<'_>) {
        let r = &mut self.record;
        match event {
            Event::Started { total_steps, .. } => r.total_steps = *total_steps,
            Event::Step(s) => self.steps.push(&mut r.steps, (*s).clone()),
            Event::Probe(p) => self.probes.push(&mut r.probes, (*p).clone()),
            Event::Eval(e) => self.evals.push(&mut r.evals, (*e).clone()),
            Event::Finished(s) => {
                r.summary = Some((*s).clone());
                r.status = RunStatus::Finished;
            }
            Event::Failed { status, error } => {
                r.status = *status;
                r.error = Some(error.to_string());
            }
        }
    }
}

/// Sends every event to several sinks.
pub struct Tee<'a>(pub Vec<&'a mut dyn Sink>);

impl Sink for Tee<'_> {
    fn event(&mut self, event: &Event<'_>) {
        for s in self.0.iter_mut() {
            s.event(event);
        }
    }

    fn stop_requested(&self) -> bool {
        self.0.iter().any(|s| s.stop_requested())
    }
}
