//! What more than one command prints: findings as text (`train`, `demo`,
//! `inspect`, `diagnose`) and a run's summary as text or JSON (`train`,
//! `demo`).

use super::output::{printable, Output};
use super::program::runnable;
use gradscope::analysis::diagnose::Finding;
use gradscope::data::sequence::Baseline;
use gradscope::experiment::trainer::Summary;
use gradscope::experiment::Spec;
use serde_json::json;
use std::fmt::Write;

/// Findings as text: summary, evidence, remedies with their commands.
pub fn render_findings(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        let _ = writeln!(
            out,
            "- [{}] {}: {}",
            format!("{:?}", f.severity).to_lowercase(),
            f.kind.name(),
            printable(&f.summary)
        );
        for e in &f.evidence {
            let value = match e.as_count() {
                Some(n) => n.to_string(),
                None => format!("{:.3e}", e.value),
            };
            let _ = writeln!(out, "    {} = {value} ({})", e.name, e.note);
        }
        for (i, r) in f.remedies.iter().enumerate() {
            let _ = writeln!(out, "    remedy {}: {} — {}", i + 1, r.title, r.why);
            // The command holds the run's name: escaped like it.
            let _ = writeln!(out, "      {}", printable(&runnable(&r.command)));
        }
    }
    out
}

/// A run's summary as the `--json` object of `train` and `demo`.
pub fn summary_json(spec: &Spec, s: &Summary) -> serde_json::Value {
    json!({
        "name": spec.name,
        "steps": s.steps,
        "train_loss": s.train_loss,
        "train_accuracy": s.train_accuracy,
        "test_loss": s.test_loss,
        "test_accuracy": s.test_accuracy,
        "grad_norms": s.grad_norms,
        "layers": s.layers,
        "first_last_ratio": s.first_last_ratio(),
        "train_seconds": s.train_seconds,
        "sample": s.sample,
    })
}

/// A run's summary as text on stdout, its title in bold where stdout
/// takes styles; with a sequence task's `baseline`, the trivial
/// predictor's figure beside the held-out one.
pub fn print_summary(output: Output, spec: &Spec, s: &Summary, baseline: Option<Baseline>) {
    println!(
        "{}",
        output.bold(&format!(
            "run `{}`: {} steps",
            super::output::printable(&spec.name),
            s.steps
        ))
    );
    let accuracy = |a: f64| {
        if a.is_nan() {
            String::new()
        } else {
            format!("  accuracy {:.2}%", 100.0 * a)
        }
    };
    println!(
        "  train     loss {:.4}{}",
        s.train_loss,
        accuracy(s.train_accuracy)
    );
    println!(
        "  held-out  loss {:.4}{}",
        s.test_loss,
        accuracy(s.test_accuracy)
    );
    if let Some(b) = baseline {
        println!("  {}", baseline_line(b, s.test_loss));
    }
    println!(
        "  gradient norm, first / last layer: {:.3e}  ({} layers)",
        s.first_last_ratio(),
        s.grad_norms.len()
    );
    if let Some(sample) = &s.sample {
        println!("{}", sample_block(sample));
    }
}

/// A text sample, as printed after training and by `inspect`: a heading
/// naming the temperature, then the text indented, control characters
/// but line breaks shown escaped (the text is the model's, not ours).
pub fn sample_block(sample: &str) -> String {
    let mut out = format!(
        "sample ({} characters, temperature {}):\n",
        sample.chars().count(),
        gradscope::experiment::sample::TEMPERATURE
    );
    for line in sample.split('\n') {
        out.push_str("  | ");
        for c in line.chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        out.push('\n');
    }
    out.pop();
    out
}

/// The trivial predictor's figure, in the held-out loss's terms.
pub fn baseline_line(b: Baseline, test_loss: f64) -> String {
    match b {
        Baseline::MeanPredictorMse(m) => format!(
            "baseline  mean-predictor MSE {m:.4}: the held-out loss is {:.3} of it",
            test_loss / m
        ),
        Baseline::ChanceAccuracy(a) => format!("baseline  chance accuracy {:.2}%", 100.0 * a),
        Baseline::MemorylessLoss(l) => format!(
            "baseline  memoryless loss {l:.4} nats per step: the held-out loss is {:.3} of it",
            test_loss / l
        ),
        Baseline::UnigramEntropyBits(bits) => format!(
            "baseline  unigram entropy {bits:.3} bits per character; held-out {:.3} bits per character",
            test_loss / std::f64::consts::LN_2
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradscope::analysis::diagnose::{Evidence, FindingKind, Severity};

    #[test]
    fn counts_print_as_integers_and_ratios_in_scientific_notation() {
        let evidence = |name: &str, value: f64| Evidence {
            name: name.into(),
            value,
            note: "n".into(),
        };
        let f = Finding {
            kind: FindingKind::VanishingGradient,
            severity: Severity::Critical,
            summary: "s".into(),
            layers: vec![0],
            steps: vec![0],
            evidence: vec![
                evidence("layers_below_floor", 13.0),
                evidence("first_last_ratio", 3.085e-17),
            ],
            remedies: Vec::new(),
        };
        let text = render_findings(&[f]);
        assert!(text.contains("layers_below_floor = 13 (n)"), "{text}");
        assert!(text.contains("first_last_ratio = 3.085e-17 (n)"), "{text}");
    }
}
