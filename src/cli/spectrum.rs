//! `gradscope spectrum`: the input-output Jacobian's spectrum at
//! initialization (the library's `analysis::spectrum`): mean and variance of
//! `J J^T`'s eigenvalues per depth, the variance's slope against depth, and
//! a histogram of the singular values at the deepest depth.
//!
//! `gradscope spectrum SPEC` measures a run spec's model (its activation,
//! width, init and depth); the flags describe a net without one.

use anyhow::{bail, Context};
use clap::Args;
use gradscope::analysis::spectrum::{measure, Spectrum, SpectrumConfig, WeightInit};
use gradscope::experiment::Spec;
use gradscope::nn::Activation;
use std::path::PathBuf;

/// Bars of the text histogram.
const BINS: usize = 20;
/// Characters of the longest bar.
const BAR: usize = 40;

/// Arguments of `gradscope spectrum`.
#[derive(Args, Debug)]
pub struct SpectrumArgs {
    /// A run spec (TOML) whose model to measure: its activation, hidden
    /// width and init, at depths 1, 2, 4, ... up to its depth (and the
    /// depth itself). Without it, the flags below describe the net.
    #[arg(value_name = "SPEC")]
    spec: Option<PathBuf>,
    /// The activation (`identity` for a linear net).
    #[arg(long, default_value = "relu", conflicts_with = "spec")]
    activation: Activation,
    /// gaussian, orthogonal or uniform.
    #[arg(long, default_value = "gaussian", conflicts_with = "spec")]
    init: WeightInit,
    /// sigma_w^2 (2 is critical for ReLU, 1 for linear).
    #[arg(long, default_value_t = 2.0, conflicts_with = "spec")]
    sigma_w2: f64,
    /// sigma_b^2.
    #[arg(long, default_value_t = 0.0, conflicts_with = "spec")]
    sigma_b2: f64,
    /// Units per layer.
    #[arg(long, default_value_t = 400, conflicts_with = "spec")]
    width: usize,
    /// Depths, comma-separated (with SPEC: instead of its own).
    #[arg(long, value_delimiter = ',')]
    depths: Vec<usize>,
    /// Random nets averaged per depth.
    #[arg(long, default_value_t = 4)]
    draws: usize,
    /// Seed of the first draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// One JSON object instead of a table (with the singular values).
    #[arg(long)]
    json: bool,
}

/// Runs `gradscope spectrum`.
pub fn run(args: SpectrumArgs) -> anyhow::Result<()> {
    if args.width == 0 || args.draws == 0 || args.depths.contains(&0) {
        bail!("--width, --draws and every depth must be at least 1");
    }
    let mut depths = args.depths;
    let mut config = match &args.spec {
        Some(path) => {
            let spec = Spec::load(path)?;
            if depths.is_empty() {
                depths = powers_up_to(spec.model.widths.len());
            }
            SpectrumConfig::of_model(&spec.model, depths, args.draws, args.seed)
                .with_context(|| format!("{}", path.display()))?
        }
        None => SpectrumConfig {
            activation: args.activation,
            init: args.init,
            sigma_w2: args.sigma_w2,
            sigma_b2: args.sigma_b2,
            input_variance: 1.0,
            width: args.width,
            depths: if depths.is_empty() {
                vec![1, 2, 4, 8]
            } else {
                depths
            },
            draws: args.draws,
            seed: args.seed,
            singular_values: true,
        },
    };
    config.depths.sort_unstable();
    config.depths.dedup();
    let s = measure(&config);
    if args.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        print!("{}", table(&s));
    }
    Ok(())
}

/// 1, 2, 4, ... below `depth`, and `depth` itself.
fn powers_up_to(depth: usize) -> Vec<usize> {
    let mut out: Vec<usize> = std::iter::successors(Some(1usize), |d| d.checked_mul(2))
        .take_while(|&d| d < depth)
        .collect();
    out.push(depth.max(1));
    out
}

fn table(s: &Spectrum) -> String {
    let c = &s.config;
    let mut out = format!(
        "{} {} sigma_w^2 = {} width {} ({} draws)\n  depth  mean(JJ^T)  var(JJ^T)\n",
        c.activation, c.init, c.sigma_w2, c.width, c.draws
    );
    for m in &s.moments {
        out += &format!("  {:>5}  {:>10.4}  {:>9.4}\n", m.depth, m.mean, m.variance);
    }
    out += &format!("  variance slope against depth: {:.3}\n", s.variance_slope);
    if let Some(mean) = s.mean_singular_value {
        let deepest = s.moments.last().map_or(0, |m| m.depth);
        out += &format!("  singular values of J at depth {deepest}: mean {mean:.4}\n");
        out += &histogram(&s.singular_values);
    }
    out
}

/// A text histogram of `values` (ascending) in [`BINS`] bars.
fn histogram(values: &[f64]) -> String {
    let (lo, hi) = (values[0], values[values.len() - 1]);
    let width = ((hi - lo) / BINS as f64).max(f64::MIN_POSITIVE);
    let mut counts = [0usize; BINS];
    for v in values {
        counts[(((v - lo) / width) as usize).min(BINS - 1)] += 1;
    }
    let top = *counts.iter().max().unwrap();
    counts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let bar = "#".repeat((n * BAR).div_ceil(top.max(1)));
            format!("  {:>8.4} {bar} {n}\n", lo + width * i as f64)
        })
        .collect()
}
