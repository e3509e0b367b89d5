//! What recording costs, measured the same way for every workload: plain
//! training, per-layer scalars every step, and scalars with histograms at
//! their default cadence (every 100 steps), the three alternating
//! repetition by repetition.
//!
//! The scalars' cost is the median of each repetition's own ratio (each
//! pair runs back to back, so a machine that slows down between
//! repetitions does not skew it). The histograms' own cost comes from the
//! total time of all repetitions instead: histograms are taken on one step
//! in 100, so most short repetitions hold none, and a median of ratios
//! would not see them.

use super::median;
use crate::error::Result;
use crate::probe::ProbeConfig;

/// A workload the probe-cost measurement can time: a training step with
/// the trainer's probe calls, repeated.
pub trait Timed {
    /// Probes every step as `config` says (`None`: no probes).
    fn set_probes(&mut self, config: Option<ProbeConfig>);
    /// Runs `steps` steps; returns steps per second.
    fn time(&mut self, steps: usize) -> f64;
    /// The loss of the last step (NaN before the first).
    fn last_loss(&self) -> f64;
}

impl<T: Timed + ?Sized> Timed for Box<T> {
    fn set_probes(&mut self, config: Option<ProbeConfig>) {
        (**self).set_probes(config);
    }

    fn time(&mut self, steps: usize) -> f64 {
        (**self).time(steps)
    }

    fn last_loss(&self) -> f64 {
        (**self).last_loss()
    }
}

/// What [`probe_cost`] measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeCost {
    /// Median steps/s without probes.
    pub plain: f64,
    /// With per-layer scalars every step.
    pub scalars: f64,
    /// With scalars, and histograms every 100 steps.
    pub histograms: f64,
    /// `1 - scalars / plain`, in percent (median of paired ratios).
    pub scalars_pct: f64,
    /// `1 - histograms / scalars`, in percent, from total times.
    pub histograms_pct: f64,
}

/// The three configurations of one workload, each built by `make` and
/// warmed up for `warmup` steps, timed `reps` times `steps` steps.
pub fn probe_cost<B: Timed>(
    make: impl Fn() -> Result<B>,
    warmup: usize,
    reps: usize,
    steps: usize,
) -> Result<ProbeCost> {
    let configs = [
        None,
        Some(ProbeConfig::every_step()),
        Some(ProbeConfig {
            histogram_every: 100,
            ..ProbeConfig::every_step()
        }),
    ];
    let mut benches = configs
        .iter()
        .map(|c| {
            let mut b = make()?;
            b.set_probes(*c);
            b.time(warmup);
            Ok(b)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut rates = vec![Vec::new(); 3];
    for _ in 0..reps {
        for (b, r) in benches.iter_mut().zip(rates.iter_mut()) {
            r.push(b.time(steps));
        }
    }
    let paired: Vec<f64> = rates[0].iter().zip(&rates[1]).map(|(x, y)| y / x).collect();
    // Seconds per step, summed over the repetitions (equal step counts).
    let total = |i: usize| rates[i].iter().map(|r| 1.0 / r).sum::<f64>();
    Ok(ProbeCost {
        plain: median(&rates[0]),
        scalars: median(&rates[1]),
        histograms: median(&rates[2]),
        scalars_pct: 100.0 * (1.0 - median(&paired)),
        histograms_pct: 100.0 * (1.0 - total(1) / total(2)),
    })
}
