//! `gradscope export RUN --format tensorboard DIR`: TensorBoard event
//! files, one folder per run; `gradscope export RUN --format csv|json|parquet
//! [--wide] FILE`: the probe table, long or wide (`-` is standard output
//! for csv and json). RUN is an id, `last`, a range `3-7`, or several
//! joined by commas. Paths are checked before the store is read.

use super::record::open_to_read;
use super::report::is_stdout;
use clap::{Args, ValueEnum};
use gradscope::export::{self, Shape, TableFormat};
use std::path::{Path, PathBuf};

/// What to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// TensorBoard event files (a folder, one subfolder per run).
    Tensorboard,
    /// The probe table as CSV.
    Csv,
    /// The probe table as a JSON array of row objects.
    Json,
    /// The probe table as Apache Parquet.
    Parquet,
}

/// Arguments of `gradscope export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The runs: an id (see `gradscope runs`), `last`, a range `3-7`, or
    /// several joined by commas (`1,4-6`).
    pub run: String,
    /// Where to write: a folder for tensorboard (created if absent); a
    /// file for csv, json, parquet (or an existing folder, to get
    /// `run-ID.EXT` in it), `-` for standard output (csv, json).
    #[arg(required_unless_present = "output", conflicts_with = "output")]
    pub out: Option<PathBuf>,
    /// Where to write, as a flag (the same as OUT).
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// The format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// The probe table in wide form: one row per run, step and layer, one
    /// column per figure (csv, json, parquet).
    #[arg(long)]
    pub wide: bool,
}

/// Runs `gradscope export`.
pub fn run(args: ExportArgs, db: &Path) -> anyhow::Result<()> {
    let out = args
        .out
        .clone()
        .or(args.output.clone())
        .expect("clap requires OUT or --output");
    let table = match args.format {
        Format::Tensorboard => None,
        Format::Csv => Some(TableFormat::Csv),
        Format::Json => Some(TableFormat::Json),
        Format::Parquet => Some(TableFormat::Parquet),
    };
    let shape = if args.wide { Shape::Wide } else { Shape::Long };
    match table {
        None => check_tensorboard(&args, &out)?,
        Some(format) => check_table(format, &out)?,
    }
    let store = open_to_read(db)?;
    let ids = run_ids(&store, &args.run)?;
    let Some(format) = table else {
        let files = export::export_tensorboard(&store, &ids, &out)?;
        for (file, _) in &files {
            println!("{}", shown(file));
        }
        eprintln!("hint: tensorboard --logdir {}", shown(&out));
        return Ok(());
    };
    if is_stdout(&out) {
        let stdout = std::io::BufWriter::new(std::io::stdout());
        let dest = Path::new("standard output");
        return match export::write_table(&store, &ids, format, shape, stdout, dest) {
            // A reader that stopped early (`| head`) is not an error.
            Err(gradscope::Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                Ok(())
            }
            other => other.map(|_| ()).map_err(Into::into),
        };
    }
    let file = if out.is_dir() {
        out.join(file_name(&ids, format, shape))
    } else {
        out
    };
    export::export_table(&store, &ids, format, shape, &file)?;
    println!("{}", shown(&file));
    Ok(())
}

/// A path as printed: control characters escaped.
fn shown(path: &Path) -> String {
    super::output::printable(&path.display().to_string()).into_owned()
}

/// Refuses what `--format tensorboard` cannot do with `out`, before any work.
fn check_tensorboard(args: &ExportArgs, out: &Path) -> anyhow::Result<()> {
    if args.wide {
        anyhow::bail!("--wide: applies to csv, json and parquet (tensorboard has no table)");
    }
    if is_stdout(out) {
        anyhow::bail!(
            "--format tensorboard writes a folder of event files; give a folder, not `-`"
        );
    }
    if out.exists() && !out.is_dir() {
        anyhow::bail!(
            "{}: is a file; --format tensorboard writes a folder of event files",
            out.display()
        );
    }
    Ok(())
}

/// Refuses a table destination that cannot be written, before any work.
fn check_table(format: TableFormat, out: &Path) -> anyhow::Result<()> {
    if is_stdout(out) {
        if format == TableFormat::Parquet {
            anyhow::bail!("--format parquet writes a binary file; give a file, not `-`");
        }
        return Ok(());
    }
    if out.is_dir() {
        return Ok(());
    }
    match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            anyhow::bail!("{}: no folder {}", out.display(), dir.display())
        }
        _ => Ok(()),
    }
}

/// The file written into a folder: `run-3.csv`, `runs-1-4.parquet`,
/// `run-3-wide.json`.
fn file_name(ids: &[i64], format: TableFormat, shape: Shape) -> String {
    let runs = match ids {
        [one] => format!("run-{one}"),
        _ => format!(
            "runs-{}-{}",
            ids.first().copied().unwrap_or(0),
            ids.last().copied().unwrap_or(0)
        ),
    };
    let wide = if shape == Shape::Wide { "-wide" } else { "" };
    format!("{runs}{wide}.{}", format.extension())
}

/// The ids `spec` names: comma-separated ids, `last` or ranges, each
/// once, in the order given.
fn run_ids(store: &gradscope::store::Store, spec: &str) -> anyhow::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for part in spec.split(',') {
        for id in super::space::run_ids(store, part.trim())? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    for &id in &ids {
        store.run_head(id)?;
    }
    Ok(ids)
}
