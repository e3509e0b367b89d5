//! A finding: what diagnosis says about a run, with its evidence and the
//! remedies worth testing, each with the exact command that tests it.

use serde::{Deserialize, Serialize};

/// What kind of problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The gradient shrinks with depth.
    VanishingGradient,
    /// The gradient grows with depth or over steps.
    ExplodingGradient,
    /// A non-finite value appeared.
    Divergence,
    /// Units stuck where the activation's derivative is near 0.
    Saturation,
    /// ReLU-family units inactive for whole batches.
    DeadUnits,
    /// Update:data ratios far from 1e-3.
    LearningRate,
    /// Loss flat, near chance.
    Stalled,
    /// A deeper plain net trains worse than a shallower one (found by
    /// comparing runs).
    Degradation,
}

impl FindingKind {
    /// The snake_case name (as in JSON).
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::VanishingGradient => "vanishing_gradient",
            FindingKind::ExplodingGradient => "exploding_gradient",
            FindingKind::Divergence => "divergence",
            FindingKind::Saturation => "saturation",
            FindingKind::DeadUnits => "dead_units",
            FindingKind::LearningRate => "learning_rate",
            FindingKind::Stalled => "stalled",
            FindingKind::Degradation => "degradation",
        }
    }
}

/// How bad.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Slows or hurts training.
    Warning,
    /// Training cannot work like this.
    Critical,
}

/// One figure behind a finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What the figure is (`first_last_ratio`, `decay_per_layer`).
    pub name: String,
    /// Its value.
    pub value: f64,
    /// What it means, in words.
    pub note: String,
}

impl Evidence {
    /// The value as a count (`13` layers, not `1.300e1`) when it is a
    /// whole number a count can be; `None` for ratios and other reals.
    pub fn as_count(&self) -> Option<i64> {
        let v = self.value;
        (v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15).then_some(v as i64)
    }
}

/// A change worth testing, ranked by the order in the list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Remedy {
    /// Short title (`He initialization`).
    pub title: String,
    /// Why it should help.
    pub why: String,
    /// The exact `gradscope train ...` command that tests it.
    pub command: String,
}

/// One diagnosis.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// What kind of problem.
    pub kind: FindingKind,
    /// How bad.
    pub severity: Severity,
    /// One sentence a person can act on.
    pub summary: String,
    /// Layers involved (depth indices, input side first).
    pub layers: Vec<usize>,
    /// Steps involved (first and last, or the one step).
    pub steps: Vec<usize>,
    /// The figures behind it.
    pub evidence: Vec<Evidence>,
    /// Ranked remedies.
    pub remedies: Vec<Remedy>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(value: f64) -> Evidence {
        Evidence {
            name: "x".into(),
            value,
            note: String::new(),
        }
    }

    #[test]
    fn whole_numbers_read_as_counts_and_reals_do_not() {
        assert_eq!(evidence(13.0).as_count(), Some(13));
        assert_eq!(evidence(0.0).as_count(), Some(0));
        assert_eq!(evidence(3.085e-17).as_count(), None);
        assert_eq!(evidence(12.5).as_count(), None);
        assert_eq!(evidence(f64::NAN).as_count(), None);
        assert_eq!(evidence(1e300).as_count(), None);
    }
}
