//! Per channel: each conv layer's filters (rows, the input side at the
//! bottom) by output channel (columns), colour `log10 ||dL/dW_c||` of
//! channel `c`'s filter at the last recorded step, on the flow map's
//! colour scale. A light grey cell is a filter whose gradient is exactly
//! zero: a dead channel (its ReLU output zero at every pixel of the
//! batch). The title row counts them.
//!
//! Where the flow map shows how much gradient a layer gets, this shows
//! how it is shared among the layer's channels: a few bright columns in a
//! dark row are channels that still learn while the rest have stopped.

use super::color::{self, INK, NON_FINITE, ZERO};
use super::flow_map::{cell, colour_bar, Cell};
use super::svg::{linear_ticks, placeholder, Area, Scale, Svg, Ticks, H, W};
use crate::experiment::RunRecord;
use crate::probe::{Axis, StepProbe, TensorStats};

/// The series the chart draws.
pub const SERIES: &str = "weight_grad";

/// Each conv layer's per-channel filter gradients at `p`, input side first.
fn rows(p: &StepProbe) -> Vec<&[TensorStats]> {
    p.layers
        .iter()
        .filter_map(|l| l.series(SERIES, Axis::Channel))
        .collect()
}

/// Whether `record` has conv layers measured per channel.
pub fn applies(record: &RunRecord) -> bool {
    record.probes.iter().any(|p| !rows(p).is_empty())
}

/// Dead channels (filter gradient exactly zero) and all channels at the
/// last probe that has per-channel figures.
pub fn dead_channels(record: &RunRecord) -> Option<(usize, usize)> {
    let p = record.probes.iter().rev().find(|p| !rows(p).is_empty())?;
    let rows = rows(p);
    let all = rows.iter().map(|r| r.len()).sum();
    let dead = rows
        .iter()
        .flat_map(|r| r.iter())
        .filter(|s| cell(s) == Cell::Zero);
    Some((dead.count(), all))
}

/// The chart, titled `title`.
pub fn render(title: &str, record: &RunRecord) -> String {
    let Some(p) = record.probes.iter().rev().find(|p| !rows(p).is_empty()) else {
        return placeholder(title, "no per-channel figures recorded");
    };
    let grid = rows(p);
    let logs = grid
        .iter()
        .flat_map(|r| r.iter())
        .filter_map(|s| match cell(s) {
            Cell::Log(v) => Some(v),
            _ => None,
        });
    let (lo, hi) = logs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (lo, hi) = if lo.is_finite() {
        (
            lo.floor() as i32,
            (hi.ceil() as i32).max(lo.floor() as i32 + 1),
        )
    } else {
        (-1, 0)
    };
    let width = grid.iter().map(|r| r.len()).max().unwrap_or(1);
    let mut svg = Svg::new(title, W, H);
    let a = Area::standard(150.0);
    let (cw, rh) = (a.w / width as f64, a.h / grid.len() as f64);
    svg.raw("<g class=\"cells\" shape-rendering=\"crispEdges\">\n");
    for (l, row) in grid.iter().enumerate() {
        let y = a.bottom() - (l + 1) as f64 * rh;
        for (c, s) in row.iter().enumerate() {
            let fill = match cell(s) {
                Cell::Log(v) => color::viridis((v - lo as f64) / (hi - lo) as f64),
                Cell::Zero => ZERO.to_string(),
                Cell::NonFinite => NON_FINITE.to_string(),
            };
            svg.rect(a.x + c as f64 * cw, y, cw + 0.3, rh + 0.3, &fill);
        }
    }
    svg.raw("</g>\n");
    svg.frame(&a, INK);
    let sx = Scale::linear(0.0, width as f64, a.x, a.right());
    let x_ticks: Ticks = linear_ticks(0.0, (width - 1) as f64, 8)
        .into_iter()
        .filter(|t| t.0.fract() == 0.0)
        .map(|(v, label)| (v + 0.5, label))
        .collect();
    svg.x_axis(&a, &sx, &x_ticks, "output channel", false);
    let sy = Scale::linear(0.0, grid.len() as f64, a.bottom(), a.y);
    let every = grid.len().div_ceil(10).max(1);
    let y_ticks: Ticks = (0..grid.len())
        .filter(|l| l % every == 0)
        .map(|l| (l as f64 + 0.5, l.to_string()))
        .collect();
    svg.y_axis(
        &a,
        &sy,
        &y_ticks,
        "conv layer (input side at bottom)",
        false,
    );
    if let Some((dead, all)) = dead_channels(record) {
        let note = format!("step {}: {dead} of {all} channels dead", p.step);
        svg.text(a.right(), a.y - 8.0, &note, "end", 11.0);
    }
    colour_bar(&mut svg, &a, lo, hi, "‖∂L/∂W_c‖₂", false);
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Spec;
    use crate::probe::Series;
    use crate::report::test_records::{layer, norm};

    /// Conv layers' channels become cells, a zero gradient a grey (dead)
    /// cell counted in the title row; dense layers are left out.
    #[test]
    fn channels_are_cells_and_zeros_are_dead() {
        let conv = |norms: &[f64]| {
            layer(vec![Series {
                tensor: SERIES.into(),
                axis: Axis::Channel,
                stats: norms.iter().map(|&v| norm(v)).collect(),
            }])
        };
        let mut r = RunRecord::new(Spec::default());
        assert!(!applies(&r));
        r.probes.push(StepProbe {
            step: 7,
            layers: vec![
                conv(&[1e-3, 0.0]),
                conv(&[1e-2, 1e-2, 0.0, 1e-1]),
                layer(Vec::new()),
            ],
            histograms: Vec::new(),
        });
        assert!(applies(&r));
        assert_eq!(dead_channels(&r), Some((2, 6)));
        let svg = render("t", &r);
        assert!(svg.contains("step 7: 2 of 6 channels dead"), "{svg}");
        assert_eq!(
            svg.matches(&format!("fill=\"{ZERO}\"")).count(),
            2 + 1,
            "two cells, one legend box"
        );
    }
}
