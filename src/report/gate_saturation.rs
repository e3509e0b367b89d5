//! Gate saturation over time in a recurrent run: per time step, the
//! fraction of each gate's activations in the first recurrent layer whose
//! derivative is below 5% of its maximum (the `<gate>_saturated` series),
//! one line per gate at the last histogram step that has them, and dashed
//! at the first, to show what training changed. The y axis ends at the
//! smallest of [`TOPS`] that holds every point.
//!
//! A saturated gate passes almost no gradient to its own weights; for the
//! vanilla RNN the one "gate" is the tanh of the hidden state, and a
//! saturated one also stops the gradient through time. An LSTM's forget
//! gate saturated open (near 1) is the opposite case: it carries the
//! memory cell's gradient back unchanged.

use super::color::{self, INK};
use super::svg::{bin_mean, draw_series, linear_ticks, placeholder, Area, Mark, Scale, Svg, H, W};
use crate::experiment::RunRecord;
use crate::nn::recurrent::SATURATED_SUFFIX;
use crate::probe::{Axis, StepProbe};

/// Most points drawn per line.
pub const MAX_POINTS: usize = 200;

/// The tops the y axis may end at: the smallest that holds every point, so
/// a few percent saturated is not a line flat on the axis. Our choice.
pub const TOPS: [f64; 5] = [0.05, 0.1, 0.2, 0.5, 1.0];

/// One gate's saturated fraction per time step.
struct Gate {
    /// The gate's name (`forget_gate`, `hidden`).
    name: String,
    /// `(time step, fraction)`.
    points: Vec<(f64, f64)>,
}

/// The gates of `p`'s first layer that have a saturation series, in the
/// order they are stored (the cell's gate order).
fn gates(p: &StepProbe) -> Vec<Gate> {
    let Some(layer) = p.layers.first() else {
        return Vec::new();
    };
    layer
        .series
        .iter()
        .filter(|s| s.axis == Axis::TimeStep)
        .filter_map(|s| {
            let name = s.tensor.strip_suffix(SATURATED_SUFFIX)?;
            let pts: Vec<(f64, f64)> = s
                .stats
                .iter()
                .enumerate()
                .map(|(t, st)| (t as f64, st.mean()))
                .collect();
            Some(Gate {
                name: name.to_string(),
                points: bin_mean(&pts, MAX_POINTS, false),
            })
        })
        .collect()
}

/// The probes whose first layer has gate saturation series.
fn with_gates(record: &RunRecord) -> impl Iterator<Item = &StepProbe> {
    record.probes.iter().filter(|p| !gates(p).is_empty())
}

/// Whether `record` has a gate saturation series to draw (an RNN with a
/// saturating nonlinearity, an LSTM or a GRU, probed on a histogram step).
pub fn applies(record: &RunRecord) -> bool {
    with_gates(record).next().is_some()
}

/// The chart, titled `title`.
pub fn render(title: &str, record: &RunRecord) -> String {
    let (Some(first), Some(last)) = (with_gates(record).next(), with_gates(record).last()) else {
        return placeholder(title, "no gate saturation recorded");
    };
    let both = first.step != last.step;
    let (late, early) = (gates(last), gates(first));
    let len = late
        .iter()
        .chain(&early)
        .flat_map(|g| g.points.last())
        .map(|p| p.0)
        .fold(1.0, f64::max);
    let max = late
        .iter()
        .chain(&early)
        .flat_map(|g| g.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let top = TOPS.into_iter().find(|&t| max <= t).unwrap_or(1.0);
    let mut svg = Svg::new(title, W, H);
    let a = Area::standard(170.0);
    let sx = Scale::linear(0.0, len, a.x, a.right());
    let sy = Scale::linear(0.0, top, a.bottom(), a.y);
    let x_ticks = linear_ticks(0.0, len, 6)
        .into_iter()
        .filter(|t| t.0.fract() == 0.0)
        .collect();
    let y_ticks = linear_ticks(0.0, top, 5)
        .into_iter()
        .map(|(v, _)| (v, format!("{:.0}", v * 100.0)))
        .collect();
    svg.x_axis(&a, &sx, &x_ticks, "time step t (0 = first)", true);
    svg.y_axis(&a, &sy, &y_ticks, "saturated fraction (%)", true);
    let color_of = |name: &str| {
        let i = late.iter().position(|g| g.name == name).unwrap_or(0);
        color::category(i).to_string()
    };
    svg.raw("<g class=\"series\">\n");
    if both {
        for g in &early {
            draw_series(
                &mut svg,
                &g.points,
                &sx,
                &sy,
                &color_of(&g.name),
                1.2,
                "4 3",
            );
        }
    }
    for g in &late {
        draw_series(&mut svg, &g.points, &sx, &sy, &color_of(&g.name), 2.0, "");
    }
    svg.raw("</g>\n");
    let mut entries: Vec<(String, String, Mark)> = late
        .iter()
        .map(|g| (g.name.replace('_', " "), color_of(&g.name), Mark::Line))
        .collect();
    if both {
        entries.push((format!("step {}", last.step), INK.into(), Mark::Line));
        entries.push((format!("step {}", first.step), INK.into(), Mark::Dashed));
    } else {
        entries.push((format!("step {}", last.step), INK.into(), Mark::Line));
    }
    svg.legend(a.right() + 16.0, a.y + 6.0, &entries);
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::super::test_records::{recurrent, saturated};
    use super::*;

    /// An LSTM's four gates get a solid line each at the last histogram
    /// step and a dashed one at the first, named in the legend.
    #[test]
    fn a_line_per_gate_at_the_last_and_first_histogram_steps() {
        // Histogram steps 0, 4, 8 of 0..=9.
        let r = recurrent("lstm", 10, 9);
        assert!(applies(&r));
        let svg = render("t", &r);
        let lines: Vec<&str> = svg.lines().filter(|l| l.starts_with("<polyline")).collect();
        let dashed = lines
            .iter()
            .filter(|l| l.contains("stroke-dasharray"))
            .count();
        assert_eq!((lines.len() - dashed, dashed), (4, 4), "{svg}");
        for want in [
            "input gate",
            "forget gate",
            "cell gate",
            "output gate",
            "step 8",
            "step 0",
        ] {
            assert!(svg.contains(&format!(">{want}<")), "no `{want}` in {svg}");
        }
        // The forget gate (second) at the last step, time step 9: the top
        // of the area is 100%, its bottom 0%.
        let a = Area::standard(170.0);
        let y = a.bottom() - saturated(1, 9, 8) * a.h;
        let x = a.right();
        assert!(
            svg.contains(&format!(
                "{},{}",
                super::super::svg::num(x),
                super::super::svg::num(y)
            )),
            "no point ({x}, {y}) in {svg}"
        );
    }

    /// The vanilla RNN's one gate is its hidden state; one histogram step
    /// draws no dashed line.
    #[test]
    fn the_rnn_has_one_gate_and_one_step_no_comparison() {
        let r = recurrent("rnn", 6, 3);
        let svg = render("t", &r);
        assert!(svg.contains(">hidden<"), "{svg}");
        assert!(!svg.contains("stroke-dasharray"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 1);
        // At most 0.1 + 0.01 * 5 = 15% saturated: the axis ends at 20%.
        assert!(
            svg.contains(">20</text>") && !svg.contains(">100</text>"),
            "{svg}"
        );
    }

    /// Omitted where nothing was recorded: an MLP, a ReLU RNN (no
    /// saturating gate), a run without histogram steps.
    #[test]
    fn not_for_runs_without_the_series() {
        let mut r = recurrent("gru", 6, 3);
        assert!(applies(&r));
        for p in &mut r.probes {
            p.layers[0].series.retain(|s| s.tensor == "hidden_grad");
        }
        assert!(!applies(&r));
        assert!(render("t", &r).contains("no gate saturation recorded"));
    }
}
