//! Findings across runs: what only a comparison shows. The one rule so
//! far is `degradation` (He et al. 2016): a deeper plain net whose
//! training loss stays above a shallower plain net's, on the same data,
//! at the same step. More layers can represent at least what fewer can
//! (the extra ones could be identities), so a deeper net that fits the
//! *training* set worse is harder to optimize, not overfitting; residual
//! connections are the remedy.
//!
//! Runs compare when they are the same kind of model (MLPs with MLPs,
//! CNNs with CNNs), both plain (no residual blocks), on the same data set,
//! and differ in depth. The loss is the mean training-batch loss over the
//! last [`t::DEGRADATION_WINDOW`] of the steps both completed.

use super::finding::{Finding, FindingKind, Severity};
use super::remedies;
use super::thresholds as t;
use crate::experiment::RunRecord;
use crate::nn::ModelKind;

/// Each degradation finding with the index (into `runs`) of the deeper run
/// it is about: at most one per run, against the shallower run that
/// trained best.
pub fn compare(runs: &[&RunRecord]) -> Vec<(usize, Finding)> {
    (0..runs.len())
        .filter_map(|deep| {
            let worst = (0..runs.len())
                .filter(|&s| comparable(runs[deep], runs[s]))
                .filter(|&s| layers(runs[s]) < layers(runs[deep]))
                .filter_map(|s| Some((s, losses(runs[deep], runs[s])?)))
                .filter(|(_, (d, s))| *d > t::DEGRADATION_RATIO * *s)
                .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))?;
            Some((deep, degradation(runs, deep, worst.0, worst.1)))
        })
        .collect()
}

/// Same model kind, both plain, same data.
fn comparable(a: &RunRecord, b: &RunRecord) -> bool {
    let (ma, mb) = (&a.spec.model, &b.spec.model);
    ma.kind == mb.kind
        && !ma.kind.is_recurrent()
        && plain(a)
        && plain(b)
        && a.spec.data.name == b.spec.data.name
}

/// Weighted layers: the hidden ones and the output layer.
fn layers(r: &RunRecord) -> usize {
    let m = &r.spec.model;
    match m.kind {
        ModelKind::Cnn => m.conv.layers(),
        _ => m.widths.len() + 1,
    }
}

fn plain(r: &RunRecord) -> bool {
    let m = &r.spec.model;
    match m.kind {
        ModelKind::Cnn => !m.conv.residual,
        _ => m.residual_every == 0,
    }
}

/// The two runs' mean training-batch loss over the last window of the
/// steps both completed; `None` if either has no finite loss there.
/// (By step index, not row: a long run's record keeps evenly spaced
/// steps, with strides that differ between runs of different lengths.)
fn losses(deep: &RunRecord, shallow: &RunRecord) -> Option<(f64, f64)> {
    let steps = deep.steps_done().min(shallow.steps_done());
    let window = ((steps as f64 * t::DEGRADATION_WINDOW).ceil() as usize).max(1);
    let from = steps.checked_sub(window)?;
    let mean = |r: &RunRecord| {
        let tail: Vec<f64> = r
            .steps
            .iter()
            .filter(|s| (from..steps).contains(&s.step))
            .map(|s| s.loss)
            .collect();
        let m = tail.iter().sum::<f64>() / tail.len() as f64;
        (!tail.is_empty() && m.is_finite()).then_some(m)
    };
    Some((mean(deep)?, mean(shallow)?))
}

fn degradation(runs: &[&RunRecord], deep: usize, shallow: usize, loss: (f64, f64)) -> Finding {
    let (d, s) = (runs[deep], runs[shallow]);
    let steps = d.steps_done().min(s.steps_done());
    let summary = format!(
        "degradation: this {}-layer plain net ends with a training loss of {:.3}, {:.2} times \
         the {:.3} of the shallower {}-layer plain net `{}` on the same data after {steps} \
         steps; more layers fit the training set worse, so depth made the net harder to \
         optimize, not to generalize (He et al. 2016)",
        layers(d),
        loss.0,
        loss.0 / loss.1,
        loss.1,
        layers(s),
        s.spec.name,
    );
    let ev = |name: &str, value: f64, note: &str| super::Evidence {
        name: name.into(),
        value,
        note: note.into(),
    };
    Finding {
        kind: FindingKind::Degradation,
        severity: Severity::Warning,
        summary,
        layers: Vec::new(),
        steps: vec![steps.saturating_sub(1)],
        evidence: vec![
            ev(
                "train_loss",
                loss.0,
                "this run's mean training-batch loss, last tenth",
            ),
            ev(
                "shallower_train_loss",
                loss.1,
                "the shallower run's, same steps",
            ),
            ev(
                "loss_ratio",
                loss.0 / loss.1,
                "this run's over the shallower's",
            ),
            ev("layers", layers(d) as f64, "this run's layers"),
            ev(
                "shallower_layers",
                layers(s) as f64,
                "the shallower run's layers",
            ),
        ],
        remedies: remedies::degradation(&d.spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::events::StepRecord;
    use crate::experiment::Spec;

    /// A plain CNN with `n` blocks per stage whose batch loss is `loss` at
    /// every one of `steps` steps.
    fn cnn(name: &str, n: usize, loss: f64, steps: usize) -> RunRecord {
        let mut spec = Spec::from_toml(
            &format!("name = \"{name}\"\n[model]\nkind = \"cnn\"\nresidual = false\nn = {n}"),
            "t",
        )
        .unwrap();
        spec.name = name.into();
        let mut r = RunRecord::new(spec);
        r.steps = (0..steps)
            .map(|step| StepRecord {
                step,
                loss,
                accuracy: 0.5,
                lr: 0.1,
                grad_norm: 1.0,
            })
            .collect();
        r
    }

    /// The 56-layer plain net that ends above the 20-layer one is
    /// degraded, against the best shallower run; the 20-layer one is not,
    /// nor is a residual net, nor a run on other data.
    #[test]
    fn a_deeper_plain_net_that_trains_worse_is_degraded() {
        let (p20, p32, p56) = (
            cnn("p20", 3, 0.2, 100),
            cnn("p32", 5, 0.5, 100),
            cnn("p56", 9, 0.6, 80),
        );
        let found = compare(&[&p56, &p20, &p32]);
        assert_eq!(found.len(), 2, "{found:?}");
        let (i, f) = &found[0];
        assert_eq!((*i, f.kind), (0, FindingKind::Degradation));
        assert!(
            f.summary.contains("56-layer") && f.summary.contains("`p20`"),
            "{}",
            f.summary
        );
        let ratio = f
            .evidence
            .iter()
            .find(|e| e.name == "loss_ratio")
            .unwrap()
            .value;
        assert!((ratio - 3.0).abs() < 1e-12);
        assert!(
            f.remedies[0].command.contains("residual"),
            "{:?}",
            f.remedies
        );
        assert_eq!(found[1].0, 2, "p32 against p20");
        // Within 10%: no finding.
        assert!(compare(&[&cnn("a", 9, 0.21, 100), &p20]).is_empty());
        let mut res = cnn("r56", 9, 0.6, 100);
        res.spec.model.conv.residual = true;
        assert!(compare(&[&res, &p20]).is_empty());
        let mut other = cnn("o56", 9, 0.6, 100);
        other.spec.data.name = "fashion_mnist".into();
        assert!(compare(&[&other, &p20]).is_empty());
    }
}
