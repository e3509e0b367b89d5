//! Units that pass no gradient: saturated (sigmoid, tanh, softsign:
//! derivative near 0) and dead (ReLU family: inactive on the whole batch). Both read the
//! per-layer fraction from the probes, median over the second half of the
//! finite probed steps, and date it from the step after which it stayed
//! above the threshold.

use super::super::finding::{Evidence, Finding, FindingKind, Remedy, Severity};
use super::super::series::{above_since, late_probes, layer_list, layer_medians};
use super::super::{remedies, thresholds as t};
use super::{evidence, pct};
use crate::experiment::RunRecord;
use crate::probe::LayerProbe;

/// Layers whose late median of `value` exceeds `threshold`, each with that
/// median and the step since which it stayed above; and the number of
/// layers measured (those with a finite median).
fn layers_above(
    record: &RunRecord,
    value: fn(&LayerProbe) -> f64,
    threshold: f64,
) -> (Vec<(usize, f64, Option<usize>)>, usize) {
    let medians = layer_medians(&late_probes(record), value);
    let measured = medians.iter().filter(|m| m.is_finite()).count();
    let flagged = medians
        .iter()
        .enumerate()
        .filter(|(_, &m)| m > threshold)
        .map(|(i, &m)| (i, m, above_since(record, i, threshold, value)))
        .collect();
    (flagged, measured)
}

/// The common shape of both findings.
struct Units {
    kind: FindingKind,
    what: &'static str,
    severity: Severity,
    flagged: Vec<(usize, f64, Option<usize>)>,
    measured: usize,
    remedies: Vec<Remedy>,
}

impl Units {
    fn finding(self, record: &RunRecord) -> Finding {
        let layers: Vec<usize> = self.flagged.iter().map(|f| f.0).collect();
        let fractions: Vec<f64> = self.flagged.iter().map(|f| f.1).collect();
        let mean = fractions.iter().sum::<f64>() / fractions.len() as f64;
        let max = fractions.iter().copied().fold(0.0, f64::max);
        let since = self.flagged.iter().filter_map(|f| f.2).min();
        let mut summary = format!(
            "{} of {} hidden layers ({}) {} {} {} units on average (up to {}; median over \
             the second half of the run)",
            layers.len(),
            self.measured,
            layer_list(&layers),
            if layers.len() == 1 { "has" } else { "have" },
            pct(mean),
            self.what,
            pct(max),
        );
        if let Some(s) = since {
            summary.push_str(&format!(", from step {s} on"));
        }
        let mut ev: Vec<Evidence> = vec![
            evidence(
                &format!("{}_fraction_mean", self.what),
                mean,
                format!("mean {} fraction over the flagged layers", self.what),
            ),
            evidence(
                &format!("{}_fraction_max", self.what),
                max,
                format!("largest {} fraction of a layer", self.what),
            ),
        ];
        for &(i, m, s) in &self.flagged {
            let note = match s {
                Some(s) => format!(
                    "{} fraction of layer {i}, above the bar since step {s}",
                    self.what
                ),
                None => format!("{} fraction of layer {i}", self.what),
            };
            ev.push(evidence(
                &format!("{}_fraction_layer_{i}", self.what),
                m,
                note,
            ));
        }
        let last = record.probes.last().map(|p| p.step);
        Finding {
            kind: self.kind,
            severity: self.severity,
            summary,
            layers,
            steps: since.into_iter().chain(last).collect(),
            evidence: ev,
            remedies: self.remedies,
        }
    }
}

/// Sigmoid/tanh-like units stuck where the derivative is below 5% of its
/// maximum.
pub fn saturation(record: &RunRecord) -> Option<Finding> {
    // A ReLU unit at z < 0 has derivative 0 too; that is `dead_units`' case.
    if !remedies::saturating(record.spec.model.activation) {
        return None;
    }
    let (flagged, measured) = layers_above(record, |l| l.saturated, t::SATURATED_LAYER);
    if flagged.is_empty() {
        return None;
    }
    let deep = flagged
        .iter()
        .filter(|f| f.1 > t::SATURATED_CRITICAL)
        .count();
    let severity = if 2 * deep >= measured {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let late = late_probes(record);
    let p15 = layer_medians(&late, |l| l.pre_pct[0]);
    let p50 = layer_medians(&late, |l| l.pre_pct[1]);
    let p85 = layer_medians(&late, |l| l.pre_pct[2]);
    let units = Units {
        kind: FindingKind::Saturation,
        what: "saturated",
        severity,
        flagged,
        measured,
        remedies: remedies::saturation(&record.spec),
    };
    let mut finding = units.finding(record);
    add_side(&mut finding, [&p15, &p50, &p85]);
    Some(finding)
}

/// Which end of the activation the flagged layers are stuck at, from the
/// late medians of their pre-activations' 15th, 50th and 85th percentiles:
/// the low end when even the 85th percentile is below 0, the high end when
/// even the 15th is above. Glorot & Bengio (2010, Fig. 2) saw a deep
/// sigmoid net's top hidden layer pushed to 0, the low end.
fn add_side(finding: &mut Finding, [p15, p50, p85]: [&[f64]; 3]) {
    let mut sides = Vec::new();
    for &i in &finding.layers {
        let (Some(&lo), Some(&mid), Some(&hi)) = (p15.get(i), p50.get(i), p85.get(i)) else {
            continue;
        };
        if mid.is_finite() {
            finding.evidence.push(evidence(
                &format!("pre_median_layer_{i}"),
                mid,
                format!("median pre-activation of layer {i} (late median)"),
            ));
        }
        sides.push(if hi < 0.0 {
            Some(false)
        } else if lo > 0.0 {
            Some(true)
        } else {
            None
        });
    }
    let side = if !sides.is_empty() && sides.iter().all(|s| *s == Some(false)) {
        "the low end (85% of pre-activations below 0), where the output is pinned at its minimum"
    } else if !sides.is_empty() && sides.iter().all(|s| *s == Some(true)) {
        "the high end (85% of pre-activations above 0), where the output is pinned at its maximum"
    } else {
        return;
    };
    finding.summary.push_str(&format!("; stuck at {side}"));
}

/// ReLU-family units inactive on the whole batch.
pub fn dead_units(record: &RunRecord) -> Option<Finding> {
    let (flagged, measured) = layers_above(record, |l| l.dead, t::DEAD_LAYER);
    if flagged.is_empty() {
        return None;
    }
    let severity = if flagged.iter().any(|f| f.1 > t::DEAD_CRITICAL) {
        Severity::Critical
    } else {
        Severity::Warning
    };
    let units = Units {
        kind: FindingKind::DeadUnits,
        what: "dead",
        severity,
        flagged,
        measured,
        remedies: remedies::dead_units(&record.spec),
    };
    Some(units.finding(record))
}
