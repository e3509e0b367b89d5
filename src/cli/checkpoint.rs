//! `gradscope checkpoint inspect FILE`: what a checkpoint (or any
//! safetensors file) holds: the step and a summary of the spec from its
//! metadata, then every tensor's name, shape, dtype and statistics
//! (mean, standard deviation, min, max, L2 norm) on stdout.

use super::output::printable;
use clap::{Args, Subcommand};
use gradscope::checkpoint::{Checkpoint, Tensor};
use gradscope::experiment::Spec;
use std::path::PathBuf;

/// Arguments of `gradscope checkpoint`.
#[derive(Args, Debug)]
pub struct CheckpointArgs {
    #[command(subcommand)]
    command: CheckpointCommand,
}

#[derive(Subcommand, Debug)]
enum CheckpointCommand {
    /// Print a checkpoint's step, spec summary, and every tensor's name, shape, dtype and statistics.
    Inspect {
        /// The safetensors file.
        file: PathBuf,
    },
}

/// Runs `gradscope checkpoint`.
pub fn run(args: CheckpointArgs) -> anyhow::Result<()> {
    match args.command {
        CheckpointCommand::Inspect { file } => inspect(&file),
    }
}

fn inspect(file: &std::path::Path) -> anyhow::Result<()> {
    let c = Checkpoint::read(file)?;
    println!("{}", printable(&file.display().to_string()));
    let meta = |k: &str| c.metadata.get(k).map(|v| printable(v).into_owned());
    match (meta("step"), meta("total_steps")) {
        (Some(step), Some(total)) => println!("  after step {step} of {total}"),
        _ => println!("  no gradscope metadata (a file written elsewhere)"),
    }
    for key in [
        "run_id",
        "dtype",
        "compute.threads",
        "compute.simd",
        "gradscope_version",
    ] {
        if let Some(v) = meta(key) {
            println!("  {key}: {v}");
        }
    }
    if let Some(spec) = c.metadata.get("spec") {
        match Spec::from_toml(spec, "metadata `spec`") {
            Ok(s) => println!(
                "  spec: `{}`, {} on {}, {} steps, batch {}, optimizer {}, seed {}",
                printable(&s.name),
                s.model.kind,
                printable(&s.data.name),
                s.steps,
                s.batch,
                serde_json::to_value(s.optimizer_config())
                    .ok()
                    .and_then(|v| v["name"].as_str().map(String::from))
                    .unwrap_or_default(),
                s.seed
            ),
            Err(e) => println!("  spec: unreadable ({})", printable(&e.to_string())),
        }
    }
    let others: Vec<&String> = c
        .metadata
        .keys()
        .filter(|k| {
            let shown = [
                "spec",
                "step",
                "total_steps",
                "run_id",
                "dtype",
                "gradscope_version",
            ];
            !shown.contains(&k.as_str()) && !k.starts_with("compute.")
        })
        .collect();
    println!(
        "  other metadata: {}",
        printable(
            &others
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    );
    println!(
        "{} tensors\n{:<44} {:<14} {:<5} {:>11} {:>11} {:>11} {:>11} {:>11}",
        c.tensors.len(),
        "name",
        "shape",
        "dtype",
        "mean",
        "std",
        "min",
        "max",
        "l2"
    );
    for (name, t) in &c.tensors {
        let shape = format!("{:?}", t.shape);
        print!(
            "{:<44} {:<14} {:<5}",
            printable(name),
            shape,
            printable(t.dtype())
        );
        match stats(t) {
            Some([mean, std, min, max, l2]) => {
                println!(" {mean:>11.4e} {std:>11.4e} {min:>11.4e} {max:>11.4e} {l2:>11.4e}")
            }
            None => println!(),
        }
    }
    Ok(())
}

/// Mean, standard deviation, min, max and L2 norm of a tensor's elements
/// (`None` for a dtype gradscope does not read, or no elements).
fn stats(t: &Tensor) -> Option<[f64; 5]> {
    let values = match &t.data {
        gradscope::checkpoint::TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
        _ => t.floats()?,
    };
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let sum: f64 = values.iter().sum();
    let sq: f64 = values.iter().map(|v| v * v).sum();
    let mean = sum / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    Some([mean, var.sqrt(), min, max, sq.sqrt()])
}
