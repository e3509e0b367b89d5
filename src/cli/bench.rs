//! `gradscope bench`: training speed on the benchmark workload (steps/s,
//! GFLOP/s, % of one core's measured FMA peak), optionally side by side with
//! PyTorch (a torch script given with `--torch-script`, alternated with ours,
//! repetition by repetition), and `--gemm`: the GEMM backends on our shapes.
//! The timing loop and the result row are shared with `--cnn`
//! ([`super::bench_cnn`]): any [`Trains`] workload is measured alike.
//!
//! The measuring is the library's (`gradscope::bench`); this file resolves
//! flags into settings, runs PyTorch as a child process, and prints.

use super::compute::simd_level;
use super::{bench_cnn, bench_recurrent};
use anyhow::{bail, Context};
use clap::Args;
use gradscope::bench::{self, GemmTiming, Peak, Timed, TrainingBench, Trains, Workload};
use gradscope::experiment::Dtype;
use gradscope::nn::recurrent::CellKind;
use gradscope::nn::{Activation, Norm};
use gradscope::tensor::{with_pool, Compute, Simd};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Arguments of `gradscope bench`. With no shape flag it runs the whole
/// table: (3,100,60), (10,256,128), (50,256,128), (20,1000,64) and
/// (10,256,128) with BatchNorm, each at 1 and 2 threads.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Measure what recording costs: steps/s without probes, with per-layer
    /// scalars every step, and with histograms too (every 100 steps),
    /// alternating, on (10, 256, 128) and (50, 256, 128) unless a shape is
    /// given. Make `--reps` x `--steps` a multiple of 100 so the histogram
    /// steps come at their cadence (the default 40 x 20 does).
    #[arg(long)]
    pub probes: bool,
    /// Hidden layers (default 10 when another shape flag is given).
    #[arg(long)]
    depth: Option<usize>,
    /// Units per hidden layer (default 256).
    #[arg(long)]
    width: Option<usize>,
    /// Rows per batch (default 128).
    #[arg(long)]
    batch: Option<usize>,
    /// Hidden activation.
    #[arg(long, default_value = "sigmoid")]
    activation: Activation,
    /// Normalization in each hidden layer (the names `train --norm` takes).
    #[arg(long, default_value_t = Norm::None)]
    norm: Norm,
    /// Threads (default: 1 for one shape, 1 and 2 for the table).
    #[arg(long)]
    threads: Option<usize>,
    /// Steps per repetition (default: about `--seconds` worth; 20 with
    /// `--probes`, 5 with `--probes` and a recurrent cell).
    #[arg(long)]
    steps: Option<usize>,
    /// Target seconds per repetition when `--steps` is not given.
    #[arg(long, default_value_t = 0.5)]
    seconds: f64,
    /// Repetitions (ours and PyTorch's alternate); medians are reported
    /// (default 5; with `--probes`, 40 short ones, 20 with a recurrent
    /// cell).
    #[arg(long)]
    reps: Option<usize>,
    /// Untimed steps before the first repetition (default 20; 5 with
    /// `--lstm`, `--gru`, `--rnn`).
    #[arg(long)]
    warmup: Option<usize>,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Python with PyTorch: also run the torch script on each shape.
    #[arg(long, value_name = "PYTHON")]
    torch: Option<PathBuf>,
    /// The torch script that trains the same workload and prints its
    /// steps/s (shipped as scripts/torch_mlp.py; run from the repository
    /// root, or pass its path).
    #[arg(
        long,
        value_name = "PATH",
        requires = "torch",
        default_value = "scripts/torch_mlp.py"
    )]
    torch_script: PathBuf,
    /// Time the GEMM products of a hidden layer with each backend instead
    /// (ours as it runs here, ours forced to its AVX2 build, the gemm
    /// crate, matrixmultiply; at `--threads`, default 1); the ratio is ours
    /// over the gemm crate's.
    #[arg(long)]
    gemm: bool,
    /// Time one LSTM layer (input 32, hidden 128, T = 100, batch 32, full
    /// BPTT) instead of the MLP; with `--torch`, beside PyTorch's
    /// `nn.LSTM` with oneDNN's fused RNN and without it
    /// (`scripts/torch_rnn_bench.py`). With `--probes`: what recording
    /// through time costs.
    #[arg(long)]
    pub lstm: bool,
    /// The same for a GRU layer (combines with `--lstm`, `--rnn`).
    #[arg(long)]
    pub gru: bool,
    /// The same for a vanilla tanh RNN layer.
    #[arg(long)]
    pub rnn: bool,
    /// Time CNNs instead of the MLP: ResNet-20 (16/32/64 channels, n = 3,
    /// BatchNorm, ReLU, option A shortcuts), its plain counterpart and a
    /// small ResNet (8/16 channels, n = 1), on 1x28x28 images, batch 64,
    /// SGD with momentum; with `--torch`, beside the same nets in PyTorch
    /// (`scripts/torch_cnn_bench.py`); with `--probes`, what recording
    /// costs. `--batch` applies.
    #[arg(long)]
    pub cnn: bool,
    /// Measure the dashboard (`gradscope serve`): what watching costs a
    /// training run (steps/s alone and watched, `--reps` of each,
    /// default 3), and API latency p50/p99 under 4,000 requests over 32
    /// connections with 50 event-stream clients while a run trains.
    #[arg(long)]
    pub serve: bool,
    /// The SIMD level our side runs (`avx512`, `avx2`, `portable`;
    /// default: the machine's widest): `--simd avx2` on an AVX-512
    /// machine measures what an AVX2-only machine runs (docs/PERFORMANCE.md).
    #[arg(long, value_name = "LEVEL")]
    simd: Option<Simd>,
    /// Train in f64 instead of f32 (our side only: the torch script
    /// trains f32); `%peak` is then of the f64 FMA peak, half the f32 one.
    #[arg(long, default_value_t = Dtype::F32)]
    dtype: Dtype,
    /// Milliseconds spent measuring the FMA peak.
    #[arg(long, default_value_t = 1000)]
    peak_ms: u64,
}

/// Resolved settings.
struct Settings {
    runs: Vec<(Workload, usize)>,
    timing: Timing,
    json: bool,
    gemm: bool,
    peak: Duration,
    shape_given: bool,
}

/// How each configuration is timed, beside PyTorch or not (`bench` and
/// `bench --cnn`).
pub(super) struct Timing {
    /// Steps per repetition (`None`: about `seconds` worth, at least
    /// `min_steps`).
    pub steps: Option<usize>,
    /// Target seconds per repetition.
    pub seconds: f64,
    /// The fewest steps a repetition runs when `steps` is not given.
    pub min_steps: usize,
    /// Repetitions (ours and PyTorch's alternate).
    pub reps: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Python and the torch script.
    pub torch: Option<(PathBuf, PathBuf)>,
    /// The SIMD level our side runs.
    pub simd: Simd,
    /// The number format our side trains in.
    pub dtype: Dtype,
}

impl Timing {
    /// Where our side of a configuration at `threads` threads computes.
    pub fn compute(&self, threads: usize) -> Compute {
        Compute::threads(threads).at(self.simd)
    }

    /// Our side of workload `w` at `threads` threads, in [`Self::dtype`].
    pub fn ours<W: Trains>(&self, w: &W, threads: usize) -> gradscope::Result<Box<dyn Timed>> {
        let c = self.compute(threads);
        Ok(match self.dtype {
            Dtype::F32 => Box::new(TrainingBench::<f32>::new(w, c, 0)?),
            Dtype::F64 => Box::new(TrainingBench::<f64>::new(w, c, 0)?),
        })
    }

    /// FMA flops per second per core at [`Self::dtype`], from the f32 peak.
    fn peak_for_dtype(&self, f32_peak: f64) -> f64 {
        match self.dtype {
            Dtype::F32 => f32_peak,
            Dtype::F64 => f32_peak / 2.0,
        }
    }
}

/// The line naming the SIMD level and the kernel builds our side runs.
pub(super) fn simd_line(level: Simd) -> String {
    let (dense, conv) = with_pool(1, level, || {
        (
            bench::kernel_name(),
            gradscope::tensor::gathered::kernel_name(),
        )
    });
    format!(
        "gradscope: SIMD level {level}; our kernel's build for dense products: {dense}, \
         for convolutions: {conv}"
    )
}

impl Settings {
    fn resolve(a: BenchArgs) -> anyhow::Result<Self> {
        if a.gemm && (a.simd.is_some() || a.dtype != Dtype::F32) {
            bail!(
                "--gemm times f32 products on each backend as the machine runs them: \
                 drop --simd and --dtype"
            );
        }
        let single = a.depth.is_some() || a.width.is_some() || a.batch.is_some();
        let threads = match a.threads {
            Some(0) => bail!("--threads must be at least 1"),
            Some(t) => vec![t],
            None if single || a.gemm => vec![1],
            None if a.probes => vec![1, 2],
            None => vec![1, 2],
        };
        let shapes = if single {
            let w = Workload {
                activation: a.activation,
                norm: a.norm,
                ..Workload::new(
                    a.depth.unwrap_or(10),
                    a.width.unwrap_or(256),
                    a.batch.unwrap_or(128),
                )
            };
            if w.depth == 0 || w.width == 0 || w.batch == 0 {
                bail!("--depth, --width and --batch must be at least 1");
            }
            vec![w]
        } else {
            Workload::table()
                .into_iter()
                .map(|w| Workload {
                    activation: a.activation,
                    ..w
                })
                .collect()
        };
        let runs = shapes
            .iter()
            .flat_map(|&w| threads.iter().map(move |&t| (w, t)))
            .collect();
        let timing = Timing {
            steps: a.steps,
            seconds: a.seconds,
            min_steps: 5,
            reps: a
                .reps
                .unwrap_or(if a.probes { PROBE_REPS } else { 5 })
                .max(1),
            warmup: a.warmup.unwrap_or(20),
            torch: torch_script(a.torch, a.torch_script, MLP_SCRIPT)?,
            simd: simd_level(a.simd)?,
            dtype: a.dtype,
        };
        Ok(Self {
            runs,
            timing,
            json: a.json,
            gemm: a.gemm,
            peak: Duration::from_millis(a.peak_ms),
            shape_given: single,
        })
    }
}

/// Runs `gradscope bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    // Counts of zero used to be taken as one (`--reps`, `--steps`) or to
    // divide by zero (`--peak-ms 0` printed "inf%").
    for (flag, value) in [
        ("--reps", args.reps),
        ("--steps", args.steps),
        ("--peak-ms", Some(args.peak_ms as usize)),
    ] {
        if value == Some(0) {
            bail!("{flag} must be at least 1");
        }
    }
    if args.serve {
        return super::bench_serve::run(args.reps.unwrap_or(3));
    }
    if args.cnn {
        return bench_cnn::run(&cnn_settings(args)?);
    }
    if args.lstm || args.gru || args.rnn {
        return bench_recurrent::run(&recurrent_settings(args)?);
    }
    let probes = args.probes;
    let s = Settings::resolve(args)?;
    if s.gemm {
        return run_gemm(&s);
    }
    if probes {
        return run_probes(&s);
    }
    eprintln!("measuring the FMA peak of one core...");
    let peak = bench::fma_peak(s.peak);
    if !s.json {
        println!(
            "FMA peak of one core: {:.1} GFLOP/s ({})",
            peak.gflop_per_s, peak.isa
        );
        println!("{}", simd_line(s.timing.simd));
        print_header(s.timing.torch.is_some());
    }
    for &(w, threads) in &s.runs {
        eprintln!(
            "depth {} width {} batch {} norm {:?}, {threads} thread(s)...",
            w.depth, w.width, w.batch, w.norm
        );
        let r = measure(&s.timing, &w, threads, &peak, &torch_args(&w))?;
        if s.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            print_row(&r);
        }
    }
    Ok(())
}

/// `bench --lstm` and its kin: the recurrent flags, resolved.
fn recurrent_settings(a: BenchArgs) -> anyhow::Result<bench_recurrent::RecurrentSettings> {
    if a.depth.is_some() || a.width.is_some() || a.gemm {
        bail!("--lstm, --gru and --rnn time their own shape: drop --depth, --width and --gemm");
    }
    if a.dtype != Dtype::F32 {
        bail!("--lstm, --gru and --rnn time f32 only: drop --dtype");
    }
    let cells = [
        (a.lstm, CellKind::Lstm),
        (a.gru, CellKind::Gru),
        (a.rnn, CellKind::Rnn),
    ]
    .into_iter()
    .filter_map(|(on, c)| on.then_some(c))
    .collect();
    let threads = match a.threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(t) => vec![t],
        None => vec![1, 2],
    };
    let torch = torch_script(a.torch, a.torch_script, bench_recurrent::TORCH_SCRIPT)?;
    Ok(bench_recurrent::RecurrentSettings {
        cells,
        threads,
        batch: a.batch.unwrap_or(32),
        steps: a.steps,
        seconds: a.seconds,
        reps: a.reps.unwrap_or(if a.probes { 20 } else { 5 }).max(1),
        warmup: a.warmup.unwrap_or(5),
        simd: simd_level(a.simd)?,
        json: a.json,
        torch,
        probes: a.probes,
    })
}

/// The MLP's torch script, from the repository root (`--torch-script`'s
/// default).
const MLP_SCRIPT: &str = "scripts/torch_mlp.py";

/// Python and the torch script to run beside ours, when `--torch` is
/// given: `script`, or `default` for the benchmark when `script` is the
/// flag's default (the MLP's).
fn torch_script(
    python: Option<PathBuf>,
    script: PathBuf,
    default: &str,
) -> anyhow::Result<Option<(PathBuf, PathBuf)>> {
    let Some(python) = python else {
        return Ok(None);
    };
    let script = if script == Path::new(MLP_SCRIPT) {
        PathBuf::from(default)
    } else {
        script
    };
    if !script.is_file() {
        bail!(
            "torch script {} not found\nhint: run from the repository root, or pass \
             --torch-script PATH",
            script.display()
        );
    }
    Ok(Some((python, script)))
}

/// `bench --cnn`: the CNN flags, resolved.
fn cnn_settings(a: BenchArgs) -> anyhow::Result<bench_cnn::CnnSettings> {
    if a.depth.is_some() || a.width.is_some() || a.gemm || a.lstm || a.gru || a.rnn {
        bail!("--cnn times its own nets: drop --depth, --width, --gemm, --lstm, --gru, --rnn");
    }
    let threads = match a.threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(t) => vec![t],
        None => vec![1, 2],
    };
    let batch = a.batch.unwrap_or(64);
    if batch == 0 {
        bail!("--batch must be at least 1");
    }
    let reps = a.reps.unwrap_or(if a.probes { 20 } else { 5 }).max(1);
    Ok(bench_cnn::CnnSettings {
        batch,
        threads,
        timing: Timing {
            steps: a.steps,
            seconds: a.seconds,
            min_steps: 3,
            reps,
            warmup: a.warmup.unwrap_or(3),
            torch: torch_script(a.torch, a.torch_script, bench_cnn::TORCH_SCRIPT)?,
            simd: simd_level(a.simd)?,
            dtype: a.dtype,
        },
        json: a.json,
        probes: a.probes,
        peak: Duration::from_millis(a.peak_ms),
    })
}

/// One line of results, for any workload `W` (its fields come first).
#[derive(Serialize)]
pub(super) struct Row<W> {
    #[serde(rename = "impl")]
    implementation: &'static str,
    #[serde(flatten)]
    pub workload: W,
    pub threads: usize,
    simd: &'static str,
    dtype: String,
    steps: usize,
    reps: usize,
    pub steps_per_s: f64,
    steps_per_s_reps: Vec<f64>,
    gflop_per_step: f64,
    pub gflop_per_s: f64,
    fma_peak_gflop_per_s: f64,
    fma_peak_isa: &'static str,
    pub pct_fma_peak: f64,
    final_loss: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub torch_steps_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    torch_steps_per_s_reps: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    torch_version: Option<String>,
    /// Median over repetitions of (ours / torch), pair by pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
}

/// Times `w` on `threads` threads: a warm-up, then `t.reps` repetitions
/// of ours, each followed by the torch script's run of the same steps
/// (with `torch_args`, the workload's flags) when one is given.
pub(super) fn measure<W: Trains + Clone>(
    t: &Timing,
    w: &W,
    threads: usize,
    peak: &Peak,
    torch_args: &[(&str, String)],
) -> anyhow::Result<Row<W>> {
    let mut ours = t.ours(w, threads)?;
    ours.time(t.warmup);
    let steps = match t.steps {
        Some(n) => n.max(1),
        None => {
            let rate = ours.time(t.warmup.clamp(t.min_steps, 50));
            ((rate * t.seconds).round() as usize).max(t.min_steps)
        }
    };
    let mut rates = Vec::with_capacity(t.reps);
    let mut torch_rates = Vec::new();
    let mut torch_version = None;
    for _ in 0..t.reps {
        rates.push(ours.time(steps));
        if let Some((python, script)) = &t.torch {
            let mut args = torch_args.to_vec();
            args.extend([
                ("--threads", threads.to_string()),
                ("--steps", steps.to_string()),
                ("--warmup", t.warmup.to_string()),
                ("--reps", "1".to_string()),
            ]);
            let line = run_torch_line(python, script, &args)?;
            torch_rates.push(line.median_steps_per_s);
            torch_version = Some(line.version);
        }
    }
    let med = bench::median(&rates);
    let gflop_per_s = med * w.gflop_per_step();
    let (torch_med, ratio) = if torch_rates.is_empty() {
        (None, None)
    } else {
        let pairs: Vec<f64> = rates.iter().zip(&torch_rates).map(|(a, b)| a / b).collect();
        (
            Some(bench::median(&torch_rates)),
            Some(bench::median(&pairs)),
        )
    };
    Ok(Row {
        implementation: "gradscope",
        workload: w.clone(),
        threads,
        simd: t.simd.name(),
        dtype: t.dtype.to_string(),
        steps,
        reps: t.reps,
        steps_per_s: med,
        steps_per_s_reps: rates,
        gflop_per_step: w.gflop_per_step(),
        gflop_per_s,
        fma_peak_gflop_per_s: t.peak_for_dtype(peak.gflop_per_s),
        fma_peak_isa: peak.isa,
        pct_fma_peak: 100.0 * gflop_per_s / (t.peak_for_dtype(peak.gflop_per_s) * threads as f64),
        final_loss: ours.last_loss(),
        torch_steps_per_s: torch_med,
        torch_steps_per_s_reps: torch_med.map(|_| torch_rates),
        torch_version,
        ratio,
    })
}

/// What a torch script prints (the fields we use).
#[derive(serde::Deserialize)]
pub(super) struct TorchLine {
    pub median_steps_per_s: f64,
    pub version: String,
}

/// The MLP torch script's flags for `w`.
fn torch_args(w: &Workload) -> Vec<(&'static str, String)> {
    vec![
        ("--depth", w.depth.to_string()),
        ("--width", w.width.to_string()),
        ("--batch", w.batch.to_string()),
        ("--activation", w.activation.to_string()),
        ("--norm", w.norm.to_string()),
    ]
}

/// Runs `python script` with `args` (flag, value) and reads the last JSON
/// line it prints.
pub(super) fn run_torch_line(
    python: &Path,
    script: &Path,
    args: &[(&str, String)],
) -> anyhow::Result<TorchLine> {
    let mut cmd = Command::new(python);
    cmd.arg(script);
    for (flag, value) in args {
        cmd.args([flag, value.as_str()]);
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !out.status.success() {
        bail!(
            "{} {} failed ({}):\n{}",
            python.display(),
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("the torch script printed no JSON line")?;
    serde_json::from_str(line).with_context(|| format!("parsing the torch script's output: {line}"))
}

fn print_header(torch: bool) {
    print!(
        "{:>5} {:>5} {:>5} {:>5} {:>3} | {:>9} {:>8} {:>6}",
        "depth", "width", "batch", "norm", "thr", "steps/s", "GFLOP/s", "%peak"
    );
    if torch {
        print!(" | {:>9} {:>6}", "torch/s", "ratio");
    }
    println!();
}

fn print_row(r: &Row<Workload>) {
    let norm = r.workload.norm.to_string();
    print!(
        "{:>5} {:>5} {:>5} {:>5} {:>3} | {:>9.1} {:>8.1} {:>5.1}%",
        r.workload.depth,
        r.workload.width,
        r.workload.batch,
        norm,
        r.threads,
        r.steps_per_s,
        r.gflop_per_s,
        r.pct_fma_peak
    );
    if let (Some(t), Some(ratio)) = (r.torch_steps_per_s, r.ratio) {
        print!(" | {t:>9.1} {ratio:>5.2}x");
    }
    println!();
}

fn run_gemm(s: &Settings) -> anyhow::Result<()> {
    // matrixmultiply sizes its own thread pool once per process, from
    // MATMUL_NUM_THREADS (default: every physical core), whatever our
    // thread policy says; pin it to the thread count compared.
    let threads = s.runs.first().map_or(1, |r| r.1);
    if std::env::var_os("MATMUL_NUM_THREADS").is_none() {
        std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
    }
    let mut seen = Vec::new();
    if !s.json {
        println!(
            "{:>12} {:>16} {:>3} | {:>9} {:>9} {:>8} {:>14} {:>6}",
            "product",
            "m x n x k",
            "thr",
            "gradscope",
            "ours-avx2",
            "gemm",
            "matrixmultiply",
            "ratio"
        );
        println!("(gradscope: our kernel's {} build)", bench::kernel_name());
    }
    for &(w, threads) in &s.runs {
        let key = (w.batch, w.width, threads);
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        eprintln!(
            "GEMM: batch {} width {}, {threads} thread(s)...",
            w.batch, w.width
        );
        let timings = bench::compare_backends(&w, threads, s.timing.reps, 2e9 * s.timing.seconds);
        if s.json {
            for t in &timings {
                println!("{}", serde_json::to_string(t)?);
            }
        } else {
            print_gemm_rows(&timings);
        }
    }
    Ok(())
}

fn print_gemm_rows(timings: &[GemmTiming]) {
    // Per product: ours, ours on AVX2, the gemm crate, matrixmultiply
    // (`bench::BACKENDS`).
    for row in timings.chunks(bench::BACKENDS.len()) {
        let [ours, avx2, gemm, mm] = row else {
            continue;
        };
        println!(
            "{:>12} {:>16} {:>3} | {:>9.1} {:>9.1} {:>8.1} {:>14.1} {:>5.2}x",
            format!("{:?}", ours.product),
            format!("{}x{}x{}", ours.m, ours.n, ours.k),
            ours.threads,
            ours.gflop_per_s,
            avx2.gflop_per_s,
            gemm.gflop_per_s,
            mm.gflop_per_s,
            ours.gflop_per_s / gemm.gflop_per_s
        );
    }
}

/// One line of `--probes`, for any workload `W` (its fields first).
#[derive(Serialize)]
pub(super) struct ProbeRow<W> {
    #[serde(flatten)]
    workload: W,
    threads: usize,
    plain_steps_per_s: f64,
    scalars_steps_per_s: f64,
    histograms_steps_per_s: f64,
    /// 1 - scalars / plain, in percent.
    scalars_overhead_pct: f64,
    /// 1 - histograms / scalars, in percent (the histograms' own cost),
    /// from the total time of all repetitions: histograms are taken on one
    /// step in 100, so most short repetitions hold none, and a median of
    /// per-repetition ratios would not see them.
    histograms_overhead_pct: f64,
}

impl<W> ProbeRow<W> {
    /// What [`bench::probe_cost`] measured on `workload`.
    pub fn new(workload: W, threads: usize, c: &bench::ProbeCost) -> Self {
        Self {
            workload,
            threads,
            plain_steps_per_s: c.plain,
            scalars_steps_per_s: c.scalars,
            histograms_steps_per_s: c.histograms,
            scalars_overhead_pct: c.scalars_pct,
            histograms_overhead_pct: c.histograms_pct,
        }
    }

    /// The table's last five columns.
    pub fn figures(&self) -> String {
        format!(
            "{:>10.1} {:>10.1} {:>10.1} {:>8.1}% {:>8.1}%",
            self.plain_steps_per_s,
            self.scalars_steps_per_s,
            self.histograms_steps_per_s,
            self.scalars_overhead_pct,
            self.histograms_overhead_pct
        )
    }
}

/// Repetitions of `--probes` by default: many short ones (see
/// [`PROBE_STEPS`]), so the median of their paired ratios is steady
/// (+-1 point between runs) on a machine whose speed drifts.
const PROBE_REPS: usize = 40;

/// Steps per repetition of `--probes` by default: 0.1 to 0.7 s per
/// configuration on our shapes.
const PROBE_STEPS: usize = 20;

fn run_probes(s: &Settings) -> anyhow::Result<()> {
    let shapes: Vec<(Workload, usize)> = if s.shape_given {
        s.runs.clone()
    } else {
        [(10, 256, 128), (50, 256, 128)]
            .iter()
            .flat_map(|&(d, w, b)| [1, 2].map(|t| (Workload::new(d, w, b), t)))
            .collect()
    };
    if !s.json {
        println!(
            "{:<16} {:>3} {:>10} {:>10} {:>10} {:>9} {:>9}",
            "shape", "thr", "plain/s", "scalars/s", "+hist/s", "scalars", "hist"
        );
    }
    for (w, threads) in shapes {
        let steps = s.timing.steps.unwrap_or(PROBE_STEPS);
        let c = bench::probe_cost(
            || s.timing.ours(&w, threads),
            s.timing.warmup,
            s.timing.reps,
            steps,
        )?;
        let row = ProbeRow::new(w, threads, &c);
        if s.json {
            println!("{}", serde_json::to_string(&row)?);
        } else {
            println!(
                "{:<16} {:>3} {}",
                format!("({}, {}, {})", w.depth, w.width, w.batch),
                threads,
                row.figures()
            );
        }
    }
    Ok(())
}
