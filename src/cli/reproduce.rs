//! `gradscope reproduce`: the classic results re-run
//! ([`gradscope::reproduce`]). `--list` names them with their run times;
//! `reproduce NAME` (or `all`) runs one or all, prints the paper's figures
//! beside ours and the checks, and writes each one's HTML page (and, with
//! `--png`, its figures; with `--markdown`, its tables for the docs).

use super::output::{printable, Output};
use super::report::{check_output_file, check_png_folder};
use clap::Args;
use gradscope::report::write_pngs;
use gradscope::reproduce::{self, Context, Mode, Outcome, Progress, Reproduction};
use gradscope::tensor::default_threads;
use std::path::{Path, PathBuf};

/// Arguments of `gradscope reproduce`.
#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// The reproduction (`gradscope reproduce --list` names them), or `all`.
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// List the reproductions with their run times, and run nothing.
    #[arg(long, conflicts_with = "name")]
    pub list: bool,
    /// The quick mode: minutes for all eight, the qualitative result only.
    #[arg(long)]
    pub quick: bool,
    /// Runs at once, each on one thread (default: the machine's cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// The HTML page to write (default reproduce-NAME.html, or
    /// reproduce-NAME-quick.html with --quick); with `all`, the folder
    /// the pages go into (made if missing).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Also write the figures as PNG into this folder.
    #[arg(long, value_name = "DIR")]
    pub png: Option<PathBuf>,
    /// Also write the setup, tables and checks as Markdown to this file
    /// (with `all`: appended one after the other).
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// Print the outcome as JSON instead of the tables (one object per
    /// line, one line per reproduction).
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs `gradscope reproduce`.
pub fn run(args: ReproduceArgs, db: &Path) -> anyhow::Result<()> {
    if args.list {
        print_list();
        return Ok(());
    }
    let name = args.name.as_deref().unwrap_or_default();
    let chosen: Vec<&Reproduction> = if name == "all" {
        reproduce::ALL.to_vec()
    } else {
        vec![reproduce::find(name).ok_or_else(|| {
            let names: Vec<&str> = reproduce::ALL.iter().map(|r| r.name).collect();
            anyhow::anyhow!(
                "no reproduction `{}` (there are: {}, or all)",
                printable(name),
                names.join(", ")
            )
        })?]
    };
    let mode = if args.quick { Mode::Quick } else { Mode::Full };
    for (flag, path) in [("--report", &args.report), ("--markdown", &args.markdown)] {
        if path.as_deref() == Some(Path::new("-")) {
            anyhow::bail!("{flag} -: the tables go to standard output already; give a file");
        }
    }
    if let (Some(dir), true) = (&args.report, chosen.len() > 1) {
        if dir.exists() && !dir.is_dir() {
            anyhow::bail!(
                "--report {}: not a folder (with `all` it names the folder the pages go into)",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    let reports: Vec<PathBuf> = chosen
        .iter()
        .map(|r| report_path(&args, r, mode, chosen.len() > 1))
        .collect();
    for r in &reports {
        check_output_file(r)?;
    }
    if let Some(dir) = &args.png {
        check_png_folder(dir)?;
    }
    if let Some(md) = &args.markdown {
        check_output_file(md)?;
        std::fs::write(md, "").map_err(|e| anyhow::anyhow!("{}: {e}", md.display()))?;
    }
    let output = Output::detect(args.quiet || args.json);
    let jobs = args.jobs.unwrap_or_else(default_threads).max(1);
    for (r, report) in chosen.iter().zip(&reports) {
        let outcome = run_one(r, mode, jobs, db, output)?;
        if args.json {
            println!("{}", serde_json::to_string(&outcome)?);
        } else {
            print!("{}", outcome.to_text());
        }
        write_outputs(&outcome, &args, report)?;
    }
    Ok(())
}

/// Runs one reproduction with a progress bar over each sweep's runs.
fn run_one(
    r: &Reproduction,
    mode: Mode,
    jobs: usize,
    db: &Path,
    output: Output,
) -> anyhow::Result<Outcome> {
    let bar = output.progress_bar("{prefix} [{bar:30}] {pos}/{len} runs ({eta})");
    let mut observe = |p: &Progress<'_>| match p {
        Progress::Sweep { name, total, done } => {
            bar.set_prefix(printable(name).into_owned());
            bar.set_length(*total as u64);
            bar.set_position(*done as u64);
            if *done > 0 {
                bar.println(format!(
                    "{}: {done} of {total} runs already in the store",
                    printable(name)
                ));
            }
        }
        Progress::RunEnded { name, error } => {
            if let Some(e) = error {
                bar.println(printable(&format!("{name}: {e}")));
            }
            bar.inc(1);
        }
        Progress::Measuring(what) => bar.println(printable(what)),
    };
    if output.progress {
        eprintln!(
            "reproduce {} ({} mode, about {} on 2 cores): {}",
            r.name,
            mode.name(),
            duration(match mode {
                Mode::Quick => r.quick_seconds,
                Mode::Full => r.full_seconds,
            }),
            r.shows
        );
    }
    let mut ctx = Context::new(mode, jobs, db.to_path_buf(), &mut observe);
    let outcome = r.reproduce(&mut ctx)?;
    bar.finish_and_clear();
    Ok(outcome)
}

/// The page, PNG figures and Markdown of `outcome`.
fn write_outputs(outcome: &Outcome, args: &ReproduceArgs, report: &Path) -> anyhow::Result<()> {
    let html = reproduce::render_page(outcome);
    std::fs::write(report, html).map_err(|e| anyhow::anyhow!("{}: {e}", report.display()))?;
    eprintln!("report: {}", report.display());
    if let Some(dir) = &args.png {
        let written = write_pngs(&outcome.figures, dir)?;
        eprintln!("{} figures in {}", written.len(), dir.display());
    }
    if let Some(md) = &args.markdown {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(md)
            .map_err(|e| anyhow::anyhow!("{}: {e}", md.display()))?;
        write!(
            f,
            "<!-- {} ({} mode, {:.0} s) -->\n{}\n",
            outcome.name,
            outcome.mode.name(),
            outcome.seconds,
            outcome.to_markdown()
        )
        .map_err(|e| anyhow::anyhow!("{}: {e}", md.display()))?;
    }
    Ok(())
}

/// Where `r`'s page goes.
fn report_path(args: &ReproduceArgs, r: &Reproduction, mode: Mode, many: bool) -> PathBuf {
    let file = match mode {
        Mode::Quick => format!("reproduce-{}-quick.html", r.name),
        Mode::Full => format!("reproduce-{}.html", r.name),
    };
    match &args.report {
        Some(dir) if many => dir.join(file),
        Some(path) => path.clone(),
        None => PathBuf::from(file),
    }
}

/// `--list`: one line per reproduction.
fn print_list() {
    println!("{:<16} {:>7} {:>7}  what it shows", "name", "quick", "full");
    for r in reproduce::ALL {
        println!(
            "{:<16} {:>7} {:>7}  {}",
            r.name,
            duration(r.quick_seconds),
            duration(r.full_seconds),
            r.shows
        );
    }
    let quick: u32 = reproduce::ALL.iter().map(|r| r.quick_seconds).sum();
    let full: u32 = reproduce::ALL.iter().map(|r| r.full_seconds).sum();
    println!(
        "{:<16} {:>7} {:>7}  (wall times on 2 cores, --jobs 2)",
        "all",
        duration(quick),
        duration(full)
    );
}

/// `45 s`, `4 min`, `1 h 10 min`.
fn duration(seconds: u32) -> String {
    match seconds {
        s if s < 100 => format!("{s} s"),
        s if s < 3600 => format!("{} min", (s + 30) / 60),
        s => format!("{} h {} min", s / 3600, (s % 3600 + 30) / 60),
    }
}
