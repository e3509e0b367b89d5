//! `gradscope sweep SPEC`: run (or resume) a sweep on `--jobs` worker
//! threads, with a progress bar over runs and counts per class, then a
//! table: counts per class and each run's cell, class and held-out
//! accuracy. The engine is [`gradscope::experiment::sweep::engine`].
//! `--shard I/N` runs one of N disjoint parts; `--emit slurm` prints a
//! Slurm job-array script that runs the parts and merges them.

use super::output::{printable, Output};
use clap::Args;
use gradscope::experiment::sweep::engine::{run_sweep, Shard, SweepEvent};
use gradscope::experiment::sweep::slurm::{slurm_script, SlurmJob};
use gradscope::experiment::sweep::{Class, SweepSpec};
use gradscope::store::SweepRunRow;
use gradscope::tensor::default_threads;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Arguments of `gradscope sweep`.
#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Sweep spec (TOML): a run spec plus a `[sweep]` table (docs/SPEC.md).
    pub spec: PathBuf,
    /// Runs at once, each on one thread (default: the machine's cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only part I of N disjoint parts (the runs whose position in
    /// the sweep is I modulo N), e.g. `--shard 0/4`; merge the parts'
    /// stores with `gradscope merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Print a script that runs the sweep elsewhere, instead of running
    /// it: `slurm`, a job array of `--tasks` shards and a merge into `--db`.
    #[arg(long, value_name = "KIND", value_parser = ["slurm"])]
    pub emit: Option<String>,
    /// Array tasks (shards) of `--emit slurm` (default: one per run).
    #[arg(long, requires = "emit")]
    pub tasks: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Prints the Slurm script of `sweep` (`--emit slurm`).
fn emit_slurm(args: &SweepArgs, sweep: &SweepSpec, db: &Path) -> anyhow::Result<()> {
    let runs = sweep.runs()?.len();
    let absolute = |p: &Path| -> anyhow::Result<PathBuf> { Ok(std::env::current_dir()?.join(p)) };
    let spec = std::fs::canonicalize(&args.spec)?;
    let db = absolute(db)?;
    let gradscope = std::env::current_exe()?;
    print!(
        "{}",
        slurm_script(&SlurmJob {
            name: &sweep.name,
            runs,
            tasks: args.tasks.unwrap_or(runs).max(1),
            gradscope: &gradscope,
            spec: &spec,
            db: &db,
        })
    );
    Ok(())
}

/// Runs `gradscope sweep`.
pub fn run(args: SweepArgs, db: &Path) -> anyhow::Result<()> {
    let sweep = SweepSpec::load(&args.spec)?;
    if args.emit.is_some() {
        return emit_slurm(&args, &sweep, db);
    }
    let shard = args.shard.unwrap_or(Shard::ALL);
    let output = Output::detect(args.quiet);
    let jobs = args.jobs.unwrap_or_else(default_threads).max(1);
    let bar = output.progress_bar("{prefix} [{bar:30}] {pos}/{len} runs {msg} ({eta})");
    bar.set_prefix(printable(&sweep.name).into_owned());
    let mut counts: BTreeMap<Class, usize> = BTreeMap::new();
    let mut observe = |event: &SweepEvent<'_>| match event {
        SweepEvent::Planned {
            sweep_id,
            total,
            done,
            removed,
        } => {
            for c in done {
                *counts.entry(c.class).or_default() += 1;
            }
            bar.set_length(*total as u64);
            bar.set_position(done.len() as u64);
            bar.set_message(class_counts(&counts));
            let resumed = if done.is_empty() && *removed == 0 {
                String::new()
            } else {
                format!(
                    ", resumed: {} done, {removed} unfinished run again",
                    done.len()
                )
            };
            bar.suspend(|| {
                let part = if shard == Shard::ALL {
                    String::new()
                } else {
                    format!(" (shard {}/{})", shard.index, shard.count)
                };
                eprintln!(
                    "sweep {sweep_id} `{}`{part}: {total} runs on {jobs} jobs{resumed}",
                    printable(&sweep.name)
                )
            });
        }
        SweepEvent::Ended {
            run,
            classification,
            error,
            ..
        } => {
            if let Some(c) = classification {
                *counts.entry(c.class).or_default() += 1;
            } else if let Some(e) = error {
                bar.println(printable(&format!("{}: failed: {e}", run.name)));
            }
            bar.inc(1);
            bar.set_message(class_counts(&counts));
        }
    };
    let outcome = run_sweep(&sweep, db, jobs, shard, &mut observe)?;
    bar.finish_and_clear();
    eprintln!(
        "sweep {} recorded in {} ({} run now, {} already done)",
        outcome.sweep_id,
        db.display(),
        outcome.ran,
        outcome.skipped
    );
    print_class_counts(&outcome.runs);
    println!();
    print_sweep_runs(&outcome.runs, &sweep.name);
    let id = outcome.sweep_id.to_string();
    println!(
        "`{}` lists them again",
        super::program::command(&["runs", "--sweep", &id], db)
    );
    Ok(())
}

/// `trains 3, vanishes 1`: the non-zero counts, in [`Class::ALL`] order.
fn class_counts(counts: &BTreeMap<Class, usize>) -> String {
    Class::ALL
        .iter()
        .filter_map(|c| counts.get(c).map(|n| format!("{c} {n}")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table of runs per class (every class, and unclassified runs).
pub fn print_class_counts(runs: &[SweepRunRow]) {
    println!("{:<14} {:>5}", "class", "runs");
    for class in Class::ALL {
        let n = runs
            .iter()
            .filter(|r| r.classification.as_ref().is_some_and(|c| c.class == class))
            .count();
        println!("{:<14} {n:>5}", class.name());
    }
    let none = runs.iter().filter(|r| r.classification.is_none()).count();
    if none > 0 {
        println!("{:<14} {none:>5}", "unclassified");
    }
}

/// One line per run: id, cell and seed (the name after `<sweep>/`),
/// status, class, the rule that decided it, held-out accuracy.
pub fn print_sweep_runs(runs: &[SweepRunRow], sweep: &str) {
    let prefix = format!("{sweep}/");
    let width = runs
        .iter()
        .map(|r| r.name.trim_start_matches(&prefix).chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:>4}  {:<width$}  {:<11} {:<9} {:<20} {:>9}",
        "id", "cell", "status", "class", "rule", "held-out"
    );
    for r in runs {
        let (class, rule, acc) = match &r.classification {
            Some(c) => (
                c.class.name(),
                c.rule.as_str(),
                c.test_accuracy
                    .map_or("-".into(), |a| format!("{:.2}%", 100.0 * a)),
            ),
            None => ("-", "-", "-".to_string()),
        };
        println!(
            "{:>4}  {:<width$}  {:<11} {:<9} {:<20} {:>9}",
            r.id,
            printable(r.name.trim_start_matches(&prefix)),
            r.status.name(),
            class,
            rule,
            acc
        );
    }
}
