//! The trainability map of a sweep: a grid over two of its axes, each
//! cell coloured by what its runs did (trains, vanishes, explodes,
//! diverges, stalls) and shaded by their final held-out accuracy (pale:
//! near 0, full colour: near 1). Where a cell holds several runs (seeds,
//! or axes not on the map), it shows the majority class and, when the
//! runs disagree, the majority's count (`2/3`). A third axis becomes small
//! multiples, one map per value, side by side.
//!
//! Beside it, [`parallel`]: every run as a line across all the sweep's
//! axes and its accuracy, coloured by class, to see which combination of
//! settings separates the classes.
//!
//! Values are the spec's own strings (`10`, `tanh`, `1.76`): an axis whose
//! values all read as numbers is sorted numerically, any other keeps the
//! sweep's order. A theory curve (the mean-field `6 xi_c` depth against
//! `sigma_w^2`) is drawn over a map whose two axes are numeric, in data
//! coordinates, interpolated between the grid's values.

use super::color::INK;
use super::svg::{escape, num, placeholder, Svg};

/// One run of a sweep, as the map reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRun {
    /// Its cell: each axis's spec key and value (`model.depth`, `10`).
    pub cell: Vec<(String, String)>,
    /// Its class (`trains`, `vanishes`, `explodes`, `diverges`, `stalls`).
    pub class: String,
    /// Final held-out accuracy in `[0, 1]` (NaN: none, as in regression).
    pub accuracy: f64,
}

/// The classes in legend order, with their colours (Okabe-Ito: green,
/// blue, vermillion, black, grey).
pub const CLASSES: [(&str, &str); 5] = [
    ("trains", "#009e73"),
    ("vanishes", "#0072b2"),
    ("explodes", "#d55e00"),
    ("diverges", "#000000"),
    ("stalls", "#999999"),
];

/// The colour of `class` (grey for a name not in [`CLASSES`]).
pub fn class_color(class: &str) -> &'static str {
    CLASSES
        .iter()
        .find(|(name, _)| *name == class)
        .map_or("#999999", |(_, c)| c)
}

/// A map's request: which axes go where, and an optional curve.
#[derive(Clone, Debug, Default)]
pub struct MapAxes<'a> {
    /// The spec key along x.
    pub x: &'a str,
    /// The spec key along y.
    pub y: &'a str,
    /// The spec key whose values become small multiples.
    pub facet: Option<&'a str>,
    /// A curve in data coordinates `(x, y)`, drawn where both axes are
    /// numeric, with its legend label.
    pub curve: Option<(&'a [(f64, f64)], &'a str)>,
}

/// The value of `key` in `run`'s cell.
fn value<'r>(run: &'r SweepRun, key: &str) -> Option<&'r str> {
    run.cell
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `key`'s distinct values over `runs`: numerically sorted when all are
/// numbers, else in first-seen order.
pub fn axis_values(runs: &[SweepRun], key: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for v in runs.iter().filter_map(|r| value(r, key)) {
        if !seen.iter().any(|s| s == v) {
            seen.push(v.to_string());
        }
    }
    if seen.iter().all(|v| v.parse::<f64>().is_ok()) {
        seen.sort_by(|a, b| {
            a.parse::<f64>()
                .unwrap()
                .total_cmp(&b.parse::<f64>().unwrap())
        });
    }
    seen
}

/// What one cell shows: the majority class, how many of how many runs
/// have it, and their mean accuracy.
#[derive(Clone, Debug, PartialEq)]
pub struct CellSummary {
    /// The most common class (ties: the first in [`CLASSES`] order).
    pub class: String,
    /// Runs of that class.
    pub count: usize,
    /// Runs in the cell.
    pub total: usize,
    /// Mean held-out accuracy of the cell's runs (NaN when none has one).
    pub accuracy: f64,
}

/// The summary of `runs` (one cell's).
pub fn summarize(runs: &[&SweepRun]) -> Option<CellSummary> {
    if runs.is_empty() {
        return None;
    }
    let count = |c: &str| runs.iter().filter(|r| r.class == c).count();
    let mut names: Vec<&str> = CLASSES.iter().map(|(n, _)| *n).collect();
    for r in runs {
        if !names.contains(&r.class.as_str()) {
            names.push(&r.class);
        }
    }
    let best = names
        .iter()
        .copied()
        .max_by_key(|n| {
            (
                count(n),
                std::cmp::Reverse(names.iter().position(|m| m == n)),
            )
        })
        .expect("at least one class");
    let accs: Vec<f64> = runs
        .iter()
        .map(|r| r.accuracy)
        .filter(|a| a.is_finite())
        .collect();
    Some(CellSummary {
        class: best.to_string(),
        count: count(best),
        total: runs.len(),
        accuracy: if accs.is_empty() {
            f64::NAN
        } else {
            accs.iter().sum::<f64>() / accs.len() as f64
        },
    })
}

/// Pixel position of data value `v` on an axis whose grid values are
/// `values` (numbers), cells `step` apart starting at `start` (the first
/// cell's centre): linear between neighbouring grid values, `None`
/// outside them.
fn position(values: &[f64], v: f64, start: f64, step: f64) -> Option<f64> {
    let i = values.windows(2).position(|w| w[0] <= v && v <= w[1])?;
    let t = (v - values[i]) / (values[i + 1] - values[i]);
    Some(start + (i as f64 + t) * step)
}

/// The map, titled `title` (a placeholder when an axis is missing).
pub fn render(title: &str, runs: &[SweepRun], axes: &MapAxes<'_>) -> String {
    let xs = axis_values(runs, axes.x);
    let ys = axis_values(runs, axes.y);
    if xs.is_empty() || ys.is_empty() {
        return placeholder(
            title,
            &format!("the sweep has no axis {} and {}", axes.x, axes.y),
        );
    }
    let facets: Vec<Option<String>> = match axes.facet {
        Some(f) => axis_values(runs, f).into_iter().map(Some).collect(),
        None => vec![None],
    };
    // Layout: up to 4 maps per row, each cell at most 48 units square.
    let per_row = facets.len().min(4);
    let rows = facets.len().div_ceil(4);
    let cell = (560.0 / (per_row * xs.len()) as f64).clamp(14.0, 48.0);
    let (map_w, map_h) = (cell * xs.len() as f64, cell * ys.len() as f64);
    let (left, top, gap) = (96.0, 56.0, 70.0);
    let legend_w = 150.0;
    let w = left + per_row as f64 * (map_w + gap) + legend_w;
    let h = top + rows as f64 * (map_h + 80.0) + 10.0;
    let mut svg = Svg::new(title, w, h);
    let numeric = |v: &[String]| -> Option<Vec<f64>> { v.iter().map(|s| s.parse().ok()).collect() };
    for (k, facet) in facets.iter().enumerate() {
        let x0 = left + (k % 4) as f64 * (map_w + gap);
        let y0 = top + (k / 4) as f64 * (map_h + 80.0);
        if let (Some(f), Some(v)) = (axes.facet, facet) {
            svg.text(
                x0 + map_w / 2.0,
                y0 - 8.0,
                &format!("{f} = {v}"),
                "middle",
                12.0,
            );
        }
        for (i, xv) in xs.iter().enumerate() {
            for (j, yv) in ys.iter().enumerate() {
                let members: Vec<&SweepRun> = runs
                    .iter()
                    .filter(|r| value(r, axes.x) == Some(xv) && value(r, axes.y) == Some(yv))
                    .filter(|r| match (axes.facet, facet) {
                        (Some(f), Some(v)) => value(r, f) == Some(v.as_str()),
                        _ => true,
                    })
                    .collect();
                // The first y value at the bottom.
                let (cx, cy) = (x0 + i as f64 * cell, y0 + (ys.len() - 1 - j) as f64 * cell);
                let Some(s) = summarize(&members) else {
                    svg.rect(cx, cy, cell - 1.0, cell - 1.0, "#f4f4f4");
                    continue;
                };
                let shade = if s.accuracy.is_finite() {
                    0.25 + 0.75 * s.accuracy.clamp(0.0, 1.0)
                } else {
                    0.6
                };
                svg.rect_alpha(cx, cy, cell - 1.0, cell - 1.0, class_color(&s.class), shade);
                if s.count < s.total && cell >= 24.0 {
                    svg.text(
                        cx + cell / 2.0,
                        cy + cell / 2.0 + 4.0,
                        &format!("{}/{}", s.count, s.total),
                        "middle",
                        10.0,
                    );
                }
            }
        }
        // Axis labels: every value when they fit, else every other.
        let every = if cell < 24.0 { 2 } else { 1 };
        for (i, xv) in xs.iter().enumerate().step_by(every) {
            svg.text(
                x0 + (i as f64 + 0.5) * cell,
                y0 + map_h + 14.0,
                xv,
                "middle",
                10.0,
            );
        }
        svg.text(x0 + map_w / 2.0, y0 + map_h + 32.0, axes.x, "middle", 12.0);
        if k % 4 == 0 {
            for (j, yv) in ys.iter().enumerate().step_by(every) {
                let cy = y0 + (ys.len() - 1 - j) as f64 * cell + cell / 2.0 + 4.0;
                svg.text(x0 - 6.0, cy, yv, "end", 10.0);
            }
            svg.text_up(x0 - 60.0, y0 + map_h / 2.0, axes.y, 12.0);
        }
        if let (Some((curve, _)), Some(xn), Some(yn)) = (axes.curve, numeric(&xs), numeric(&ys)) {
            let pts: Vec<(f64, f64)> = curve
                .iter()
                .filter_map(|&(x, y)| {
                    let px = position(&xn, x, x0 + cell / 2.0, cell)?;
                    let py = position(&yn, y, y0 + map_h - cell / 2.0, -cell)?;
                    Some((px, py))
                })
                .collect();
            if pts.len() > 1 {
                svg.polyline(&pts, INK, 2.0, "5 3");
            }
        }
    }
    // Legend: the classes, the shade, the curve.
    let lx = w - legend_w + 10.0;
    let mut ly = top + 4.0;
    for (name, color) in CLASSES {
        svg.rect(lx, ly - 9.0, 12.0, 12.0, color);
        svg.text(lx + 18.0, ly + 1.0, name, "start", 11.0);
        ly += 17.0;
    }
    svg.text(lx, ly + 6.0, "pale: low accuracy", "start", 10.0);
    if let Some((_, label)) = axes.curve {
        svg.line((lx, ly + 24.0), (lx + 18.0, ly + 24.0), INK, 2.0, "5 3");
        svg.text(lx + 24.0, ly + 28.0, label, "start", 10.0);
    }
    svg.finish()
}

/// Every run as a line across `keys` (the sweep's axes) and its held-out
/// accuracy, coloured by class; numeric axes scaled linearly between
/// their extremes, others spaced evenly in the sweep's order.
pub fn parallel(title: &str, runs: &[SweepRun], keys: &[&str]) -> String {
    if runs.is_empty() || keys.is_empty() {
        return placeholder(title, "no runs to draw");
    }
    let (left, right, top, bottom) = (60.0, 140.0, 60.0, 300.0);
    let n = keys.len() + 1;
    let w = left + right + 120.0 * (n - 1) as f64;
    let mut svg = Svg::new(title, w, 360.0);
    let x_at = |i: usize| left + 120.0 * i as f64;
    // Each axis: a function from a run to a fraction in [0, 1] (1 at top).
    let scales: Vec<Vec<String>> = keys.iter().map(|k| axis_values(runs, k)).collect();
    let frac = |axis: usize, run: &SweepRun| -> Option<f64> {
        if axis == keys.len() {
            return run
                .accuracy
                .is_finite()
                .then_some(run.accuracy.clamp(0.0, 1.0));
        }
        let values = &scales[axis];
        let v = value(run, keys[axis])?;
        let nums: Option<Vec<f64>> = values.iter().map(|s| s.parse().ok()).collect();
        match nums {
            Some(nums) if nums.len() > 1 => {
                let (lo, hi) = (nums[0], nums[nums.len() - 1]);
                Some((v.parse::<f64>().ok()? - lo) / (hi - lo))
            }
            _ => {
                let i = values.iter().position(|s| s == v)?;
                Some(if values.len() > 1 {
                    i as f64 / (values.len() - 1) as f64
                } else {
                    0.5
                })
            }
        }
    };
    let y_at = |f: f64| bottom - f * (bottom - top);
    for (i, key) in keys
        .iter()
        .map(|k| k.to_string())
        .chain(["held-out accuracy".to_string()])
        .enumerate()
    {
        svg.line((x_at(i), top), (x_at(i), bottom), INK, 1.0, "");
        svg.text(x_at(i), bottom + 18.0, &key, "middle", 11.0);
        if i < keys.len() {
            let values = &scales[i];
            for v in values {
                let probe = SweepRun {
                    cell: vec![(keys[i].to_string(), v.clone())],
                    class: String::new(),
                    accuracy: f64::NAN,
                };
                if let Some(f) = frac(i, &probe) {
                    svg.text(x_at(i) - 4.0, y_at(f) + 4.0, v, "end", 9.0);
                }
            }
        } else {
            svg.text(x_at(i) + 4.0, y_at(1.0) + 4.0, "1", "start", 9.0);
            svg.text(x_at(i) + 4.0, y_at(0.0) + 4.0, "0", "start", 9.0);
        }
    }
    for run in runs {
        let pts: Vec<(f64, f64)> = (0..n)
            .filter_map(|a| frac(a, run).map(|f| (x_at(a), y_at(f))))
            .collect();
        if pts.len() > 1 {
            svg.raw(&format!(
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.2\" \
                 stroke-opacity=\"0.6\"><title>{}</title></polyline>\n",
                pts.iter()
                    .map(|(x, y)| format!("{},{}", num(*x), num(*y)))
                    .collect::<Vec<_>>()
                    .join(" "),
                class_color(&run.class),
                escape(&run.class)
            ));
        }
    }
    let lx = w - right + 20.0;
    for (k, (name, color)) in CLASSES.iter().enumerate() {
        let ly = top + 4.0 + 17.0 * k as f64;
        svg.line((lx, ly), (lx + 18.0, ly), color, 2.0, "");
        svg.text(lx + 24.0, ly + 4.0, name, "start", 11.0);
    }
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(depth: &str, sw2: &str, seed: &str, class: &str, accuracy: f64) -> SweepRun {
        SweepRun {
            cell: vec![
                ("model.depth".into(), depth.into()),
                ("sw2".into(), sw2.into()),
                ("seed".into(), seed.into()),
            ],
            class: class.into(),
            accuracy,
        }
    }

    #[test]
    fn numeric_axes_sort_as_numbers_and_others_keep_their_order() {
        let runs = [
            run("10", "2.5", "1", "trains", 0.9),
            run("5", "1.0", "1", "trains", 0.9),
            run("40", "4.0", "1", "trains", 0.9),
        ];
        assert_eq!(axis_values(&runs, "model.depth"), ["5", "10", "40"]);
        let named = [
            SweepRun {
                cell: vec![("a".into(), "tanh".into())],
                class: "trains".into(),
                accuracy: 1.0,
            },
            SweepRun {
                cell: vec![("a".into(), "relu".into())],
                class: "trains".into(),
                accuracy: 1.0,
            },
        ];
        assert_eq!(axis_values(&named, "a"), ["tanh", "relu"]);
    }

    #[test]
    fn a_cell_shows_its_majority_and_count() {
        let runs = [
            run("5", "1", "1", "vanishes", 0.2),
            run("5", "1", "2", "trains", 0.8),
            run("5", "1", "3", "vanishes", 0.1),
        ];
        let refs: Vec<&SweepRun> = runs.iter().collect();
        let s = summarize(&refs).unwrap();
        assert_eq!((s.class.as_str(), s.count, s.total), ("vanishes", 2, 3));
        assert!((s.accuracy - 1.1 / 3.0).abs() < 1e-12);
        // A tie goes to the class listed first.
        let s = summarize(&refs[..2]).unwrap();
        assert_eq!(s.class, "trains");
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn the_map_draws_each_cell_in_its_class_colour_with_the_curve() {
        let mut runs = Vec::new();
        for d in ["5", "10", "20"] {
            for s in ["1.0", "1.76", "3.0"] {
                let class = if s == "1.76" || d == "5" {
                    "trains"
                } else {
                    "vanishes"
                };
                runs.push(run(d, s, "1", class, 0.9));
                runs.push(run(
                    d,
                    s,
                    "2",
                    if d == "20" && s == "3.0" {
                        "explodes"
                    } else {
                        class
                    },
                    0.5,
                ));
            }
        }
        let curve = [(1.0, 8.0), (1.76, 20.0), (3.0, 9.0)];
        let svg = render(
            "map",
            &runs,
            &MapAxes {
                x: "sw2",
                y: "model.depth",
                facet: None,
                curve: Some((&curve, "6 xi_c")),
            },
        );
        // 9 cells: trains at depth 5 and on the critical column (5 cells),
        // vanishes elsewhere (4); the split cell says 1/2.
        assert_eq!(
            svg.matches("fill=\"#009e73\" fill-opacity").count(),
            5,
            "{svg}"
        );
        assert_eq!(svg.matches("fill=\"#0072b2\" fill-opacity").count(), 4);
        assert_eq!(svg.matches(">1/2<").count(), 1);
        assert!(svg.contains("stroke-dasharray=\"5 3\""), "the curve");
        assert!(svg.contains("6 xi_c"));
        // Faceted by seed: two maps.
        let svg = render(
            "map",
            &runs,
            &MapAxes {
                x: "sw2",
                y: "model.depth",
                facet: Some("seed"),
                curve: None,
            },
        );
        assert!(svg.contains(">seed = 1<") && svg.contains(">seed = 2<"));
        assert_eq!(svg.matches("fill=\"#d55e00\" fill-opacity").count(), 1);
    }

    #[test]
    fn parallel_coordinates_draw_a_line_per_run_in_its_class_colour() {
        let runs = [
            run("5", "1.0", "1", "trains", 0.9),
            run("40", "3.0", "1", "explodes", 0.1),
            run("40", "1.0", "1", "vanishes", f64::NAN),
        ];
        let svg = parallel("runs", &runs, &["model.depth", "sw2"]);
        assert_eq!(svg.matches("<polyline").count(), 3);
        assert!(svg.contains("stroke=\"#d55e00\""));
        assert!(svg.contains("held-out accuracy"));
        assert!(parallel("runs", &[], &["x"]).contains("no runs"));
    }
}
