//! The 15th, 50th and 85th percentiles of the last hidden layer's
//! pre-activation over steps (Ioffe & Szegedy 2015, Fig. 1): a band that
//! drifts or widens is the internal covariate shift BatchNorm removes; a
//! sigmoid layer whose band sits beyond |z| > 4 is saturated.

use super::color::{self};
use super::svg::{bin_mean, draw_series, linear_ticks, placeholder, Area, Mark, Scale, Svg, H, W};
use crate::experiment::RunRecord;

/// The layer drawn: the last hidden one (the output layer is last), or the
/// only one.
pub fn layer(record: &RunRecord) -> Option<usize> {
    match record.depth() {
        0 => None,
        1 => Some(0),
        d => Some(d - 2),
    }
}

/// The chart.
pub fn render(title: &str, record: &RunRecord) -> String {
    let Some(layer) = layer(record) else {
        return placeholder(title, "no probes recorded");
    };
    let pct = |k: usize| -> Vec<(f64, f64)> {
        let pts: Vec<(f64, f64)> = record
            .probes
            .iter()
            .filter_map(|p| p.layers.get(layer).map(|l| (p.step as f64, l.pre_pct[k])))
            .collect();
        bin_mean(&pts, 300, false)
    };
    let (p15, p50, p85) = (pct(0), pct(1), pct(2));
    let ys = || {
        p15.iter()
            .chain(&p85)
            .map(|p| p.1)
            .filter(|v| v.is_finite())
    };
    let lo = ys().fold(f64::INFINITY, f64::min);
    let hi = ys().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return placeholder(title, "no finite pre-activations recorded");
    }
    let pad = ((hi - lo) * 0.08).max(0.05);
    let (lo, hi) = (lo - pad, hi + pad);
    let mut svg = Svg::new(title, W, H);
    let a = Area::standard(150.0);
    let x0 = p50.first().map_or(0.0, |p| p.0);
    let x1 = p50.last().map_or(1.0, |p| p.0).max(x0 + 1.0);
    let sx = Scale::linear(x0, x1, a.x, a.right());
    let sy = Scale::linear(lo, hi, a.bottom(), a.y);
    svg.x_axis(&a, &sx, &linear_ticks(x0, x1, 6), "step", true);
    svg.y_axis(
        &a,
        &sy,
        &linear_ticks(lo, hi, 6),
        &format!("pre-activation z, layer {layer}"),
        true,
    );
    let band = color::category(0);
    svg.raw("<g class=\"series\">\n");
    // The band between p15 and p85, split where either is missing.
    let mut upper = Vec::new();
    let mut lower = Vec::new();
    let flush = |svg: &mut Svg, upper: &mut Vec<(f64, f64)>, lower: &mut Vec<(f64, f64)>| {
        let mut pts = std::mem::take(upper);
        pts.extend(std::mem::take(lower).into_iter().rev());
        svg.polygon(&pts, band, 0.2);
    };
    for (a15, a85) in p15.iter().zip(&p85) {
        match (sx.at(a15.0), sy.at_clamped(a15.1), sy.at_clamped(a85.1)) {
            (Some(x), Some(y15), Some(y85)) => {
                upper.push((x, y85));
                lower.push((x, y15));
            }
            _ => flush(&mut svg, &mut upper, &mut lower),
        }
    }
    flush(&mut svg, &mut upper, &mut lower);
    draw_series(&mut svg, &p15, &sx, &sy, band, 1.0, "3 2");
    draw_series(&mut svg, &p85, &sx, &sy, band, 1.0, "3 2");
    draw_series(&mut svg, &p50, &sx, &sy, band, 2.2, "");
    svg.raw("</g>\n");
    svg.legend(
        a.right() + 16.0,
        a.y + 6.0,
        &[
            ("median (p50)".into(), band.into(), Mark::Line),
            ("p15 and p85".into(), band.into(), Mark::Dashed),
        ],
    );
    svg.finish()
}
