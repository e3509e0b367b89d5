//! The page: one HTML document with inline CSS and inline SVG, no script,
//! no URL. It is also well-formed XML (void elements self-closed, all text
//! escaped), which the tests rely on to parse it.

use super::svg::{escape, XMLNS};
use super::{compare_figures, figure_id, run_figures, run_label, Chart, Figure, ReportRun, Scales};
use crate::analysis::diagnose::{Finding, FindingKind, Severity};
use crate::experiment::RunRecord;
use crate::nn::{ModelKind, Norm};
use crate::optim::OptimizerConfig;
use std::fmt::Write;

pub(crate) const CSS: &str = "
body { font-family: 'DejaVu Sans', system-ui, sans-serif; color: #222; background: #fff;
  max-width: 980px; margin: 0 auto; padding: 1.5em; line-height: 1.45; font-size: 15px; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
.summary { background: #f3f6fb; border-left: 4px solid #3b6fb6; padding: 0.5em 0.8em; }
h2 { font-size: 1.35em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
h3 { font-size: 1.1em; margin-top: 1.6em; }
.meta { color: #555; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #d0d0d0; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15em 1em; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; }
code, pre { font-family: 'DejaVu Sans Mono', ui-monospace, monospace; font-size: 0.9em; }
pre { background: #f6f6f6; border: 1px solid #e0e0e0; padding: 0.7em; overflow-x: auto; white-space: pre-wrap; }
figure { margin: 1.4em 0; break-inside: avoid; }
figure svg { display: block; width: 100%; max-width: 800px; height: auto; }
figcaption { color: #444; font-size: 0.9em; max-width: 800px; margin-top: 0.3em; }
.status { font-size: 0.7em; padding: 0.1em 0.5em; border-radius: 0.3em; border: 1px solid #999;
  vertical-align: middle; font-weight: normal; }
.status-finished { background: #e3f2ea; border-color: #009e73; }
.status-diverged, .status-failed { background: #fbe9e0; border-color: #d55e00; }
.finding { border-left: 5px solid #999; padding: 0.2em 0 0.2em 0.9em; margin: 1em 0; }
.finding.critical { border-color: #d55e00; }
.finding.warning { border-color: #e69f00; }
.finding.info { border-color: #0072b2; }
.severity { font-size: 0.8em; text-transform: uppercase; letter-spacing: 0.04em; color: #555; }
.none { color: #555; font-style: italic; }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  section.run { break-before: page; }
  a { color: inherit; text-decoration: none; }
  pre { white-space: pre-wrap; }
}
";

/// The whole report for `runs` (see the module docs).
pub fn render_html(runs: &[ReportRun<'_>]) -> String {
    let mut h = String::new();
    let title = match runs {
        [one] => format!("gradscope report: {}", one.record.spec.name),
        _ => format!("gradscope report: {} runs", runs.len()),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n\
         <p class=\"meta\">gradscope {} · {} run{}</p>\n",
        escape(&title),
        escape(&title),
        env!("CARGO_PKG_VERSION"),
        runs.len(),
        if runs.len() == 1 { "" } else { "s" }
    );
    if runs.is_empty() {
        h.push_str("<p class=\"none\">No runs.</p>\n");
    } else {
        // In plain words first: what ran, what the gradient did, the
        // verdict, what to try.
        h.push_str("<section id=\"summary\">\n");
        for (i, run) in runs.iter().enumerate() {
            let _ = writeln!(
                h,
                "<p class=\"summary\"><a href=\"#run{}\">{}</a>: {}</p>",
                i + 1,
                escape(&run_label(i, run.record)),
                escape(&summary(run.record, run.findings))
            );
        }
        h.push_str("</section>\n");
    }
    if runs.len() > 1 {
        comparison(&mut h, runs);
    }
    let scales = Scales::of(runs);
    for (i, run) in runs.iter().enumerate() {
        run_section(&mut h, i, run, &scales);
    }
    h.push_str("</body>\n</html>\n");
    h
}

pub(crate) fn figure(h: &mut String, f: &Figure) {
    let _ = write!(
        h,
        "<figure id=\"fig-{}\">\n{}<figcaption>{}</figcaption>\n</figure>\n",
        escape(&f.id),
        f.svg.replacen(XMLNS, "", 1),
        escape(&f.caption)
    );
}

/// The table of runs side by side and the overlaid figures.
fn comparison(h: &mut String, runs: &[ReportRun<'_>]) {
    h.push_str("<section id=\"comparison\">\n<h2>Comparison</h2>\n<table>\n<tr>");
    for head in [
        "run",
        "status",
        "steps",
        "held-out accuracy",
        "first/last gradient",
        "max saturated / inactive units",
        "findings",
    ] {
        let _ = write!(h, "<th>{head}</th>");
    }
    h.push_str("</tr>\n");
    for (i, r) in runs.iter().enumerate() {
        let rec = r.record;
        let _ = writeln!(
            h,
            "<tr><td><a href=\"#run{n}\">{}</a></td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            escape(&run_label(i, rec)),
            rec.status,
            steps_done(rec),
            pct(held_out_accuracy(rec)),
            escape(&first_last_cell(rec)),
            saturation_cell(rec),
            r.findings.len(),
            n = i + 1,
        );
    }
    h.push_str("</table>\n");
    for f in compare_figures(runs) {
        figure(h, &f);
    }
    h.push_str("</section>\n");
}

fn run_section(h: &mut String, i: usize, run: &ReportRun<'_>, scales: &Scales) {
    let rec = run.record;
    let _ = writeln!(
        h,
        "<section class=\"run\" id=\"run{}\">\n<h2>{} <span class=\"status status-{s}\">{s}</span></h2>",
        i + 1,
        escape(&run_label(i, rec)),
        s = rec.status,
    );
    h.push_str("<dl class=\"facts\">\n");
    let facts = [
        ("seed", rec.spec.seed.to_string()),
        ("steps", steps_done(rec)),
        ("layers probed", rec.depth().to_string()),
        ("held-out accuracy", pct(held_out_accuracy(rec))),
        ("first/last gradient", first_last_cell(rec)),
        ("gradscope", env!("CARGO_PKG_VERSION").to_string()),
    ];
    for (k, v) in facts {
        let _ = writeln!(h, "<dt>{k}</dt><dd>{}</dd>", escape(&v));
    }
    let _ = writeln!(
        h,
        "<dt>record SHA-256</dt><dd><code>{}</code></dd>",
        super::content_hash(rec)
    );
    if let Some(e) = &rec.error {
        let _ = writeln!(h, "<dt>error</dt><dd>{}</dd>", escape(e));
    }
    h.push_str("</dl>\n<h3>Diagnosis</h3>\n");
    if run.findings.is_empty() {
        h.push_str("<p class=\"none\">No findings.</p>\n");
    }
    for f in run.findings {
        finding(h, i, f);
    }
    h.push_str("<h3>Figures</h3>\n");
    for f in run_figures(i, rec, scales) {
        figure(h, &f);
    }
    let _ = write!(
        h,
        "<h3>Spec</h3>\n<pre>{}</pre>\n</section>\n",
        escape(&rec.spec.to_toml_applicable())
    );
}

/// The charts that show a finding's evidence, with the link text.
fn evidence_charts(kind: FindingKind) -> &'static [(Chart, &'static str)] {
    match kind {
        FindingKind::VanishingGradient | FindingKind::ExplodingGradient => &[
            (Chart::FlowDelta, "gradient-flow map"),
            (Chart::Depth, "depth profile"),
        ],
        FindingKind::Saturation | FindingKind::DeadUnits => {
            &[(Chart::Saturation, "saturation and dead units")]
        }
        FindingKind::LearningRate => &[(Chart::Update, "update:data ratios")],
        FindingKind::Divergence | FindingKind::Stalled | FindingKind::Degradation => {
            &[(Chart::Loss, "loss")]
        }
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

fn finding(h: &mut String, run: usize, f: &Finding) {
    let sev = severity_name(f.severity);
    let _ = writeln!(
        h,
        "<div class=\"finding {sev}\">\n<p><span class=\"severity\">{sev}</span> \
         <strong>{}</strong>: {}</p>",
        f.kind.name().replace('_', " "),
        escape(&f.summary)
    );
    let mut context = Vec::new();
    if !f.layers.is_empty() {
        context.push(format!("layers {}", ranges(&f.layers)));
    }
    match f.steps.as_slice() {
        [] => {}
        [s] => context.push(format!("step {s}")),
        [a, .., b] => context.push(format!("steps {a}–{b}")),
    }
    // The through-time findings (vanishing, exploding) are a vanishing or
    // exploding gradient too; their evidence is on the through-time map
    // and the gradient against lag.
    let through_time: &[(Chart, &str)] = &[
        (Chart::ThroughTime, "through-time map"),
        (Chart::Lag, "gradient against lag"),
    ];
    let recurrent_evidence = ["horizon_steps", "spike_steps", "through_time_peak"];
    let charts = if f
        .evidence
        .iter()
        .any(|e| recurrent_evidence.contains(&e.name.as_str()))
    {
        through_time
    } else {
        evidence_charts(f.kind)
    };
    let links: Vec<String> = charts
        .iter()
        .map(|(c, text)| format!("<a href=\"#fig-{}\">{text}</a>", figure_id(run, *c)))
        .collect();
    context.push(format!("see the {}", links.join(" and the ")));
    let _ = writeln!(h, "<p>{}</p>", context.join(" · "));
    if !f.evidence.is_empty() {
        h.push_str("<table>\n<tr><th>evidence</th><th>value</th><th>meaning</th></tr>\n");
        for e in &f.evidence {
            let _ = writeln!(
                h,
                "<tr><td><code>{}</code></td><td class=\"num\">{}</td><td>{}</td></tr>",
                escape(&e.name),
                e.as_count()
                    .map_or_else(|| value(e.value), |n| n.to_string()),
                escape(&e.note)
            );
        }
        h.push_str("</table>\n");
    }
    if !f.remedies.is_empty() {
        h.push_str("<p>Remedies, most promising first:</p>\n<ol>\n");
        for r in &f.remedies {
            let _ = writeln!(
                h,
                "<li><strong>{}</strong>: {}<pre><code>{}</code></pre></li>",
                escape(&r.title),
                escape(&r.why),
                escape(&r.command)
            );
        }
        h.push_str("</ol>\n");
    }
    h.push_str("</div>\n");
}

/// `0–3, 7, 9–10` for sorted or unsorted indices.
fn ranges(v: &[usize]) -> String {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j] + 1 {
            j += 1;
        }
        out.push(if j > i {
            format!("{}–{}", v[i], v[j])
        } else {
            v[i].to_string()
        });
        i = j + 1;
    }
    out.join(", ")
}

/// The run in plain words, for the top of its section: what was run,
/// what happened to the gradient, the verdict, and the remedy to try
/// first.
pub(crate) fn summary(r: &RunRecord, findings: &[Finding]) -> String {
    let m = &r.spec.model;
    let layers = match m.widths.as_slice() {
        [] => "no hidden layer".to_string(),
        [w, rest @ ..] if rest.iter().all(|v| v == w) => {
            format!(
                "{} hidden layers of {w} {} units",
                m.widths.len(),
                m.activation
            )
        }
        ws => format!("{} hidden layers ({ws:?} {} units)", ws.len(), m.activation),
    };
    let norm = match m.norm {
        Norm::None => String::new(),
        n => format!(", {n} normalization"),
    };
    let rule = match &r.spec.optimizer.rule {
        OptimizerConfig::Sgd { momentum, .. } if *momentum > 0.0 => "SGD with momentum",
        OptimizerConfig::Sgd { .. } => "SGD",
        OptimizerConfig::Adam { .. } => "Adam",
        OptimizerConfig::AdamW { .. } => "AdamW",
    };
    let net = match m.kind {
        ModelKind::Mlp => format!("{layers} ({} init{norm})", m.init),
        ModelKind::Cnn => format!(
            "{}, {} ({} init{norm})",
            m.conv.describe(),
            m.activation,
            m.init
        ),
        kind => {
            let rc = &m.recurrent;
            let cell = match kind {
                ModelKind::Rnn => format!("vanilla RNN ({})", rc.nonlinearity),
                other => other.to_string().to_uppercase(),
            };
            format!(
                "{cell} of {} layer{} of {} units ({} recurrent init{})",
                rc.layers,
                if rc.layers == 1 { "" } else { "s" },
                rc.hidden,
                rc.init,
                if rc.truncation > 0 {
                    format!(", BPTT truncated to {} steps", rc.truncation)
                } else {
                    String::new()
                }
            )
        }
    };
    let mut s = format!(
        "What was run: {net} on {}, {} steps of {rule} at learning rate {}.",
        r.spec.data.name,
        r.steps_done(),
        r.spec.optimizer.lr
    );
    let ratio = first_last_ratio(r);
    let non_finite = r.probes.last().and_then(|p| {
        let bad = p.layers.iter().filter(|l| l.weight_grad.non_finite() > 0);
        let layers: Vec<usize> = bad.map(|l| l.layer).collect();
        (!layers.is_empty()).then_some((p.step, layers))
    });
    if let Some((step, layers)) = non_finite {
        // A norm over the finite entries would understate a blown-up
        // gradient: say what happened instead.
        s.push_str(&format!(
            " The gradient: NaN or infinite entries in the weight gradients of layers {} at \
             step {step}.",
            crate::analysis::diagnose::layer_list(&layers)
        ));
    } else if let Some(through) = super::through_time::first_last(r) {
        let what = if through < 1e-6 {
            "it vanishes through time"
        } else if through > 1e2 {
            "it grows through time"
        } else {
            "it reaches the first time step"
        };
        s.push_str(&format!(
            " The gradient: at the first time step it is {} of its size at the last, at the last recorded step: {what}.",
            sci(through)
        ));
    } else if ratio.is_finite() {
        let what = if ratio < 1e-2 {
            "it vanishes on the way to the input"
        } else if ratio > 1e2 {
            "it grows on the way to the input"
        } else {
            "it reaches the first layer"
        };
        s.push_str(&format!(
            " The gradient: the first layer's weight gradient is {} of the last layer's at the last recorded step: {what}.",
            sci(ratio)
        ));
    }
    let verdict = match findings.first() {
        Some(f) => format!("{} ({:?})", f.kind.name().replace('_', " "), f.severity).to_lowercase(),
        None => "no problem found".into(),
    };
    s.push_str(&format!(
        " Verdict: {verdict}; held-out accuracy {}.",
        pct(held_out_accuracy(r))
    ));
    if let Some(remedy) = findings.iter().flat_map(|f| &f.remedies).next() {
        s.push_str(&format!(
            " Try first: {} ({}).",
            remedy.title, remedy.command
        ));
    }
    s
}

fn steps_done(r: &RunRecord) -> String {
    if r.total_steps > 0 {
        format!("{} of {}", r.steps_done(), r.total_steps)
    } else {
        r.steps_done().to_string()
    }
}

/// The summary's held-out accuracy, else the last evaluation's.
fn held_out_accuracy(r: &RunRecord) -> f64 {
    r.summary
        .as_ref()
        .map(|s| s.test_accuracy)
        .or_else(|| r.evals.last().map(|e| e.test_accuracy))
        .unwrap_or(f64::NAN)
}

/// First-layer over last-layer weight-gradient norm at the last probe
/// (the summary's when there is no probe).
/// The first/last gradient ratio as the table shows it: through time for
/// a recurrent run (`‖∂L/∂h₁‖ / ‖∂L/∂h_T‖`, where `W_hh` against the
/// read-out's weight would compare unlike things), across layers for the
/// others (`‖∂L/∂W‖` of the first and last layer).
fn first_last_cell(r: &RunRecord) -> String {
    match super::through_time::first_last(r) {
        Some(v) => format!("{} (‖∂L/∂h₁‖ / ‖∂L/∂h_T‖)", sci(v)),
        None if super::through_time::applies(r) => "– (truncated BPTT)".to_string(),
        None => format!("{} (‖∂L/∂W‖)", sci(first_last_ratio(r))),
    }
}

fn first_last_ratio(r: &RunRecord) -> f64 {
    if let Some(p) = r.probes.last() {
        if let (Some(f), Some(l)) = (p.layers.first(), p.layers.last()) {
            let (f, l) = (f.weight_grad.l2(), l.weight_grad.l2());
            return if l > 0.0 { f / l } else { f64::NAN };
        }
    }
    r.summary
        .as_ref()
        .map_or(f64::NAN, |s| s.first_last_ratio())
}

/// The largest saturated fraction, named for what it measures: for the
/// ReLU family, units whose slope is below 5% of its maximum are inactive
/// (`z <= 0`), not saturated.
fn saturation_cell(r: &RunRecord) -> String {
    let v = max_saturation(r);
    if !v.is_finite() {
        return pct(v);
    }
    let what = if r.spec.model.activation.is_relu_family() {
        "inactive"
    } else {
        "saturated"
    };
    format!("{} {what}", pct(v))
}

/// The largest saturated fraction of any layer at any probe.
fn max_saturation(r: &RunRecord) -> f64 {
    r.probes
        .iter()
        .flat_map(|p| p.layers.iter().map(|l| l.saturated))
        .filter(|v| v.is_finite())
        .fold(f64::NAN, f64::max)
}

fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", v * 100.0)
    } else {
        "–".into()
    }
}

fn sci(v: f64) -> String {
    if v.is_finite() {
        value(v)
    } else {
        "–".into()
    }
}

/// An evidence value: three significant digits, scientific outside
/// [0.01, 10^4).
fn value(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        format!("{v}")
    } else if a == 0.0 || (0.01..1e4).contains(&a) {
        let decimals = if a == 0.0 {
            0
        } else {
            (2 - a.log10().floor() as i32).clamp(0, 4) as usize
        };
        format!("{v:.decimals$}")
    } else {
        format!("{v:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_what_ran_what_happened_and_what_to_try() {
        use crate::analysis::diagnose::Remedy;
        use crate::experiment::Spec;
        let mut spec = Spec::default();
        spec.model.activation = crate::nn::Activation::Sigmoid;
        let mut r = RunRecord::new(spec);
        r.summary = Some(crate::experiment::trainer::Summary {
            steps: 0,
            train_loss: 2.3,
            train_accuracy: 0.1,
            test_loss: 2.3,
            test_accuracy: 0.111,
            grad_norms: vec![4e-17, 1.0],
            layers: Vec::new(),
            train_seconds: 1.0,
            sample: None,
        });
        let f = Finding {
            kind: FindingKind::VanishingGradient,
            severity: Severity::Critical,
            summary: String::new(),
            layers: vec![0],
            steps: vec![0],
            evidence: Vec::new(),
            remedies: vec![Remedy {
                title: "ReLU with He initialization".into(),
                why: String::new(),
                command: "gradscope train --activation relu".into(),
            }],
        };
        let s = summary(&r, &[f]);
        assert!(
            s.starts_with(
                "What was run: 3 hidden layers of 100 sigmoid units (he_normal init) on mnist"
            ),
            "{s}"
        );
        assert!(
            s.contains("is 4.00e-17 of the last layer's at the last recorded step: it vanishes"),
            "{s}"
        );
        assert!(
            s.contains("Verdict: vanishing gradient (critical); held-out accuracy 11.1%."),
            "{s}"
        );
        assert!(
            s.ends_with(
                "Try first: ReLU with He initialization (gradscope train --activation relu)."
            ),
            "{s}"
        );
        assert!(summary(&r, &[]).contains("Verdict: no problem found"));
        // A blown-up gradient is named, not measured by its finite entries.
        let layer = |i: usize, nan: u64| crate::probe::LayerProbe {
            layer: i,
            path: format!("layers.{i}"),
            weight: Default::default(),
            weight_grad: crate::probe::TensorStats {
                n: 4,
                nan,
                sum_sq: 1.0,
                ..Default::default()
            },
            bias_grad: None,
            pre_grad: Default::default(),
            out_grad: Default::default(),
            pre: Default::default(),
            pre_pct: [0.0; 3],
            out: Default::default(),
            saturated: f64::NAN,
            dead: f64::NAN,
            update_ratio: f64::NAN,
            series: Vec::new(),
        };
        r.probes.push(crate::probe::StepProbe {
            step: 7,
            layers: vec![layer(0, 3), layer(1, 0)],
            histograms: Vec::new(),
        });
        let s = summary(&r, &[]);
        assert!(
            s.contains("NaN or infinite entries in the weight gradients of layers 0 at step 7."),
            "{s}"
        );
        assert!(!s.contains("it vanishes"), "{s}");
    }

    #[test]
    fn layer_ranges_compress() {
        assert_eq!(ranges(&[3, 0, 1, 2, 7, 9, 10]), "0–3, 7, 9–10");
        assert_eq!(ranges(&[]), "");
    }

    #[test]
    fn evidence_values_keep_three_digits() {
        assert_eq!(value(0.123456), "0.123");
        assert_eq!(value(12.3456), "12.3");
        assert_eq!(value(3.2e-7), "3.20e-7");
        assert_eq!(value(0.0), "0");
        assert_eq!(value(f64::NAN), "NaN");
    }
}
