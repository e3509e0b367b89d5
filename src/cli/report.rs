//! `gradscope report RUN... [-o report.html] [--png DIR]`: one
//! self-contained HTML file (inline SVG, no network), and PNG figures;
//! `gradscope report --sweep ID|NAME`: a sweep's trainability map
//! ([`super::report_sweep`]).

use super::record::{open_to_read, resolve_run};
use clap::Args;
use gradscope::analysis::diagnose::{compare, diagnose, Finding};
use gradscope::experiment::RunRecord;
use gradscope::report::{figures, render_html, write_pngs, ReportRun};
use std::path::{Path, PathBuf};

/// Arguments of `gradscope report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Run ids (see `gradscope runs`), or `last`; several make a comparison.
    #[arg(required_unless_present = "sweep", conflicts_with = "sweep")]
    pub runs: Vec<String>,
    /// A sweep's page instead (its id or name, see `gradscope runs`): the
    /// trainability map, every run in parallel coordinates, the runs.
    #[arg(long, value_name = "ID|NAME")]
    pub sweep: Option<String>,
    /// The sweep axis (spec key) along the map's x (default: its second).
    #[arg(long, requires = "sweep", value_name = "KEY")]
    pub x: Option<String>,
    /// The sweep axis along y (default: its first).
    #[arg(long, requires = "sweep", value_name = "KEY")]
    pub y: Option<String>,
    /// The sweep axis whose values become small multiples (default: its
    /// third, if any).
    #[arg(long, requires = "sweep", value_name = "KEY")]
    pub facet: Option<String>,
    /// The HTML file to write (`-`: standard output).
    #[arg(short, long, default_value = "report.html")]
    pub output: PathBuf,
    /// Also write every figure as PNG into this folder (created if
    /// absent).
    #[arg(long)]
    pub png: Option<PathBuf>,
}

/// Runs `gradscope report`.
pub fn run(args: ReportArgs, db: &Path) -> anyhow::Result<()> {
    // Before any work: a file where the PNG folder should be used to fail
    // with "File exists" after the HTML was written.
    if let Some(dir) = &args.png {
        check_png_folder(dir)?;
    }
    check_output_file(&args.output)?;
    if let Some(key) = &args.sweep {
        let choice = super::report_sweep::MapChoice {
            x: args.x.as_deref(),
            y: args.y.as_deref(),
            facet: args.facet.as_deref(),
        };
        let output = if args.output == Path::new("report.html") {
            PathBuf::from("sweep-report.html")
        } else {
            args.output.clone()
        };
        return super::report_sweep::run(key, &choice, &output, args.png.as_deref(), db);
    }
    let store = open_to_read(db)?;
    let mut loaded = Vec::new();
    for r in &args.runs {
        let id = resolve_run(&store, r)?;
        let record = store.load(id)?;
        let findings = diagnose(&record);
        loaded.push((record, findings));
    }
    // What only the comparison shows (a deeper plain net that trains
    // worse), added to the run it is about.
    let records: Vec<&RunRecord> = loaded.iter().map(|(r, _)| r).collect();
    for (i, finding) in compare(&records) {
        loaded[i].1.push(finding);
    }
    write_report(&loaded, &args.output, args.png.as_deref())?;
    if !is_stdout(&args.output) {
        println!("{}", args.output.display());
    }
    Ok(())
}

/// Whether `path` names standard output (`-`).
pub fn is_stdout(path: &Path) -> bool {
    path == Path::new("-")
}

/// Writes `html` to `path`, or to standard output for `-`.
pub fn write_html(path: &Path, html: &str) -> anyhow::Result<()> {
    if is_stdout(path) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        return out
            .write_all(html.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| anyhow::anyhow!("standard output: {e}"));
    }
    std::fs::write(path, html).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Refuses, before any work, an HTML path that cannot be written: a
/// folder, or a file in a folder that does not exist (`-` is stdout).
pub fn check_output_file(path: &Path) -> anyhow::Result<()> {
    if is_stdout(path) {
        return Ok(());
    }
    if path.is_dir() {
        anyhow::bail!(
            "{}: is a folder (give the HTML file to write)",
            path.display()
        );
    }
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            anyhow::bail!("{}: no folder {}", path.display(), dir.display())
        }
        _ => Ok(()),
    }
}

/// [`check_output_file`] for a command that prints its own results on
/// stdout (`demo`): `-` is refused too.
pub fn check_report_file(path: &Path) -> anyhow::Result<()> {
    if is_stdout(path) {
        anyhow::bail!("--report -: the demo prints its table on standard output; give a file");
    }
    check_output_file(path)
}

/// Refuses a `--png` path that exists and is not a folder.
pub fn check_png_folder(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() && !dir.is_dir() {
        anyhow::bail!(
            "--png {}: not a folder (it names the folder the PNG figures go into)",
            dir.display()
        );
    }
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
    write_html(path, &render_html(&views))?;
    if let Some(dir) = png {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let written = write_pngs(&figures(&views), dir)?;
        eprintln!("{} PNG figures in {}", written.len(), dir.display());
    }
    Ok(())
}
