//! Whether training moves: the size of each update against the weights
//! (learning rate), and a loss stuck at chance (stalled).

use super::super::finding::{Finding, FindingKind, Severity};
use super::super::series::{classes, late_probes, layer_list, layer_medians, median};
use super::super::{remedies, thresholds as t};
use super::{evidence, pct, sci};
use crate::experiment::RunRecord;
use crate::nn::Loss;

/// Update:data ratios far from 1e-3: per layer, the median over the second
/// half of the finite probed steps. Too large when any layer is above
/// [`t::UPDATE_RATIO_HIGH`]; too small when the median layer *and* the
/// output layer are below [`t::UPDATE_RATIO_LOW`] (the output layer gets
/// the undiminished gradient, so input-side layers starved by a vanishing
/// gradient alone do not count as a learning-rate problem).
pub fn learning_rate(record: &RunRecord) -> Option<Finding> {
    let ratios = layer_medians(&late_probes(record), |l| l.update_ratio);
    let typical = median(ratios.iter().copied().filter(|r| r.is_finite()))?;
    let last = *ratios.last()?;
    let high: Vec<usize> = (0..ratios.len())
        .filter(|&i| ratios[i] > t::UPDATE_RATIO_HIGH)
        .collect();
    let low: Vec<usize> = (0..ratios.len())
        .filter(|&i| ratios[i] < t::UPDATE_RATIO_LOW)
        .collect();
    let too_small = typical < t::UPDATE_RATIO_LOW && last < t::UPDATE_RATIO_LOW;
    let lr = record.spec.optimizer.lr;
    let (layers, verdict, bar) = if !high.is_empty() {
        (high, "too large", t::UPDATE_RATIO_HIGH)
    } else if too_small {
        (low, "too small", t::UPDATE_RATIO_LOW)
    } else {
        return None;
    };
    let factor = if verdict == "too large" {
        let worst = layers.iter().map(|&i| ratios[i]).fold(0.0, f64::max);
        t::UPDATE_RATIO_TARGET / worst
    } else {
        t::UPDATE_RATIO_TARGET / typical
    };
    let summary = format!(
        "the learning rate {} looks {verdict}: each step changes the weights by {} of their \
         size in the median layer and {} in the output layer (Karpathy's rule of thumb: \
         ~1e-3); {} of {} layers ({}) are {} {}",
        sci(lr),
        sci(typical),
        sci(last),
        layers.len(),
        ratios.len(),
        layer_list(&layers),
        if verdict == "too large" {
            "above"
        } else {
            "below"
        },
        sci(bar),
    );
    let mut ev = vec![
        evidence(
            "median_update_ratio",
            typical,
            "std(update)/std(W) of the median layer, median over the second half of the run",
        ),
        evidence("output_update_ratio", last, "the same for the output layer"),
        evidence("lr", lr, "base learning rate"),
        evidence(
            "suggested_lr_factor",
            factor,
            "multiplier that would bring the ratios to ~1e-3",
        ),
    ];
    for &i in &layers {
        ev.push(evidence(
            &format!("update_ratio_layer_{i}"),
            ratios[i],
            format!("update:data ratio of layer {i}"),
        ));
    }
    Some(Finding {
        kind: FindingKind::LearningRate,
        severity: Severity::Warning,
        summary,
        layers,
        steps: late_probes(record)
            .first()
            .map(|p| p.step)
            .into_iter()
            .chain(record.probes.last().map(|p| p.step))
            .collect(),
        evidence: ev,
        remedies: remedies::learning_rate(&record.spec, factor),
    })
}

/// Training loss flat near chance and held-out accuracy near chance.
pub fn stalled(record: &RunRecord) -> Option<Finding> {
    // Chance is defined for classes of a classifier's output; a recurrent task's
    // trivial predictor (the adding problem's mean, a text's unigrams) is
    // the data's baseline, which a record does not carry yet.
    if record.spec.model.kind.is_recurrent() {
        return None;
    }
    let losses: Vec<(usize, f64)> = record
        .steps
        .iter()
        .filter(|s| s.loss.is_finite())
        .map(|s| (s.step, s.loss))
        .collect();
    let accuracy = record
        .summary
        .as_ref()
        .map(|s| s.test_accuracy)
        .or_else(|| record.evals.last().map(|e| e.test_accuracy))?;
    let window = ((losses.len() as f64 * t::STALL_WINDOW).ceil() as usize).max(1);
    if losses.len() < 2 * window {
        return None;
    }
    let mean = |w: &[(usize, f64)]| w.iter().map(|s| s.1).sum::<f64>() / w.len() as f64;
    let late = mean(&losses[losses.len() - window..]);
    let c = classes(record);
    let chance_accuracy = 1.0 / c as f64;
    let (reference, name, what) = match record.spec.loss {
        Loss::CrossEntropy => ((c as f64).ln(), "chance_loss", format!("chance, ln {c}")),
        Loss::Mse => (
            mean(&losses[..window]),
            "early_loss",
            format!("its mean over the first {window} steps"),
        ),
    };
    let near = (late - reference).abs() <= t::STALL_LOSS_TOLERANCE * reference;
    if !(near && accuracy < chance_accuracy + t::STALL_ACCURACY_MARGIN) {
        return None;
    }
    let first = losses[losses.len() - window].0;
    let summary = format!(
        "training stalled: the loss over the last {} of the steps averages {late:.4}, within \
         {} of {what} = {reference:.4}, and held-out accuracy is {} (chance: {})",
        pct(t::STALL_WINDOW),
        pct(t::STALL_LOSS_TOLERANCE),
        pct(accuracy),
        pct(chance_accuracy),
    );
    Some(Finding {
        kind: FindingKind::Stalled,
        severity: Severity::Critical,
        summary,
        layers: Vec::new(),
        steps: vec![first, losses[losses.len() - 1].0],
        evidence: vec![
            evidence(
                "late_loss",
                late,
                format!("mean training loss over the last {window} steps"),
            ),
            evidence(name, reference, what),
            evidence("test_accuracy", accuracy, "final held-out accuracy"),
            evidence(
                "chance_accuracy",
                chance_accuracy,
                format!("1 / {c} classes"),
            ),
        ],
        remedies: remedies::stalled(&record.spec),
    })
}
