//! Diagnosis: rules over a run's record turn it into findings, each with
//! its evidence (which layers, which steps, which figures) and ranked
//! remedies, each with the exact `gradscope train ...` command that tests
//! it.
//!
//! | rule | fires when (see [`thresholds`]) |
//! | --- | --- |
//! | `divergence` | a NaN/Inf in the loss, the gradient or any probe |
//! | `exploding_gradient` | first/last layer gradient > 1e2, or the global norm rising > 1e3-fold |
//! | `vanishing_gradient` | first/last layer gradient < 1e-2 (critical < 1e-4, or exact zeros); names subnormal gradients and suggests f64 |
//! | `exploding_through_time` | recurrent: a step's gradient norm >= 1e2 x the median of the 50 steps either side (critical >= 1e4), or the norm of `dL/dh_t` >= 1e3 x its value at the last time step, at a probed step (critical >= 1e6); info or warning when clipping caught it |
//! | `vanishing_through_time` | recurrent: the norm of `dL/dh_t` below 1e-6 of its value at the last time step; the lag where it falls there (critical within half the sequence) |
//! | `stalled` | loss within 5% of `ln(classes)` and accuracy < chance + 5% |
//! | `saturation` | a sigmoid/tanh/softsign layer with > 50% of units at < 5% of the maximal derivative |
//! | `dead_units` | a ReLU-family layer with > 20% of units dead on the batch |
//! | `learning_rate` | update:data ratios outside [1e-5, 1e-1] (target 1e-3) |
//!
//! Across runs ([`compare`], as a report of several runs uses it):
//!
//! | rule | fires when |
//! | --- | --- |
//! | `degradation` | a deeper plain net's training loss > 1.1 x a shallower plain net's, same kind and data, same steps |

mod command;
mod compare;
mod finding;
mod remedies;
mod rules;
mod series;
pub use series::{classes, layer_list};
#[cfg(test)]
mod tests;
pub mod thresholds;

pub use command::{remedy_command, train_command};
pub use compare::compare;
pub use finding::{Evidence, Finding, FindingKind, Remedy, Severity};

use crate::experiment::RunRecord;

/// Every finding for `record`, the most severe first (ties in the order of
/// the table above: causes before symptoms).
pub fn diagnose(record: &RunRecord) -> Vec<Finding> {
    let rules: [fn(&RunRecord) -> Option<Finding>; 9] = [
        rules::divergence,
        rules::exploding_gradient,
        rules::vanishing_gradient,
        rules::exploding_through_time,
        rules::vanishing_through_time,
        rules::stalled,
        rules::saturation,
        rules::dead_units,
        rules::learning_rate,
    ];
    let mut findings: Vec<Finding> = rules.iter().filter_map(|rule| rule(record)).collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    findings
}
