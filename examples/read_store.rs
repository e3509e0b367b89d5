//! Reading a store back: list its runs, load one as a [`RunRecord`] and
//! print its depth profile (per layer, at the last probed step: weight
//! gradient norm, grad:data and update:data ratios, saturated and dead
//! fractions) and the findings saved with it.
//!
//! Run it: `cargo run --release --example read_store -- STORE [RUN]`
//! (`STORE` defaults to `gradscope.db`, the CLI's store; `RUN` to the
//! newest run). A store to read: `gradscope demo`, or
//! `cargo run --release --example train_and_diagnose -- runs.db`.

use gradscope::prelude::*;
use gradscope::store::RunRow;
use std::path::Path;

/// One layer's row of the depth profile.
pub struct ProfileRow {
    /// Its path (`layers.4`).
    pub path: String,
    /// `||dL/dW||`.
    pub weight_grad: f64,
    /// `std(dL/dW) / std(W)`.
    pub grad_data: f64,
    /// `std(dW) / std(W)` of the step's update.
    pub update_ratio: f64,
    /// Fraction of units on the activation's flat parts (NaN: none such).
    pub saturated: f64,
    /// Fraction of units inactive on the whole batch (NaN: none such).
    pub dead: f64,
}

/// What was read.
pub struct Read {
    /// Every run in the store, oldest first.
    pub runs: Vec<RunRow>,
    /// The run profiled, whole.
    pub record: RunRecord,
    /// Its depth profile at the last probed step, input side first.
    pub profile: Vec<ProfileRow>,
    /// The findings saved with it.
    pub findings: Vec<Finding>,
}

/// Reads run `run` (the newest when `None`) of the store at `db`.
pub fn read(db: &Path, run: Option<i64>) -> Result<Read> {
    let store = Store::open(db)?;
    let runs = store.runs()?;
    let id = match run.or_else(|| runs.last().map(|r| r.id)) {
        Some(id) => id,
        None => {
            return Err(Error::Store {
                path: db.to_path_buf(),
                reason: "the store holds no run".into(),
            })
        }
    };
    let record = store.load(id)?;
    let profile = record
        .probes
        .last()
        .map(|probe| probe.layers.iter().map(profile_row).collect())
        .unwrap_or_default();
    let findings = store.findings(id)?;
    Ok(Read {
        runs,
        record,
        profile,
        findings,
    })
}

fn profile_row(layer: &LayerProbe) -> ProfileRow {
    ProfileRow {
        path: layer.path.clone(),
        weight_grad: layer.weight_grad.l2(),
        grad_data: layer.grad_data_ratio(),
        update_ratio: layer.update_ratio,
        saturated: layer.saturated,
        dead: layer.dead,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let db = args.next().unwrap_or_else(|| "gradscope.db".into());
    let run = args.next().map(|r| r.parse::<i64>()).transpose()?;
    if !Path::new(&db).exists() {
        // `Store::open` would create an empty store; say what to do instead.
        eprintln!(
            "error: no store at {db}\nhint: make one with `gradscope demo` or \
             `cargo run --release --example train_and_diagnose -- {db}`"
        );
        std::process::exit(1);
    }
    let read = read(Path::new(&db), run)?;

    println!("{} runs in {db}:", read.runs.len());
    for r in &read.runs {
        println!(
            "  {:>3}  {:<28} {:<11} {} steps",
            r.id, r.name, r.status, r.steps
        );
    }
    let record = &read.record;
    let step = record.probes.last().map_or(0, |p| p.step);
    println!(
        "\nrun {} `{}`, depth profile at step {step}:",
        record.id.unwrap_or_default(),
        record.spec.name
    );
    println!(
        "  {:<10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "layer", "|dL/dW|", "grad:data", "update", "saturated", "dead"
    );
    for row in &read.profile {
        println!(
            "  {:<10} {:>10.3e} {:>10.3e} {:>10.3e} {:>10.3} {:>10.3}",
            row.path, row.weight_grad, row.grad_data, row.update_ratio, row.saturated, row.dead
        );
    }
    println!("\nfindings:");
    if read.findings.is_empty() {
        println!("  none");
    }
    for f in &read.findings {
        println!("  {}: {}", f.kind.name(), f.summary);
    }
    Ok(())
}
