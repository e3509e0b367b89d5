//! `gradscope diagnose RUN`: the findings of a recorded run (computed anew
//! from its record and saved back).

use super::output::printable;
use super::record::{open_to_read, resolve_run};
use super::render::render_findings;
use clap::Args;
use gradscope::analysis::diagnose::diagnose;
use std::path::Path;

/// Arguments of `gradscope diagnose`.
#[derive(Args, Debug)]
pub struct DiagnoseArgs {
    /// Run id (see `gradscope runs`), or `last`.
    pub run: String,
    /// One JSON array of findings instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `gradscope diagnose`.
pub fn run(args: DiagnoseArgs, db: &Path) -> anyhow::Result<()> {
    let store = open_to_read(db)?;
    let id = resolve_run(&store, &args.run)?;
    let record = store.load(id)?;
    let findings = diagnose(&record);
    if !store.is_read_only() {
        store.save_findings(id, &findings)?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&findings)?);
    } else if findings.is_empty() {
        println!("run {id} `{}`: no findings", printable(&record.spec.name));
    } else {
        println!("run {id} `{}`:", printable(&record.spec.name));
        print!("{}", render_findings(&findings));
    }
    Ok(())
}
