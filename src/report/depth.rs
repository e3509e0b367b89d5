//! Depth profiles: the weight-gradient norm `||dL/dW||_2` against the layer
//! on a log axis, at a few steps of one run or at the last step of several.
//! A vanishing gradient is a line falling towards the input side (left).
//!
//! Where mean-field theory applies to the run's model
//! ([`MeanField::of_model`]: a plain MLP whose init has a known weight
//! variance), a dashed line shows its prediction at initialization: from
//! the last hidden layer at the first recorded step, the norm changing by
//! `sqrt(chi_1)` per layer toward the input (the squared norm by `chi_1`,
//! Schoenholz et al. 2017 eq. 12). Layer 0 is left out: its input is the
//! data, not a layer at the fixed point `q*`.

use super::color::{self};
use super::svg::{
    decade_range, decade_ticks, draw_series, linear_ticks, placeholder, Area, Mark, Scale, Svg, H,
    W,
};
use crate::analysis::theory::MeanField;
use crate::experiment::RunRecord;
use crate::probe::{pick_steps, StepProbe};

/// One line: its legend label, colour and the probe it draws.
struct Line<'a> {
    label: String,
    color: String,
    probe: &'a StepProbe,
}

fn norms(p: &StepProbe) -> Vec<(f64, f64)> {
    p.layers
        .iter()
        .map(|l| (l.layer as f64, l.weight_grad.l2()))
        .collect()
}

/// The mean-field prediction for `record` at initialization, anchored at
/// its first probe's last hidden layer, with its legend label; `None`
/// where the theory does not apply or the anchor is not a finite norm.
pub fn prediction(record: &RunRecord) -> Option<(Vec<(f64, f64)>, String)> {
    let net = MeanField::of_model(&record.spec.model)?;
    let first = record.probes.first()?;
    let anchor = first.layers.len().checked_sub(2).filter(|&a| a >= 2)?;
    let g = first.layers[anchor].weight_grad.l2();
    if !(g.is_finite() && g > 0.0) {
        return None;
    }
    let chi_1 = net.predict().chi_1;
    let pts = (1..=anchor)
        .map(|l| (l as f64, g * chi_1.powf((anchor - l) as f64 / 2.0)))
        .collect();
    Some((pts, format!("mean field at init, χ₁ = {chi_1:.3}")))
}

fn render_lines(
    title: &str,
    lines: &[Line<'_>],
    predicted: Option<&(Vec<(f64, f64)>, String)>,
) -> String {
    let depth = lines
        .iter()
        .map(|l| l.probe.layers.len())
        .max()
        .unwrap_or(0);
    let predicted_values = predicted.into_iter().flat_map(|p| p.0.iter().map(|q| q.1));
    let values = lines
        .iter()
        .flat_map(|l| norms(l.probe))
        .map(|p| p.1)
        .chain(predicted_values);
    let Some((lo, hi)) = decade_range(values, 1) else {
        return placeholder(title, "no finite, non-zero gradient norms recorded");
    };
    let mut svg = Svg::new(title, W, H);
    let a = Area::standard(160.0);
    let sx = Scale::linear(0.0, (depth.max(2) - 1) as f64, a.x + 8.0, a.right() - 8.0);
    let sy = Scale::log10(lo as f64, hi as f64, a.bottom(), a.y);
    let x_ticks = linear_ticks(0.0, (depth.max(2) - 1) as f64, 10)
        .into_iter()
        .filter(|t| t.0.fract() == 0.0)
        .collect();
    svg.x_axis(&a, &sx, &x_ticks, "layer (0 = input side)", true);
    svg.y_axis(&a, &sy, &decade_ticks(lo, hi), "‖∂L/∂W‖₂ (log scale)", true);
    svg.raw("<g class=\"series\">\n");
    for l in lines {
        let pts = norms(l.probe);
        draw_series(&mut svg, &pts, &sx, &sy, &l.color, 2.0, "");
        for &(x, y) in &pts {
            if let (Some(px), Some(py)) = (sx.at(x), sy.at(y)) {
                svg.circle((px, py), 2.5, &l.color);
            }
        }
    }
    if let Some((pts, _)) = predicted {
        draw_series(&mut svg, pts, &sx, &sy, color::INK, 1.5, "5 3");
    }
    svg.raw("</g>\n");
    let mut entries: Vec<(String, String, Mark)> = lines
        .iter()
        .map(|l| (l.label.clone(), l.color.clone(), Mark::Line))
        .collect();
    if let Some((_, label)) = predicted {
        entries.push((label.clone(), color::INK.to_string(), Mark::Dashed));
    }
    svg.legend(a.right() + 16.0, a.y + 6.0, &entries);
    svg.finish()
}

/// One run's profile at its first, 25%, 50% and last recorded steps.
pub fn render(title: &str, record: &RunRecord) -> String {
    let steps: Vec<usize> = record.probes.iter().map(|p| p.step).collect();
    let lines: Vec<Line<'_>> = pick_steps(&steps, &[0.0, 0.25, 0.5, 1.0])
        .into_iter()
        .enumerate()
        .map(|(k, i)| Line {
            label: format!("step {}", record.probes[i].step),
            color: color::category(k).to_string(),
            probe: &record.probes[i],
        })
        .collect();
    if lines.is_empty() {
        return placeholder(title, "no probes recorded");
    }
    render_lines(title, &lines, prediction(record).as_ref())
}

/// Several runs' profiles at each one's last recorded step; `runs` pairs a
/// legend label with the record.
pub fn compare(title: &str, runs: &[(String, &RunRecord)]) -> String {
    let lines: Vec<Line<'_>> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, (label, r))| {
            Some(Line {
                label: label.clone(),
                color: color::category(i).to_string(),
                probe: r.probes.last()?,
            })
        })
        .collect();
    if lines.is_empty() {
        return placeholder(title, "no probes recorded");
    }
    render_lines(title, &lines, None)
}
