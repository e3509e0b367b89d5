//! `gradscope rm` and `gradscope gc`: remove runs, and give the space they
//! took back to the disk.

use super::record::{open_existing, resolve_run};
use clap::Args;
use std::path::Path;

/// Arguments of `gradscope rm`.
#[derive(Args, Debug)]
pub struct RmArgs {
    /// Runs to remove: ids, ranges (`3-7`) or `last`. Their steps, probes,
    /// histograms and findings go with them.
    #[arg(required = true, value_name = "RUN")]
    pub runs: Vec<String>,
}

/// Arguments of `gradscope gc`.
#[derive(Args, Debug)]
pub struct GcArgs {}

/// Runs `gradscope rm`.
pub fn rm(args: RmArgs, db: &Path) -> anyhow::Result<()> {
    let mut store = open_existing(db)?;
    let mut ids = Vec::new();
    for run in &args.runs {
        ids.extend(run_ids(&store, run)?);
    }
    ids.sort_unstable();
    ids.dedup();
    let sizes = store.run_sizes()?;
    let freed: u64 = ids.iter().filter_map(|id| sizes.get(id)).sum();
    let removed = store.remove_runs(&ids)?;
    println!(
        "removed {removed} run{} ({} of {}); `{}` gives the space back to the disk",
        if removed == 1 { "" } else { "s" },
        bytes(freed),
        db.display(),
        super::program::command(&["gc"], db)
    );
    Ok(())
}

/// Runs `gradscope gc`.
pub fn gc(_args: GcArgs, db: &Path) -> anyhow::Result<()> {
    let store = open_existing(db)?;
    let c = store.compact()?;
    println!(
        "{}: {} -> {} ({} given back)",
        db.display(),
        bytes(c.before),
        bytes(c.after),
        bytes(c.before.saturating_sub(c.after))
    );
    Ok(())
}

/// The ids `run` names: an id, `last`, or a range `a-b` (both ends in;
/// the runs of the store in it, gaps left by earlier removals skipped).
pub(super) fn run_ids(store: &gradscope::store::Store, run: &str) -> anyhow::Result<Vec<i64>> {
    if let Some((a, b)) = run.split_once('-') {
        let (a, b) = (resolve_run(store, a)?, resolve_run(store, b)?);
        anyhow::ensure!(
            a <= b,
            "`{run}`: a range goes from the lower id to the higher"
        );
        let ids: Vec<i64> = store
            .runs()?
            .iter()
            .map(|r| r.id)
            .filter(|id| (a..=b).contains(id))
            .collect();
        anyhow::ensure!(
            !ids.is_empty(),
            "no runs in {a}-{b} in {}",
            store.path().display()
        );
        return Ok(ids);
    }
    Ok(vec![resolve_run(store, run)?])
}

/// `bytes` for people: `812 B`, `4.1 kB`, `29.8 MB`, `1.20 GB` (powers of
/// 1000, as `ls -h --si` and disk makers count).
pub fn bytes(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n < 1e3 => format!("{n} B"),
        n if n < 1e6 => format!("{:.1} kB", n / 1e3),
        n if n < 1e9 => format!("{:.1} MB", n / 1e6),
        n => format!("{:.2} GB", n / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_powers_of_a_thousand() {
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(4_140), "4.1 kB");
        assert_eq!(bytes(29_831_168), "29.8 MB");
        assert_eq!(bytes(1_203_000_000), "1.20 GB");
    }
}
