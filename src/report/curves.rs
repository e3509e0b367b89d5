//! Loss and accuracy over steps: the training batches (binned to at most
//! [`MAX_POINTS`] points), and the training and held-out sets at each
//! evaluation. Loss goes on a log axis when it spans more than a factor of
//! 50 (a diverging run), else on a linear one from 0.

use super::color::{self};
use super::svg::{
    bin_mean, decade_range, decade_ticks, draw_series, linear_ticks, placeholder, Area, Mark,
    Scale, Svg, Ticks, H, W,
};
use crate::experiment::RunRecord;

/// Most points drawn per batch series.
pub const MAX_POINTS: usize = 300;

/// A named series.
pub struct Series {
    /// Legend label.
    pub label: String,
    /// Colour.
    pub color: String,
    /// `(step, value)`.
    pub points: Vec<(f64, f64)>,
    /// Dots at the points (evaluations) as well as the line.
    pub dots: bool,
    /// Line width.
    pub width: f64,
}

/// Which quantity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Quantity {
    /// Cross-entropy or MSE.
    Loss,
    /// Fraction correct, drawn in percent.
    Accuracy,
}

fn batch(record: &RunRecord, q: Quantity) -> Vec<(f64, f64)> {
    let pts: Vec<(f64, f64)> = record
        .steps
        .iter()
        .map(|s| {
            let v = match q {
                Quantity::Loss => s.loss,
                Quantity::Accuracy => s.accuracy,
            };
            (s.step as f64, v)
        })
        .collect();
    bin_mean(&pts, MAX_POINTS, false)
}

fn evals(record: &RunRecord, q: Quantity, held_out: bool) -> Vec<(f64, f64)> {
    record
        .evals
        .iter()
        .map(|e| {
            let v = match (q, held_out) {
                (Quantity::Loss, false) => e.train_loss,
                (Quantity::Loss, true) => e.test_loss,
                (Quantity::Accuracy, false) => e.train_accuracy,
                (Quantity::Accuracy, true) => e.test_accuracy,
            };
            (e.step as f64, v)
        })
        .collect()
}

/// One run's batch series and evaluation series of `q`.
pub fn run_series(record: &RunRecord, q: Quantity) -> Vec<Series> {
    let mut out = vec![Series {
        label: "training batch".into(),
        color: "#9a9a9a".into(),
        points: batch(record, q),
        dots: false,
        width: 1.2,
    }];
    if !record.evals.is_empty() {
        for (held_out, label, c) in [(false, "training set", 1), (true, "held-out set", 0)] {
            out.push(Series {
                label: label.into(),
                color: color::category(c).into(),
                points: evals(record, q, held_out),
                dots: true,
                width: 2.0,
            });
        }
    }
    out
}

/// Several runs' series of `q`, one colour each: held-out evaluations when
/// a run has them, else its training batches.
pub fn compare_series(runs: &[(String, &RunRecord)], q: Quantity) -> Vec<Series> {
    runs.iter()
        .enumerate()
        .map(|(i, (label, r))| {
            let (points, label, dots) = if r.evals.is_empty() || q == Quantity::Loss {
                (batch(r, q), format!("{label} (batch)"), false)
            } else {
                (evals(r, q, true), format!("{label} (held-out)"), true)
            };
            Series {
                label,
                color: color::category(i).into(),
                points,
                dots,
                width: 2.0,
            }
        })
        .collect()
}

/// The chart of `series` of `q`; an accuracy chart draws `chance` (the
/// accuracy of guessing, `1 / classes`) as a dashed line when given.
pub fn render(title: &str, q: Quantity, series: &[Series], chance: Option<f64>) -> String {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let finite: Vec<(f64, f64)> = all().copied().filter(|p| p.1.is_finite()).collect();
    if finite.is_empty() {
        return placeholder(title, "no steps recorded");
    }
    let x0 = finite.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x1 = finite.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let mut svg = Svg::new(title, W, H);
    let a = Area::standard(170.0);
    let sx = Scale::linear(x0, x1.max(x0 + 1.0), a.x, a.right());
    svg.x_axis(
        &a,
        &sx,
        &linear_ticks(x0, x1.max(x0 + 1.0), 6),
        "step",
        true,
    );
    let (sy, ticks, label): (Scale, Ticks, &str) = match q {
        Quantity::Accuracy => {
            let ticks = linear_ticks(0.0, 1.0, 5)
                .into_iter()
                .map(|(v, _)| (v, format!("{:.0}", v * 100.0)))
                .collect();
            (
                Scale::linear(0.0, 1.0, a.bottom(), a.y),
                ticks,
                "accuracy (%)",
            )
        }
        Quantity::Loss => {
            let max = finite.iter().map(|p| p.1).fold(0.0, f64::max);
            let min_pos = finite
                .iter()
                .map(|p| p.1)
                .filter(|v| *v > 0.0)
                .fold(f64::INFINITY, f64::min);
            match decade_range(finite.iter().map(|p| p.1), 1) {
                Some((lo, hi)) if max / min_pos > 50.0 => (
                    Scale::log10(lo as f64, hi as f64, a.bottom(), a.y),
                    decade_ticks(lo, hi),
                    "loss (log scale)",
                ),
                _ => {
                    let top = if max > 0.0 { max * 1.05 } else { 1.0 };
                    let ticks = linear_ticks(0.0, top, 5);
                    (Scale::linear(0.0, top, a.bottom(), a.y), ticks, "loss")
                }
            }
        }
    };
    svg.y_axis(&a, &sy, &ticks, label, true);
    if let (Quantity::Accuracy, Some(py)) = (q, chance.and_then(|c| sy.at(c))) {
        svg.raw("<g class=\"chance\">\n");
        svg.line((a.x, py), (a.right(), py), "#888888", 1.0, "4 3");
        svg.text(a.right() - 4.0, py - 4.0, "chance", "end", 10.0);
        svg.raw("</g>\n");
    }
    svg.raw("<g class=\"series\">\n");
    for s in series {
        draw_series(&mut svg, &s.points, &sx, &sy, &s.color, s.width, "");
        if s.dots {
            for &(x, y) in &s.points {
                if let (Some(px), Some(py)) = (sx.at(x), sy.at_clamped(y)) {
                    svg.circle((px, py), 3.0, &s.color);
                }
            }
        }
    }
    svg.raw("</g>\n");
    let entries: Vec<(String, String, Mark)> = series
        .iter()
        .map(|s| (s.label.clone(), s.color.clone(), Mark::Line))
        .collect();
    svg.legend(a.right() + 16.0, a.y + 6.0, &entries);
    svg.finish()
}
