//! `gradscope merge OUT.db IN.db...`: the runs of several stores (a
//! sweep's shards, run apart) in one. Idempotent: merging a store twice
//! changes nothing ([`gradscope::store::Store::merge_from`]).

use clap::Args;
use gradscope::store::Store;
use std::path::PathBuf;

/// Arguments of `gradscope merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The store to merge into (created if missing).
    pub out: PathBuf,
    /// The stores to merge from.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

/// Runs `gradscope merge`.
pub fn run(args: MergeArgs) -> anyhow::Result<()> {
    for input in &args.inputs {
        if !input.exists() {
            anyhow::bail!("{}: no such store", input.display());
        }
    }
    let mut out = Store::open(&args.out)?;
    for input in &args.inputs {
        let m = out.merge_from(input)?;
        eprintln!(
            "{}: {} runs merged, {} already there or unfinished{}",
            input.display(),
            m.runs,
            m.skipped,
            if m.replaced > 0 {
                format!(", {} unfinished replaced", m.replaced)
            } else {
                String::new()
            }
        );
    }
    println!("{}", args.out.display());
    Ok(())
}
