//! `gradscope bench --cnn`: steps/s of ResNet-20 (16/32/64 channels,
//! n = 3), its plain counterpart and a small ResNet (8/16, n = 1) on
//! 1x28x28 images, batch 64, f32, SGD with momentum, against one core's
//! FMA peak, optionally beside the same nets in PyTorch
//! (`scripts/torch_cnn_bench.py`, `torch.nn.Conv2d`, alternated with ours
//! repetition by repetition), and with `--probes` what recording costs.
//! The timing loop and the rows are the MLP benchmark's
//! ([`super::bench`]); this file picks the nets and prints.

use super::bench::{measure, ProbeRow, Row, Timing};
use gradscope::bench::{self, ConvWorkload};
use std::time::Duration;

/// The torch script for CNNs, from the repository root.
pub const TORCH_SCRIPT: &str = "scripts/torch_cnn_bench.py";

/// What `bench --cnn` runs, resolved from the flags.
pub struct CnnSettings {
    /// Images per batch.
    pub batch: usize,
    /// Thread counts.
    pub threads: Vec<usize>,
    /// Steps, repetitions, warm-up, PyTorch.
    pub timing: Timing,
    /// JSON lines instead of a table.
    pub json: bool,
    /// Measure the probes' cost instead.
    pub probes: bool,
    /// Time spent measuring the FMA peak.
    pub peak: Duration,
}

impl CnnSettings {
    /// The nets of [`ConvWorkload::table`] at the batch asked for.
    fn workloads(&self) -> Vec<ConvWorkload> {
        ConvWorkload::table()
            .into_iter()
            .map(|w| ConvWorkload {
                batch: self.batch,
                ..w
            })
            .collect()
    }
}

/// The torch script's flags for `w`.
fn torch_args(w: &ConvWorkload) -> Vec<(&'static str, String)> {
    let channels: Vec<String> = w.channels.iter().map(|c| c.to_string()).collect();
    vec![
        ("--channels", channels.join(",")),
        ("--n", w.n.to_string()),
        ("--residual", u8::from(w.residual).to_string()),
        ("--batch", w.batch.to_string()),
    ]
}

/// Runs the CNN benchmark.
pub fn run(s: &CnnSettings) -> anyhow::Result<()> {
    if s.probes {
        return run_probes(s);
    }
    eprintln!("measuring the FMA peak of one core...");
    let peak = bench::fma_peak(s.peak);
    if !s.json {
        println!(
            "FMA peak of one core: {:.1} GFLOP/s ({})",
            peak.gflop_per_s, peak.isa
        );
        println!("{}", super::bench::simd_line(s.timing.simd));
        print!(
            "{:<22} {:>5} {:>3} | {:>8} {:>8} {:>6}",
            "net", "batch", "thr", "steps/s", "GFLOP/s", "%peak"
        );
        if s.timing.torch.is_some() {
            print!(" | {:>8} {:>6}", "torch/s", "ratio");
        }
        println!();
    }
    for w in s.workloads() {
        for &threads in &s.threads {
            eprintln!("{}, {threads} thread(s)...", w.name());
            let row = measure(&s.timing, &w, threads, &peak, &torch_args(&w))?;
            if s.json {
                println!("{}", serde_json::to_string(&row)?);
            } else {
                print_row(&row);
            }
        }
    }
    Ok(())
}

fn print_row(r: &Row<ConvWorkload>) {
    print!(
        "{:<22} {:>5} {:>3} | {:>8.2} {:>8.1} {:>5.1}%",
        r.workload.name(),
        r.workload.batch,
        r.threads,
        r.steps_per_s,
        r.gflop_per_s,
        r.pct_fma_peak
    );
    if let (Some(t), Some(ratio)) = (r.torch_steps_per_s, r.ratio) {
        print!(" | {t:>8.2} {ratio:>5.2}x");
    }
    println!();
}

/// Steps/s without probes, with per-layer scalars every step, and with
/// histograms every 100 steps, alternating; the histogram column needs
/// `warmup + reps x steps` to reach step 100 (the default 3 + 20 x 5
/// does).
fn run_probes(s: &CnnSettings) -> anyhow::Result<()> {
    if !s.json {
        println!(
            "{:<22} {:>3} {:>10} {:>10} {:>10} {:>9} {:>9}",
            "net", "thr", "plain/s", "scalars/s", "+hist/s", "scalars", "hist"
        );
    }
    let steps = s.timing.steps.unwrap_or(5);
    if s.timing.warmup + s.timing.reps * steps < 100 {
        eprintln!(
            "warning: {} x {steps} steps hold no histogram step (every 100th): the \
             histogram column measures nothing",
            s.timing.reps
        );
    }
    for w in s.workloads() {
        for &threads in &s.threads {
            eprintln!("{}, {threads} thread(s)...", w.name());
            let c = bench::probe_cost(
                || s.timing.ours(&w, threads),
                s.timing.warmup,
                s.timing.reps,
                steps,
            )?;
            let row = ProbeRow::new(w.clone(), threads, &c);
            if s.json {
                println!("{}", serde_json::to_string(&row)?);
            } else {
                println!("{:<22} {:>3} {}", w.name(), threads, row.figures());
            }
        }
    }
    Ok(())
}
