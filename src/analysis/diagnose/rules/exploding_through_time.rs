//! The gradient of a recurrent net exploding through time: the product of
//! `T` Jacobians `dh_t/dh_{t-1}` grows when the recurrent weight's
//! spectral radius is well above 1, and the gradient with it. It shows in
//! two figures.
//!
//! **Spikes** (every step's global norm, [`StepRecord::grad_norm`], before
//! clipping): a step whose norm is at least [`t::EXPLODING_SPIKE`] times
//! the *typical* norm around it, the median over the finite steps within
//! [`t::SPIKE_WINDOW`] steps either side (the step included: a median
//! shrugs off the spike). The finding counts them and names the largest:
//! its step, its factor, and, when that step was probed, the update:data
//! ratio of the recurrent weight `W_hh` there (whether the update took it).
//!
//! **Growth through time** (the `hidden_grad` series of the first
//! recurrent layer, on probed steps): per probed step the peak over `t` of
//! `||dL/dh_t|| / ||dL/dh_T||`; the rule fires when it reaches
//! [`t::THROUGH_TIME_GROWTH`] at some probed step, and says at how many,
//! where it was largest, and its median over the run (weighed by the steps
//! each probe stands for, as everywhere). Where the net reads out at every
//! step, `dL/dh_t` sums one term per later read-out, which stays far below
//! that bar unless the terms themselves grow.
//!
//! Severity. Clipping (`optimizer.clip_norm`) keeps a spike out of the
//! update: the step is rescaled to the clip norm. With it the finding is
//! `Info` (clipping caught the spikes), or `Warning` when the median norm
//! is itself above the clip norm (most steps are rescaled: every update is
//! the learning rate times the clip norm in size, whatever the gradient),
//! when a spike stayed under it, or when the run diverged all the same.
//! Without clipping it is `Critical` when a spike reaches
//! [`t::EXPLODING_SPIKE_CRITICAL`], the growth through time
//! [`t::THROUGH_TIME_GROWTH_CRITICAL`], or the run diverged; `Warning`
//! otherwise.
//!
//! A diverged run: the divergence rule names its first non-finite step;
//! this one looks at the finite steps before it and fires as well when
//! they show the explosion (the cause, where divergence is the outcome),
//! naming that step. Recurrent runs only (`model.kind` rnn, lstm, gru):
//! an MLP's spikes over steps are the exploding-gradient rule's.
//!
//! [`StepRecord::grad_norm`]: crate::experiment::trainer::StepRecord

use super::super::finding::{Evidence, Finding, FindingKind, Severity};
use super::super::series::{finite_probes, median, step_weights, weighted_median};
use super::super::{remedies, thresholds as t};
use super::through_time::hidden_grad;
use super::{evidence, pct, sci};
use crate::experiment::{RunRecord, RunStatus};
use crate::probe::StepProbe;

/// A step whose global gradient norm spiked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spike {
    /// The step.
    pub step: usize,
    /// Its global gradient norm (before clipping).
    pub norm: f64,
    /// The median norm over the steps around it.
    pub typical: f64,
}

impl Spike {
    /// How many times the typical norm.
    pub fn factor(&self) -> f64 {
        self.norm / self.typical
    }
}

/// The steps whose global gradient norm is at least
/// [`t::EXPLODING_SPIKE`] times the median over the finite steps within
/// [`t::SPIKE_WINDOW`] of it; none with fewer than [`t::SPIKE_MIN_STEPS`]
/// finite steps.
pub fn spikes(record: &RunRecord) -> Vec<Spike> {
    let norms: Vec<(usize, f64)> = record
        .steps
        .iter()
        .filter(|s| s.grad_norm.is_finite())
        .map(|s| (s.step, s.grad_norm))
        .collect();
    if norms.len() < t::SPIKE_MIN_STEPS {
        return Vec::new();
    }
    (0..norms.len())
        .filter_map(|i| {
            let lo = i.saturating_sub(t::SPIKE_WINDOW);
            let hi = (i + t::SPIKE_WINDOW + 1).min(norms.len());
            let typical = median(norms[lo..hi].iter().map(|n| n.1))?;
            let (step, norm) = norms[i];
            (typical > 0.0 && norm >= t::EXPLODING_SPIKE * typical).then_some(Spike {
                step,
                norm,
                typical,
            })
        })
        .collect()
}

/// One probed step's peak of `||dL/dh_t|| / ||dL/dh_T||` over `t < T`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Peak {
    step: usize,
    /// The time step where it peaked.
    time: usize,
    ratio: f64,
}

/// The growth through time at each finite probe with a `hidden_grad`
/// series whose last entry is positive, with the steps each stands for;
/// and the series' length.
fn peaks(record: &RunRecord) -> (Vec<(Peak, u64)>, usize) {
    let probes: Vec<&StepProbe> = finite_probes(record)
        .filter(|p| hidden_grad(p).is_some())
        .collect();
    let weights = step_weights(&probes);
    let mut len = 0;
    let peaks = probes
        .iter()
        .zip(weights)
        .filter_map(|(p, w)| {
            let g = hidden_grad(p)?;
            len = len.max(g.len());
            let last = *g.last()?;
            if last.is_nan() || last <= 0.0 {
                return None;
            }
            let (time, ratio) = g[..g.len() - 1]
                .iter()
                .map(|x| x / last)
                .enumerate()
                .filter(|(_, r)| r.is_finite())
                .max_by(|a, b| a.1.total_cmp(&b.1))?;
            Some((
                Peak {
                    step: p.step,
                    time,
                    ratio,
                },
                w,
            ))
        })
        .collect();
    (peaks, len)
}

/// The growth through time, when it reached the threshold: the largest
/// peak, the probes at or above it, the probes, the weighted median.
struct Growth {
    largest: Peak,
    above: Vec<usize>,
    probes: usize,
    median: f64,
    len: usize,
}

fn growth_through_time(record: &RunRecord) -> Option<Growth> {
    let (peaks, len) = peaks(record);
    // The first of equal peaks.
    let largest = peaks
        .iter()
        .map(|p| p.0)
        .reduce(|a, b| if b.ratio > a.ratio { b } else { a })?;
    if largest.ratio < t::THROUGH_TIME_GROWTH {
        return None;
    }
    Some(Growth {
        largest,
        above: peaks
            .iter()
            .filter(|p| p.0.ratio >= t::THROUGH_TIME_GROWTH)
            .map(|p| p.0.step)
            .collect(),
        probes: peaks.len(),
        median: weighted_median(peaks.iter().map(|&(p, w)| (p.ratio, w))).unwrap_or(f64::NAN),
        len,
    })
}

/// The update:data ratio of layer 0 (`W_hh`) at `step`, when probed.
fn update_ratio_at(record: &RunRecord, step: usize) -> Option<f64> {
    finite_probes(record)
        .find(|p| p.step == step)
        .and_then(|p| p.layers.first())
        .map(|l| l.update_ratio)
        .filter(|r| r.is_finite())
}

/// The first step with a non-finite loss or gradient norm, when the run
/// diverged.
fn diverged_at(record: &RunRecord) -> Option<usize> {
    let bad = record
        .steps
        .iter()
        .find(|s| !s.loss.is_finite() || !s.grad_norm.is_finite())
        .map(|s| s.step);
    match (record.status, bad) {
        (_, Some(step)) => Some(step),
        (RunStatus::Diverged, None) => Some(record.steps.last().map_or(0, |s| s.step + 1)),
        _ => None,
    }
}

/// The spikes' clause of the summary and their evidence.
fn spike_report(
    record: &RunRecord,
    spikes: &[Spike],
    clip: Option<f64>,
) -> (String, Vec<Evidence>) {
    let largest = spikes
        .iter()
        .copied()
        .reduce(|a, b| if b.factor() > a.factor() { b } else { a })
        .expect("called with some");
    let n = spikes.len();
    let mut clause = format!(
        "{n} step{} had a gradient norm at least {} times the typical norm around {}; the \
         largest, at step {}, was {} times it ({} against {})",
        if n == 1 { "" } else { "s" },
        t::EXPLODING_SPIKE,
        if n == 1 { "it" } else { "them" },
        largest.step,
        sci(largest.factor()),
        sci(largest.norm),
        sci(largest.typical),
    );
    let mut ev = vec![
        evidence(
            "spike_steps",
            n as f64,
            format!(
                "steps whose global gradient norm (before clipping) is at least {}x the median \
                 over the {} steps either side",
                t::EXPLODING_SPIKE,
                t::SPIKE_WINDOW
            ),
        ),
        evidence(
            "largest_spike_factor",
            largest.factor(),
            format!(
                "the largest spike over its typical norm, at step {}",
                largest.step
            ),
        ),
        evidence(
            "largest_spike_step",
            largest.step as f64,
            "step of the largest spike",
        ),
        evidence(
            "typical_grad_norm",
            largest.typical,
            "median global gradient norm around the largest spike",
        ),
    ];
    if let Some(c) = clip {
        let clipped = spikes.iter().filter(|s| s.norm > c).count();
        clause.push_str(&format!(
            "; clipping to {c} kept {clipped} of them out of the update (the largest was scaled \
             by {})",
            sci((c / largest.norm).min(1.0))
        ));
        ev.push(evidence(
            "clipped_spikes",
            clipped as f64,
            format!("spikes above the clip norm {c}, rescaled to it before the update"),
        ));
    }
    if let Some(r) = update_ratio_at(record, largest.step) {
        clause.push_str(&format!(
            "; at that step the update moved W_hh by {} of its size (update:data ratio; \
             ~1e-3 is typical)",
            sci(r)
        ));
        ev.push(evidence(
            "spike_update_ratio",
            r,
            "update:data ratio of recurrent layer 0's W_hh at the largest spike (Karpathy's \
             rule of thumb: ~1e-3)",
        ));
    }
    (clause, ev)
}

/// The growth-through-time clause of the summary and its evidence.
fn growth_report(g: &Growth) -> (String, Vec<Evidence>) {
    let p = g.largest;
    let clause = format!(
        "at step {} the gradient reaching time step {} was {} times the gradient at the last of \
         {} time steps; at {} of {} probed steps it grew more than {}-fold toward the start \
         (median over the run {})",
        p.step,
        p.time + 1,
        sci(p.ratio),
        g.len,
        g.above.len(),
        g.probes,
        sci(t::THROUGH_TIME_GROWTH),
        sci(g.median),
    );
    let ev = vec![
        evidence(
            "through_time_peak",
            p.ratio,
            format!(
                "largest ||dL/dh_t|| over ||dL/dh_T|| in recurrent layer 0 (time step {}, \
                 step {})",
                p.time + 1,
                p.step
            ),
        ),
        evidence(
            "through_time_peak_step",
            p.step as f64,
            "probed step of that peak",
        ),
        evidence(
            "through_time_growth_steps",
            g.above.len() as f64,
            format!(
                "probed steps where the gradient grew more than {}-fold toward the start, of {}",
                sci(t::THROUGH_TIME_GROWTH),
                g.probes
            ),
        ),
        evidence(
            "through_time_median_peak",
            g.median,
            "median over the run of each probed step's peak ratio",
        ),
    ];
    (clause, ev)
}

/// Gradient-norm spikes, or a gradient growing toward early time steps,
/// in a recurrent run; with ranked remedies.
pub fn exploding_through_time(record: &RunRecord) -> Option<Finding> {
    if !record.spec.model.kind.is_recurrent() {
        return None;
    }
    let spikes = spikes(record);
    let growth = growth_through_time(record);
    if spikes.is_empty() && growth.is_none() {
        return None;
    }
    let clip = record.spec.optimizer.clip_norm;
    let diverged = diverged_at(record);
    let mut parts = Vec::new();
    let mut ev = Vec::new();
    if !spikes.is_empty() {
        let (clause, e) = spike_report(record, &spikes, clip);
        parts.push(clause);
        ev.extend(e);
    }
    if let Some(g) = &growth {
        let (clause, e) = growth_report(g);
        parts.push(clause);
        ev.extend(e);
    }
    let largest_spike = spikes.iter().map(Spike::factor).fold(0.0, f64::max);
    let peak = growth.as_ref().map_or(0.0, |g| g.largest.ratio);
    let severity = match clip {
        Some(c) => {
            let norms = record.steps.iter().map(|s| s.grad_norm);
            let typical = median(norms.filter(|n| n.is_finite())).unwrap_or(0.0);
            let rescaled = record
                .steps
                .iter()
                .filter(|s| s.grad_norm.is_finite() && s.grad_norm > c)
                .count();
            let escaped = spikes.iter().any(|s| s.norm <= c);
            if typical > c {
                let frac = rescaled as f64 / record.steps.len().max(1) as f64;
                parts.push(format!(
                    "the median norm, {}, is above the clip norm {c}: clipping rescaled {} of \
                     the steps, so every update is the learning rate times the clip norm in \
                     size, whatever the gradient's",
                    sci(typical),
                    pct(frac)
                ));
                ev.push(evidence(
                    "clipped_steps_fraction",
                    frac,
                    format!("steps whose norm was above the clip norm {c}"),
                ));
            }
            if typical > c || escaped || diverged.is_some() {
                Severity::Warning
            } else {
                Severity::Info
            }
        }
        None if diverged.is_some()
            || largest_spike >= t::EXPLODING_SPIKE_CRITICAL
            || peak >= t::THROUGH_TIME_GROWTH_CRITICAL =>
        {
            Severity::Critical
        }
        None => Severity::Warning,
    };
    if let Some(step) = diverged {
        parts.push(format!("the run then diverged at step {step}"));
        ev.push(evidence(
            "diverged_at",
            step as f64,
            "first step with a non-finite loss or gradient norm",
        ));
    }
    let mut steps: Vec<usize> = match (spikes.first(), spikes.last(), &growth) {
        (Some(a), Some(b), _) => vec![a.step, b.step],
        (_, _, Some(g)) => vec![g.above[0], *g.above.last().expect("not empty")],
        _ => Vec::new(),
    };
    steps.dedup();
    Some(Finding {
        kind: FindingKind::ExplodingGradient,
        severity,
        summary: format!("the gradient explodes through time: {}", parts.join("; ")),
        layers: vec![0],
        steps,
        evidence: ev,
        remedies: remedies::exploding_through_time(&record.spec),
    })
}
