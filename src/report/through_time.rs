//! The through-time map of a recurrent run: time step `t` (rows, the first
//! step at the bottom) against training step (columns), colour
//! `log10 ||dL/dh_t||` of the first recurrent layer, all of the gradient
//! reaching its hidden state at step `t` (from the read-out and from step
//! `t + 1`). A vanishing gradient through time is a dark band at the
//! bottom, the early steps the loss no longer reaches; an exploding one is
//! bright there.
//!
//! It is the gradient-flow map ([`super::flow_map`]) with time steps for
//! layers: each probed step's `hidden_grad` series becomes a column.

use super::flow_map;
use crate::experiment::RunRecord;
use crate::probe::{Axis, LayerProbe, StepProbe, TensorStats};

/// The series the map draws.
pub const SERIES: &str = "hidden_grad";

/// Whether `record` has a series to draw (a recurrent run).
pub fn applies(record: &RunRecord) -> bool {
    record
        .probes
        .iter()
        .any(|p| p.layers.first().is_some_and(|l| hidden_grad(l).is_some()))
}

/// `||dL/dh_1|| / ||dL/dh_T||` of the first recurrent layer at the last
/// probed step that has the series: how much of the gradient at the last
/// time step reaches the first.
///
/// `None` under truncated BPTT, which stops the gradient at a chunk's
/// start by design.
pub fn first_last(record: &RunRecord) -> Option<f64> {
    if record.spec.model.recurrent.truncation > 0 {
        return None;
    }
    let series = record
        .probes
        .iter()
        .rev()
        .find_map(|p| hidden_grad(p.layers.first()?))?;
    let (first, last) = (series.first()?.l2(), series.last()?.l2());
    (last > 0.0).then(|| first / last)
}

/// Layer `l`'s `||dL/dh_t||` series, when it has one.
pub(crate) fn hidden_grad(l: &LayerProbe) -> Option<&[TensorStats]> {
    l.series(SERIES, Axis::TimeStep)
}

/// The record as the flow map reads it: per probed step, one row per time
/// step of the first layer, its `dL/dh_t` in `pre_grad`.
fn as_rows(record: &RunRecord) -> RunRecord {
    let mut rows = RunRecord::new(record.spec.clone());
    rows.probes = record
        .probes
        .iter()
        .filter_map(|p| {
            let series = hidden_grad(p.layers.first()?)?;
            Some(StepProbe {
                step: p.step,
                layers: series.iter().enumerate().map(|(t, s)| row(t, *s)).collect(),
                histograms: Vec::new(),
            })
        })
        .collect();
    rows
}

/// Time step `t`'s row: `dL/dh_t` as its `pre_grad`, nothing else.
fn row(t: usize, grad: TensorStats) -> LayerProbe {
    LayerProbe {
        layer: t,
        path: format!("t{t}"),
        weight: TensorStats::default(),
        weight_grad: TensorStats::default(),
        bias_grad: None,
        pre_grad: grad,
        out_grad: TensorStats::default(),
        pre: TensorStats::default(),
        pre_pct: [f64::NAN; 3],
        out: TensorStats::default(),
        saturated: f64::NAN,
        dead: f64::NAN,
        update_ratio: f64::NAN,
        series: Vec::new(),
    }
}

fn pre_grad(l: &LayerProbe) -> &TensorStats {
    &l.pre_grad
}

/// The map, titled `title`.
pub fn render(title: &str, record: &RunRecord) -> String {
    flow_map::render_rows(
        title,
        &as_rows(record),
        pre_grad,
        "‖∂L/∂hₜ‖₂",
        None,
        "time step (first at bottom)",
    )
}
