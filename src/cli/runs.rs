//! `gradscope runs`: the runs in the store, with what each takes on disk;
//! `--sweep ID`: a sweep's runs, with their cells and classes.

use super::record::open_to_read;
use super::space::bytes;
use clap::Args;
use gradscope::experiment::sweep::SweepSpec;
use std::path::Path;

/// Arguments of `gradscope runs`.
#[derive(Args, Debug)]
pub struct RunsArgs {
    /// One JSON array instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Only the runs of this sweep (its id, or its name: the latest of
    /// that name), with their cells and classes.
    #[arg(long, value_name = "SWEEP")]
    pub sweep: Option<String>,
}

/// Runs `gradscope runs`.
pub fn run(args: RunsArgs, db: &Path) -> anyhow::Result<()> {
    let store = open_to_read(db)?;
    if let Some(key) = &args.sweep {
        let Some(sweep) = store.find_sweep(key)? else {
            anyhow::bail!("no sweep `{key}` in {}", db.display());
        };
        let mut runs = store.sweep_runs(sweep.id)?;
        // In the sweep's order (ids follow the order runs ended in).
        if let Ok(order) = SweepSpec::from_toml(&sweep.spec, "").and_then(|s| s.runs()) {
            let position = |name: &str| order.iter().position(|r| r.name == name);
            runs.sort_by_key(|r| position(&r.name).unwrap_or(usize::MAX));
        }
        if args.json {
            println!("{}", serde_json::to_string(&runs)?);
        } else {
            let name = super::output::printable(&sweep.name);
            println!("sweep {} `{name}`: {} runs", sweep.id, runs.len());
            super::sweep::print_sweep_runs(&runs, &sweep.name);
        }
        return Ok(());
    }
    let runs = store.runs()?;
    let sizes = store.run_sizes()?;
    let size = |id: i64| sizes.get(&id).copied().unwrap_or(0);
    if args.json {
        let rows: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r)?;
                v["bytes"] = size(r.id).into();
                Ok(v)
            })
            .collect::<serde_json::Result<_>>()?;
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    println!(
        "{:>4}  {:<20} {:<12} {:>11} {:>10} {:>9} {:>9}",
        "id", "name", "status", "steps", "loss", "held-out", "size"
    );
    for r in &runs {
        let opt = |v: Option<f64>, pct: bool| match v {
            Some(v) if pct => format!("{:.2}%", 100.0 * v),
            Some(v) => format!("{v:.4}"),
            None => "-".into(),
        };
        println!(
            "{:>4}  {:<20} {:<12} {:>11} {:>10} {:>9} {:>9}",
            r.id,
            truncate(&super::output::printable(&r.name), 20),
            r.status.name(),
            format!("{}/{}", r.steps, r.total_steps),
            opt(r.last_loss, false),
            opt(r.test_accuracy, true),
            bytes(size(r.id))
        );
    }
    if !runs.is_empty() {
        println!(
            "{} in all (`{}` removes runs)",
            bytes(store.file_bytes()),
            super::program::command(&["rm", "RUN"], db)
        );
    }
    Ok(())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}
