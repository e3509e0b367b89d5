//! The gradient-flow map: a layer x step heatmap of `log10 ||g||_2` for one
//! probed tensor (the delta `dL/dz` or the weight gradient `dL/dW`).
//!
//! Rows are layers, the input side at the bottom; columns are recorded
//! steps, merged into at most [`MAX_COLUMNS`] bins (the mean of log10 in a
//! bin, a geometric mean of the norms). Colour is viridis over whole
//! decades; a cell whose norm is exactly zero is light grey, one with a
//! NaN or infinity dark grey, each with its legend entry.

use super::color::{self, INK, NON_FINITE, ZERO};
use super::svg::{decade_ticks, linear_ticks, placeholder, Area, Scale, Svg, Ticks, H, W};
use crate::experiment::RunRecord;
use crate::probe::{LayerProbe, TensorStats};

/// Most columns drawn; more recorded steps are binned.
pub const MAX_COLUMNS: usize = 100;

/// One cell's value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Cell {
    /// `log10` of a positive finite norm.
    Log(f64),
    /// The norm is exactly zero.
    Zero,
    /// The tensor held NaN or infinite entries.
    NonFinite,
}

fn cell(s: &TensorStats) -> Cell {
    let l2 = s.l2();
    if s.non_finite() > 0 || !l2.is_finite() {
        Cell::NonFinite
    } else if l2 == 0.0 {
        Cell::Zero
    } else {
        Cell::Log(l2.log10())
    }
}

/// Merges a bin's cells: any non-finite wins, then the mean of the logs,
/// then zero.
fn merge(cells: &[Cell]) -> Cell {
    if cells.contains(&Cell::NonFinite) {
        return Cell::NonFinite;
    }
    let logs: Vec<f64> = cells
        .iter()
        .filter_map(|c| match c {
            Cell::Log(v) => Some(*v),
            _ => None,
        })
        .collect();
    if logs.is_empty() {
        Cell::Zero
    } else {
        Cell::Log(logs.iter().sum::<f64>() / logs.len() as f64)
    }
}

/// The map of `tensor` over `record`'s probes, titled `title`; `what`
/// names the norm on the colour bar.
pub fn render(
    title: &str,
    record: &RunRecord,
    tensor: fn(&LayerProbe) -> &TensorStats,
    what: &str,
) -> String {
    let probes = &record.probes;
    let depth = record.depth();
    if probes.is_empty() || depth == 0 {
        return placeholder(title, "no probes recorded");
    }
    // Column bins over the probes, and their cells per layer.
    let n = probes.len();
    let cols = n.min(MAX_COLUMNS);
    let bounds: Vec<usize> = (0..=cols).map(|c| c * n / cols).collect();
    let grid: Vec<Vec<Cell>> = (0..cols)
        .map(|c| {
            (0..depth)
                .map(|l| {
                    let cells: Vec<Cell> = probes[bounds[c]..bounds[c + 1]]
                        .iter()
                        .filter_map(|p| p.layers.get(l))
                        .map(|lp| cell(tensor(lp)))
                        .collect();
                    merge(&cells)
                })
                .collect()
        })
        .collect();
    let logs = grid.iter().flatten().filter_map(|c| match c {
        Cell::Log(v) => Some(*v),
        _ => None,
    });
    let (lo, hi) = logs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = if lo.is_finite() {
        let (lo, hi) = (lo.floor() as i32, hi.ceil() as i32);
        (lo, hi.max(lo + 1))
    } else {
        (-1, 0)
    };

    let mut svg = Svg::new(title, W, H);
    let a = Area::standard(150.0);
    let first = probes[0].step as f64;
    let last = probes[n - 1].step as f64;
    let cadence = if n > 1 {
        (last - probes[n - 2].step as f64).max(1.0)
    } else {
        1.0
    };
    let end = last + cadence;
    let sx = Scale::linear(first, end, a.x, a.right());
    let row = a.h / depth as f64;
    let step_at = |i: usize| {
        if i < n {
            probes[i].step as f64
        } else {
            end
        }
    };
    const SEAM: f64 = 0.6;
    svg.raw("<g class=\"cells\" shape-rendering=\"crispEdges\">\n");
    for (c, column) in grid.iter().enumerate() {
        let x0 = sx.at(step_at(bounds[c])).unwrap_or(a.x);
        let x1 = sx.at(step_at(bounds[c + 1])).unwrap_or(a.right());
        for (l, v) in column.iter().enumerate() {
            let fill = match v {
                Cell::Log(v) => color::viridis((v - lo as f64) / (hi - lo) as f64),
                Cell::Zero => ZERO.to_string(),
                Cell::NonFinite => NON_FINITE.to_string(),
            };
            let y = a.bottom() - (l + 1) as f64 * row;
            // Cells overlap their right and upper neighbours by a hair, so
            // crisp-edge rounding never leaves a white seam between them.
            let (dx, dy) = (
                if c + 1 < grid.len() { SEAM } else { 0.0 },
                if l + 1 < column.len() { SEAM } else { 0.0 },
            );
            svg.rect(x0, y - dy, x1 - x0 + dx, row + dy, &fill);
        }
    }
    svg.raw("</g>\n");
    svg.frame(&a, INK);

    let x_ticks = linear_ticks(first, last, 6);
    svg.x_axis(&a, &sx, &x_ticks, "step", false);
    let sy = Scale::linear(0.0, depth as f64, a.bottom(), a.y);
    let every = depth.div_ceil(10).max(1);
    let y_ticks: Ticks = (0..depth)
        .filter(|l| l % every == 0 && depth - 1 - l >= every || *l == depth - 1)
        .map(|l| (l as f64 + 0.5, l.to_string()))
        .collect();
    svg.y_axis(&a, &sy, &y_ticks, "layer (input side at bottom)", false);

    colour_bar(&mut svg, &a, lo, hi, what);
    svg.finish()
}

/// The viridis bar right of the map, ticks at whole decades, and the two
/// grey legend boxes under it.
fn colour_bar(svg: &mut Svg, a: &Area, lo: i32, hi: i32, what: &str) {
    let x = a.right() + 14.0;
    let (top, bottom) = (a.y, a.bottom() - 50.0);
    let steps = 64;
    let h = (bottom - top) / steps as f64;
    for i in 0..steps {
        let t = (i as f64 + 0.5) / steps as f64;
        let y = bottom - (i + 1) as f64 * h;
        svg.rect(x, y, 14.0, h + 0.3, &color::viridis(t));
    }
    let sc = Scale::log10(lo as f64, hi as f64, bottom, top);
    for (v, label) in decade_ticks(lo, hi) {
        let Some(y) = sc.at(v) else { continue };
        svg.line((x + 14.0, y), (x + 18.0, y), INK, 1.0, "");
        svg.text(x + 21.0, y + 4.0, &label, "start", 11.0);
    }
    svg.text_up(x + 80.0, (top + bottom) / 2.0, what, 12.0);
    let ly = a.bottom() - 34.0;
    svg.rect(x, ly, 14.0, 10.0, ZERO);
    svg.text(x + 20.0, ly + 9.0, "exactly 0", "start", 11.0);
    svg.rect(x, ly + 18.0, 14.0, 10.0, NON_FINITE);
    svg.text(x + 20.0, ly + 27.0, "NaN / Inf", "start", 11.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_merge_non_finite_first_then_geometric_mean() {
        assert_eq!(merge(&[Cell::Log(-2.0), Cell::NonFinite]), Cell::NonFinite);
        assert_eq!(merge(&[Cell::Log(-2.0), Cell::Log(-4.0)]), Cell::Log(-3.0));
        assert_eq!(merge(&[Cell::Zero, Cell::Log(-4.0)]), Cell::Log(-4.0));
        assert_eq!(merge(&[Cell::Zero]), Cell::Zero);
    }

    #[test]
    fn cells_classify_zero_and_non_finite() {
        let mut s = TensorStats {
            n: 4,
            sum_sq: 1e-6,
            ..TensorStats::default()
        };
        assert_eq!(cell(&s), Cell::Log(-3.0));
        s.sum_sq = 0.0;
        assert_eq!(cell(&s), Cell::Zero);
        s.nan = 1;
        assert_eq!(cell(&s), Cell::NonFinite);
    }
}
