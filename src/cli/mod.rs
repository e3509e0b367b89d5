//! Command-line interface: clap commands, resolved settings, terminal
//! output. Data goes to stdout; logs, progress and errors to stderr.

mod bench;
mod data;
mod demo;
mod output;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// gradscope: a laboratory for gradient flow in deep networks.
#[derive(Parser)]
#[command(name = "gradscope", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure training speed (steps/s, GFLOP/s, % of FMA peak, ratio to PyTorch).
    Bench(bench::BenchArgs),
    /// Fetch canonical data sets (MNIST, Fashion-MNIST) into the cache.
    Data(data::DataArgs),
    /// Train three 20-layer nets on bundled MNIST: the vanishing gradient and two remedies.
    Demo(demo::DemoArgs),
    /// Train one network from a spec file and/or flags.
    Train(Box<train::TrainArgs>),
}

/// Runs the command line; returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(args),
        Command::Data(args) => data::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Train(args) => train::run(*args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if let Some(hint) = hint_for(&err) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(1)
        }
    }
}

/// Wraps a library error for the terminal.
pub fn with_hint(err: gradscope::Error) -> anyhow::Error {
    anyhow::Error::new(err)
}

/// A hint for the errors people can act on.
fn hint_for(err: &anyhow::Error) -> Option<&'static str> {
    use gradscope::Error;
    let lib = err.chain().find_map(|e| e.downcast_ref::<Error>())?;
    Some(match lib {
        Error::NonFinite { .. } => {
            "the run diverged: lower --lr, add --clip-norm 1.0, or try --norm batch"
        }
        Error::Spec { .. } => "every key and its default is listed in docs/SPEC.md",
        Error::UnknownName { .. } => "see `gradscope train --help` for the accepted names",
        Error::BadData { .. } => {
            "IDX files can be fetched with `gradscope data fetch mnist`, or use the bundled set (--data mnist)"
        }
        _ => return None,
    })
}
