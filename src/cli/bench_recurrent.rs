//! `gradscope bench --lstm` (`--gru`, `--rnn`): steps/s of one recurrent
//! layer (input 32, hidden 128, T = 100, batch 32, f32, SGD, full BPTT),
//! optionally beside PyTorch's `nn.LSTM` / `nn.GRU` / `nn.RNN` on the same
//! shapes and threads (`scripts/torch_rnn_bench.py`, alternated with ours
//! repetition by repetition, with oneDNN's fused RNN and without it), and
//! with `--probes` what recording through time costs.

use super::bench::{run_torch_line, TorchLine};
use anyhow::bail;
use gradscope::bench::{self, RecurrentBench, RecurrentWorkload};
use gradscope::nn::recurrent::CellKind;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What `bench --lstm` runs, resolved from the flags.
pub struct RecurrentSettings {
    /// The cells, in the order given (LSTM, GRU, RNN).
    pub cells: Vec<CellKind>,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// Sequences per batch.
    pub batch: usize,
    /// Steps per repetition (`None`: about `seconds` worth).
    pub steps: Option<usize>,
    /// Target seconds per repetition.
    pub seconds: f64,
    /// Repetitions.
    pub reps: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// The SIMD level our side runs.
    pub simd: gradscope::tensor::Simd,
    /// JSON lines instead of a table.
    pub json: bool,
    /// Python and the torch script.
    pub torch: Option<(PathBuf, PathBuf)>,
    /// Measure the probes' cost instead.
    pub probes: bool,
}

/// The torch script for recurrent cells, from the repository root.
pub const TORCH_SCRIPT: &str = "scripts/torch_rnn_bench.py";

/// One line of results.
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    workload: RecurrentWorkload,
    threads: usize,
    steps_per_s: f64,
    steps_per_s_reps: Vec<f64>,
    gflop_per_s: f64,
    final_loss: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    torch_steps_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    torch_per_step_path_steps_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    torch_version: Option<String>,
    /// Median over repetitions of ours / torch (oneDNN where it applies).
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
    /// The same against PyTorch's per-step path (`--onednn off`).
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio_per_step_path: Option<f64>,
}

/// Runs the recurrent benchmark.
pub fn run(s: &RecurrentSettings) -> anyhow::Result<()> {
    if s.batch == 0 {
        bail!("--batch must be at least 1");
    }
    if s.probes {
        return run_probes(s);
    }
    if !s.json {
        println!("{}", super::bench::simd_line(s.simd));
        print!(
            "{:>5} {:>5} {:>6} {:>4} {:>5} {:>3} | {:>8} {:>8}",
            "cell", "input", "hidden", "T", "batch", "thr", "steps/s", "GFLOP/s"
        );
        if s.torch.is_some() {
            print!(
                " | {:>8} {:>6} | {:>10} {:>6}",
                "torch/s", "ratio", "per-step/s", "ratio"
            );
        }
        println!();
    }
    for &cell in &s.cells {
        for &threads in &s.threads {
            let w = RecurrentWorkload {
                batch: s.batch,
                ..RecurrentWorkload::new(cell)
            };
            let row = measure(s, &w, threads)?;
            if s.json {
                println!("{}", serde_json::to_string(&row)?);
            } else {
                print_row(&row);
            }
        }
    }
    Ok(())
}

fn measure(s: &RecurrentSettings, w: &RecurrentWorkload, threads: usize) -> anyhow::Result<Row> {
    eprintln!("{} {threads} thread(s)...", w.cell.name());
    let compute = gradscope::tensor::Compute::threads(threads).at(s.simd);
    let mut ours = RecurrentBench::new(w, compute, 0)?;
    ours.time(s.warmup);
    let steps = s.steps.unwrap_or_else(|| {
        let rate = ours.time(3);
        ((rate * s.seconds).round() as usize).max(3)
    });
    let (mut rates, mut fused, mut per_step) = (Vec::new(), Vec::new(), Vec::new());
    let mut version = None;
    for _ in 0..s.reps {
        rates.push(ours.time(steps));
        if let Some((python, script)) = &s.torch {
            // Only the LSTM has a oneDNN path in PyTorch: the GRU and the
            // RNN run the per-step path either way.
            let t = torch(python, script, w, threads, steps, s.warmup, "on")?;
            fused.push(t.median_steps_per_s);
            version = Some(t.version);
            if w.cell == CellKind::Lstm {
                let t = torch(python, script, w, threads, steps, s.warmup, "off")?;
                per_step.push(t.median_steps_per_s);
            }
        }
    }
    let paired = |theirs: &[f64]| {
        (!theirs.is_empty()).then(|| {
            let r: Vec<f64> = rates.iter().zip(theirs).map(|(a, b)| a / b).collect();
            bench::median(&r)
        })
    };
    let med = bench::median(&rates);
    Ok(Row {
        workload: *w,
        threads,
        steps_per_s: med,
        gflop_per_s: med * w.gflop_per_step(),
        final_loss: ours.last_loss(),
        torch_steps_per_s: (!fused.is_empty()).then(|| bench::median(&fused)),
        torch_per_step_path_steps_per_s: (!per_step.is_empty()).then(|| bench::median(&per_step)),
        torch_version: version,
        ratio: paired(&fused),
        ratio_per_step_path: paired(&per_step),
        steps_per_s_reps: rates,
    })
}

fn torch(
    python: &Path,
    script: &Path,
    w: &RecurrentWorkload,
    threads: usize,
    steps: usize,
    warmup: usize,
    onednn: &str,
) -> anyhow::Result<TorchLine> {
    let cell = match w.cell {
        CellKind::Rnn | CellKind::RnnRelu => "rnn",
        CellKind::Lstm => "lstm",
        CellKind::Gru => "gru",
    };
    let args = [
        ("--cell", cell.to_string()),
        ("--input", w.input.to_string()),
        ("--hidden", w.hidden.to_string()),
        ("--length", w.length.to_string()),
        ("--batch", w.batch.to_string()),
        ("--threads", threads.to_string()),
        ("--steps", steps.to_string()),
        ("--warmup", warmup.to_string()),
        ("--reps", "1".to_string()),
        ("--onednn", onednn.to_string()),
    ];
    run_torch_line(python, script, &args)
}

fn print_row(r: &Row) {
    let w = &r.workload;
    print!(
        "{:>5} {:>5} {:>6} {:>4} {:>5} {:>3} | {:>8.1} {:>8.1}",
        w.cell.name(),
        w.input,
        w.hidden,
        w.length,
        w.batch,
        r.threads,
        r.steps_per_s,
        r.gflop_per_s
    );
    if let (Some(t), Some(ratio)) = (r.torch_steps_per_s, r.ratio) {
        print!(" | {t:>8.1} {ratio:>5.2}x");
        match (r.torch_per_step_path_steps_per_s, r.ratio_per_step_path) {
            (Some(p), Some(pr)) => print!(" | {p:>10.1} {pr:>5.2}x"),
            // PyTorch has no other path for this cell: the same figures.
            _ => print!(" | {:>10} {:>6}", "(same)", ""),
        }
    }
    println!();
}

/// Steps/s without probes, with `dL/dh_t` per time step every step, and
/// with the histogram steps' detail (hidden state, gates, saturation per
/// time step) every 100 steps; overheads from paired repetitions. The
/// histogram column needs `reps x steps` to cover a multiple of 100 steps
/// (the default 20 x 5 does); a warning says when it does not.
fn run_probes(s: &RecurrentSettings) -> anyhow::Result<()> {
    if !s.json {
        println!(
            "{:<5} {:>3} {:>10} {:>10} {:>10} {:>9} {:>9}",
            "cell", "thr", "plain/s", "scalars/s", "+hist/s", "scalars", "hist"
        );
    }
    for &cell in &s.cells {
        for &threads in &s.threads {
            let w = RecurrentWorkload {
                batch: s.batch,
                ..RecurrentWorkload::new(cell)
            };
            let steps = s.steps.unwrap_or(5);
            if s.warmup + s.reps * steps < 100 {
                eprintln!(
                    "warning: {} x {steps} steps hold no histogram step (every 100th): the \
                     histogram column measures nothing",
                    s.reps
                );
            }
            let c = bench::probe_cost(
                || {
                    RecurrentBench::new(
                        &w,
                        gradscope::tensor::Compute::threads(threads).at(s.simd),
                        0,
                    )
                },
                s.warmup,
                s.reps,
                steps,
            )?;
            if s.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "cell": cell.name(), "threads": threads,
                        "plain_steps_per_s": c.plain, "scalars_steps_per_s": c.scalars,
                        "histograms_steps_per_s": c.histograms,
                        "scalars_overhead_pct": c.scalars_pct,
                        "histograms_overhead_pct": c.histograms_pct,
                    })
                );
            } else {
                println!(
                    "{:<5} {:>3} {:>10.1} {:>10.1} {:>10.1} {:>8.1}% {:>8.1}%",
                    cell.name(),
                    threads,
                    c.plain,
                    c.scalars,
                    c.histograms,
                    c.scalars_pct,
                    c.histograms_pct
                );
            }
        }
    }
    Ok(())
}
