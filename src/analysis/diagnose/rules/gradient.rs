//! The gradient's size through depth and over steps: vanishing and
//! exploding.
//!
//! Depth profile: for each layer, the median over the finite probed steps
//! of `log10 ||dL/dW||_2`; the first/last ratio is `10^(p_0 - p_last)` and
//! the per-layer factor `10^(-slope)` of a least-squares line through the
//! profile (the factor the norm is multiplied by per layer on the way back
//! to the input: below 1 when it vanishes, above 1 when it explodes).
//!
//! A vanished f32 gradient passes through the subnormal range (below
//! 1.18e-38) before it underflows to zeros, losing significant bits on the
//! way: its norm is then off by more than rounding (a 50-layer sigmoid
//! net's first layer reads 4.3e-43 in f32 against 7.2e-43 in f64). The
//! vanishing finding says when the weight gradients it rests on (the first
//! layer's and the layers it names) had subnormal entries, how many, and
//! suggests measuring in f64.

use super::super::finding::{Finding, FindingKind, Severity};
use super::super::series::{
    finite_probes, layer_list, layer_medians, log_norm_profile, median, slope,
};
use super::super::{remedies, thresholds as t};
use super::{evidence, sci};
use crate::experiment::{Dtype, RunRecord};
use crate::probe::LayerProbe;

/// First and last finite probed steps.
fn probed_span(record: &RunRecord) -> Vec<usize> {
    let mut steps = finite_probes(record).map(|p| p.step);
    let first = steps.next();
    let last = steps.last().or(first);
    first.into_iter().chain(last).collect()
}

/// Layers whose weight gradient was exactly zero at some finite probed
/// step while no layer was wholly dead (which would block the gradient
/// exactly): f32 underflow.
fn underflowed_layers(record: &RunRecord) -> Vec<usize> {
    let mut layers = Vec::new();
    for p in finite_probes(record) {
        if p.layers.iter().any(|l| l.dead >= 1.0) {
            continue;
        }
        for l in &p.layers {
            if l.weight_grad.n > 0 && l.weight_grad.zero_frac() == 1.0 {
                layers.push(l.layer);
            }
        }
    }
    layers.sort_unstable();
    layers.dedup();
    layers
}

/// The most subnormal weight gradient of one layer over the finite probed
/// steps.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Subnormal {
    layer: usize,
    step: usize,
    /// Subnormal entries.
    count: u64,
    /// Entries.
    n: u64,
}

impl Subnormal {
    fn frac(&self) -> f64 {
        self.count as f64 / self.n as f64
    }
}

/// For each of `layers` whose weight gradient had subnormal entries at a
/// finite probed step, the step where it had the largest fraction of them.
fn subnormal_weight_grads(record: &RunRecord, layers: &[usize]) -> Vec<Subnormal> {
    let mut most: Vec<Subnormal> = Vec::new();
    for p in finite_probes(record) {
        for l in p.layers.iter().filter(|l| layers.contains(&l.layer)) {
            let g = &l.weight_grad;
            if g.subnormal == 0 {
                continue;
            }
            let this = Subnormal {
                layer: l.layer,
                step: p.step,
                count: g.subnormal,
                n: g.n,
            };
            match most.iter_mut().find(|m| m.layer == l.layer) {
                Some(m) if this.frac() > m.frac() => *m = this,
                Some(_) => {}
                None => most.push(this),
            }
        }
    }
    most.sort_by_key(|m| m.layer);
    most
}

/// A fraction as a percentage, with a significant digit below 1%.
fn share(x: f64) -> String {
    if x >= 0.01 {
        format!("{:.0}%", 100.0 * x)
    } else {
        format!("{:.1e}%", 100.0 * x)
    }
}

/// The dtype's name and smallest normal magnitude.
fn normal_floor(dtype: Dtype) -> (&'static str, f64) {
    match dtype {
        Dtype::F32 => ("f32", f32::MIN_POSITIVE as f64),
        Dtype::F64 => ("f64", f64::MIN_POSITIVE),
    }
}

/// The summary's clause on subnormal weight gradients, and its evidence.
fn subnormal_report(
    record: &RunRecord,
    subnormal: &[Subnormal],
) -> (String, Vec<super::super::finding::Evidence>) {
    let (dtype, floor) = normal_floor(record.spec.dtype);
    let worst = subnormal
        .iter()
        .copied()
        .max_by(|a, b| a.frac().total_cmp(&b.frac()))
        .expect("called with some");
    let layers: Vec<usize> = subnormal.iter().map(|s| s.layer).collect();
    let whose = if layers.len() == 1 {
        format!("layer {}'s weight gradient", layers[0])
    } else {
        format!("the weight gradients of layers {}", layer_list(&layers))
    };
    let remedy = if record.spec.dtype == Dtype::F32 {
        " (`--dtype f64` measures them exactly)"
    } else {
        ""
    };
    let clause = format!(
        "; {whose} had subnormal entries in {dtype} (below {floor:.2e}, with fewer significant \
         bits: up to {} of {} entries, {}, in layer {} at step {}), so the norms resting on \
         them are imprecise{remedy}",
        worst.count,
        worst.n,
        share(worst.frac()),
        worst.layer,
        worst.step
    );
    let mut ev = vec![
        evidence(
            "subnormal_layers",
            layers.len() as f64,
            format!(
                "layers among the first and those named whose weight gradient had subnormal \
                 entries ({dtype}, below {floor:.2e}) at some probed step"
            ),
        ),
        evidence(
            "subnormal_fraction_max",
            worst.frac(),
            format!(
                "largest fraction of a weight gradient's entries subnormal (layer {}, step {})",
                worst.layer, worst.step
            ),
        ),
    ];
    if let Some(first) = subnormal.iter().find(|s| s.layer == 0) {
        ev.push(evidence(
            "first_layer_subnormal_entries",
            first.count as f64,
            format!(
                "subnormal entries of the first layer's weight gradient, of {} (step {})",
                first.n, first.step
            ),
        ));
    }
    (clause, ev)
}

fn weight_grad(l: &LayerProbe) -> &crate::probe::TensorStats {
    &l.weight_grad
}

fn pre_grad(l: &LayerProbe) -> &crate::probe::TensorStats {
    &l.pre_grad
}

/// The weight gradient shrinking toward the input.
pub fn vanishing_gradient(record: &RunRecord) -> Option<Finding> {
    // A recurrent net's gradient vanishes through time: `through_time`.
    if record.spec.model.kind.is_recurrent() {
        return None;
    }
    let g = log_norm_profile(record, weight_grad);
    let n = g.len();
    if n < 3 || !g[n - 1].is_finite() {
        return None;
    }
    let last = g[n - 1];
    let ratio = 10f64.powf(g[0] - last);
    let underflow = underflowed_layers(record);
    let severity = if ratio < t::VANISHING_CRITICAL || !underflow.is_empty() {
        Severity::Critical
    } else if ratio < t::VANISHING_WARNING {
        Severity::Warning
    } else {
        return None;
    };
    let factor = 10f64.powf(-slope(&g).unwrap_or(0.0));
    let below_floor: Vec<usize> = (0..n)
        .filter(|&i| g[i] - last < t::VANISHING_FLOOR.log10())
        .collect();
    let starved: Vec<usize> = (0..n)
        .filter(|&i| g[i] - last < t::VANISHING_WARNING.log10())
        .collect();
    let d = log_norm_profile(record, pre_grad);
    let delta_ratio = 10f64.powf(d[0] - d[n - 1]);
    let mut rests_on = starved.clone();
    if !rests_on.contains(&0) {
        rests_on.insert(0, 0);
    }
    let subnormal = subnormal_weight_grads(record, &rests_on);
    let probed = finite_probes(record).count();
    let mut summary = format!(
        "the first layer's weight gradient is {} of the last layer's (median over the run, {probed} \
         probed steps), shrinking by a factor {factor:.2} per layer toward the input",
        sci(ratio)
    );
    // The layers named here are the finding's `layers` field: those under
    // the warning ratio, and among them those under the floor.
    if !starved.is_empty() {
        summary.push_str(&format!(
            "; {} of {n} layers ({}) get less than {} of it",
            starved.len(),
            layer_list(&starved),
            sci(t::VANISHING_WARNING)
        ));
        if !below_floor.is_empty() {
            summary.push_str(&format!(
                ", {} of them ({}) less than {}",
                below_floor.len(),
                layer_list(&below_floor),
                sci(t::VANISHING_FLOOR)
            ));
        }
    }
    if !underflow.is_empty() {
        summary.push_str(&format!(
            "; layers {} got exactly zero gradient in f32, below its range \
             (`--dtype f64` resolves them)",
            layer_list(&underflow)
        ));
    }
    let mut ev = vec![
        evidence(
            "first_last_ratio",
            ratio,
            format!(
                "first over last layer's ||dL/dW||, median over the run, {probed} probed steps"
            ),
        ),
        evidence(
            "decay_per_layer",
            factor,
            "factor on the gradient norm per layer toward the input (log-linear fit)",
        ),
        evidence(
            "delta_first_last_ratio",
            delta_ratio,
            "the same ratio for the backpropagated delta dL/dz",
        ),
        evidence(
            "layers_below_floor",
            below_floor.len() as f64,
            format!(
                "layers getting less than {} of the last layer's gradient",
                sci(t::VANISHING_FLOOR)
            ),
        ),
    ];
    if !subnormal.is_empty() {
        let (clause, subnormal_ev) = subnormal_report(record, &subnormal);
        summary.push_str(&clause);
        ev.extend(subnormal_ev);
    }
    if !underflow.is_empty() {
        ev.push(evidence(
            "underflowed_layers",
            underflow.len() as f64,
            "layers whose weight gradient was exactly 0 at some step (f32 underflow or \
             rounding, with no layer wholly dead)",
        ));
    }
    Some(Finding {
        kind: FindingKind::VanishingGradient,
        severity,
        summary,
        layers: starved,
        steps: probed_span(record),
        evidence: ev,
        remedies: remedies::vanishing(&record.spec, !underflow.is_empty(), !subnormal.is_empty()),
    })
}

/// Growth of the global gradient norm over steps: `(early median, peak,
/// peak step, take-off step)`, when it grew past the threshold.
fn growth_over_steps(record: &RunRecord) -> Option<(f64, f64, usize, usize)> {
    let norms: Vec<(usize, f64)> = record
        .steps
        .iter()
        .filter(|s| s.grad_norm.is_finite())
        .map(|s| (s.step, s.grad_norm))
        .collect();
    let early_n =
        ((norms.len() as f64 * t::EARLY_FRACTION).ceil() as usize).max(t::EARLY_MIN_STEPS);
    if norms.len() <= early_n {
        return None;
    }
    let early = median(norms[..early_n].iter().map(|s| s.1))?;
    let (peak_step, peak) = norms[early_n..]
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    if !(early > 0.0 && peak / early > t::EXPLODING_GROWTH) {
        return None;
    }
    let takeoff = norms
        .iter()
        .find(|s| s.1 > t::TAKEOFF_FACTOR * early)
        .map_or(peak_step, |s| s.0);
    Some((early, peak, peak_step, takeoff))
}

/// First/last ratio and per-layer factor of a depth profile, when the
/// ratio exceeds the exploding threshold.
fn growth_with_depth(p: &[f64]) -> Option<(f64, f64)> {
    let n = p.len();
    if n < 3 || !p[0].is_finite() || !p[n - 1].is_finite() {
        return None;
    }
    let ratio = 10f64.powf(p[0] - p[n - 1]);
    (ratio > t::EXPLODING_DEPTH_WARNING).then(|| (ratio, 10f64.powf(-slope(p).unwrap_or(0.0))))
}

/// The gradient growing toward the input (the weight gradient or the
/// delta `dL/dz`: when the forward signal grows too, `dL/dW = delta h^T`
/// can stay flat while the delta explodes), or over training.
pub fn exploding_gradient(record: &RunRecord) -> Option<Finding> {
    let profiles = [
        ("weight gradient", "", log_norm_profile(record, weight_grad)),
        ("delta dL/dz", "delta_", log_norm_profile(record, pre_grad)),
    ];
    let mut depth: Vec<(&str, &str, &Vec<f64>, f64, f64)> = profiles
        .iter()
        .filter_map(|(what, prefix, p)| {
            growth_with_depth(p).map(|(r, f)| (*what, *prefix, p, r, f))
        })
        .collect();
    // A gradient that explodes only at initialization: the first updates
    // blow the weights up and the net saturates, so over the run the
    // gradient vanishes (a chaotic mean-field init does this). The cause
    // is the explosion.
    let at_init = match finite_probes(record).next() {
        Some(first) if depth.is_empty() => layer_medians(&[first], |l| l.weight_grad.l2().log10()),
        _ => Vec::new(),
    };
    if let Some((r, f)) = growth_with_depth(&at_init) {
        depth.push(("weight gradient", "init_", &at_init, r, f));
    }
    let depth_ratio = depth.iter().map(|d| d.3).reduce(f64::max);
    let growth = growth_over_steps(record);
    // Seen only at initialization, below the critical bar, an explosion
    // matters when the run then failed to pass the gradient back (its
    // median profile vanishes: the first updates saturated the net);
    // otherwise the first updates absorbed it, as they do in deep
    // BatchNorm nets, whose gradient explodes at initialization (Yang et
    // al. 2019, "A mean field theory of batch normalization").
    let only_at_init = depth.iter().all(|d| d.1 == "init_");
    let then_vanished = {
        let g = &profiles[0].2;
        g.len() >= 3 && g[0] - g[g.len() - 1] < t::VANISHING_WARNING.log10()
    };
    let severity = match (depth_ratio, growth) {
        (None, None) => return None,
        (_, Some(_)) => Severity::Critical,
        (Some(r), None) if r > t::EXPLODING_DEPTH_CRITICAL => Severity::Critical,
        _ if only_at_init && !then_vanished => Severity::Info,
        _ => Severity::Warning,
    };
    let mut parts = Vec::new();
    let mut ev = Vec::new();
    let mut layers = Vec::new();
    let mut steps = probed_span(record);
    for &(what, prefix, p, ratio, factor) in &depth {
        let n = p.len();
        for i in (0..n).filter(|&i| p[i] - p[n - 1] > t::EXPLODING_DEPTH_WARNING.log10()) {
            if !layers.contains(&i) {
                layers.push(i);
            }
        }
        let when = if prefix == "init_" {
            "at initialization (the first probed step), "
        } else {
            ""
        };
        parts.push(format!(
            "{when}the first layer's {what} is {} times the last layer's, growing by a factor \
             {factor:.2} per layer toward the input",
            sci(ratio)
        ));
        ev.push(evidence(
            &format!("{prefix}first_last_ratio"),
            ratio,
            if prefix == "init_" {
                format!("first over last layer's {what} L2 norm, at the first probed step")
            } else {
                format!("first over last layer's {what} L2 norm, median over the probed steps")
            },
        ));
        ev.push(evidence(
            &format!("{prefix}growth_per_layer"),
            factor,
            format!(
                "factor on the {what} norm per layer toward the input (log-linear fit{})",
                if prefix == "init_" {
                    ", first probed step"
                } else {
                    ""
                }
            ),
        ));
    }
    layers.sort_unstable();
    if only_at_init && growth.is_none() {
        parts.push(if then_vanished {
            "over the run the gradient then vanishes (the first updates saturated the net)".into()
        } else {
            "over the run it does not vanish: the first updates absorbed it".into()
        });
    }
    if let Some((early, peak, peak_step, takeoff)) = growth {
        steps = vec![takeoff, peak_step];
        parts.push(format!(
            "the global gradient norm rose {}-fold, from {} early on to {} at step {peak_step}, \
             taking off at step {takeoff}",
            sci(peak / early),
            sci(early),
            sci(peak)
        ));
        ev.push(evidence(
            "grad_norm_growth",
            peak / early,
            "peak global gradient norm over its median in the early steps",
        ));
        ev.push(evidence(
            "early_grad_norm",
            early,
            "median global gradient norm over the early steps",
        ));
        ev.push(evidence(
            "peak_grad_norm",
            peak,
            "largest global gradient norm",
        ));
        ev.push(evidence(
            "takeoff_step",
            takeoff as f64,
            format!("first step above {}x the early median", t::TAKEOFF_FACTOR),
        ));
    }
    Some(Finding {
        kind: FindingKind::ExplodingGradient,
        severity,
        summary: parts.join("; "),
        layers,
        steps,
        evidence: ev,
        remedies: remedies::exploding(&record.spec),
    })
}
