//! The gradient-flow map: a layer x step heatmap of `log10 ||g||_2` for one
//! probed tensor (the delta `dL/dz` or the weight gradient `dL/dW`).
//!
//! Rows are layers, the input side at the bottom; columns are recorded
//! steps, merged into at most [`MAX_COLUMNS`] bins of equal spans of steps
//! (the mean of log10 in a bin, a geometric mean of the norms). Colour is viridis over whole
//! decades; a cell whose norm is exactly zero is light grey, one with a
//! NaN or infinity dark grey, each with its legend entry. A white dot marks
//! a cell whose tensor had subnormal entries (non-zero, below the dtype's
//! smallest normal: its norm has lost precision), with a legend entry when
//! any cell has one.

use super::color::{self, INK, NON_FINITE, ZERO};
use super::svg::{decade_ticks, linear_ticks, num, placeholder, Area, Scale, Svg, Ticks, H, W};
use crate::experiment::RunRecord;
use crate::probe::{LayerProbe, StepProbe, TensorStats};

/// Most columns drawn; more recorded steps are binned.
pub const MAX_COLUMNS: usize = 100;

/// One cell's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Cell {
    /// `log10` of a positive finite norm.
    Log(f64),
    /// The norm is exactly zero.
    Zero,
    /// The tensor held NaN or infinite entries.
    NonFinite,
}

pub(super) fn cell(s: &TensorStats) -> Cell {
    let l2 = s.l2();
    if s.non_finite() > 0 || !l2.is_finite() {
        Cell::NonFinite
    } else if l2 == 0.0 {
        Cell::Zero
    } else {
        Cell::Log(l2.log10())
    }
}

/// Whether a bin's tensors had subnormal entries (any of them).
fn subnormal(stats: &[&TensorStats]) -> bool {
    stats.iter().any(|s| s.subnormal > 0)
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

/// The decades `(lo, hi)` the map of `tensor` over `record` spans (its
/// cells' log10 norms, floored and ceiled); `None` without a finite cell.
/// Maps of several runs on one page share the union of theirs.
pub fn decades(record: &RunRecord, tensor: fn(&LayerProbe) -> &TensorStats) -> Option<(i32, i32)> {
    log_range(&grid(record, tensor))
}

/// The union of two decade ranges.
pub fn union(a: Option<(i32, i32)>, b: Option<(i32, i32)>) -> Option<(i32, i32)> {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
        (x, None) | (None, x) => x,
    }
}

/// The columns, as the index of each one's first probe, then the number
/// of probes: one probe per column when they fit in [`MAX_COLUMNS`], else
/// the probes of each of [`MAX_COLUMNS`] equal spans of steps (probes are
/// denser early: a column is a stretch of training, not a count of
/// probes). A span without a probe is drawn by the column before it.
fn column_bounds(probes: &[StepProbe]) -> Vec<usize> {
    let n = probes.len();
    if n <= MAX_COLUMNS {
        return (0..=n).collect();
    }
    let first = probes[0].step;
    let span = (probes[n - 1].step - first + 1) as f64;
    let mut bounds = Vec::with_capacity(MAX_COLUMNS + 1);
    let mut column = None;
    for (i, p) in probes.iter().enumerate() {
        let c = ((p.step - first) as f64 / span * MAX_COLUMNS as f64) as usize;
        if column != Some(c) {
            bounds.push(i);
            column = Some(c);
        }
    }
    bounds.push(n);
    bounds
}

/// Column bins over the probes ([`column_bounds`]), and their cells per
/// layer, with whether any of them had subnormal entries.
fn grid(record: &RunRecord, tensor: fn(&LayerProbe) -> &TensorStats) -> Vec<Vec<(Cell, bool)>> {
    let probes = &record.probes;
    let depth = record.depth();
    if probes.is_empty() || depth == 0 {
        return Vec::new();
    }
    let bounds = column_bounds(probes);
    (0..bounds.len() - 1)
        .map(|c| {
            (0..depth)
                .map(|l| {
                    let stats: Vec<&TensorStats> = probes[bounds[c]..bounds[c + 1]]
                        .iter()
                        .filter_map(|p| p.layers.get(l))
                        .map(tensor)
                        .collect();
                    let cells: Vec<Cell> = stats.iter().map(|s| cell(s)).collect();
                    (merge(&cells), subnormal(&stats))
                })
                .collect()
        })
        .collect()
}

/// The decades the finite cells of `grid` span.
fn log_range(grid: &[Vec<(Cell, bool)>]) -> Option<(i32, i32)> {
    let logs = grid.iter().flatten().filter_map(|(c, _)| match c {
        Cell::Log(v) => Some(*v),
        _ => None,
    });
    let (lo, hi) = logs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    lo.is_finite().then(|| {
        let (lo, hi) = (lo.floor() as i32, hi.ceil() as i32);
        (lo, hi.max(lo + 1))
    })
}

/// The map of `tensor` over `record`'s probes, titled `title`; `what`
/// names the norm on the colour bar. Its colours span `scale` (the
/// decades of every run on the page), or its own decades when `None`.
pub fn render(
    title: &str,
    record: &RunRecord,
    tensor: fn(&LayerProbe) -> &TensorStats,
    what: &str,
    scale: Option<(i32, i32)>,
) -> String {
    render_rows(
        title,
        record,
        tensor,
        what,
        scale,
        "layer (input side at bottom)",
    )
}

/// [`render`], its rows named `rows` on the y axis (the through-time map's
/// rows are time steps: [`super::through_time`]).
pub fn render_rows(
    title: &str,
    record: &RunRecord,
    tensor: fn(&LayerProbe) -> &TensorStats,
    what: &str,
    scale: Option<(i32, i32)>,
    rows: &str,
) -> String {
    let grid = grid(record, tensor);
    if grid.is_empty() {
        return placeholder(title, "no probes recorded");
    }
    let (probes, depth) = (&record.probes, record.depth());
    let n = probes.len();
    let bounds = column_bounds(probes);
    let (lo, hi) = union(scale, log_range(&grid)).unwrap_or((-1, 0));
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
    let mut dots = Vec::new();
    for (c, column) in grid.iter().enumerate() {
        let x0 = sx.at(step_at(bounds[c])).unwrap_or(a.x);
        let x1 = sx.at(step_at(bounds[c + 1])).unwrap_or(a.right());
        for (l, (v, sub)) in column.iter().enumerate() {
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
            if *sub {
                let r = (0.3 * (x1 - x0).min(row)).clamp(0.8, 3.0);
                dots.push(((x0 + x1) / 2.0, y + row / 2.0, r));
            }
        }
    }
    svg.raw("</g>\n");
    if !dots.is_empty() {
        svg.raw("<g class=\"subnormal\">\n");
        for (x, y, r) in &dots {
            subnormal_dot(&mut svg, (*x, *y), *r);
        }
        svg.raw("</g>\n");
    }
    svg.frame(&a, INK);

    let x_ticks = linear_ticks(first, last, 6);
    svg.x_axis(&a, &sx, &x_ticks, "step", false);
    let sy = Scale::linear(0.0, depth as f64, a.bottom(), a.y);
    let every = depth.div_ceil(10).max(1);
    let y_ticks: Ticks = (0..depth)
        .filter(|l| l % every == 0 && depth - 1 - l >= every || *l == depth - 1)
        .map(|l| (l as f64 + 0.5, l.to_string()))
        .collect();
    svg.y_axis(&a, &sy, &y_ticks, rows, false);

    colour_bar(&mut svg, &a, lo, hi, what, !dots.is_empty());
    svg.finish()
}

/// The mark of a cell whose tensor had subnormal entries: a white dot
/// with a thin dark ring, visible on every colour of the map.
fn subnormal_dot(svg: &mut Svg, c: (f64, f64), r: f64) {
    svg.raw(&format!(
        "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"#ffffff\" stroke=\"{INK}\" \
         stroke-width=\"0.4\"/>\n",
        num(c.0),
        num(c.1),
        num(r)
    ));
}

/// The viridis bar right of the map, ticks at whole decades, the two grey
/// legend boxes under it, and the subnormal dot's entry when `subnormal`.
pub(super) fn colour_bar(svg: &mut Svg, a: &Area, lo: i32, hi: i32, what: &str, subnormal: bool) {
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
    if subnormal {
        subnormal_dot(svg, (x + 7.0, ly + 41.0), 3.0);
        svg.text(x + 20.0, ly + 45.0, "subnormal entries", "start", 11.0);
    }
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

    /// Cells whose tensor had subnormal entries get a dot and the legend
    /// its entry; a map without any has neither.
    #[test]
    fn subnormal_cells_are_dotted() {
        use crate::experiment::{RunRecord, Spec};
        use crate::probe::StepProbe;
        let layer = |i: usize, sub: u64| LayerProbe {
            layer: i,
            path: format!("layers.{i}"),
            weight: TensorStats::default(),
            weight_grad: TensorStats {
                n: 10,
                sum_sq: 1e-80,
                subnormal: sub,
                ..TensorStats::default()
            },
            bias_grad: None,
            pre_grad: TensorStats::default(),
            out_grad: TensorStats::default(),
            pre: TensorStats::default(),
            pre_pct: [0.0; 3],
            out: TensorStats::default(),
            saturated: f64::NAN,
            dead: f64::NAN,
            update_ratio: f64::NAN,
            series: Vec::new(),
        };
        let mut r = RunRecord::new(Spec::default());
        for step in 0..3 {
            r.probes.push(StepProbe {
                step,
                layers: vec![layer(0, if step == 1 { 4 } else { 0 }), layer(1, 0)],
                histograms: Vec::new(),
            });
        }
        let svg = render("t", &r, |l| &l.weight_grad, "g", None);
        assert_eq!(
            svg.matches("fill=\"#ffffff\" stroke").count(),
            2,
            "one cell, one legend dot"
        );
        assert!(svg.contains("subnormal entries"));
        r.probes[1].layers[0].weight_grad.subnormal = 0;
        let svg = render("t", &r, |l| &l.weight_grad, "g", None);
        assert!(!svg.contains("subnormal"), "{svg}");
        // Its own decades: |g| = 1e-40 is the cell at -40..-39; on a page
        // whose other run reaches 1e-2, the colour bar spans -40..-2, and
        // the same cell is drawn in another colour.
        assert_eq!(decades(&r, |l| &l.weight_grad), Some((-40, -39)));
        let shared = union(decades(&r, |l| &l.weight_grad), Some((-5, -2)));
        assert_eq!(shared, Some((-40, -2)));
        let on_page = render("t", &r, |l| &l.weight_grad, "g", shared);
        assert_ne!(on_page, svg);
        let top = crate::report::svg::pow10_label(-2);
        assert!(on_page.contains(&top) && !svg.contains(&top), "{on_page}");
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
