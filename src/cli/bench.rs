//! `gradscope bench`: training speed on the benchmark workload (steps/s,
//! GFLOP/s, % of one core's measured FMA peak), optionally side by side with
//! PyTorch (a torch script given with `--torch-script`, alternated with ours,
//! repetition by repetition), and `--gemm`: the GEMM backends on our shapes.
//!
//! The measuring is the library's (`gradscope::bench`); this file resolves
//! flags into settings, runs PyTorch as a child process, and prints.

use super::bench_recurrent;
use anyhow::{bail, Context};
use clap::Args;
use gradscope::bench::{self, GemmTiming, Peak, TrainingBench, Workload};
use gradscope::nn::recurrent::CellKind;
use gradscope::nn::{Activation, Norm};
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
    /// (ours, the gemm crate, matrixmultiply; at `--threads`, default 1); the
    /// ratio is ours over the gemm crate's.
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
    /// Milliseconds spent measuring the FMA peak.
    #[arg(long, default_value_t = 1000)]
    peak_ms: u64,
}

/// Resolved settings.
struct Settings {
    runs: Vec<(Workload, usize)>,
    steps: Option<usize>,
    seconds: f64,
    reps: usize,
    warmup: usize,
    json: bool,
    torch: Option<(PathBuf, PathBuf)>,
    gemm: bool,
    peak: Duration,
    shape_given: bool,
}

impl Settings {
    fn resolve(a: BenchArgs) -> anyhow::Result<Self> {
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
        let torch = match a.torch {
            None => None,
            Some(python) => {
                let script = a.torch_script;
                if !script.is_file() {
                    bail!(
                        "torch script {} not found\nhint: pass --torch-script PATH",
                        script.display()
                    );
                }
                Some((python, script))
            }
        };
        Ok(Self {
            runs,
            steps: a.steps,
            seconds: a.seconds,
            reps: a
                .reps
                .unwrap_or(if a.probes { PROBE_REPS } else { 5 })
                .max(1),
            warmup: a.warmup.unwrap_or(20),
            json: a.json,
            torch,
            gemm: a.gemm,
            peak: Duration::from_millis(a.peak_ms),
            shape_given: single,
        })
    }
}

/// Runs `gradscope bench`.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
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
        print_header(s.torch.is_some());
    }
    for &(w, threads) in &s.runs {
        let r = measure(&s, &w, threads, &peak)?;
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
    let torch = match a.torch {
        None => None,
        Some(python) => {
            // The MLP script is the flag's default: the recurrent one here.
            let script = if a.torch_script == Path::new("scripts/torch_mlp.py") {
                PathBuf::from(bench_recurrent::TORCH_SCRIPT)
            } else {
                a.torch_script
            };
            if !script.is_file() {
                bail!(
                    "torch script {} not found\nhint: run from the repository root, or pass \
                     --torch-script PATH",
                    script.display()
                );
            }
            Some((python, script))
        }
    };
    Ok(bench_recurrent::RecurrentSettings {
        cells,
        threads,
        batch: a.batch.unwrap_or(32),
        steps: a.steps,
        seconds: a.seconds,
        reps: a.reps.unwrap_or(if a.probes { 20 } else { 5 }).max(1),
        warmup: a.warmup.unwrap_or(5),
        json: a.json,
        torch,
        probes: a.probes,
    })
}

/// One line of results.
#[derive(Serialize)]
struct Row {
    #[serde(rename = "impl")]
    implementation: &'static str,
    #[serde(flatten)]
    workload: Workload,
    threads: usize,
    steps: usize,
    reps: usize,
    steps_per_s: f64,
    steps_per_s_reps: Vec<f64>,
    gflop_per_step: f64,
    gflop_per_s: f64,
    fma_peak_gflop_per_s: f64,
    fma_peak_isa: &'static str,
    pct_fma_peak: f64,
    final_loss: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    torch_steps_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    torch_steps_per_s_reps: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    torch_version: Option<String>,
    /// Median over repetitions of (ours / torch), pair by pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
}

fn measure(s: &Settings, w: &Workload, threads: usize, peak: &Peak) -> anyhow::Result<Row> {
    eprintln!(
        "depth {} width {} batch {} norm {:?}, {threads} thread(s)...",
        w.depth, w.width, w.batch, w.norm
    );
    let mut ours = TrainingBench::new(w, threads, 0)?;
    ours.time(s.warmup);
    let steps = match s.steps {
        Some(n) => n.max(1),
        None => {
            let rate = ours.time(s.warmup.clamp(3, 50));
            ((rate * s.seconds).round() as usize).max(5)
        }
    };
    let mut rates = Vec::with_capacity(s.reps);
    let mut torch_rates = Vec::new();
    let mut torch_version = None;
    for _ in 0..s.reps {
        rates.push(ours.time(steps));
        if let Some((python, script)) = &s.torch {
            let t = run_torch(python, script, w, threads, steps, s.warmup)?;
            torch_rates.push(t.median_steps_per_s);
            torch_version = Some(t.version);
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
        workload: *w,
        threads,
        steps,
        reps: s.reps,
        steps_per_s: med,
        steps_per_s_reps: rates,
        gflop_per_step: w.gflop_per_step(),
        gflop_per_s,
        fma_peak_gflop_per_s: peak.gflop_per_s,
        fma_peak_isa: peak.isa,
        pct_fma_peak: 100.0 * gflop_per_s / (peak.gflop_per_s * threads as f64),
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

fn run_torch(
    python: &Path,
    script: &Path,
    w: &Workload,
    threads: usize,
    steps: usize,
    warmup: usize,
) -> anyhow::Result<TorchLine> {
    let args = [
        ("--depth", w.depth.to_string()),
        ("--width", w.width.to_string()),
        ("--batch", w.batch.to_string()),
        ("--activation", w.activation.to_string()),
        ("--norm", w.norm.to_string()),
        ("--threads", threads.to_string()),
        ("--steps", steps.to_string()),
        ("--warmup", warmup.to_string()),
        ("--reps", "1".to_string()),
    ];
    run_torch_line(python, script, &args)
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

fn print_row(r: &Row) {
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
            "{:>12} {:>16} {:>3} | {:>9} {:>8} {:>14} {:>6}",
            "product", "m x n x k", "thr", "gradscope", "gemm", "matrixmultiply", "ratio"
        );
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
        let timings = bench::compare_backends(&w, threads, s.reps, 2e9 * s.seconds);
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
    // Per product: ours, the gemm crate, matrixmultiply (`bench::BACKENDS`).
    for triple in timings.chunks(bench::BACKENDS.len()) {
        let [ours, gemm, mm] = triple else { continue };
        println!(
            "{:>12} {:>16} {:>3} | {:>9.1} {:>8.1} {:>14.1} {:>5.2}x",
            format!("{:?}", ours.product),
            format!("{}x{}x{}", ours.m, ours.n, ours.k),
            ours.threads,
            ours.gflop_per_s,
            gemm.gflop_per_s,
            mm.gflop_per_s,
            ours.gflop_per_s / gemm.gflop_per_s
        );
    }
}

/// One line of `--probes`.
#[derive(Serialize)]
struct ProbeRow {
    #[serde(flatten)]
    workload: Workload,
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
        let steps = s.steps.unwrap_or(PROBE_STEPS);
        let c = bench::probe_cost(
            || TrainingBench::new(&w, threads, 0),
            s.warmup,
            s.reps,
            steps,
        )?;
        let row = ProbeRow {
            workload: w,
            threads,
            plain_steps_per_s: c.plain,
            scalars_steps_per_s: c.scalars,
            histograms_steps_per_s: c.histograms,
            scalars_overhead_pct: c.scalars_pct,
            histograms_overhead_pct: c.histograms_pct,
        };
        if s.json {
            println!("{}", serde_json::to_string(&row)?);
        } else {
            println!(
                "{:<16} {:>3} {:>10.1} {:>10.1} {:>10.1} {:>8.1}% {:>8.1}%",
                format!("({}, {}, {})", w.depth, w.width, w.batch),
                threads,
                row.plain_steps_per_s,
                row.scalars_steps_per_s,
                row.histograms_steps_per_s,
                row.scalars_overhead_pct,
                row.histograms_overhead_pct
            );
        }
    }
    Ok(())
}
