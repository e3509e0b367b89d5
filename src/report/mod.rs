//! Reports: run records and their findings -> SVG figures -> one
//! self-contained HTML page, and the same figures as PNG files.
//!
//! The page needs nothing outside itself: figures are inline SVG written
//! here by hand, styles are inline, there is no script and no URL. Output
//! is deterministic (fixed float formatting, no timestamps), so it is
//! snapshot-tested.
//!
//! # API
//!
//! ```no_run
//! use gradscope::report::{figures, render_html, write_pngs, ReportRun};
//! # fn demo(record: &gradscope::experiment::RunRecord,
//! #         findings: &[gradscope::analysis::diagnose::Finding]) -> gradscope::Result<()> {
//! let runs = [ReportRun { record, findings }];
//! let html: String = render_html(&runs); // write it to report.html
//! let figs = figures(&runs); // the same SVGs, one per chart
//! let paths = write_pngs(&figs, std::path::Path::new("figures"))?; // <id>.png each
//! # Ok(()) }
//! ```
//!
//! - [`render_html`]: the page. With several runs it opens with a
//!   comparison (a table of key figures, overlaid depth profiles, loss and
//!   accuracy), then gives each run its own section: diagnosis findings
//!   (each linked to the figure that shows its evidence), figures, and the
//!   resolved spec with seed, gradscope version and the record's SHA-256.
//! - [`figures`]: every figure of the page, in page order, each with an id
//!   (`run1-flow-delta`, `compare-depth`; the page's element id is
//!   `fig-` + id), a title, a caption and a standalone SVG document.
//! - [`write_pngs`]: each figure rendered to `<dir>/<id>.png` at
//!   [`PNG_SCALE`] times its viewBox, text set in the bundled DejaVu Sans
//!   (no system fonts needed).
//! - [`content_hash`]: SHA-256 of the record's JSON, as printed in the
//!   report.
//! - [`fit_decay`]: the decay factor per time step back of a gradient
//!   through time, as the gradient-against-lag chart's legend gives it.
//!
//! Per run, the charts are: for a recurrent run, the through-time map
//! (time step x step, log10 colour of `||dL/dh_t||`), the gradient against
//! the time lag with its fitted decay factor per step back, and each
//! gate's saturated fraction per time step; then the gradient-flow maps of
//! the delta `dL/dz` and of `dL/dW` (layer x step, log10 colour), the depth
//! profile, for a residual net the gradient through each block's branch and
//! its shortcut, for a CNN each conv filter's gradient per channel, loss,
//! accuracy, saturation and dead units, update:data ratios
//! with the 1e-3 band, histograms of log10|dL/dW| as a ridge plot, and the
//! percentiles of the last hidden layer's pre-activation. A chart that
//! does not apply to a run (the recurrent ones to an MLP, accuracy to a
//! regression) is left out. With two recurrent runs or more, the
//! comparison overlays their gradients against the lag.

mod channels;
mod color;
mod curves;
mod depth;
pub use depth::prediction as predicted_depth_profile;
mod flow_map;
mod gate_saturation;
mod html;
mod lag;
mod per_layer;
mod percentiles;
pub mod plot;
mod png;
mod ridge;
mod routes;
mod saturation;
mod svg;
mod sweep_page;
#[cfg(test)]
mod test_records;
mod through_time;
pub mod trainability;
mod update;

pub use html::render_html;
pub(crate) use html::{figure as figure_html, CSS as PAGE_CSS};
pub use lag::{fit_decay, DecayFit};
pub use png::{write_pngs, PNG_SCALE};
pub(crate) use svg::escape;
pub use sweep_page::{render_sweep_html, sweep_figures, SweepRow, SweepView};

use crate::analysis::diagnose::Finding;
use crate::experiment::RunRecord;
use crate::probe::{LayerProbe, TensorStats};
use sha2::{Digest, Sha256};

/// One run in a report: its record and what diagnosis found in it.
#[derive(Clone, Copy, Debug)]
pub struct ReportRun<'a> {
    /// The record.
    pub record: &'a RunRecord,
    /// Its findings (possibly none).
    pub findings: &'a [Finding],
}

/// One figure: a standalone SVG document and what it is.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    /// Stable id (`run1-flow-delta`); the PNG file is `<id>.png` and the
    /// page's anchor `#fig-<id>`.
    pub id: String,
    /// Title, as drawn in the figure.
    pub title: String,
    /// What it shows and what to look for, one or two sentences.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
}

/// A per-run chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Chart {
    ThroughTime,
    Lag,
    GateSaturation,
    FlowDelta,
    FlowWeight,
    Depth,
    Routes,
    Channels,
    Loss,
    Accuracy,
    Saturation,
    Update,
    Ridge,
    Percentiles,
}

impl Chart {
    /// Page order.
    pub(crate) const ALL: [Chart; 14] = [
        Chart::ThroughTime,
        Chart::Lag,
        Chart::GateSaturation,
        Chart::FlowDelta,
        Chart::FlowWeight,
        Chart::Depth,
        Chart::Routes,
        Chart::Channels,
        Chart::Loss,
        Chart::Accuracy,
        Chart::Saturation,
        Chart::Update,
        Chart::Ridge,
        Chart::Percentiles,
    ];

    /// Whether the chart has something to show for `r`: the recurrent
    /// charts need their series, accuracy a classifier.
    fn applies(self, r: &RunRecord) -> bool {
        match self {
            Chart::ThroughTime | Chart::Lag => through_time::applies(r),
            Chart::GateSaturation => gate_saturation::applies(r),
            Chart::Routes => routes::applies(r),
            Chart::Channels => channels::applies(r),
            Chart::Accuracy => has_accuracy(r),
            _ => true,
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Chart::ThroughTime => "through-time",
            Chart::Lag => "lag",
            Chart::GateSaturation => "gate-saturation",
            Chart::FlowDelta => "flow-delta",
            Chart::FlowWeight => "flow-weight",
            Chart::Depth => "depth",
            Chart::Routes => "routes",
            Chart::Channels => "channels",
            Chart::Loss => "loss",
            Chart::Accuracy => "accuracy",
            Chart::Saturation => "saturation",
            Chart::Update => "update",
            Chart::Ridge => "ridge",
            Chart::Percentiles => "percentiles",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Chart::ThroughTime => {
                "Gradient through time: ‖∂L/∂hₜ‖₂ per time step and training step"
            }
            Chart::Lag => "Gradient against time lag, with its decay per step back",
            Chart::GateSaturation => "Gate saturation per time step",
            Chart::FlowDelta => "Gradient flow: ‖∂L/∂z‖₂ per layer and step",
            Chart::FlowWeight => "Gradient flow: ‖∂L/∂W‖₂ per layer and step",
            Chart::Depth => "Depth profile of ‖∂L/∂W‖₂",
            Chart::Routes => "Gradient at each residual block: through the branch and the shortcut",
            Chart::Channels => "Per channel: ‖∂L/∂W‖₂ of each conv filter, last recorded step",
            Chart::Loss => "Loss",
            Chart::Accuracy => "Accuracy",
            Chart::Saturation => "Saturated and dead units per layer",
            Chart::Update => "Update:data ratio per layer",
            Chart::Ridge => "Histograms of |∂L/∂W| per layer",
            Chart::Percentiles => "Pre-activation percentiles, last hidden layer",
        }
    }

    /// The caption of the chart of `r`: [`Chart::base_caption`] and, for
    /// the gradient against lag, what its fit covers in this run.
    fn caption(self, r: &RunRecord) -> String {
        let mut c = self.base_caption().to_string();
        if self == Chart::Depth && depth::prediction(r).is_some() {
            c.push_str(
                " Dashed: what mean-field theory predicts at initialization for this init's \
                 sigma_w^2 and sigma_b^2, from the last hidden layer at the first recorded \
                 step, the norm changing by sqrt(chi_1) per layer (`gradscope theory` gives \
                 the figures).",
            );
        }
        if self == Chart::Lag {
            if lag::reads_out_every_step(r) {
                c.push_str(
                    " This task reads out at every time step, so the gradient at step t \
                     includes step t's own read-out: the lines and fits show the sum of \
                     all read-outs, not the decay from the last one alone.",
                );
            }
            let k = r.spec.model.recurrent.truncation;
            if k > 0 {
                c.push_str(&format!(
                    " BPTT is truncated to {k} steps: nothing flows back across a chunk's \
                     start, and zeros are not fitted."
                ));
            }
        }
        c
    }

    fn base_caption(self) -> &'static str {
        match self {
            Chart::ThroughTime => {
                "L2 norm of all the gradient reaching the first recurrent layer's hidden \
                 state at each time step (from the read-out and from the next step), log10 \
                 in colour. A vanishing gradient through time is a dark band at the bottom: \
                 the early steps the loss no longer reaches."
            }
            Chart::Lag => {
                "‖∂L/∂hₜ‖₂ of the first recurrent layer against the lag T−1−t (0 at the \
                 last time step, where the loss reads out), log scale, at up to four \
                 training steps. Dashed: the least-squares fit of log10 ‖∂L/∂hₜ‖₂ against \
                 the lag over the finite, non-zero points; the legend gives its factor per \
                 step back (10^slope). Below 1 the gradient fades going back in time, above \
                 1 it grows."
            }
            Chart::GateSaturation => {
                "Fraction of each gate's activations in the first recurrent layer whose \
                 derivative is below 5% of its maximum, per time step, at the last \
                 histogram step (solid) and the first (dashed); the axis ends at 5, 10, \
                 20, 50 or 100%, whichever holds every point. A saturated gate passes \
                 little gradient to its weights; the vanilla RNN's one gate is its tanh \
                 (hidden), which, saturated, also stops the gradient through time."
            }
            Chart::FlowDelta => {
                "L2 norm of the backpropagated delta at each layer's pre-activation, \
                 log10 in colour. A vanishing gradient is a dark band on the input side; \
                 an exploding one is bright there. Grey cells are exact zeros or NaN/Inf. \
                 All runs on one page share one colour scale."
            }
            Chart::FlowWeight => {
                "L2 norm of each layer's weight gradient, log10 in colour: \
                 what the optimizer actually receives. All runs on one page share one \
                 colour scale."
            }
            Chart::Depth => {
                "Weight-gradient norm against depth at four recorded steps. A line \
                 falling towards layer 0 by decades is a vanishing gradient; a flat \
                 line is healthy flow."
            }
            Chart::Routes => {
                "L2 norm of the gradient reaching each residual block's input through its \
                 branch (solid, ∂f/∂x^T g) and around it through the shortcut (dashed, \
                 P^T g: g itself for an identity), at the first and last recorded steps. \
                 The shortcut is the route that keeps the gradient alive at depth: where \
                 the branch's line falls towards the input, the dashed one holds level."
            }
            Chart::Channels => {
                "Each conv layer's filters (rows, input side at the bottom) by output \
                 channel: log10 of the channel's weight-gradient norm. Light grey: exactly \
                 zero, a dead channel (its activation zero at every pixel of the batch). \
                 A few bright cells in a dark row are the channels still learning."
            }
            Chart::Loss => {
                "Training-batch loss (grey, binned) and, at each evaluation, the loss \
                 on the training and held-out sets."
            }
            Chart::Accuracy => {
                "Training-batch accuracy (grey, binned) and, at each evaluation, the \
                 accuracy on the training and held-out sets."
            }
            Chart::Saturation => {
                "Left: entries whose activation derivative is below 5% of its maximum. \
                 Right: ReLU-family units inactive for the whole batch. One line per \
                 layer, dark at the input side."
            }
            Chart::Update => {
                "std(ΔW)/std(W) of each step's update per layer. Near 1e-3 (dashed; \
                 shaded 1e-4 to 1e-2) a layer learns at a healthy pace; far below it \
                 is frozen, far above it thrashes."
            }
            Chart::Ridge => {
                "Histograms of log10|∂L/∂W| per layer (each scaled to its peak) at up \
                 to four histogram steps. Ridges shifted left on the input side show \
                 how many decades the gradient lost."
            }
            Chart::Percentiles => {
                "15th, 50th and 85th percentiles of the last hidden layer's \
                 pre-activation (Ioffe & Szegedy 2015, Fig. 1). A drifting band is \
                 internal covariate shift; for sigmoid, |z| > 4 is saturated."
            }
        }
    }

    fn render(self, r: &RunRecord, scales: &Scales) -> String {
        let t = self.title();
        match self {
            Chart::ThroughTime => through_time::render(t, r),
            Chart::Lag => lag::render(t, r),
            Chart::GateSaturation => gate_saturation::render(t, r),
            Chart::FlowDelta => flow_map::render(t, r, pre_grad, "‖∂L/∂z‖₂", scales.delta),
            Chart::FlowWeight => flow_map::render(t, r, weight_grad, "‖∂L/∂W‖₂", scales.weight),
            Chart::Depth => depth::render(t, r),
            Chart::Routes => routes::render(t, r),
            Chart::Channels => channels::render(t, r),
            Chart::Loss => curves::render(
                t,
                curves::Quantity::Loss,
                &curves::run_series(r, curves::Quantity::Loss),
                None,
            ),
            Chart::Accuracy => curves::render(
                t,
                curves::Quantity::Accuracy,
                &curves::run_series(r, curves::Quantity::Accuracy),
                Some(chance(&[r])).filter(|c| c.is_finite()),
            ),
            Chart::Saturation => saturation::render(t, r),
            Chart::Update => update::render(t, r),
            Chart::Ridge => ridge::render(t, r),
            Chart::Percentiles => percentiles::render(t, r),
        }
    }
}

/// The id of run `run`'s (0-based) `chart`.
pub(crate) fn figure_id(run: usize, chart: Chart) -> String {
    format!("run{}-{}", run + 1, chart.slug())
}

/// The label of run `i` (0-based) in legends and tables.
pub(crate) fn run_label(i: usize, r: &RunRecord) -> String {
    format!("#{} {}", i + 1, r.spec.name)
}

fn pre_grad(l: &LayerProbe) -> &TensorStats {
    &l.pre_grad
}

fn weight_grad(l: &LayerProbe) -> &TensorStats {
    &l.weight_grad
}

/// The colour scales the runs on one page share: each flow map spans the
/// decades of every run's map of the same tensor, so one colour is one
/// norm across the page.
pub(crate) struct Scales {
    delta: Option<(i32, i32)>,
    weight: Option<(i32, i32)>,
}

impl Scales {
    /// The shared scales of `runs`.
    pub(crate) fn of(runs: &[ReportRun<'_>]) -> Self {
        let span = |tensor: fn(&LayerProbe) -> &TensorStats| {
            runs.iter()
                .map(|r| flow_map::decades(r.record, tensor))
                .fold(None, flow_map::union)
        };
        Self {
            delta: span(pre_grad),
            weight: span(weight_grad),
        }
    }
}

/// Run `i`'s figures, in page order, flow maps on the page's `scales`.
pub(crate) fn run_figures(i: usize, record: &RunRecord, scales: &Scales) -> Vec<Figure> {
    Chart::ALL
        .iter()
        .filter(|c| c.applies(record))
        .map(|&c| Figure {
            id: figure_id(i, c),
            title: c.title().to_string(),
            caption: c.caption(record),
            svg: c.render(record, scales),
        })
        .collect()
}

/// The comparison figures of several runs (none for fewer than two).
pub(crate) fn compare_figures(runs: &[ReportRun<'_>]) -> Vec<Figure> {
    if runs.len() < 2 {
        return Vec::new();
    }
    let labelled: Vec<(String, &RunRecord)> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| (run_label(i, r.record), r.record))
        .collect();
    let fig = |id: &str, title: &str, caption: &str, svg: String| Figure {
        id: id.into(),
        title: title.into(),
        caption: caption.into(),
        svg,
    };
    let records: Vec<&RunRecord> = runs.iter().map(|r| r.record).collect();
    let depth_title = "Depth profiles at the last recorded step";
    let loss_title = "Training-batch loss";
    let acc_title = "Accuracy";
    let mut figures = vec![
        fig(
            "compare-depth",
            depth_title,
            "Weight-gradient norm against depth, one line per run, at each run's last \
             recorded step.",
            depth::compare(depth_title, &labelled),
        ),
        fig(
            "compare-loss",
            loss_title,
            "Training-batch loss (binned), one line per run.",
            curves::render(
                loss_title,
                curves::Quantity::Loss,
                &curves::compare_series(&labelled, curves::Quantity::Loss),
                None,
            ),
        ),
    ];
    if records.iter().filter(|r| through_time::applies(r)).count() >= 2 {
        let title = "Gradient through time at the last probed step";
        figures.push(fig(
            "compare-through-time",
            title,
            "‖∂L/∂hₜ‖₂ of the first recurrent layer against the lag T−1−t (0 at the last \
             time step), one line per recurrent run at its last probed step, with the \
             fitted factor per step back (dashed: the fit). The line that falls fastest \
             is the run whose early steps the loss reaches least.",
            lag::compare(title, &labelled),
        ));
    }
    if records.iter().any(|r| has_accuracy(r)) {
        figures.push(fig(
            "compare-accuracy",
            acc_title,
            "Held-out accuracy at each evaluation where a run has evaluations, else \
             its training-batch accuracy (binned).",
            curves::render(
                acc_title,
                curves::Quantity::Accuracy,
                &curves::compare_series(&labelled, curves::Quantity::Accuracy),
                (!runs.is_empty())
                    .then(|| chance(&records))
                    .filter(|c| c.is_finite()),
            ),
        ));
    }
    figures
}

/// Whether a run has an accuracy to draw: one it measured, or none yet
/// (an empty record keeps its placeholder); a regression, such as the
/// adding problem, measures none.
fn has_accuracy(r: &RunRecord) -> bool {
    (r.steps.is_empty() && r.evals.is_empty())
        || r.steps.iter().any(|s| !s.accuracy.is_nan())
        || r.evals.iter().any(|e| !e.test_accuracy.is_nan())
}

/// The accuracy of guessing, `1 / classes`, when every run of `runs` has
/// the same number of classes; `NaN` otherwise.
fn chance(runs: &[&RunRecord]) -> f64 {
    let classes: Vec<usize> = runs
        .iter()
        .map(|r| crate::analysis::diagnose::classes(r))
        .collect();
    match classes.first() {
        Some(&c) if c > 0 && classes.iter().all(|&k| k == c) => 1.0 / c as f64,
        _ => f64::NAN,
    }
}

/// Every figure of the report for `runs`, in page order: the comparison
/// (with two runs or more), then each run's charts.
pub fn figures(runs: &[ReportRun<'_>]) -> Vec<Figure> {
    let mut out = compare_figures(runs);
    let scales = Scales::of(runs);
    for (i, r) in runs.iter().enumerate() {
        out.extend(run_figures(i, r.record, &scales));
    }
    out
}

/// SHA-256 (hex) of the record's JSON (`serde_json::to_string`), so a
/// report can be matched to the exact record it was drawn from.
pub fn content_hash(record: &RunRecord) -> String {
    // Serializing plain data to a string cannot fail (no maps with
    // non-string keys, no failing Serialize impls).
    let json = serde_json::to_string(record).unwrap_or_default();
    Sha256::digest(json.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::test_records::{recurrent, with_data};
    use super::*;
    use crate::experiment::Spec;

    fn ids(runs: &[ReportRun<'_>]) -> Vec<String> {
        figures(runs).into_iter().map(|f| f.id).collect()
    }

    fn run(record: &RunRecord) -> ReportRun<'_> {
        ReportRun {
            record,
            findings: &[],
        }
    }

    /// A recurrent run's page opens with the through-time map, the
    /// gradient against lag and the gate saturation; an MLP's has none of
    /// them, nor does a ReLU RNN's the gate saturation.
    #[test]
    fn recurrent_charts_come_first_and_only_for_recurrent_runs() {
        let lstm = recurrent("lstm", 8, 4);
        let got = ids(&[run(&lstm)]);
        assert_eq!(
            got[..4],
            [
                "run1-through-time",
                "run1-lag",
                "run1-gate-saturation",
                "run1-flow-delta"
            ]
        );
        let mut mlp = RunRecord::new(Spec::default());
        mlp.probes = lstm.probes.clone();
        for p in &mut mlp.probes {
            p.layers[0].series.clear();
        }
        let got = ids(&[run(&mlp)]);
        assert_eq!(got[0], "run1-flow-delta", "{got:?}");
        assert!(!got
            .iter()
            .any(|id| id.contains("lag") || id.contains("gate")));
        let mut relu = recurrent("rnn", 8, 4);
        for p in &mut relu.probes {
            p.layers[0].series.retain(|s| s.tensor == "hidden_grad");
        }
        let got = ids(&[run(&relu)]);
        assert_eq!(
            got[..3],
            ["run1-through-time", "run1-lag", "run1-flow-delta"]
        );
    }

    /// The lag chart's caption says what its fit covers: the every-step
    /// read-out and truncated BPTT each add their sentence.
    #[test]
    fn the_lag_caption_says_what_the_fit_covers() {
        let last = recurrent("gru", 8, 2);
        let base = Chart::Lag.caption(&last);
        assert!(base.contains("over the finite, non-zero points"), "{base}");
        assert!(!base.contains("own read-out") && !base.contains("truncated"));
        let text = with_data(last.clone(), "copy");
        assert!(Chart::Lag
            .caption(&text)
            .contains("includes step t's own read-out"));
        let mut cut = last;
        cut.spec.model.recurrent.truncation = 5;
        assert!(Chart::Lag
            .caption(&cut)
            .contains("BPTT is truncated to 5 steps"));
    }

    /// Two recurrent runs are overlaid, one line per run with its factor;
    /// an MLP on the same page is left out of the overlay, and one
    /// recurrent run alone gets none.
    #[test]
    fn recurrent_runs_are_overlaid_in_the_comparison() {
        let (rnn, lstm) = (recurrent("rnn", 10, 2), recurrent("lstm", 10, 6));
        let mlp = RunRecord::new(Spec::default());
        let runs = [run(&rnn), run(&mlp), run(&lstm)];
        let figs = compare_figures(&runs);
        let fig = figs
            .iter()
            .find(|f| f.id == "compare-through-time")
            .expect("an overlay");
        // Last probed steps 2 and 6: 0.6 and 0.8 per step back (the legend
        // wraps "step" onto a second line).
        assert!(
            fig.svg.contains(">#1 adding-rnn: ×0.60 per<"),
            "{}",
            fig.svg
        );
        assert!(
            fig.svg.contains(">#3 adding-lstm: ×0.80 per<"),
            "{}",
            fig.svg
        );
        assert!(!fig.svg.contains(">#2 "), "{}", fig.svg);
        // Run #3 keeps the colour it has in the other comparison figures.
        assert!(fig.svg.contains(color::category(2)));
        assert!(!fig.svg.contains(color::category(1)));
        let one = compare_figures(&[run(&rnn), run(&mlp)]);
        assert!(one.iter().all(|f| f.id != "compare-through-time"));
    }
}
