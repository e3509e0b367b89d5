//! The gradient against time lag in a recurrent run: `||dL/dh_t||` of the
//! first recurrent layer (log scale) against the lag `T - 1 - t` (0 at the
//! last time step, where the loss reads out), one line per chosen
//! training step, each with its fitted decay factor per step back.
//!
//! The fit ([`fit_decay`]) is the least-squares line of `log10 ||dL/dh_t||`
//! against the lag over the finite, non-zero points; its factor is
//! `10^slope`, the geometric rate at which the gradient shrinks (below 1)
//! or grows (above 1) per time step it travels back. The chart draws each
//! fit as a dashed line over the lags it covers.
//!
//! The y axis is the norm itself, not the norm relative to its value at
//! lag 0: the same quantity as the through-time map's colour, so the two
//! read together, and a line's level shows how training changed the
//! gradient's size as well as its decay.

use super::color;
use super::svg::{
    bin_mean, decade_range, decade_ticks, draw_series, linear_ticks, placeholder, Area, Mark,
    Scale, Svg, H, W,
};
use super::through_time::hidden_grad;
use crate::data::sequence::SeqTask;
use crate::experiment::RunRecord;
use crate::probe::{pick_steps, StepProbe};

/// Most points drawn per line (the fit uses them all).
pub const MAX_POINTS: usize = 200;

/// A least-squares fit of `log10 ||dL/dh_t||` against the lag.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecayFit {
    /// `10^slope`: the factor on the gradient per time step back.
    pub factor: f64,
    /// The fitted `log10` norm at lag 0.
    pub intercept: f64,
    /// The smallest and largest lag fitted.
    pub lags: (usize, usize),
    /// How many points were fitted.
    pub points: usize,
}

impl DecayFit {
    /// The fitted norm at `lag`.
    pub fn at(&self, lag: f64) -> f64 {
        10f64.powf(self.intercept + self.factor.log10() * lag)
    }
}

/// The decay of a gradient through time: `norms[t]` is `||dL/dh_t||` at
/// time step `t` (first step first, as a `hidden_grad` series is stored),
/// so the lag of `norms[t]` is `norms.len() - 1 - t`. Fits
/// `log10 norms[t] = intercept + slope * lag` by least squares over the
/// finite, non-zero norms; `None` with fewer than two of them.
///
/// ```
/// use gradscope::report::fit_decay;
/// // 0.5 per step back from 8 at the last step: 1, 2, 4, 8.
/// let fit = fit_decay(&[1.0, 2.0, 4.0, 8.0]).unwrap();
/// assert!((fit.factor - 0.5).abs() < 1e-12);
/// ```
pub fn fit_decay(norms: &[f64]) -> Option<DecayFit> {
    let len = norms.len();
    let pts: Vec<(f64, f64)> = norms
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite() && **v > 0.0)
        .map(|(t, v)| ((len - 1 - t) as f64, v.log10()))
        .collect();
    let n = pts.len() as f64;
    if pts.len() < 2 {
        return None;
    }
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let lag = |p: &(f64, f64)| p.0 as usize;
    Some(DecayFit {
        factor: 10f64.powf(slope),
        intercept: my - slope * mx,
        lags: (
            pts.iter().map(lag).min().unwrap_or(0),
            pts.iter().map(lag).max().unwrap_or(0),
        ),
        points: pts.len(),
    })
}

/// `||dL/dh_t||` per time step of the first layer at `p` (`NaN` where the
/// step's gradient has non-finite entries: its norm over the finite ones
/// would understate it).
pub(crate) fn norms(p: &StepProbe) -> Option<Vec<f64>> {
    let series = hidden_grad(p.layers.first()?)?;
    Some(
        series
            .iter()
            .map(|s| if s.non_finite() > 0 { f64::NAN } else { s.l2() })
            .collect(),
    )
}

/// Whether `record`'s task reads out at every time step (text, copy), so
/// that `dL/dh_t` includes step `t`'s own read-out.
pub fn reads_out_every_step(record: &RunRecord) -> bool {
    matches!(
        SeqTask::from_name(&record.spec.data.name),
        Some(SeqTask::Copy | SeqTask::Text)
    )
}

/// `factor` for a legend: two decimals, three near 1 (where 0.995 and
/// 1.0 differ by decades over a long sequence), scientific far from 1.
pub fn factor_label(factor: f64) -> String {
    if !factor.is_finite() {
        "no fit".into()
    } else if !(0.01..100.0).contains(&factor) {
        format!("×{factor:.1e} per step")
    } else if (factor - 1.0).abs() < 0.05 {
        format!("×{factor:.3} per step")
    } else {
        format!("×{factor:.2} per step")
    }
}

/// One line: its legend label (before the factor), colour and norms.
struct Line {
    label: String,
    color: String,
    norms: Vec<f64>,
}

fn render_lines(title: &str, note: Option<&str>, lines: &[Line]) -> String {
    let len = lines.iter().map(|l| l.norms.len()).max().unwrap_or(0);
    let all = lines.iter().flat_map(|l| l.norms.iter().copied());
    let Some((lo, hi)) = decade_range(all, 1) else {
        return placeholder(title, "no finite, non-zero gradient through time recorded");
    };
    let mut svg = Svg::new(title, W, H);
    if let Some(note) = note {
        svg.text(16.0, 38.0, note, "start", 10.0);
    }
    let a = Area::standard(220.0);
    let x1 = (len.max(2) - 1) as f64;
    let sx = Scale::linear(0.0, x1, a.x, a.right());
    let sy = Scale::log10(lo as f64, hi as f64, a.bottom(), a.y);
    let x_ticks = linear_ticks(0.0, x1, 6)
        .into_iter()
        .filter(|t| t.0.fract() == 0.0)
        .collect();
    svg.x_axis(&a, &sx, &x_ticks, "lag T−1−t (0 = last time step)", true);
    svg.y_axis(
        &a,
        &sy,
        &decade_ticks(lo, hi),
        "‖∂L/∂hₜ‖₂ (log scale)",
        true,
    );
    let mut entries = Vec::new();
    svg.raw("<g class=\"series\">\n");
    for l in lines {
        let n = l.norms.len();
        let by_lag: Vec<(f64, f64)> = (0..n)
            .map(|lag| (lag as f64, l.norms[n - 1 - lag]))
            .collect();
        let pts = bin_mean(&by_lag, MAX_POINTS, true);
        draw_series(&mut svg, &pts, &sx, &sy, &l.color, 2.0, "");
        let fit = fit_decay(&l.norms);
        if let Some(f) = fit {
            let (a0, a1) = (f.lags.0 as f64, f.lags.1 as f64);
            let ends = [(a0, f.at(a0)), (a1, f.at(a1))];
            draw_series(&mut svg, &ends, &sx, &sy, &l.color, 1.2, "5 3");
        }
        let factor = fit.map_or(f64::NAN, |f| f.factor);
        entries.push((
            format!("{}: {}", l.label, factor_label(factor)),
            l.color.clone(),
            Mark::Line,
        ));
    }
    svg.raw("</g>\n");
    svg.legend(a.right() + 16.0, a.y + 6.0, &entries);
    svg.finish()
}

/// The note under the title when the read-out or truncation changes what
/// the fit means.
fn note(record: &RunRecord) -> Option<&'static str> {
    let truncated = record.spec.model.recurrent.truncation > 0;
    match (reads_out_every_step(record), truncated) {
        (true, _) => Some("read out at every step: ‖∂L/∂hₜ‖ includes step t's own read-out"),
        (false, true) => Some("truncated BPTT: only the last chunk's non-zero points are fitted"),
        (false, false) => None,
    }
}

/// One run's chart at its first, 25%, 50% and last probed steps that have
/// the series.
pub fn render(title: &str, record: &RunRecord) -> String {
    let probes: Vec<(&StepProbe, Vec<f64>)> = record
        .probes
        .iter()
        .filter_map(|p| Some((p, norms(p)?)))
        .collect();
    let steps: Vec<usize> = probes.iter().map(|(p, _)| p.step).collect();
    let lines: Vec<Line> = pick_steps(&steps, &[0.0, 0.25, 0.5, 1.0])
        .into_iter()
        .enumerate()
        .map(|(k, i)| Line {
            label: format!("step {}", probes[i].0.step),
            color: color::category(k).to_string(),
            norms: probes[i].1.clone(),
        })
        .collect();
    if lines.is_empty() {
        return placeholder(title, "no gradient through time recorded");
    }
    render_lines(title, note(record), &lines)
}

/// Several runs' charts overlaid, each at its last probed step that has
/// the series, coloured by its place in `runs` (as in the other
/// comparison figures); `runs` pairs a legend label with the record, and
/// runs without the series are left out.
pub fn compare(title: &str, runs: &[(String, &RunRecord)]) -> String {
    let lines: Vec<Line> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, (label, r))| {
            Some(Line {
                label: label.clone(),
                color: color::category(i).to_string(),
                norms: r.probes.iter().rev().find_map(norms)?,
            })
        })
        .collect();
    if lines.is_empty() {
        return placeholder(title, "no gradient through time recorded");
    }
    let note = runs
        .iter()
        .any(|(_, r)| reads_out_every_step(r))
        .then_some("a run read out at every step: its ‖∂L/∂hₜ‖ includes step t's own read-out");
    render_lines(title, note, &lines)
}

#[cfg(test)]
mod tests {
    use super::super::test_records::{recurrent, with_data};
    use super::*;

    /// Geometric data recovers its factor exactly, whatever the level;
    /// zeros and non-finite points are left out of the fit.
    #[test]
    fn the_fit_recovers_a_geometric_decay() {
        // norms[t] = 3 * 0.7^(T-1-t): 0.7 per step back.
        let t_len: i32 = 20;
        let norms: Vec<f64> = (0..t_len)
            .map(|t| 3.0 * 0.7f64.powi(t_len - 1 - t))
            .collect();
        let fit = fit_decay(&norms).unwrap();
        assert!((fit.factor - 0.7).abs() < 1e-12, "{fit:?}");
        assert!((fit.at(0.0) - 3.0).abs() < 1e-12, "{fit:?}");
        assert_eq!((fit.lags, fit.points), ((0, 19), 20));
        // Growth: 1.25 per step back.
        let grow: Vec<f64> = (0..5).map(|t| 1.25f64.powi(4 - t)).collect();
        assert!((fit_decay(&grow).unwrap().factor - 1.25).abs() < 1e-12);
        // Zero (truncated), NaN and infinite points do not pull the fit.
        let mut holed = norms.clone();
        holed[0] = 0.0;
        holed[1] = f64::NAN;
        holed[2] = f64::INFINITY;
        let fit = fit_decay(&holed).unwrap();
        assert!((fit.factor - 0.7).abs() < 1e-12, "{fit:?}");
        assert_eq!((fit.lags, fit.points), ((0, 16), 17));
        assert_eq!(fit_decay(&[0.0, 1.0]), None);
        assert_eq!(fit_decay(&[]), None);
    }

    #[test]
    fn factors_keep_the_digits_that_matter() {
        assert_eq!(factor_label(0.7123), "×0.71 per step");
        assert_eq!(factor_label(0.9951), "×0.995 per step");
        assert_eq!(factor_label(3.1e-3), "×3.1e-3 per step");
        assert_eq!(factor_label(f64::NAN), "no fit");
    }

    /// A line per picked step, each with its factor in the legend and a
    /// dashed fit; the every-step read-out is noted, the last-step one not.
    #[test]
    fn the_legend_shows_each_steps_factor() {
        // Steps 0..=8 decay by 0.5, 0.55, ... per step back (recurrent()).
        let r = recurrent("rnn", 10, 8);
        let svg = render("t", &r);
        for want in [
            "step 0: ×0.50 per step",
            "step 2: ×0.60 per step",
            "step 4: ×0.70 per step",
            "step 8: ×0.90 per step",
        ] {
            assert!(svg.contains(want), "no `{want}` in {svg}");
        }
        assert_eq!(svg.matches("stroke-dasharray=\"5 3\"").count(), 4);
        assert!(!svg.contains("read out at every step"));
        let text = with_data(recurrent("rnn", 10, 8), "text");
        assert!(render("t", &text).contains("read out at every step"));
    }

    #[test]
    fn runs_without_the_series_get_a_placeholder() {
        let mut r = recurrent("rnn", 10, 3);
        for p in &mut r.probes {
            p.layers[0].series.clear();
        }
        assert!(render("t", &r).contains("no gradient through time recorded"));
        assert!(compare("t", &[("a".into(), &r)]).contains("no gradient through time"));
    }
}
