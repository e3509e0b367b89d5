//! Classifying a run of a sweep from its status and findings: one class,
//! the rule that decided it, and that rule's evidence.
//!
//! The first rule that holds decides, in this order (causes before
//! symptoms: a net whose gradient vanishes also stalls, and one that
//! explodes often ends in NaN only later):
//!
//! | class | rule | holds when |
//! | --- | --- | --- |
//! | `diverges` | `divergence` | the run stopped on a NaN/Inf (status `diverged`), or the `divergence` finding fired |
//! | `explodes` | `exploding_gradient` | the `exploding_gradient` finding fired at warning or critical |
//! | `vanishes` | `vanishing_gradient` | the `vanishing_gradient` finding fired at warning or critical |
//! | `stalls` | `stalled` | the `stalled` finding fired (loss near `ln(classes)`, accuracy near chance) |
//! | `trains` | `none` | none of the above |
//!
//! The thresholds are diagnosis' own ([`crate::analysis::diagnose::thresholds`]):
//! first/last-layer gradient ratio < 1e-2 for vanishing, > 1e2 for
//! exploding; an info-level finding does not decide a class.

use crate::analysis::diagnose::{Finding, FindingKind, Severity};
use crate::experiment::RunStatus;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a run of a sweep did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Trained: no rule below held.
    Trains,
    /// The gradient vanished on the way to the first layers.
    Vanishes,
    /// The gradient exploded.
    Explodes,
    /// A NaN or Inf stopped it.
    Diverges,
    /// The loss stayed near chance.
    Stalls,
}

impl Class {
    /// Every class, in the order tables list them.
    pub const ALL: [Class; 5] = [
        Class::Trains,
        Class::Vanishes,
        Class::Explodes,
        Class::Diverges,
        Class::Stalls,
    ];

    /// The name in the store and output.
    pub fn name(self) -> &'static str {
        match self {
            Class::Trains => "trains",
            Class::Vanishes => "vanishes",
            Class::Explodes => "explodes",
            Class::Diverges => "diverges",
            Class::Stalls => "stalls",
        }
    }

    /// Parses [`Class::name`].
    pub fn from_name(s: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.name() == s)
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A run's class, the rule that decided it and that rule's evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// The class.
    pub class: Class,
    /// The rule that decided it: a finding kind's name, or `none`.
    pub rule: String,
    /// The deciding finding's severity, summary and evidence (JSON; `{}`
    /// for `trains`).
    pub evidence: serde_json::Value,
    /// Final held-out accuracy, when the run got that far.
    pub test_accuracy: Option<f64>,
    /// Final held-out loss, when the run got that far.
    pub test_loss: Option<f64>,
}

/// The class of a run that ended with `status` and `findings` (see the
/// module doc for the rules and their order). The held-out figures are
/// left `None`, for the caller to fill.
pub fn classify(status: RunStatus, findings: &[Finding]) -> Classification {
    let fired = |kind: FindingKind, at_least: Severity| {
        findings
            .iter()
            .find(|f| f.kind == kind && f.severity >= at_least)
    };
    let decided = |class: Class, rule: &str, finding: Option<&Finding>| Classification {
        class,
        rule: rule.into(),
        evidence: finding.map_or_else(
            || serde_json::json!({}),
            |f| {
                serde_json::json!({
                    "severity": f.severity,
                    "summary": f.summary,
                    "evidence": f.evidence,
                })
            },
        ),
        test_accuracy: None,
        test_loss: None,
    };
    let divergence = fired(FindingKind::Divergence, Severity::Info);
    if status == RunStatus::Diverged || divergence.is_some() {
        return decided(Class::Diverges, "divergence", divergence);
    }
    let rules = [
        (Class::Explodes, FindingKind::ExplodingGradient),
        (Class::Vanishes, FindingKind::VanishingGradient),
    ];
    for (class, kind) in rules {
        if let Some(f) = fired(kind, Severity::Warning) {
            return decided(class, kind.name(), Some(f));
        }
    }
    if let Some(f) = fired(FindingKind::Stalled, Severity::Info) {
        return decided(Class::Stalls, "stalled", Some(f));
    }
    decided(Class::Trains, "none", None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::diagnose::Evidence;

    fn finding(kind: FindingKind, severity: Severity) -> Finding {
        Finding {
            kind,
            severity,
            summary: format!("{} fired", kind.name()),
            layers: vec![0],
            steps: vec![0, 9],
            evidence: vec![Evidence {
                name: "first_last_ratio".into(),
                value: 1e-5,
                note: String::new(),
            }],
            remedies: vec![],
        }
    }

    #[test]
    fn no_finding_trains() {
        let c = classify(RunStatus::Finished, &[]);
        assert_eq!((c.class, c.rule.as_str()), (Class::Trains, "none"));
        assert_eq!(c.evidence, serde_json::json!({}));
    }

    #[test]
    fn divergence_decides_first_even_without_its_finding() {
        let vanishing = finding(FindingKind::VanishingGradient, Severity::Critical);
        let c = classify(RunStatus::Diverged, std::slice::from_ref(&vanishing));
        assert_eq!((c.class, c.rule.as_str()), (Class::Diverges, "divergence"));
        let both = [
            vanishing,
            finding(FindingKind::Divergence, Severity::Critical),
        ];
        let c = classify(RunStatus::Finished, &both);
        assert_eq!(c.class, Class::Diverges);
        assert_eq!(c.evidence["summary"], "divergence fired");
    }

    #[test]
    fn exploding_before_vanishing_before_stalled() {
        let stalled = finding(FindingKind::Stalled, Severity::Warning);
        let vanishing = finding(FindingKind::VanishingGradient, Severity::Warning);
        let exploding = finding(FindingKind::ExplodingGradient, Severity::Critical);
        let c = classify(RunStatus::Finished, &[stalled.clone(), vanishing.clone()]);
        assert_eq!(
            (c.class, c.rule.as_str()),
            (Class::Vanishes, "vanishing_gradient")
        );
        assert_eq!(c.evidence["evidence"][0]["name"], "first_last_ratio");
        let c = classify(
            RunStatus::Finished,
            &[stalled.clone(), vanishing, exploding],
        );
        assert_eq!(c.class, Class::Explodes);
        let c = classify(RunStatus::Finished, &[stalled]);
        assert_eq!((c.class, c.rule.as_str()), (Class::Stalls, "stalled"));
    }

    #[test]
    fn an_info_gradient_finding_decides_nothing() {
        let info = finding(FindingKind::VanishingGradient, Severity::Info);
        let saturation = finding(FindingKind::Saturation, Severity::Critical);
        assert_eq!(
            classify(RunStatus::Finished, &[info, saturation]).class,
            Class::Trains
        );
    }

    #[test]
    fn names_round_trip() {
        for c in Class::ALL {
            assert_eq!(Class::from_name(c.name()), Some(c));
        }
        assert_eq!(Class::from_name("learns"), None);
    }
}
