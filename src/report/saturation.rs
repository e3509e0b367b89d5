//! Saturation and dead units per layer over steps, in two panels: the
//! fraction of entries whose activation derivative is under 5% of its
//! maximum (sigmoid, tanh: Glorot & Bengio's Fig. 2), and the fraction of
//! ReLU-family units inactive for the whole batch. One line per layer,
//! coloured by depth.

use super::color::{self};
use super::per_layer::{ramp, series, step_range};
use super::svg::{draw_series, linear_ticks, placeholder, Area, Scale, Svg, H, W};
use crate::experiment::RunRecord;
use crate::probe::LayerProbe;

/// Both panels.
pub fn render(title: &str, record: &RunRecord) -> String {
    if record.probes.is_empty() {
        return placeholder(title, "no probes recorded");
    }
    let mut svg = Svg::new(title, W, H);
    let depth = record.depth();
    ramp(&mut svg, W, depth);
    let left = Area {
        x: 72.0,
        y: 56.0,
        w: 234.0,
        h: H - 56.0 - 52.0,
    };
    let right = Area {
        x: 72.0 + 234.0 + 84.0,
        ..left
    };
    panel(
        &mut svg,
        &left,
        record,
        |l| l.saturated,
        "saturated fraction (%)",
        "no saturating activation",
    );
    panel(
        &mut svg,
        &right,
        record,
        |l| l.dead,
        "dead units (%)",
        "not a ReLU-family activation",
    );
    svg.finish()
}

fn panel(
    svg: &mut Svg,
    a: &Area,
    record: &RunRecord,
    value: fn(&LayerProbe) -> f64,
    label: &str,
    empty: &str,
) {
    let lines = series(record, value, false);
    let (x0, x1) = step_range(record);
    let sx = Scale::linear(x0, x1, a.x, a.right());
    let sy = Scale::linear(0.0, 1.0, a.bottom(), a.y);
    let y_ticks = linear_ticks(0.0, 1.0, 5)
        .into_iter()
        .map(|(v, _)| (v, format!("{:.0}", v * 100.0)))
        .collect();
    svg.x_axis(a, &sx, &linear_ticks(x0, x1, 4), "step", true);
    svg.y_axis(a, &sy, &y_ticks, label, true);
    let any = lines.iter().flatten().any(|p| p.1.is_finite());
    if !any {
        svg.text(a.x + a.w / 2.0, a.y + a.h / 2.0, empty, "middle", 12.0);
        return;
    }
    svg.raw("<g class=\"series\">\n");
    let n = lines.len();
    for (l, pts) in lines.iter().enumerate() {
        draw_series(svg, pts, &sx, &sy, &color::layer(l, n), 1.5, "");
    }
    svg.raw("</g>\n");
}
