//! `gradscope report RUN... [-o report.html] [--png DIR]`: one
//! self-contained HTML file (inline SVG, no network), and PNG figures.

use super::record::{open_existing, resolve_run};
use clap::Args;
use gradscope::analysis::diagnose::{diagnose, Finding};
use gradscope::experiment::RunRecord;
use gradscope::report::{figures, render_html, write_pngs, ReportRun};
use std::path::{Path, PathBuf};

/// Arguments of `gradscope report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Run ids (see `gradscope runs`), or `last`; several make a comparison.
    #[arg(required = true)]
    pub runs: Vec<String>,
    /// The HTML file to write.
    #[arg(short, long, default_value = "report.html")]
    pub output: PathBuf,
    /// Also write every figure as PNG into this folder.
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// Runs `gradscope report`.
pub fn run(args: ReportArgs, db: &Path) -> anyhow::Result<()> {
    let store = open_existing(db)?;
    let mut loaded = Vec::new();
    for r in &args.runs {
        let id = resolve_run(&store, r)?;
        let record = store.load(id)?;
        let findings = diagnose(&record);
        loaded.push((record, findings));
    }
    write_report(&loaded, &args.output, args.png.as_deref())?;
    println!("{}", args.output.display());
    Ok(())
}

/// Writes the HTML report of `runs` to `path` and, given `png`, their
/// figures as PNG files there.
pub fn write_report(
    runs: &[(RunRecord, Vec<Finding>)],
    path: &Path,
    png: Option<&Path>,
) -> anyhow::Result<()> {
    let views: Vec<ReportRun<'_>> = runs
        .iter()
        .map(|(record, findings)| ReportRun { record, findings })
        .collect();
    std::fs::write(path, render_html(&views))
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if let Some(dir) = png {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let written = write_pngs(&figures(&views), dir)?;
        eprintln!("{} PNG figures in {}", written.len(), dir.display());
    }
    Ok(())
}
