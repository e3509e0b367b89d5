//! The update:data ratio `std(ΔW) / std(W)` per layer over steps on a log
//! axis. Around 1e-3 a layer learns at a healthy pace (Karpathy's rule of
//! thumb); the band 1e-4..1e-2 is shaded and 1e-3 dashed. Far below, the
//! layer is frozen (a vanished gradient or a tiny learning rate); far above,
//! it is thrashing.

use super::color::{self, INK};
use super::per_layer::{ramp, series, step_range};
use super::svg::{
    decade_range, decade_ticks, draw_series, linear_ticks, placeholder, Area, Mark, Scale, Svg, H,
    W,
};
use crate::experiment::RunRecord;

/// The shaded band.
pub const BAND: (f64, f64) = (1e-4, 1e-2);
/// The reference line.
pub const REFERENCE: f64 = 1e-3;

const BAND_FILL: &str = "#009e73";

/// Stands in for a ratio of exactly 0 (a layer whose f32 weights did not
/// change at all): far below any axis, so it is drawn on the bottom edge.
const FLOOR: f64 = f64::MIN_POSITIVE;

/// The chart.
pub fn render(title: &str, record: &RunRecord) -> String {
    let lines = series(
        record,
        |l| {
            if l.update_ratio == 0.0 {
                FLOOR
            } else {
                l.update_ratio
            }
        },
        true,
    );
    // The axis covers the non-zero ratios as recorded; a bin mixing zeros
    // in falls below them, onto the bottom edge.
    let raw = record
        .probes
        .iter()
        .flat_map(|p| p.layers.iter().map(|l| l.update_ratio))
        .filter(|v| *v > 0.0 && v.is_finite());
    if raw.clone().next().is_none() {
        return placeholder(title, "no update ratios recorded");
    }
    let Some((lo, hi)) = decade_range(raw.chain([BAND.0, BAND.1]), 2) else {
        return placeholder(title, "no update ratios recorded");
    };
    let zeros = lines.iter().flatten().any(|p| p.1 < 10f64.powi(lo));
    let mut svg = Svg::new(title, W, H);
    let a = Area {
        y: 56.0,
        h: H - 56.0 - 52.0,
        ..Area::standard(130.0)
    };
    ramp(&mut svg, W, record.depth());
    let (x0, x1) = step_range(record);
    let sx = Scale::linear(x0, x1, a.x, a.right());
    let sy = Scale::log10(lo as f64, hi as f64, a.bottom(), a.y);
    if let (Some(top), Some(bottom)) = (sy.at_clamped(BAND.1), sy.at_clamped(BAND.0)) {
        svg.rect_alpha(a.x, top, a.w, bottom - top, BAND_FILL, 0.12);
    }
    svg.x_axis(&a, &sx, &linear_ticks(x0, x1, 6), "step", true);
    svg.y_axis(
        &a,
        &sy,
        &decade_ticks(lo, hi),
        "std(ΔW) / std(W) (log scale)",
        true,
    );
    if let Some(y) = sy.at(REFERENCE) {
        svg.line((a.x, y), (a.right(), y), INK, 1.2, "5 4");
    }
    svg.raw("<g class=\"series\">\n");
    let n = lines.len();
    for (l, pts) in lines.iter().enumerate() {
        draw_series(&mut svg, pts, &sx, &sy, &color::layer(l, n), 1.5, "");
    }
    svg.raw("</g>\n");
    svg.rect_alpha(a.right() + 16.0, a.y + 1.0, 18.0, 10.0, BAND_FILL, 0.25);
    svg.text(a.right() + 40.0, a.y + 10.0, "10⁻⁴ … 10⁻²", "start", 11.0);
    svg.legend(
        a.right() + 16.0,
        a.y + 23.0,
        &[("10⁻³".into(), INK.into(), Mark::Dashed)],
    );
    if zeros {
        svg.text(
            a.right() + 16.0,
            a.y + 54.0,
            "on the bottom edge:",
            "start",
            11.0,
        );
        svg.text(
            a.right() + 16.0,
            a.y + 69.0,
            "no change in f32",
            "start",
            11.0,
        );
    }
    svg.finish()
}
