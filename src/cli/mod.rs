//! Command-line interface: clap commands, resolved settings, terminal
//! output. Data goes to stdout; logs, progress and errors to stderr.

mod bench;

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
}

/// Runs the command line; returns the process exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
