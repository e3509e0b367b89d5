//! Branch and shortcut: for each residual block, the gradient reaching its
//! input through the branch (`df^T g`) and around it through the shortcut
//! (`P^T g`), on a log axis, at the first and last recorded steps.
//!
//! In a plain net the only route is the branch, so a gradient that fades
//! through each layer fades by the product; in a residual net the
//! shortcut carries the gradient past every block unchanged (identity) or
//! re-weighted (a projection), which the chart shows as a dashed line
//! holding level where the solid one falls. It reads the `block_input_grad`
//! series each block gives its branch's first layer ([`Axis::Route`]).

use super::color::{self};
use super::svg::{decade_range, decade_ticks, draw_series, placeholder, Ticks};
use super::svg::{Area, Mark, Scale, Svg, H, W};
use crate::experiment::RunRecord;
use crate::probe::{Axis, StepProbe, TensorStats};

/// The series the chart draws.
pub const SERIES: &str = "block_input_grad";

/// Each block's `[branch, shortcut]` at `p`, in depth order.
pub fn blocks(p: &StepProbe) -> Vec<[TensorStats; 2]> {
    p.layers
        .iter()
        .filter_map(|l| match l.series(SERIES, Axis::Route)? {
            [branch, shortcut, ..] => Some([*branch, *shortcut]),
            _ => None,
        })
        .collect()
}

/// Whether `record` has residual blocks whose routes were measured.
pub fn applies(record: &RunRecord) -> bool {
    record.probes.iter().any(|p| !blocks(p).is_empty())
}

/// The chart, titled `title`.
pub fn render(title: &str, record: &RunRecord) -> String {
    let probes: Vec<&StepProbe> = record
        .probes
        .iter()
        .filter(|p| !blocks(p).is_empty())
        .collect();
    let picks: Vec<&StepProbe> = match probes[..] {
        [] => return placeholder(title, "no residual block's routes recorded"),
        [only] => vec![only],
        [first, .., last] => vec![first, last],
    };
    let lines: Vec<(usize, Vec<[TensorStats; 2]>)> =
        picks.iter().map(|p| (p.step, blocks(p))).collect();
    let values = lines
        .iter()
        .flat_map(|(_, b)| b.iter().flat_map(|r| [r[0].l2(), r[1].l2()]));
    let Some((lo, hi)) = decade_range(values, 1) else {
        return placeholder(title, "no finite, non-zero route gradients recorded");
    };
    let n = lines.iter().map(|(_, b)| b.len()).max().unwrap_or(1);
    let mut svg = Svg::new(title, W, H);
    let a = Area::standard(170.0);
    let last = n.max(2) as f64;
    let sx = Scale::linear(1.0, last, a.x + 8.0, a.right() - 8.0);
    let sy = Scale::log10(lo as f64, hi as f64, a.bottom(), a.y);
    let every = n.div_ceil(10).max(1);
    let x_ticks: Ticks = (1..=n)
        .filter(|i| (i - 1) % every == 0 || *i == n)
        .map(|i| (i as f64, i.to_string()))
        .collect();
    svg.x_axis(&a, &sx, &x_ticks, "residual block (1 = input side)", true);
    svg.y_axis(
        &a,
        &sy,
        &decade_ticks(lo, hi),
        "‖gradient at block input‖₂",
        true,
    );
    let mut legend = Vec::new();
    svg.raw("<g class=\"series\">\n");
    for (k, (step, b)) in lines.iter().enumerate() {
        let c = color::category(k);
        for (route, (name, dash, mark)) in [
            ("branch", "", Mark::Line),
            ("shortcut", "5 3", Mark::Dashed),
        ]
        .into_iter()
        .enumerate()
        {
            let pts: Vec<(f64, f64)> = b
                .iter()
                .enumerate()
                .map(|(i, r)| ((i + 1) as f64, r[route].l2()))
                .collect();
            draw_series(&mut svg, &pts, &sx, &sy, c, 2.0, dash);
            legend.push((format!("{name}, step {step}"), c.to_string(), mark));
        }
    }
    svg.raw("</g>\n");
    svg.legend(a.right() + 16.0, a.y + 6.0, &legend);
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Spec;
    use crate::probe::{LayerProbe, Series};
    use crate::report::test_records::{self, norm};

    fn layer(routes: Option<[f64; 2]>) -> LayerProbe {
        let series = routes.map(|r| Series {
            tensor: SERIES.into(),
            axis: Axis::Route,
            stats: vec![norm(r[0]), norm(r[1])],
        });
        test_records::layer(series.into_iter().collect())
    }

    /// Only layers that carry routes are blocks; each line is a route,
    /// solid for the branch and dashed for the shortcut.
    #[test]
    fn blocks_are_the_layers_with_routes() {
        let p = StepProbe {
            step: 0,
            layers: vec![
                layer(None),
                layer(Some([1e-6, 1e-2])),
                layer(None),
                layer(Some([1e-5, 1e-2])),
            ],
            histograms: Vec::new(),
        };
        let b = blocks(&p);
        assert_eq!(b.len(), 2);
        assert_eq!(b[1][0].l2(), 1e-5);
        let mut r = RunRecord::new(Spec::default());
        assert!(!applies(&r));
        r.probes.push(p);
        assert!(applies(&r));
        let svg = render("t", &r);
        assert!(
            svg.contains("shortcut, step 0") && svg.contains("stroke-dasharray=\"5 3\""),
            "{svg}"
        );
    }
}
