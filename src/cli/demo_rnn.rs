//! `gradscope demo --rnn`: the vanishing gradient through time, on the
//! adding problem (Hochreiter & Schmidhuber 1997, T = 50), in about half a
//! minute: a vanilla RNN and an LSTM, the specs of
//! `examples/adding-rnn.toml` and `examples/adding-lstm.toml` (compiled
//! in), side by side in one report.

use super::output::Output;
use super::record::run_recorded;
use super::render::{render_findings, summary_json};
use super::report::write_report;
use gradscope::data::sequence::adding::MEAN_PREDICTOR_MSE;
use gradscope::experiment::{RunRecord, Spec};
use gradscope::probe::Axis;
use std::path::Path;

/// The two specs, as in `examples/`.
const SPECS: [(&str, &str); 2] = [
    (
        "examples/adding-rnn.toml",
        include_str!("../../examples/adding-rnn.toml"),
    ),
    (
        "examples/adding-lstm.toml",
        include_str!("../../examples/adding-lstm.toml"),
    ),
];

/// The demo's runs, with `steps` and `seed` when given.
pub fn rnn_specs(steps: Option<usize>, seed: Option<u64>) -> anyhow::Result<Vec<Spec>> {
    SPECS
        .iter()
        .map(|(origin, text)| {
            let mut spec = Spec::from_toml(text, origin)?;
            spec.steps = steps.unwrap_or(spec.steps);
            spec.seed = seed.unwrap_or(spec.seed);
            Ok(spec)
        })
        .collect()
}

/// `||dL/dh_1|| / ||dL/dh_T||` of the first recurrent layer at the last
/// probed step.
fn through_time(record: &RunRecord) -> f64 {
    let series = record
        .probes
        .iter()
        .rev()
        .find_map(|p| p.layers.first()?.series("hidden_grad", Axis::TimeStep));
    match series.map(|s| (s.first(), s.last())) {
        Some((Some(first), Some(last))) if last.l2() > 0.0 => first.l2() / last.l2(),
        _ => f64::NAN,
    }
}

/// Runs the RNN demo: trains, prints the table and findings, writes the
/// report to `report`.
#[allow(clippy::too_many_arguments)]
pub fn run(
    specs: &[Spec],
    output: Output,
    db: Option<&Path>,
    compute: gradscope::tensor::Compute,
    json: bool,
    report: &Path,
) -> anyhow::Result<()> {
    let data = specs[0].prepare_data()?;
    if !json {
        eprintln!(
            "gradscope demo --rnn: a vanilla RNN and an LSTM of 64 units on the adding problem \
             (T = 50; mean-predictor MSE 19/480 = {MEAN_PREDICTOR_MSE:.4}), {} training sequences, \
             {} held out; {} steps each",
            data.train_len(),
            data.test_len(),
            specs[0].steps
        );
    }
    let mut recorded = Vec::new();
    for spec in specs {
        let outcome = run_recorded(spec, &data, output, db, compute)?;
        let summary = outcome.result?;
        if json {
            let mut v = summary_json(spec, &summary);
            v["run"] = serde_json::json!(outcome.run_id);
            v["first_last_through_time"] = serde_json::json!(through_time(&outcome.record));
            v["findings"] = serde_json::to_value(&outcome.findings)?;
            println!("{v}");
        }
        recorded.push((outcome.record, outcome.findings, summary.test_loss));
    }
    if !json {
        println!(
            "{}",
            output.bold(&format!(
                "{:<12} {:>12} {:>16} {:>20}  {}",
                "run", "held-out MSE", "of mean predictor", "grad step 1/step T", "what it shows"
            ))
        );
        for (record, _, mse) in &recorded {
            let ratio = through_time(record);
            let learns = *mse < 0.1 * MEAN_PREDICTOR_MSE;
            let sentence = match (ratio < 1e-6, learns) {
                (true, false) => "the first steps get almost none of the gradient: it vanishes through time, and the net predicts the mean",
                (_, true) => "the gradient crosses the sequence and the net learns the sum",
                (false, false) => "the gradient reaches the first steps, but the net has not learned yet",
            };
            println!(
                "{:<12} {:>12.4} {:>16.3} {:>20}  {sentence}",
                record.spec.name,
                mse,
                mse / MEAN_PREDICTOR_MSE,
                format!("{ratio:.2e}"),
            );
        }
        for (record, findings, _) in &recorded {
            let id = record.id.map(|i| format!(" (run {i})")).unwrap_or_default();
            if findings.is_empty() {
                println!("\n{}{id}: no findings", record.spec.name);
            } else {
                println!("\n{}{id}:", record.spec.name);
                print!("{}", render_findings(findings));
            }
        }
    }
    let pairs: Vec<_> = recorded.into_iter().map(|(r, f, _)| (r, f)).collect();
    write_report(&pairs, report, None)?;
    if json {
        eprintln!("report: {}", report.display());
    } else {
        println!("\nreport: {}", report.display());
    }
    Ok(())
}
