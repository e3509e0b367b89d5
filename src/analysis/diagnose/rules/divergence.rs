//! Divergence: the first non-finite value, where it appeared.
//!
//! Once the loss is NaN, backward makes every gradient NaN, so the layer
//! nearest the input with *any* non-finite tensor
//! ([`StepProbe::first_non_finite_layer`]) is nearly always layer 0. The
//! origin is found in computation order instead: the forward tensors
//! (weights, `z`, `h`) input side first, then the backward ones (`dL/dh`,
//! `dL/dz`, `dL/dW`, `dL/db`) output side first.

use super::super::finding::{Finding, FindingKind, Severity};
use super::super::remedies;
use super::{evidence, sci};
use crate::experiment::{RunRecord, RunStatus};
use crate::probe::{LayerProbe, StepProbe, TensorStats};

/// The tensors of a layer in forward order, then in backward order.
fn forward(l: &LayerProbe) -> [(&'static str, TensorStats); 3] {
    [("weight", l.weight), ("pre", l.pre), ("output", l.out)]
}

fn backward(l: &LayerProbe) -> Vec<(&'static str, TensorStats)> {
    let mut v = vec![
        ("out_grad", l.out_grad),
        ("pre_grad", l.pre_grad),
        ("weight_grad", l.weight_grad),
    ];
    v.extend(l.bias_grad.map(|b| ("bias_grad", b)));
    v
}

/// `(layer, tensor, non-finite entries)` where the first non-finite value
/// arose in `probe`.
fn origin(probe: &StepProbe) -> Option<(usize, &'static str, u64)> {
    let first = |l: &LayerProbe, tensors: Vec<(&'static str, TensorStats)>| {
        tensors
            .into_iter()
            .find(|(_, s)| s.non_finite() > 0)
            .map(|(name, s)| (l.layer, name, s.non_finite()))
    };
    probe
        .layers
        .iter()
        .find_map(|l| first(l, forward(l).to_vec()))
        .or_else(|| {
            probe
                .layers
                .iter()
                .rev()
                .find_map(|l| first(l, backward(l)))
        })
}

/// A NaN or Inf in the loss, the gradient or any probed tensor.
pub fn divergence(record: &RunRecord) -> Option<Finding> {
    let bad_probe = record
        .probes
        .iter()
        .find(|p| p.first_non_finite_layer().is_some());
    let bad_step = record
        .steps
        .iter()
        .find(|s| !s.loss.is_finite() || !s.grad_norm.is_finite());
    if record.status != RunStatus::Diverged && bad_probe.is_none() && bad_step.is_none() {
        return None;
    }
    let after_last = record.steps.last().map_or(0, |s| s.step + 1);
    let step = [bad_probe.map(|p| p.step), bad_step.map(|s| s.step)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(after_last);
    let last_good = record
        .steps
        .iter()
        .rev()
        .find(|s| s.step < step && s.loss.is_finite());
    let mut summary = format!("the run diverged at step {step}");
    let mut ev = vec![evidence(
        "step",
        step as f64,
        "first step with a non-finite loss, gradient or probed value",
    )];
    let mut layers = Vec::new();
    if let Some((layer, tensor, count)) = bad_probe.and_then(origin) {
        let path = &bad_probe.expect("origin came from it").layers[layer].path;
        summary.push_str(&format!(
            ": the first non-finite value is in layer {layer} (`{path}`), in its {tensor} \
             ({count} NaN/Inf entries)"
        ));
        layers.push(layer);
        ev.push(evidence(
            "layer",
            layer as f64,
            format!("`{path}`, {tensor}"),
        ));
        ev.push(evidence(
            "non_finite_entries",
            count as f64,
            format!("NaN and Inf entries in that layer's {tensor}"),
        ));
    }
    if let Some(s) = last_good {
        summary.push_str(&format!(
            "; at step {} the loss was {} and the gradient norm {}",
            s.step,
            if s.loss.abs() < 1e4 {
                format!("{:.4}", s.loss)
            } else {
                sci(s.loss)
            },
            sci(s.grad_norm)
        ));
        ev.push(evidence(
            "last_finite_loss",
            s.loss,
            format!("loss at step {}", s.step),
        ));
        ev.push(evidence(
            "last_grad_norm",
            s.grad_norm,
            format!("global gradient norm at step {}", s.step),
        ));
    }
    if let Some(e) = &record.error {
        summary.push_str(&format!(" ({e})"));
    }
    if step == 0 {
        summary.push_str(
            "; before any update, so the cause is the initial weights or the data, \
             not the learning rate",
        );
    }
    ev.push(evidence(
        "lr",
        record.spec.optimizer.lr,
        "base learning rate",
    ));
    Some(Finding {
        kind: FindingKind::Divergence,
        severity: Severity::Critical,
        summary,
        layers,
        steps: vec![step],
        evidence: ev,
        remedies: remedies::divergence(&record.spec, step),
    })
}
