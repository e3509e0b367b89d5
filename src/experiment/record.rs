//! A run's whole record in memory: what the trainer reported, in order.
//! The store writes it and reads it back; diagnosis and reports read it.

use super::events::{EvalRecord, Event, RunStatus, Sink, StepRecord, Summary};
use super::Spec;
use crate::probe::StepProbe;
use serde::{Deserialize, Serialize};

/// Everything recorded about one run.
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
    /// Every step, in order.
    pub steps: Vec<StepRecord>,
    /// Every evaluation, in order.
    pub evals: Vec<EvalRecord>,
    /// Per-layer probes at every recorded step, in order.
    pub probes: Vec<StepProbe>,
    /// The end of the run, when it finished.
    pub summary: Option<Summary>,
    /// The error that ended it, if any.
    pub error: Option<String>,
}

impl RunRecord {
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

    /// Number of layers probed (0 when nothing was).
    pub fn depth(&self) -> usize {
        self.probes.first().map_or(0, |p| p.layers.len())
    }
}

/// A sink that keeps the whole record in memory.
pub struct RecordSink {
    /// What has been recorded so far.
    pub record: RunRecord,
}

impl RecordSink {
    /// Recording for `spec`.
    pub fn new(spec: Spec) -> Self {
        Self {
            record: RunRecord::new(spec),
        }
    }
}

impl Sink for RecordSink {
    fn event(&mut self, event: &Event<'_>) {
        let r = &mut self.record;
        match event {
            Event::Started { total_steps, .. } => r.total_steps = *total_steps,
            Event::Step(s) => r.steps.push((*s).clone()),
            Event::Probe(p) => r.probes.push((*p).clone()),
            Event::Eval(e) => r.evals.push((*e).clone()),
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
