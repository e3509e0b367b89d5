//! `gradscope demo`: the vanishing gradient problem and two remedies, on the
//! bundled MNIST digits, in about a minute.
//!
//! Three MLPs of 20 hidden layers of width 100, trained the same way (SGD with
//! momentum 0.9, lr 0.01, batch 64): sigmoid with Glorot & Bengio's
//! "standard" init (the problem), ReLU with He init (remedy 1), and the
//! same sigmoid net with BatchNorm before each activation (remedy 2).
//! `--rnn` runs the recurrent demo instead ([`super::demo_rnn`]).

use super::compute::ComputeArgs;
use super::output::Output;
use super::record::run_recorded;
use super::render::{render_findings, summary_json};
use super::report::write_report;
use clap::Args;
use gradscope::experiment::trainer::Summary;
use gradscope::experiment::Spec;
use gradscope::nn::{Activation, Norm};
use gradscope::optim::OptimizerName;
use gradscope::tensor::{FanMode, Init};
use std::path::{Path, PathBuf};

/// Arguments of `gradscope demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// The vanishing gradient through time instead: a vanilla RNN and an
    /// LSTM on the adding problem (about half a minute).
    #[arg(long)]
    pub rnn: bool,
    /// Steps per run (default 3000; 1200 with --rnn).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Seed of every run (default 0; 1 with --rnn).
    #[arg(long)]
    pub seed: Option<u64>,
    /// `--threads`, `--simd`.
    #[command(flatten)]
    pub compute: ComputeArgs,
    /// Do not record the runs in the store.
    #[arg(long)]
    pub no_record: bool,
    /// Where to write the HTML report of the runs (default
    /// demo-report.html; demo-rnn-report.html with --rnn).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Print JSON lines (one per run) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The three runs of the demo.
pub fn demo_specs(steps: usize, seed: u64) -> Vec<Spec> {
    let base = |name: &str, activation: Activation, init: Init, norm: Norm| {
        let mut s = Spec {
            name: name.into(),
            seed,
            steps,
            batch: 64,
            eval_every: (steps / 10).max(1),
            ..Spec::default()
        };
        s.model.widths = vec![100; 20];
        s.model.activation = activation;
        s.model.init = init;
        s.model.norm = norm;
        s.optimizer.rule = OptimizerName::Momentum.config();
        s.optimizer.lr = 0.01;
        s
    };
    let he = Init::HeNormal {
        mode: FanMode::FanIn,
        slope: None,
    };
    vec![
        base("sigmoid", Activation::Sigmoid, Init::Standard, Norm::None),
        base("relu+he", Activation::Relu, he, Norm::None),
        base(
            "sigmoid+bn",
            Activation::Sigmoid,
            Init::Standard,
            Norm::Batch,
        ),
    ]
}

/// Runs `gradscope demo`.
pub fn run(args: DemoArgs, db: &Path) -> anyhow::Result<()> {
    let output = Output::detect(args.quiet || args.json);
    let compute = args.compute.resolve()?;
    if args.rnn {
        let specs = super::demo_rnn::rnn_specs(args.steps, args.seed)?;
        let report = args
            .report
            .unwrap_or_else(|| PathBuf::from("demo-rnn-report.html"));
        super::report::check_report_file(&report)?;
        let db = (!args.no_record).then_some(db);
        return super::demo_rnn::run(&specs, output, db, compute, args.json, &report);
    }
    let steps = args.steps.unwrap_or(3000);
    let report = args
        .report
        .unwrap_or_else(|| PathBuf::from("demo-report.html"));
    // Checked before training: it used to fail only after the three runs.
    super::report::check_report_file(&report)?;
    let specs = demo_specs(steps, args.seed.unwrap_or(0));
    let data = specs[0].prepare_data()?;
    if !args.json {
        eprintln!(
            "gradscope demo: three MLPs of 20 hidden layers (width 100) and an output layer, layers 0-20, on {} bundled MNIST digits, {} held out; {} steps each",
            data.train_len(),
            data.test_len(),
            steps
        );
    }
    let db = (!args.no_record).then_some(db);
    let mut rows = Vec::new();
    let mut recorded = Vec::new();
    for spec in &specs {
        let outcome = run_recorded(spec, &data, output, db, compute)?;
        let summary = outcome.result?;
        if args.json {
            let mut v = summary_json(spec, &summary);
            v["run"] = serde_json::json!(outcome.run_id);
            v["findings"] = serde_json::to_value(&outcome.findings)?;
            println!("{v}");
        }
        rows.push((spec.name.clone(), summary, outcome.run_id));
        recorded.push((outcome.record, outcome.findings));
    }
    if !args.json {
        print_table(output, &rows);
        for ((name, _, id), (_, findings)) in rows.iter().zip(&recorded) {
            let id = id.map(|i| format!(" (run {i})")).unwrap_or_default();
            if findings.is_empty() {
                println!("\n{name}{id}: no findings");
            } else {
                println!("\n{name}{id}:");
                print!("{}", render_findings(findings));
            }
        }
    }
    write_report(&recorded, &report, None)?;
    if args.json {
        eprintln!("report: {}", report.display());
    } else {
        println!("\nreport: {}", report.display());
    }
    Ok(())
}

fn print_table(output: Output, rows: &[(String, Summary, Option<i64>)]) {
    println!(
        "{}",
        output.bold(&format!(
            "{:<12} {:>10} {:>20}  {}",
            "run", "held-out", "grad first/last", "what it shows"
        ))
    );
    for (name, s, _) in rows {
        println!(
            "{:<12} {:>9.1}% {:>20}  {}",
            name,
            100.0 * s.test_accuracy,
            format!("{:.2e}", s.first_last_ratio()),
            sentence(name, s)
        );
    }
}

/// One sentence on what a run shows, from its figures.
pub fn sentence(name: &str, s: &Summary) -> String {
    let ratio = s.first_last_ratio();
    let chance = s.test_accuracy < 0.2;
    let vanishes = ratio < 1e-3;
    match (vanishes, chance) {
        (true, true) => format!(
            "the first layer gets {ratio:.0e} of the last layer's gradient: it vanishes, and {name} stays at chance"
        ),
        (true, false) => format!(
            "the gradient still shrinks {:.0}x from last to first layer, yet it learns",
            1.0 / ratio
        ),
        (false, false) => format!(
            "the gradient reaches the first layer ({ratio:.2} of the last's) and the net learns"
        ),
        (false, true) => {
            "the gradient reaches the first layer, but the net has not learned yet".to_string()
        }
    }
}
