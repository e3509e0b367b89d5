//! `gradscope train`: run one experiment from a spec file, `--set` and
//! flags. The flags that set spec keys are made from
//! [`gradscope::experiment::FLAGS`] (the one list the remedy commands are
//! written from too); each is shorthand for one `--set KEY=VALUE`.
//!
//! Checkpoints (docs/CHECKPOINTS.md): `--checkpoint-every N` takes them,
//! `--resume RUN` continues a run from its newest usable one (the
//! checkpoint's own spec, threads and SIMD level), `--init-from FILE`
//! starts a fresh run from given weights.

use super::compute::ComputeArgs;
use super::output::Output;
use super::record::{open_existing, resolve_run, run_recorded_with};
use super::render::{print_summary, render_findings, summary_json};
use anyhow::Context;
use clap::{Arg, ArgMatches, Args, Command, FromArgMatches};
use gradscope::checkpoint::format::at_path;
use gradscope::checkpoint::{pick, run_dir, Checkpoint, RunInfo, Start};
use gradscope::experiment::plan::{plan, MemoryLimit};
use gradscope::experiment::trainer::check_start;
use gradscope::experiment::{default_value, Flag, RunData, Spec, SpecBuilder, FLAGS};
use gradscope::run::{Outcome, RunOptions};
use gradscope::tensor::{Compute, Simd};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Arguments of `gradscope train`. Precedence: the spec file, then each
/// `--set` in order, then the flags (later wins).
#[derive(Args, Debug)]
#[command(after_long_help = spec_keys_help())]
pub struct TrainArgs {
    /// Experiment spec (TOML); without it the defaults apply (listed below).
    pub spec: Option<PathBuf>,
    /// Set any spec key: a dotted key and a TOML value (bare words are
    /// strings, `a,b` a list; empty: back to the default), e.g.
    /// `--set model.bn_momentum=0.05`, `--set probe.every=10`. Applied after
    /// the spec file and before the flags; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, String)>,
    /// The flags that set one spec key each.
    #[command(flatten)]
    pub flags: SpecFlags,
    /// `--threads`, `--simd`.
    #[command(flatten)]
    pub compute: ComputeArgs,
    /// Refuse, before building anything, a run whose memory estimate
    /// (parameters with gradients and optimizer state, one batch's
    /// activations) exceeds SIZE: bytes, or with a unit (`512M`, `4G`,
    /// `1.5GB`, `2GiB`). It replaces the default bound, the memory
    /// available (or the control group's limit, where lower): raise it
    /// where swap makes up the difference.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<f64>,
    /// Do not record the run in the store.
    #[arg(long)]
    pub no_record: bool,
    /// Print the resolved spec (TOML) and exit without training.
    #[arg(long)]
    pub print_spec: bool,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Write a checkpoint every N steps, at the end and at a graceful
    /// stop, beside the store (`gradscope.checkpoints/run-<id>/`; the
    /// newest 3 kept). With --resume: the resumed run's own when left out.
    #[arg(long, value_name = "N", conflicts_with = "no_record")]
    pub checkpoint_every: Option<usize>,
    /// Continue run RUN (an id, or `last`) of the store from its newest
    /// checkpoint, bit for bit as if never stopped: its own spec, and its
    /// threads and SIMD level unless --threads/--simd say otherwise. What
    /// it recorded after the checkpoint is dropped; the run keeps its id.
    #[arg(long, value_name = "RUN", conflicts_with_all = ["no_record", "init_from", "print_spec"])]
    pub resume: Option<String>,
    /// Start from the weights in FILE (safetensors: a checkpoint, or a
    /// file written elsewhere whose tensors are named by parameter path,
    /// `layers.0.weight`, with the spec's shapes).
    #[arg(long, value_name = "FILE")]
    pub init_from: Option<PathBuf>,
}

/// The values of the [`FLAGS`] given, in [`FLAGS`] order.
#[derive(Clone, Debug, Default)]
pub struct SpecFlags {
    /// Each flag given and its value as typed.
    pub values: Vec<(&'static Flag, String)>,
}

impl FromArgMatches for SpecFlags {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let values = FLAGS
            .iter()
            .filter_map(|f| m.get_one::<String>(f.key).map(|v| (f, v.clone())))
            .collect();
        Ok(Self { values })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl Args for SpecFlags {
    fn augment_args(cmd: Command) -> Command {
        FLAGS.iter().fold(cmd, |cmd, f| cmd.arg(flag_arg(f)))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

/// The clap argument of `f`: help from its names (the parser's own list),
/// values checked by the same reading as the spec file's.
fn flag_arg(f: &'static Flag) -> Arg {
    let key = match default_value(f.key) {
        Some(d) => format!("[key: {}, default: {d}]", f.key),
        None => format!("[key: {}]", f.key),
    };
    let help = match f.names {
        Some(names) => format!("{}: {names} {key}", f.help),
        None => format!("{} {key}", f.help),
    };
    Arg::new(f.key)
        .long(f.long)
        .value_name(f.long)
        .help(help)
        .allow_negative_numbers(true)
        .value_parser(move |s: &str| SpecBuilder::check(f.key, s).map(|()| s.to_string()))
}

/// The memory bound of `--max-memory`, else the memory available.
fn memory_limit(args: &TrainArgs) -> Option<MemoryLimit> {
    match args.max_memory {
        Some(bytes) => Some(MemoryLimit::given(bytes)),
        None => MemoryLimit::available(),
    }
}

/// A size in bytes: a number with an optional unit, K, M, G or T (powers
/// of 1000, as the estimates are printed; KiB, MiB, GiB, TiB: powers of
/// 1024; a trailing `B` is allowed).
fn parse_size(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (t, base) = match t.strip_suffix("iB") {
        Some(t) => (t, 1024f64),
        None => (t.strip_suffix(['B', 'b']).unwrap_or(t), 1000f64),
    };
    let (number, scale) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let power = match c.to_ascii_uppercase() {
                'K' => 1,
                'M' => 2,
                'G' => 3,
                'T' => 4,
                _ => return Err(format!("`{s}`: the unit is K, M, G or T")),
            };
            (&t[..i], base.powi(power))
        }
        _ => (t, 1.0),
    };
    match number.trim().parse::<f64>().map(|n| n * scale) {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(n),
        _ => Err(format!("`{s}` is not a size (e.g. 512M, 4G)")),
    }
}

/// `KEY=VALUE` of `--set`.
fn parse_set(s: &str) -> Result<(String, String), String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE (e.g. model.bn_momentum=0.05)"))?;
    Ok((key.trim().to_string(), value.to_string()))
}

/// The end of `train --help`: every spec key with its default and what it
/// does, the block of docs/SPEC.md (which a test keeps true to the code).
fn spec_keys_help() -> String {
    let doc = include_str!("../../docs/SPEC.md");
    let block = doc
        .split_once("```toml\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map_or("", |(block, _)| block);
    format!("Every spec key (for a spec file or --set), with its default:\n\n{block}")
}

impl TrainArgs {
    /// The spec file (or defaults), then each `--set`, then each flag.
    pub fn resolve(&self) -> anyhow::Result<Spec> {
        let mut builder = match &self.spec {
            Some(path) => SpecBuilder::load(path)?,
            None => SpecBuilder::new(),
        };
        for (key, value) in &self.set {
            builder.set(key, value, &format!("--set {key}={value}"))?;
        }
        for (flag, value) in &self.flags.values {
            builder.set(flag.key, value, &format!("--{} {value}", flag.long))?;
        }
        Ok(builder.build()?)
    }
}

/// Runs `gradscope train`.
pub fn run(args: TrainArgs, db: &Path) -> anyhow::Result<()> {
    if let Some(run) = &args.resume {
        return resume(&args, run, db);
    }
    if args.checkpoint_every == Some(0) {
        anyhow::bail!("--checkpoint-every must be at least 1");
    }
    let spec = args.resolve()?;
    if args.print_spec {
        print!("{}", spec.to_toml());
        return Ok(());
    }
    let output = Output::detect(args.quiet || args.json);
    let compute = args.compute.resolve()?;
    let weights = args
        .init_from
        .as_deref()
        .map(|path| Checkpoint::read(path).map(|c| (path, c)))
        .transpose()?;
    let data = spec.prepare_data()?;
    // Before `check_start`, which builds the model.
    plan(&spec, &data)?.fits(memory_limit(&args).as_ref())?;
    if let Some((path, c)) = &weights {
        check_start(&spec, &data, Start::Weights(c)).map_err(at_path(path))?;
    }
    let options = RunOptions {
        checkpoint_every: args.checkpoint_every.unwrap_or(0),
        resume: None,
        init_from: weights.as_ref().map(|(_, c)| c),
        max_memory: args.max_memory,
    };
    let db = (!args.no_record).then_some(db);
    let outcome = run_recorded_with(&spec, &data, output, db, compute, options)?;
    finish(&args, &spec, &data, outcome, db)
}

/// `train --resume RUN`: the run's newest checkpoint that the store
/// covers, its spec, threads and SIMD level.
fn resume(args: &TrainArgs, run: &str, db: &Path) -> anyhow::Result<()> {
    if args.spec.is_some() || !args.set.is_empty() || !args.flags.values.is_empty() {
        anyhow::bail!(
            "--resume runs the checkpoint's own spec: drop the spec file, --set and spec flags"
        );
    }
    if args.checkpoint_every == Some(0) {
        anyhow::bail!("--checkpoint-every must be at least 1");
    }
    let store = open_existing(db)?;
    let id = resolve_run(&store, run)?;
    match store.run_status(id)?.as_str() {
        "running" => anyhow::bail!("run {id} is still running in another process"),
        "finished" => anyhow::bail!("run {id} finished: there is nothing to resume"),
        _ => {}
    }
    let committed = store.committed_steps(id)?;
    drop(store);
    let (_, path) = pick(&run_dir(db, id), committed)?;
    let c = Checkpoint::read(&path)?;
    let info = RunInfo::read(&c).map_err(at_path(&path))?;
    let origin = format!("{} (metadata `spec`)", path.display());
    let spec = Spec::from_toml(&info.spec, &origin)?;
    let compute = resume_compute(args, &info)?;
    let output = Output::detect(args.quiet || args.json);
    let data = spec.prepare_data()?;
    plan(&spec, &data)?.fits(memory_limit(args).as_ref())?;
    check_start(&spec, &data, Start::Resume(&c)).map_err(at_path(&path))?;
    if !args.json {
        eprintln!(
            "resuming run {id} after step {} of {} from {}",
            info.step,
            info.total_steps,
            super::output::printable(&path.display().to_string())
        );
    }
    let options = RunOptions {
        checkpoint_every: args.checkpoint_every.unwrap_or(info.checkpoint_every),
        resume: Some((id, &c)),
        init_from: None,
        max_memory: args.max_memory,
    };
    let outcome =
        run_recorded_with(&spec, &data, output, Some(db), compute, options).map_err(|e| {
            match e.downcast::<gradscope::Error>() {
                Ok(e) => at_path(&path)(e).into(),
                Err(e) => e,
            }
        })?;
    finish(args, &spec, &data, outcome, Some(db))
}

/// The resumed run's pool: the checkpoint's threads and SIMD level unless
/// the flags say otherwise (then the run goes on, not bit for bit).
fn resume_compute(args: &TrainArgs, info: &RunInfo) -> anyhow::Result<Compute> {
    let saved_simd: Option<Simd> = info.simd.parse().ok();
    let mut compute_args = args.compute;
    compute_args.threads = compute_args.threads.or(Some(info.threads));
    compute_args.simd = compute_args
        .simd
        .or(saved_simd.filter(|level| level.runs_here()));
    let compute = compute_args
        .resolve()
        .context("the resumed run's threads and SIMD level")?;
    if compute.threads != info.threads || Some(compute.simd) != saved_simd {
        eprintln!(
            "warning: the checkpoint was taken with {} threads at SIMD level {}; going on with {} at {}: the rest of the run is not bit for bit what it would have been",
            info.threads,
            super::output::printable(&info.simd),
            compute.threads,
            compute.simd
        );
    }
    Ok(compute)
}

/// What `train` prints once the run is over.
fn finish(
    args: &TrainArgs,
    spec: &Spec,
    data: &RunData,
    outcome: Outcome,
    db: Option<&Path>,
) -> anyhow::Result<()> {
    let output = Output::detect(args.quiet || args.json);
    if !args.json {
        if let Some(id) = outcome.run_id {
            eprintln!(
                "run {id} recorded in {}",
                db.unwrap_or(Path::new("")).display()
            );
        }
        if !outcome.findings.is_empty() {
            eprint!("findings:\n{}", render_findings(&outcome.findings));
        }
    }
    let summary = outcome.result?;
    if args.json {
        let mut v = summary_json(spec, &summary);
        v["run"] = json!(outcome.run_id);
        v["findings"] = json!(outcome
            .findings
            .iter()
            .map(|f| f.kind.name())
            .collect::<Vec<_>>());
        println!("{v}");
    } else {
        let baseline = match data {
            RunData::Sequences(seqs) => Some(seqs.baseline),
            RunData::Rows(_) => None,
        };
        print_summary(output, spec, &summary, baseline);
        if let Some(id) = outcome.run_id {
            let id = id.to_string();
            let db = db.unwrap_or(Path::new(super::DEFAULT_DB));
            println!(
                "  run {id}: `{}`, `{}`",
                super::program::command(&["inspect", &id], db),
                super::program::command(&["report", &id], db)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_with_or_without_a_unit() {
        assert_eq!(parse_size("4096"), Ok(4096.0));
        assert_eq!(parse_size("512b"), Ok(512.0));
        assert_eq!(parse_size("512M"), Ok(512e6));
        assert_eq!(parse_size("1.5GB"), Ok(1.5e9));
        assert_eq!(parse_size("2GiB"), Ok(2.0 * 1024f64.powi(3)));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1e300T").is_err(), "infinite");
        assert!(parse_size("4X").unwrap_err().contains("unit"));
        assert!(parse_size("lots").is_err());
    }
}
