//! The `gradscope` binary: parses arguments, runs the command, and maps
//! errors to exit codes (0 success, 1 the command failed, 2 bad usage).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
