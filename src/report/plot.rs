//! A general line chart: named lines of `(x, y)` points on linear or log10
//! axes, solid for our measurements and dashed for a paper's figures or a
//! theory's prediction, with optional reference levels (chance, the mean
//! predictor). The reproductions draw their figures with it.

use super::color;
use super::svg::{
    decade_range, decade_ticks, draw_series, linear_ticks, placeholder, Area, Mark, Scale, Svg,
    Ticks, H, W,
};

/// One line of a [`Plot`].
#[derive(Clone, Debug)]
pub struct Line {
    /// Legend label.
    pub label: String,
    /// Categorical colour index (the Okabe-Ito palette, cycling after eight).
    pub color: usize,
    /// The points, in drawing order; non-finite ones break the line.
    pub points: Vec<(f64, f64)>,
    /// Dashed (a paper's figures, a prediction) rather than solid.
    pub dashed: bool,
    /// Dots at the points as well.
    pub dots: bool,
}

impl Line {
    /// A solid line of `points` in colour `color`.
    pub fn new(label: impl Into<String>, color: usize, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.into(),
            color,
            points,
            dashed: false,
            dots: false,
        }
    }

    /// The same line dashed.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }

    /// The same line with dots at its points.
    pub fn dotted(mut self) -> Self {
        self.dots = true;
        self
    }
}

/// A line chart.
#[derive(Clone, Debug, Default)]
pub struct Plot {
    /// Title, drawn at the top.
    pub title: String,
    /// The x axis' label.
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// x on a log10 axis.
    pub x_log: bool,
    /// y on a log10 axis.
    pub y_log: bool,
    /// The y range (linear axes only); `None`: from the data.
    pub y_range: Option<(f64, f64)>,
    /// The lines.
    pub lines: Vec<Line>,
    /// Horizontal reference levels: `(y, label)`, drawn dashed grey.
    pub levels: Vec<(f64, String)>,
}

impl Plot {
    /// An empty chart.
    pub fn new(title: &str, x_label: &str, y_label: &str) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            ..Self::default()
        }
    }

    /// The SVG document.
    pub fn render(&self) -> String {
        let drawable = |(x, y): (f64, f64)| {
            x.is_finite() && y.is_finite() && (!self.x_log || x > 0.0) && (!self.y_log || y > 0.0)
        };
        let pts: Vec<(f64, f64)> = self
            .lines
            .iter()
            .flat_map(|l| l.points.iter().copied())
            .filter(|&p| drawable(p))
            .collect();
        if pts.is_empty() {
            return placeholder(&self.title, "nothing to draw");
        }
        let a = Area::standard(180.0);
        let mut svg = Svg::new(&self.title, W, H);
        let (sx, xt) = axis(pts.iter().map(|p| p.0), self.x_log, None, (a.x, a.right()));
        let ys = pts.iter().map(|p| p.1).chain(
            self.levels
                .iter()
                .map(|l| l.0)
                .filter(|&y| drawable((1.0, y))),
        );
        let (sy, yt) = axis(ys, self.y_log, self.y_range, (a.bottom(), a.y));
        svg.x_axis(&a, &sx, &xt, &self.x_label, true);
        svg.y_axis(&a, &sy, &yt, &self.y_label, true);
        for (y, label) in &self.levels {
            if let Some(py) = sy.at(*y).filter(|py| (a.y..=a.bottom()).contains(py)) {
                svg.line((a.x, py), (a.right(), py), "#888888", 1.0, "4 3");
                svg.text(a.right() - 4.0, py - 4.0, label, "end", 10.0);
            }
        }
        for l in &self.lines {
            let c = color::category(l.color);
            let dash = if l.dashed { "6 4" } else { "" };
            draw_series(&mut svg, &l.points, &sx, &sy, c, 2.0, dash);
            if l.dots {
                for &(x, y) in &l.points {
                    if let (Some(px), Some(py)) = (sx.at(x), sy.at_clamped(y)) {
                        svg.circle((px, py), 3.0, c);
                    }
                }
            }
        }
        let entries: Vec<(String, String, Mark)> = self
            .lines
            .iter()
            .map(|l| {
                let mark = if l.dashed { Mark::Dashed } else { Mark::Line };
                (l.label.clone(), color::category(l.color).to_string(), mark)
            })
            .collect();
        svg.legend(a.right() + 16.0, a.y + 6.0, &entries);
        svg.finish()
    }
}

/// The scale and ticks of an axis over `values` onto `range` (pixels).
fn axis(
    values: impl Iterator<Item = f64> + Clone,
    log: bool,
    fixed: Option<(f64, f64)>,
    range: (f64, f64),
) -> (Scale, Ticks) {
    if log {
        let (lo, hi) = decade_range(values, 1).unwrap_or((0, 1));
        return (
            Scale::log10(lo as f64, hi as f64, range.0, range.1),
            decade_ticks(lo, hi),
        );
    }
    let (lo, hi) = fixed.unwrap_or_else(|| {
        let finite = values.filter(|v| v.is_finite());
        let lo = finite.clone().fold(f64::INFINITY, f64::min);
        let hi = finite.fold(f64::NEG_INFINITY, f64::max);
        // From 0 when the data are all of one sign and near enough to it.
        let lo = if lo > 0.0 && lo < 0.5 * hi { 0.0 } else { lo };
        let pad = if hi > lo { 0.04 * (hi - lo) } else { 1.0 };
        (lo - if lo == 0.0 { 0.0 } else { pad }, hi + pad)
    });
    (
        Scale::linear(lo, hi, range.0, range.1),
        linear_ticks(lo, hi, 6),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_solid_and_dashed_lines_with_a_legend_and_levels() {
        let mut p = Plot::new("Test error", "depth", "error (%)");
        p.lines.push(Line::new(
            "ours",
            0,
            vec![(1.0, 2.0), (2.0, 3.0), (3.0, 5.0)],
        ));
        p.lines
            .push(Line::new("paper", 1, vec![(1.0, 2.5), (3.0, 4.0)]).dashed());
        p.levels.push((4.5, "mean predictor".into()));
        let svg = p.render();
        assert!(svg.contains("stroke-dasharray=\"6 4\""), "{svg}");
        assert!(svg.contains(">ours<") && svg.contains(">paper<"), "{svg}");
        assert!(svg.contains(">mean predictor<"), "{svg}");
    }

    #[test]
    fn log_axes_skip_non_positive_points_and_empty_plots_say_so() {
        let mut p = Plot::new("Variance", "L", "var");
        p.x_log = true;
        p.y_log = true;
        p.lines.push(Line::new(
            "a",
            0,
            vec![(0.0, 1.0), (1.0, 1e-3), (10.0, 1e2)],
        ));
        let svg = p.render();
        assert!(svg.contains("10⁻³") && svg.contains("10²"), "{svg}");
        let empty = Plot::new("Nothing", "x", "y").render();
        assert!(empty.contains("nothing to draw"));
    }
}
