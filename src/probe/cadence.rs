//! When to probe: the cadence. Every step early, where a net's gradient
//! changes fastest (dead units, saturation and blow-ups mostly set in
//! within the first thousand steps); sparser as the run grows, so a long
//! run's record stays small; and every step again for a while after an
//! anomaly (the global gradient norm jumping up well outside its usual
//! step-to-step spread, and by at least an order of magnitude, or turning
//! zero or non-finite), so what follows is recorded step by step. (The
//! jump's own step is known only after its backward, when its probe is
//! already decided: it is recorded when the cadence probes it, and when
//! its gradient is non-finite, which the trainer measures again.)
//!
//! With the defaults, per-layer scalars are taken every step up to step
//! 1,000, every 10th step up to 10,000, every 100th up to 100,000, and so on
//! (about 900 probed steps per decade of steps); histograms every 100 steps,
//! or every ten probe strides where that is sparser. The last step is
//! always probed. docs/STORE.md gives what each probed step costs.

use serde::{Deserialize, Serialize};

/// How often to probe: the `[probe]` section of a spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// Record per-layer scalars every this many steps (0 = never): the
    /// stride before `thin_after`, and after an anomaly.
    pub every: usize,
    /// Record histograms every this many steps (0 = never), or every ten
    /// strides of the scalars where that is sparser; such a step records
    /// the per-layer scalars too.
    pub histogram_every: usize,
    /// From this step on the stride grows tenfold per decade of steps:
    /// `every x 10` from `thin_after`, `every x 100` from `10 x thin_after`,
    /// and so on (0 = never thin: every `every` steps to the end).
    pub thin_after: usize,
    /// After an anomaly (a global gradient norm that is non-finite, zero,
    /// or far from its running level: see [`ANOMALY_DECADES`]), record
    /// every `every` steps for this many steps (0 = no such window).
    pub anomaly_window: usize,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            every: 1,
            histogram_every: 100,
            thin_after: 1000,
            anomaly_window: 100,
        }
    }
}

/// How far, in decades, a step's global gradient norm must at least rise
/// above its running level (an exponential moving average of `log10` of
/// the norm) to count as an anomaly: ten times above it.
pub const ANOMALY_DECADES: f64 = 1.0;

/// ... and in running standard deviations of `log10` of the norm: a
/// mini-batch gradient's norm can swing by an order of magnitude from
/// step to step on a small batch, which is noise, not an event.
pub const ANOMALY_SIGMAS: f64 = 4.0;

/// Finite norms seen before anything but a zero or non-finite norm counts
/// as an anomaly (the level and spread need a few steps to settle).
const WARM_UP: usize = 20;

/// Weight of a new step in the running level and spread of the gradient
/// norm: they follow a sustained change within about 20 steps.
const LEVEL_RATE: f64 = 0.1;

impl ProbeConfig {
    /// Every step, no thinning, no histograms: what tests and benchmarks
    /// that probe each step want.
    pub fn every_step() -> Self {
        Self {
            every: 1,
            histogram_every: 0,
            thin_after: 0,
            anomaly_window: 0,
        }
    }

    /// The scalars' stride at step `step` (0 when they are never taken).
    pub fn stride_at(&self, step: usize) -> usize {
        if self.every == 0 || self.thin_after == 0 || step < self.thin_after {
            return self.every;
        }
        let mut stride = self.every.saturating_mul(10);
        let mut start = self.thin_after.saturating_mul(10);
        while step >= start && start < usize::MAX {
            stride = stride.saturating_mul(10);
            start = start.saturating_mul(10);
        }
        stride
    }

    /// Whether step `step` (0-based) records scalars on the regular
    /// cadence (without the anomaly window and the last step, which the
    /// [`Cadence`] adds).
    pub fn scalars_at(&self, step: usize) -> bool {
        let stride = self.stride_at(step);
        stride > 0 && step.is_multiple_of(stride)
    }

    /// Whether step `step` records histograms.
    pub fn histograms_at(&self, step: usize) -> bool {
        if self.histogram_every == 0 {
            return false;
        }
        let stride = self
            .histogram_every
            .max(self.stride_at(step).saturating_mul(10));
        step.is_multiple_of(stride)
    }
}

/// A run's cadence: the [`ProbeConfig`], the run's length, and the
/// anomaly window it is in.
#[derive(Clone, Debug)]
pub struct Cadence {
    config: ProbeConfig,
    last_step: Option<usize>,
    /// Running level (mean) of `log10` of the global gradient norm.
    level: f64,
    /// Running variance of `log10` of the global gradient norm.
    spread: f64,
    /// Finite, non-zero norms seen.
    seen: usize,
    /// Steps before this one are outside any anomaly window.
    dense_until: usize,
}

/// What a [`Cadence`] has learned from a run's gradient norms: the
/// running level and spread of their `log10`, how many it has seen, and
/// the end of the anomaly window it is in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CadenceState {
    /// Running mean of `log10` of the global gradient norm.
    pub level: f64,
    /// Its running variance.
    pub spread: f64,
    /// Finite, non-zero norms seen.
    pub seen: usize,
    /// Steps before this one are probed densely (an anomaly window).
    pub dense_until: usize,
}

impl Cadence {
    /// The cadence of `config`, in a run of unknown length.
    pub fn new(config: ProbeConfig) -> Self {
        Self {
            config,
            last_step: None,
            level: 0.0,
            spread: 0.0,
            seen: 0,
            dense_until: 0,
        }
    }

    /// The same, for a run of `total` steps: its last step is probed.
    pub fn with_total(mut self, total: usize) -> Self {
        self.last_step = total.checked_sub(1);
        self
    }

    /// The configuration.
    pub fn config(&self) -> &ProbeConfig {
        &self.config
    }

    /// What it has learned from the steps so far (to continue from).
    pub fn state(&self) -> CadenceState {
        CadenceState {
            level: self.level,
            spread: self.spread,
            seen: self.seen,
            dense_until: self.dense_until,
        }
    }

    /// Continues from `state` ([`Cadence::state`] of the same run).
    pub fn set_state(&mut self, state: CadenceState) {
        self.level = state.level;
        self.spread = state.spread;
        self.seen = state.seen;
        self.dense_until = state.dense_until;
    }

    /// Whether step `step` records the per-layer scalars.
    pub fn scalars_at(&self, step: usize) -> bool {
        let c = &self.config;
        c.every > 0
            && (c.scalars_at(step)
                || Some(step) == self.last_step
                || (step < self.dense_until && step.is_multiple_of(c.every)))
    }

    /// Whether step `step` records histograms (the last step does when
    /// histograms are on).
    pub fn histograms_at(&self, step: usize) -> bool {
        let c = &self.config;
        c.histograms_at(step) || (c.histogram_every > 0 && Some(step) == self.last_step)
    }

    /// Tells the cadence step `step`'s global gradient norm (before
    /// clipping); an anomaly opens a window of dense probing after it.
    /// Returns whether the step was an anomaly.
    pub fn note(&mut self, step: usize, grad_norm: f64) -> bool {
        let log = grad_norm.log10();
        let anomaly = if !log.is_finite() {
            true
        } else {
            let d = log - self.level;
            // The variance's running average starts at 0: corrected for
            // that start, as Adam corrects its moments.
            let weight = 1.0 - (1.0 - LEVEL_RATE).powi(self.seen.saturating_sub(1) as i32);
            let spread = if weight > 0.0 {
                self.spread / weight
            } else {
                0.0
            };
            let far = ANOMALY_DECADES.max(ANOMALY_SIGMAS * spread.sqrt());
            // Upward only: a norm that falls (a batch the net already fits)
            // is no event; one that collapses to zero is caught above.
            let anomaly = self.seen >= WARM_UP && d >= far;
            if self.seen == 0 {
                self.level = log;
            } else {
                // Exponentially weighted mean and variance.
                self.level += LEVEL_RATE * d;
                self.spread = (1.0 - LEVEL_RATE) * (self.spread + LEVEL_RATE * d * d);
            }
            self.seen += 1;
            anomaly
        };
        if anomaly && self.config.anomaly_window > 0 {
            self.dense_until = step + 1 + self.config.anomaly_window;
        }
        anomaly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probed(c: &Cadence, steps: std::ops::Range<usize>) -> Vec<usize> {
        steps.filter(|&s| c.scalars_at(s)).collect()
    }

    #[test]
    fn the_default_stride_grows_tenfold_per_decade() {
        let c = ProbeConfig::default();
        let strides: Vec<usize> = [0, 999, 1000, 9_999, 10_000, 100_000, 2_000_000]
            .iter()
            .map(|&s| c.stride_at(s))
            .collect();
        assert_eq!(strides, [1, 1, 10, 10, 100, 1000, 10_000]);
        // 20,000 steps: 1,000 + 900 + 100 probed steps.
        let n = (0..20_000).filter(|&s| c.scalars_at(s)).count();
        assert_eq!(n, 2000);
        // Histograms every 100 steps, then every ten strides.
        let h: Vec<usize> = (0..30_000).filter(|&s| c.histograms_at(s)).collect();
        assert_eq!(h.len(), 10 + 90 + 20);
        assert!(h.iter().all(|&s| c.scalars_at(s)));
    }

    #[test]
    fn thin_after_zero_keeps_the_stride() {
        let c = ProbeConfig {
            every: 3,
            thin_after: 0,
            ..ProbeConfig::default()
        };
        assert_eq!(c.stride_at(1_000_000), 3);
        let never = ProbeConfig {
            every: 0,
            ..ProbeConfig::default()
        };
        assert!(!Cadence::new(never).with_total(10).scalars_at(9));
    }

    #[test]
    fn the_last_step_is_probed() {
        let c = Cadence::new(ProbeConfig::default()).with_total(5_555);
        assert!(c.scalars_at(5_554) && c.histograms_at(5_554));
        assert!(!c.scalars_at(5_553));
    }

    #[test]
    fn a_jump_of_the_gradient_norm_opens_a_dense_window() {
        let mut c = Cadence::new(ProbeConfig::default());
        // A steady norm, with noise well under a decade: no anomaly.
        for s in 0..2_000 {
            let g = 1.0 + 0.5 * ((s % 7) as f64 / 7.0);
            assert!(!c.note(s, g), "step {s}");
        }
        assert_eq!(probed(&c, 2_000..2_200).len(), 20);
        // A spike at step 2,000: every step through 2,100.
        assert!(c.note(2_000, 50.0));
        assert_eq!(probed(&c, 2_001..2_101).len(), 100);
        assert!(!c.scalars_at(2_101));
        // A fall is not (the net fits the batch); zero and non-finite
        // norms are.
        assert!(!c.note(2_500, 1e-4));
        assert!(c.note(3_000, 0.0) && c.note(4_000, f64::NAN));
        // The level follows a sustained change: a new steady value stops
        // being anomalous within a few steps.
        let mut c = Cadence::new(ProbeConfig::default());
        (0..100).for_each(|s| _ = c.note(s, 1.0));
        let flagged = (100..200).filter(|&s| c.note(s, 100.0)).count();
        assert!((1..10).contains(&flagged), "{flagged}");
    }

    #[test]
    fn a_noisy_norm_is_not_an_anomaly_but_a_spike_beyond_its_noise_is() {
        // Swings of up to two decades from step to step, as a small
        // batch's gradient norm has.
        let noisy = |s: usize| 10f64.powf(((s * 7919) % 100) as f64 / 50.0 - 1.0);
        let mut c = Cadence::new(ProbeConfig::default());
        let flagged = (0..2_000).filter(|&s| c.note(s, noisy(s))).count();
        assert_eq!(flagged, 0);
        assert!(c.note(2_000, 1e6));
    }

    #[test]
    fn no_window_without_anomaly_window() {
        let mut c = Cadence::new(ProbeConfig {
            anomaly_window: 0,
            ..ProbeConfig::default()
        });
        (4_980..5_001).for_each(|s| _ = c.note(s, 1.0));
        assert!(c.note(5_001, 1e6));
        assert_eq!(probed(&c, 5_002..5_100).len(), 9);
    }
}
