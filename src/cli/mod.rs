//! Command-line interface: clap commands, resolved settings, terminal
//! output. Data goes to stdout; logs, progress and errors to stderr.

mod bench;
mod bench_cnn;
mod bench_recurrent;
mod bench_serve;
mod checkpoint;
mod compute;
mod data;
mod demo;
mod demo_rnn;
mod diagnose;
mod export;
mod inspect;
mod merge;
mod output;
mod program;
mod record;
mod render;
mod report;
mod report_sweep;
mod reproduce;
mod runs;
mod serve;
mod signals;
mod space;
mod spectrum;
mod sweep;
mod theory;
mod train;

/// The store's file when `--db` is not given.
pub const DEFAULT_DB: &str = "gradscope.db";

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// gradscope: a laboratory for gradient flow in deep networks.
#[derive(Parser)]
#[command(name = "gradscope", version, about, long_about = None)]
struct Cli {
    /// The run store (SQLite), one file per workspace.
    #[arg(long, global = true, default_value = DEFAULT_DB)]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure training speed (steps/s, GFLOP/s, % of FMA peak, ratio to PyTorch).
    Bench(bench::BenchArgs),
    /// What a checkpoint holds: `checkpoint inspect FILE` (step, spec, every tensor with statistics).
    Checkpoint(checkpoint::CheckpointArgs),
    /// Fetch canonical data sets (MNIST, Fashion-MNIST, CIFAR-10) into the cache.
    Data(data::DataArgs),
    /// The findings of a recorded run: what goes wrong, evidence, remedies to test.
    Diagnose(diagnose::DiagnoseArgs),
    /// Export runs: TensorBoard event files, or the probe table as CSV, JSON or Parquet.
    Export(export::ExportArgs),
    /// A recorded run in the terminal: per-layer depth profile, sparklines, findings.
    Inspect(inspect::InspectArgs),
    /// Write a self-contained HTML report (and PNG figures) of one or more runs.
    Report(report::ReportArgs),
    /// Re-run a classic result (Glorot 2010, Ioffe 2015, He 2015/2016, ...) with the paper's figures beside ours.
    Reproduce(reproduce::ReproduceArgs),
    /// List the recorded runs, with what each takes on disk.
    Runs(runs::RunsArgs),
    /// The dashboard: watch runs train in the browser (read-only HTTP server, loopback).
    Serve(serve::ServeArgs),
    /// Remove runs from the store (ids, ranges such as 3-7, or `last`).
    Rm(space::RmArgs),
    /// Give the space of removed runs back to the disk (VACUUM the store).
    Gc(space::GcArgs),
    /// Train three nets of 20 hidden layers on bundled MNIST: the vanishing gradient and two remedies (--rnn: RNN vs LSTM through time).
    Demo(demo::DemoArgs),
    /// Train one network from a spec file and/or flags.
    Train(Box<train::TrainArgs>),
    /// Run (or resume) a sweep: every run of a sweep spec, in parallel, each classified.
    Sweep(sweep::SweepArgs),
    /// Merge the runs of stores (a sweep's shards) into one; merging twice changes nothing.
    Merge(merge::MergeArgs),
    /// Mean-field theory at initialization: q*, chi_1, c*, depth scales, critical sigma_w^2.
    Theory(theory::TheoryArgs),
    /// Input-output Jacobian spectra at initialization against depth.
    Spectrum(spectrum::SpectrumArgs),
}

/// Runs the command line; returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(args),
        Command::Checkpoint(args) => checkpoint::run(args),
        Command::Data(args) => data::run(args),
        Command::Demo(args) => demo::run(args, &cli.db),
        Command::Diagnose(args) => diagnose::run(args, &cli.db),
        Command::Export(args) => export::run(args, &cli.db),
        Command::Inspect(args) => inspect::run(args, &cli.db),
        Command::Report(args) => report::run(args, &cli.db),
        Command::Reproduce(args) => reproduce::run(args, &cli.db),
        Command::Runs(args) => runs::run(args, &cli.db),
        Command::Serve(args) => serve::run(args, &cli.db),
        Command::Rm(args) => space::rm(args, &cli.db),
        Command::Gc(args) => space::gc(args, &cli.db),
        Command::Train(args) => train::run(*args, &cli.db),
        Command::Sweep(args) => sweep::run(args, &cli.db),
        Command::Merge(args) => merge::run(args),
        Command::Theory(args) => theory::run(args),
        Command::Spectrum(args) => spectrum::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if stopped(&err) => {
            // Not an error: the user asked. Where it stopped (and where
            // the run was recorded, `record` said).
            let output = output::Output::detect(true);
            let signal = match signals::exit_code() {
                143 => "SIGTERM",
                _ => "SIGINT",
            };
            eprintln!("{} ({signal})", output.bold_stderr(&message(&err)));
            ExitCode::from(signals::exit_code())
        }
        Err(err) => {
            let output = output::Output::detect(true);
            let message = program::runnable(&message(&err));
            eprintln!("{} {message}", output.bold_stderr("error:"));
            if let Some(hint) = hint_for(&err) {
                let hint = program::runnable(hint);
                eprintln!("{} {hint}", output.bold_stderr("hint:"));
            }
            ExitCode::from(1)
        }
    }
}

/// Whether `err` is training stopped by a signal (`Error::Stopped`).
fn stopped(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        matches!(
            e.downcast_ref::<gradscope::Error>(),
            Some(gradscope::Error::Stopped { .. })
        )
    })
}

/// `err` and its causes on one line, `a: b: c`, each cause left out when
/// the text so far already ends with it (an I/O error names its source
/// in its own message: `{err:#}` printed the OS error twice); control
/// characters from user text escaped ([`output::printable_lines`]).
fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    output::printable_lines(&out).into_owned()
}

/// A hint for the errors people can act on.
fn hint_for(err: &anyhow::Error) -> Option<&'static str> {
    use gradscope::Error;
    let lib = err.chain().find_map(|e| e.downcast_ref::<Error>())?;
    Some(match lib {
        // At the first step no update has run yet: the learning rate is
        // not the cause (it used to be blamed all the same).
        Error::NonFinite { step: 0, .. } => {
            "non-finite at the first step, before any update: the cause is the data or the \
             initial weights (--init), not the learning rate"
        }
        Error::NonFinite { .. } => {
            "the run diverged: lower --lr, add --clip-norm 1.0, or try --norm batch"
        }
        Error::Spec { .. } => {
            "every key and its default is listed by `gradscope train --help` (and in docs/SPEC.md)"
        }
        Error::UnknownName { .. } => "see `gradscope train --help` for the accepted names",
        Error::BadData { .. } => {
            "`gradscope data fetch mnist` (or `fashion`, `cifar10`) downloads a canonical set, \
             checksummed, and prints its folder: pass that folder with --data-dir or --eval-data; \
             without them, mnist and fashion train on their bundled 10,000 images"
        }
        Error::Offline { .. } => {
            "download the files by hand and pass their folder with `--data-dir`"
        }
        _ => return None,
    })
}
