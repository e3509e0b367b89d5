//! What the per-layer line charts share: one series per layer over the
//! recorded steps, coloured by depth (viridis, dark at the input side), and
//! the small colour ramp that is their legend.

use super::color;
use super::svg::{bin_mean, Svg};
use crate::experiment::RunRecord;
use crate::probe::LayerProbe;

/// Most points drawn per layer.
pub const MAX_POINTS: usize = 120;

/// First and last probed step (at least one step apart), the x range of
/// every per-layer chart.
pub fn step_range(record: &RunRecord) -> (f64, f64) {
    let x0 = record.probes.first().map_or(0.0, |p| p.step as f64);
    let x1 = record
        .probes
        .last()
        .map_or(1.0, |p| p.step as f64)
        .max(x0 + 1.0);
    (x0, x1)
}

/// For each layer, `(step, value)` over the probes, binned to at most
/// [`MAX_POINTS`] (geometric means when `log`).
pub fn series(
    record: &RunRecord,
    value: fn(&LayerProbe) -> f64,
    log: bool,
) -> Vec<Vec<(f64, f64)>> {
    (0..record.depth())
        .map(|l| {
            let pts: Vec<(f64, f64)> = record
                .probes
                .iter()
                .filter_map(|p| p.layers.get(l).map(|lp| (p.step as f64, value(lp))))
                .collect();
            bin_mean(&pts, MAX_POINTS, log)
        })
        .collect()
}

/// The legend of per-layer colours: a horizontal ramp in the title row,
/// right-aligned to `right`, from layer 0 (input) to `depth - 1`.
pub fn ramp(svg: &mut Svg, right: f64, depth: usize) {
    let n = depth.max(1);
    let (w, y) = (120.0, 12.0);
    let x = right - 44.0 - w;
    svg.text(x - 6.0, y + 9.0, "layer 0", "end", 11.0);
    let cw = w / n as f64;
    for i in 0..n {
        svg.rect(x + i as f64 * cw, y, cw + 0.3, 12.0, &color::layer(i, n));
    }
    svg.text(x + w + 6.0, y + 9.0, &format!("{}", n - 1), "start", 11.0);
}
