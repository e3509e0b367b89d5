//! `gradscope inspect RUN`: a run in the terminal — per-layer depth profile
//! (gradient norm on a log-scale bar, saturation, dead units, update ratio)
//! at the first, middle and last recorded steps, sparklines over training,
//! and the findings. A gradient norm resting on subnormal entries is marked
//! `*` and the table's note counts them, next to the exact zeros.

use super::render::{render_findings, sample_block};
use gradscope::analysis::diagnose::Finding;
use gradscope::data::sequence::SeqTask;
use gradscope::experiment::{Dtype, RunRecord};
use gradscope::nn::recurrent::Nonlinearity;
use gradscope::nn::ModelKind;
use gradscope::probe::{pick_steps, StepProbe, TensorStats};
use std::fmt::Write;

/// Width of the log-scale bar, in characters.
const BAR: usize = 24;
/// Decades the bar spans below the largest norm.
const BAR_DECADES: f64 = 12.0;

/// The whole `inspect` text for a run.
pub fn render(record: &RunRecord, findings: &[Finding]) -> String {
    let mut out = String::new();
    let spec = &record.spec;
    let id = record.id.map(|i| format!("run {i} ")).unwrap_or_default();
    let _ = writeln!(
        out,
        "{id}`{}`: {}, {} of {} steps; {}",
        super::output::printable(&spec.name),
        record.status,
        record.steps_done(),
        record.total_steps,
        model_line(record)
    );
    if let Some(e) = record.evals.last() {
        // Regression (the adding problem) has no accuracy.
        let acc = |a: f64| {
            if a.is_nan() {
                String::new()
            } else {
                format!(" acc {:.2}%", 100.0 * a)
            }
        };
        let _ = writeln!(
            out,
            "final: train loss {:.4}{}, held-out loss {:.4}{}",
            e.train_loss,
            acc(e.train_accuracy),
            e.test_loss,
            acc(e.test_accuracy)
        );
    }
    if let Some(err) = &record.error {
        let _ = writeln!(out, "stopped: {err}");
    }
    if let Some(sample) = record.summary.as_ref().and_then(|s| s.sample.as_deref()) {
        let _ = writeln!(out, "{}", sample_block(sample));
    }
    let n = record.probes.len();
    if n == 0 {
        let _ = writeln!(out, "\n(no probes recorded)");
    } else {
        let steps: Vec<usize> = record.probes.iter().map(|p| p.step).collect();
        for i in pick_steps(&steps, &[0.0, 0.5, 1.0]) {
            out.push('\n');
            out.push_str(&depth_table(&record.probes[i], spec.dtype));
        }
    }
    out.push('\n');
    out.push_str(&sparklines(record));
    out.push('\n');
    if findings.is_empty() {
        let _ = writeln!(out, "findings: none");
    } else {
        let _ = writeln!(out, "findings:");
        out.push_str(&render_findings(findings));
    }
    out
}

/// What the net is, in a few words: an MLP's depth, activation, init and
/// norm; a recurrent net's cell, layers, units, recurrent init and
/// truncation.
fn model_line(record: &RunRecord) -> String {
    let m = &record.spec.model;
    if m.kind == ModelKind::Cnn {
        let norm = match m.norm {
            gradscope::nn::Norm::None => String::new(),
            n => format!(", {n} norm"),
        };
        return format!(
            "{}, {}, {} init{norm}",
            m.conv.describe(),
            m.activation,
            m.init
        );
    }
    if m.kind == ModelKind::Mlp {
        return format!(
            "{} layers, {}, {} init{}",
            record.depth(),
            m.activation,
            m.init,
            match m.norm {
                gradscope::nn::Norm::None => String::new(),
                n => format!(", {n} norm"),
            }
        );
    }
    let r = &m.recurrent;
    let length = record
        .probes
        .iter()
        .rev()
        .find_map(|p| p.layers.first()?.series.first().map(|s| s.stats.len()))
        .or_else(|| {
            let task = SeqTask::from_name(&record.spec.data.name)?;
            task.resolve_length(record.spec.data.length).ok()
        });
    let cell = match (m.kind, r.nonlinearity) {
        (ModelKind::Rnn, Nonlinearity::Relu) => "rnn (relu)".to_string(),
        (kind, _) => kind.to_string(),
    };
    format!(
        "{cell}, {} layer{} of {} units, {} recurrent init{}, on {} (T = {})",
        r.layers,
        if r.layers == 1 { "" } else { "s" },
        r.hidden,
        r.init,
        match r.truncation {
            0 => String::new(),
            k => format!(", BPTT truncated to {k} steps"),
        },
        record.spec.data.name,
        length.map_or("?".to_string(), |t| t.to_string())
    )
}

/// One step's depth profile; `dtype` is the run's (for the note on
/// subnormal entries).
pub fn depth_table(p: &StepProbe, dtype: Dtype) -> String {
    let mut out = String::new();
    let max = p
        .layers
        .iter()
        .map(|l| l.weight_grad.l2())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let _ = writeln!(
        out,
        "step {}: {:<6} {:>10}  {:<w$} {:>10}  {:>6} {:>6} {:>9}",
        p.step,
        "layer",
        "|dL/dW|",
        "log scale",
        "|dL/dz|",
        "sat",
        "dead",
        "upd:data",
        w = BAR
    );
    for l in &p.layers {
        let g = l.weight_grad.l2();
        let _ = writeln!(
            out,
            "{:>w0$} {:<6} {:>10}{} {:<w$} {:>10}{} {:>6} {:>6} {:>9}",
            "",
            l.layer,
            sci(g),
            mark(&l.weight_grad),
            bar(g, max),
            sci(l.pre_grad.l2()),
            mark(&l.pre_grad),
            pct(l.saturated),
            pct(l.dead),
            sci(l.update_ratio),
            w0 = format!("step {}:", p.step).len(),
            w = BAR
        );
    }
    out.push_str(&subnormal_note(p, dtype, format!("step {}:", p.step).len()));
    out
}

/// `*` after a norm whose tensor has subnormal entries, else a space.
fn mark(s: &TensorStats) -> char {
    if s.subnormal > 0 {
        '*'
    } else {
        ' '
    }
}

/// The note under a depth table on its `*` marks: per marked layer, how
/// many entries of each marked tensor are subnormal, and how many exactly
/// 0. Empty when nothing is marked.
fn subnormal_note(p: &StepProbe, dtype: Dtype, indent: usize) -> String {
    let counts = |what: &str, s: &TensorStats| {
        let zeros = if s.zeros > 0 {
            format!(", and {} exactly 0", s.zeros)
        } else {
            String::new()
        };
        format!(
            "{what} {} of {} ({}{zeros})",
            s.subnormal,
            s.n,
            share(s.subnormal_frac())
        )
    };
    let lines: Vec<String> = p
        .layers
        .iter()
        .filter_map(|l| {
            let tensors: Vec<String> = [("dL/dW", &l.weight_grad), ("dL/dz", &l.pre_grad)]
                .into_iter()
                .filter(|(_, s)| s.subnormal > 0)
                .map(|(what, s)| counts(what, s))
                .collect();
            (!tensors.is_empty()).then(|| format!("layer {}: {}", l.layer, tensors.join("; ")))
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    let (name, floor, fix) = match dtype {
        Dtype::F32 => ("f32", "1.18e-38", "; `--dtype f64` measures them exactly"),
        Dtype::F64 => ("f64", "2.2e-308", ""),
    };
    let pad = " ".repeat(indent);
    let mut out = format!(
        "{pad} * subnormal entries (non-zero, below {floor} in {name}: fewer significant bits, \
         so the norm is imprecise{fix}):\n"
    );
    for line in lines {
        let _ = writeln!(out, "{pad}   {line}");
    }
    out
}

/// A fraction as a percentage, with a significant digit below 1%.
fn share(x: f64) -> String {
    if x >= 0.01 {
        format!("{:.0}%", 100.0 * x)
    } else {
        format!("{:.1e}%", 100.0 * x)
    }
}

fn bar(v: f64, max: f64) -> String {
    if !(v > 0.0 && max > 0.0) {
        return if v == 0.0 { "0".into() } else { String::new() };
    }
    let decades = (v / max).log10().max(-BAR_DECADES);
    let filled = ((1.0 + decades / BAR_DECADES) * BAR as f64).round() as usize;
    "#".repeat(filled.max(1))
}

fn sci(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else {
        format!("{v:.2e}")
    }
}

fn pct(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else {
        format!("{:.0}%", 100.0 * v)
    }
}

const TICKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A sparkline of `values` (resampled to `width`); `log` plots log10.
pub fn sparkline(values: &[f64], width: usize, log: bool) -> String {
    let vals: Vec<f64> = values
        .iter()
        .map(|&v| if log { v.log10() } else { v })
        .collect();
    if vals.is_empty() {
        return String::new();
    }
    let w = width.min(vals.len()).max(1);
    let buckets: Vec<f64> = (0..w)
        .map(|i| {
            let (a, b) = (
                i * vals.len() / w,
                ((i + 1) * vals.len() / w).max(i * vals.len() / w + 1),
            );
            let s: Vec<f64> = vals[a..b]
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            if s.is_empty() {
                f64::NAN
            } else {
                s.iter().sum::<f64>() / s.len() as f64
            }
        })
        .collect();
    let finite: Vec<f64> = buckets.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    buckets
        .iter()
        .map(|&v| {
            if !v.is_finite() {
                ' '
            } else if hi - lo < 1e-12 {
                TICKS[3]
            } else {
                TICKS[(((v - lo) / (hi - lo)) * 7.0).round() as usize]
            }
        })
        .collect()
}

/// `value` of each probe, repeated for each step it stands for (to the
/// next probe), so a sparkline's width is training time even where the
/// probes are denser (early, after an anomaly).
fn over_steps(probes: &[StepProbe], value: impl Fn(&StepProbe) -> f64) -> Vec<f64> {
    let mut out = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        let span = probes.get(i + 1).map_or(1, |next| next.step - p.step);
        out.extend(std::iter::repeat_n(value(p), span.max(1)));
    }
    out
}

fn sparklines(record: &RunRecord) -> String {
    let mut out = String::new();
    let loss: Vec<f64> = record.steps.iter().map(|s| s.loss).collect();
    let norm: Vec<f64> = record.steps.iter().map(|s| s.grad_norm).collect();
    let _ = writeln!(out, "{:<22} {}", "loss", sparkline(&loss, 60, false));
    let _ = writeln!(
        out,
        "{:<22} {}",
        "global grad norm (log)",
        sparkline(&norm, 60, true)
    );
    let depth = record.depth();
    if depth > 0 {
        for layer in [0, depth - 1] {
            let norms = over_steps(&record.probes, |p| p.layers[layer].weight_grad.l2());
            let _ = writeln!(
                out,
                "{:<22} {}",
                format!("|dL/dW| layer {layer} (log)"),
                sparkline(&norms, 60, true)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recurrent run is described by its cell, units and sequence
    /// length, and a regression run shows no accuracy.
    #[test]
    fn a_recurrent_run_names_its_cell_and_length() {
        use gradscope::experiment::trainer::NullSink;
        use gradscope::experiment::Spec;
        let spec = Spec::from_toml(
            "steps = 3\nbatch = 4\n[data]\nname = \"adding\"\nlength = 20\ntrain_size = 16\n\
             test_size = 8\n[model]\nkind = \"gru\"\nhidden = 5\nlayers = 2\ntruncation = 4\n",
            "test",
        )
        .unwrap();
        let data = spec.prepare_data().unwrap();
        let out = gradscope::run::run_recorded(
            &spec,
            &data,
            None,
            gradscope::tensor::Compute::threads(1),
            &mut NullSink,
        )
        .unwrap();
        let text = render(&out.record, &[]);
        let head: Vec<&str> = text.lines().take(2).collect();
        assert!(
            head[0].ends_with(
                "gru, 2 layers of 5 units, uniform recurrent init, BPTT truncated to 4 steps, \
                 on adding (T = 20)"
            ),
            "{}",
            head[0]
        );
        assert!(head[1].starts_with("final: train loss ") && !head[1].contains("acc"));
    }

    #[test]
    fn sparkline_spans_the_ticks() {
        assert_eq!(
            sparkline(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 8, false),
            "▁▂▃▄▅▆▇█"
        );
        assert_eq!(sparkline(&[1e-9, 1e-1], 2, true), "▁█");
        assert_eq!(sparkline(&[], 10, false), "");
    }

    /// A layer whose weight gradient has subnormal entries is marked, and
    /// the note counts them next to its zeros; a step without any has
    /// neither mark nor note.
    #[test]
    fn subnormal_entries_are_marked_and_counted() {
        use gradscope::probe::LayerProbe;
        let stats = |l2: f64, subnormal, zeros| TensorStats {
            n: 400,
            sum_sq: l2 * l2,
            zeros,
            subnormal,
            ..TensorStats::default()
        };
        let layer = |i, g, subnormal, zeros| LayerProbe {
            layer: i,
            path: format!("layers.{}", 2 * i),
            weight: stats(1.0, 0, 0),
            weight_grad: stats(g, subnormal, zeros),
            bias_grad: None,
            pre_grad: stats(g, 0, 0),
            out_grad: stats(g, 0, 0),
            pre: stats(1.0, 0, 0),
            pre_pct: [f64::NAN; 3],
            out: stats(1.0, 0, 0),
            saturated: f64::NAN,
            dead: f64::NAN,
            update_ratio: f64::NAN,
            series: Vec::new(),
        };
        let mut p = StepProbe {
            step: 4,
            layers: vec![layer(0, 5e-43, 100, 300), layer(1, 1e-3, 0, 0)],
            histograms: Vec::new(),
        };
        let table = depth_table(&p, Dtype::F32);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[1].contains("5.00e-43*"), "{table}");
        assert!(lines[2].contains("1.00e-3 "), "{table}");
        assert!(!lines[2].contains('*'), "{table}");
        assert!(lines[3].contains("* subnormal entries"), "{table}");
        assert!(lines[3].contains("--dtype f64"), "{table}");
        assert_eq!(
            lines[4].trim(),
            "layer 0: dL/dW 100 of 400 (25%, and 300 exactly 0)"
        );
        assert_eq!(lines.len(), 5, "{table}");
        p.layers[0].weight_grad.subnormal = 0;
        let table = depth_table(&p, Dtype::F32);
        assert!(
            !table.contains('*') && table.lines().count() == 3,
            "{table}"
        );
    }

    #[test]
    fn bar_is_log_scaled() {
        assert_eq!(bar(1.0, 1.0).len(), BAR);
        assert_eq!(bar(1e-6, 1.0).len(), BAR / 2);
        assert_eq!(bar(0.0, 1.0), "0");
    }
}

/// Arguments of `gradscope inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Run id (see `gradscope runs`), or `last`.
    pub run: String,
}

/// Runs `gradscope inspect`.
pub fn run(args: InspectArgs, db: &std::path::Path) -> anyhow::Result<()> {
    let store = super::record::open_to_read(db)?;
    let id = super::record::resolve_run(&store, &args.run)?;
    let record = store.load(id)?;
    let findings = gradscope::analysis::diagnose::diagnose(&record);
    print!("{}", render(&record, &findings));
    Ok(())
}
