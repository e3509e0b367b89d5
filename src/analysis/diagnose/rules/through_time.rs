//! The gradient through time of a recurrent net: vanishing when the
//! gradient reaching the hidden state at early time steps is a tiny
//! fraction of what reaches it at the last step.
//!
//! Profile: for each time step `t`, the median over the finite probed
//! steps (weighed by the steps each stands for) of
//! `log10 (||dL/dh_t|| / ||dL/dh_T||)` in the first recurrent layer. The
//! *horizon* is the smallest lag `T - 1 - t` at which the profile falls
//! below [`t::THROUGH_TIME_FLOOR`]: what happened that many steps before
//! the end no longer reaches the weights.
//!
//! Not for truncated BPTT (`model.truncation > 0`), which cuts the gradient
//! at a chunk's start by design (it is exactly 0 beyond), so the horizon
//! is the truncation, not a finding. Where the net reads out at every step
//! (text, copy), `dL/dh_t` includes step `t`'s own read-out, so early steps
//! never look starved: the rule sees the gradient from the last read-out
//! only on tasks read out at the last step.

use super::super::finding::{Finding, FindingKind, Severity};
use super::super::series::{finite_probes, step_weights, weighted_median};
use super::super::{remedies, thresholds as t};
use super::{evidence, sci};
use crate::experiment::RunRecord;
use crate::probe::{Axis, StepProbe};

/// Per time step, the median over the finite probes of `log10` of
/// `||dL/dh_t|| / ||dL/dh_T||` in layer 0; empty without such a series.
pub fn through_time_profile(record: &RunRecord) -> Vec<f64> {
    let probes: Vec<&StepProbe> = finite_probes(record)
        .filter(|p| hidden_grad(p).is_some())
        .collect();
    let weights = step_weights(&probes);
    let len = probes
        .first()
        .and_then(|p| hidden_grad(p))
        .map_or(0, |s| s.len());
    (0..len)
        .map(|t| {
            let values = probes.iter().zip(&weights).filter_map(|(p, &w)| {
                let s = hidden_grad(p)?;
                let last = s.last()?;
                Some(((s.get(t)? / last).log10(), w))
            });
            weighted_median(values).unwrap_or(f64::NAN)
        })
        .collect()
}

/// `||dL/dh_t||` per time step of layer 0 at probe `p`.
pub(super) fn hidden_grad(p: &StepProbe) -> Option<Vec<f64>> {
    let series = p.layers.first()?.series("hidden_grad", Axis::TimeStep)?;
    Some(series.iter().map(|s| s.l2()).collect())
}

/// Vanishing through time, with the horizon and ranked remedies.
pub fn vanishing_through_time(record: &RunRecord) -> Option<Finding> {
    if record.spec.model.recurrent.truncation > 0 {
        return None;
    }
    let profile = through_time_profile(record);
    let len = profile.len();
    if len < 2 {
        return None;
    }
    let floor = t::THROUGH_TIME_FLOOR.log10();
    // The first step (from the end) below the floor.
    let below = (0..len).rev().find(|&i| profile[i] < floor)?;
    let horizon = len - 1 - below;
    let out_of_reach = below + 1;
    let severity = if (horizon as f64) <= t::THROUGH_TIME_CRITICAL_LAG * len as f64 {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let first = 10f64.powf(profile[0]);
    let per_step = 10f64.powf(profile[0] / (len - 1) as f64);
    let summary = format!(
        "through time: the gradient at the first of {len} time steps is {} of the gradient at \
         the last (median over the run); {horizon} steps back from the end it is already below \
         {} of it, so the first {out_of_reach} steps barely reach the weights",
        sci(first),
        sci(t::THROUGH_TIME_FLOOR)
    );
    let steps: Vec<usize> = {
        let mut s = finite_probes(record).map(|p| p.step);
        let first = s.next();
        first.into_iter().chain(s.last()).collect()
    };
    Some(Finding {
        kind: FindingKind::VanishingGradient,
        severity,
        summary,
        layers: vec![0],
        steps,
        evidence: vec![
            evidence(
                "first_last_through_time",
                first,
                "||dL/dh_1|| over ||dL/dh_T|| in recurrent layer 0, median over the run",
            ),
            evidence(
                "horizon_steps",
                horizon as f64,
                format!(
                    "lag (steps back from the last) beyond which the gradient is below {} of \
                     its value at the last step",
                    sci(t::THROUGH_TIME_FLOOR)
                ),
            ),
            evidence(
                "decay_per_step",
                per_step,
                "geometric mean factor on the gradient per time step back",
            ),
        ],
        remedies: remedies::vanishing_through_time(&record.spec),
    })
}
