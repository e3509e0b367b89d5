//! `gradscope train`: run one experiment from a spec file and/or flags.

use super::inspect::render_findings;
use super::output::Output;
use super::record::run_recorded;
use anyhow::Context;
use clap::Args;
use gradscope::experiment::trainer::{prepare_data, Summary};
use gradscope::experiment::{Dtype, Spec};
use gradscope::nn::{Activation, Loss, Norm, NormPlacement};
use gradscope::tensor::{default_threads, Init};
use serde_json::json;
use std::path::{Path, PathBuf};

/// Arguments of `gradscope train`. Flags override the spec file.
#[derive(Args, Debug, Default)]
pub struct TrainArgs {
    /// Experiment spec (TOML); without it the defaults apply (docs/SPEC.md).
    pub spec: Option<PathBuf>,
    /// Run label.
    #[arg(long)]
    pub name: Option<String>,
    /// Hidden layers.
    #[arg(long)]
    pub depth: Option<usize>,
    /// Units per hidden layer.
    #[arg(long)]
    pub width: Option<usize>,
    /// Hidden widths, comma-separated (overrides --depth/--width).
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
    /// identity, sigmoid, tanh, relu, leaky_relu(a), elu(a), selu, gelu, gelu_tanh, silu, softsign, softplus.
    #[arg(long)]
    pub activation: Option<Activation>,
    /// Normalization in each hidden layer: none, batch, layer.
    #[arg(long, value_parser = parse_norm)]
    pub norm: Option<Norm>,
    /// Normalization before or after the activation.
    #[arg(long, value_parser = parse_placement)]
    pub norm_placement: Option<NormPlacement>,
    /// Residual blocks of this many hidden layers (0 = none).
    #[arg(long)]
    pub residual_every: Option<usize>,
    /// normal(std), uniform(a), standard, xavier_uniform, xavier_normal, he_uniform, he_normal, lecun_normal, orthogonal(gain), mean_field(sw, sb).
    #[arg(long)]
    pub init: Option<Init>,
    /// sgd, momentum, nesterov, adam, adamw.
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Base learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Momentum (SGD family).
    #[arg(long)]
    pub momentum: Option<f64>,
    /// Weight decay.
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Clip gradients to this global L2 norm.
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// Optimizer steps.
    #[arg(long, conflicts_with = "epochs")]
    pub steps: Option<usize>,
    /// Passes over the training set (instead of --steps).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Examples per step.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Seed for weights, shuffling and generated data.
    #[arg(long)]
    pub seed: Option<u64>,
    /// mnist (bundled), fashion (needs --data-dir), spirals, circles, xor, gaussians, shapeset.
    #[arg(long)]
    pub data: Option<String>,
    /// Folder with canonical MNIST or Fashion-MNIST IDX files.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Evaluate on the canonical MNIST test files (t10k-*) in this folder.
    #[arg(long)]
    pub eval_data: Option<PathBuf>,
    /// f32 (fast) or f64 (resolves gradients below 1e-45).
    #[arg(long, value_parser = parse_dtype)]
    pub dtype: Option<Dtype>,
    /// cross_entropy or mse.
    #[arg(long)]
    pub loss: Option<Loss>,
    /// Evaluate every this many steps (0 = at the end only).
    #[arg(long)]
    pub eval_every: Option<usize>,
    /// Threads for the matrix products (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Do not record the run in the store.
    #[arg(long)]
    pub no_record: bool,
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_norm(s: &str) -> Result<Norm, String> {
    match s {
        "none" => Ok(Norm::None),
        "batch" | "batch_norm" | "bn" => Ok(Norm::Batch),
        "layer" | "layer_norm" | "ln" => Ok(Norm::Layer),
        _ => Err(format!("unknown norm `{s}` (expected none, batch, layer)")),
    }
}

fn parse_placement(s: &str) -> Result<NormPlacement, String> {
    match s {
        "before" => Ok(NormPlacement::Before),
        "after" => Ok(NormPlacement::After),
        _ => Err(format!("unknown placement `{s}` (expected before, after)")),
    }
}

fn parse_dtype(s: &str) -> Result<Dtype, String> {
    match s {
        "f32" => Ok(Dtype::F32),
        "f64" => Ok(Dtype::F64),
        _ => Err(format!("unknown dtype `{s}` (expected f32, f64)")),
    }
}

impl TrainArgs {
    /// The spec file (or defaults) with every given flag applied.
    pub fn resolve(&self) -> anyhow::Result<Spec> {
        let mut spec = match &self.spec {
            Some(path) => Spec::load(path)?,
            None => Spec::default(),
        };
        let m = &mut spec.model;
        set(&mut spec.name, &self.name);
        set(&mut m.depth, &self.depth);
        set(&mut m.width, &self.width);
        if self.widths.is_some() {
            m.widths = self.widths.clone();
        } else if self.depth.is_some() || self.width.is_some() {
            m.widths = None;
        }
        set(&mut m.activation, &self.activation);
        set(&mut m.norm, &self.norm);
        set(&mut m.norm_placement, &self.norm_placement);
        set(&mut m.residual_every, &self.residual_every);
        set(&mut m.init, &self.init);
        let o = &mut spec.optimizer;
        set(&mut o.name, &self.optimizer);
        set(&mut o.lr, &self.lr);
        if self.momentum.is_some() {
            o.momentum = self.momentum;
        }
        if self.weight_decay.is_some() {
            o.weight_decay = self.weight_decay;
        }
        if self.clip_norm.is_some() {
            o.clip_norm = self.clip_norm;
        }
        if let Some(steps) = self.steps {
            spec.steps = steps;
            spec.epochs = 0;
        }
        set(&mut spec.epochs, &self.epochs);
        set(&mut spec.batch, &self.batch);
        set(&mut spec.seed, &self.seed);
        set(&mut spec.dtype, &self.dtype);
        set(&mut spec.loss, &self.loss);
        set(&mut spec.eval_every, &self.eval_every);
        set(&mut spec.data.name, &self.data);
        if let Some(dir) = &self.data_dir {
            spec.data.dir = Some(dir.display().to_string());
        }
        if let Some(dir) = &self.eval_data {
            spec.data.eval_dir = Some(dir.display().to_string());
        }
        spec.validate()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("invalid settings (from the flags or the spec file)")?;
        Ok(spec)
    }
}

fn set<T: Clone>(target: &mut T, value: &Option<T>) {
    if let Some(v) = value {
        *target = v.clone();
    }
}

/// Runs `gradscope train`.
pub fn run(args: TrainArgs, db: &Path) -> anyhow::Result<()> {
    let output = Output::detect(args.quiet || args.json);
    let spec = args.resolve()?;
    let data = prepare_data(&spec)?;
    let threads = args.threads.unwrap_or_else(default_threads);
    let db = (!args.no_record).then_some(db);
    let outcome = run_recorded(&spec, &data, output, db, threads)?;
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
    let summary = outcome.result.map_err(super::with_hint)?;
    if args.json {
        let mut v = summary_json(&spec, &summary);
        v["run"] = json!(outcome.run_id);
        v["findings"] = json!(outcome
            .findings
            .iter()
            .map(|f| f.kind.name())
            .collect::<Vec<_>>());
        println!("{v}");
    } else {
        print_summary(output, &spec, &summary);
        if let Some(id) = outcome.run_id {
            println!("  run {id}: `gradscope inspect {id}`, `gradscope report {id}`");
        }
    }
    Ok(())
}

/// The `--json` object.
pub fn summary_json(spec: &Spec, s: &Summary) -> serde_json::Value {
    json!({
        "name": spec.name,
        "steps": s.steps,
        "train_loss": s.train_loss,
        "train_accuracy": s.train_accuracy,
        "test_loss": s.test_loss,
        "test_accuracy": s.test_accuracy,
        "grad_norms": s.grad_norms,
        "layers": s.layers,
        "first_last_ratio": s.first_last_ratio(),
        "train_seconds": s.train_seconds,
    })
}

fn print_summary(output: Output, spec: &Spec, s: &Summary) {
    println!(
        "{}",
        output.bold(&format!("run `{}`: {} steps", spec.name, s.steps))
    );
    println!(
        "  train     loss {:.4}  accuracy {:.2}%",
        s.train_loss,
        100.0 * s.train_accuracy
    );
    println!(
        "  held-out  loss {:.4}  accuracy {:.2}%",
        s.test_loss,
        100.0 * s.test_accuracy
    );
    println!(
        "  gradient norm, first / last layer: {:.3e}  ({} layers)",
        s.first_last_ratio(),
        s.grad_norms.len()
    );
}
