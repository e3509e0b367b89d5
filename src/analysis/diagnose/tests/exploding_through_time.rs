//! The exploding-through-time rule on hand-built recurrent records:
//! spikes against the typical norm around them, growth toward early time
//! steps, clipping, divergence, and the runs it must leave alone.

use super::{record, recurrent, value};
use crate::analysis::diagnose::{diagnose, rules, Finding, FindingKind, Severity};
use crate::experiment::{RunRecord, RunStatus};
use crate::nn::ModelKind;

/// A vanilla RNN run of `steps` steps, every probe's `hidden_grad` flat
/// through time, the global gradient norm `norm(step)`.
fn rnn_run(steps: usize, norm: impl Fn(usize) -> f64) -> RunRecord {
    let mut r = record(&[1.0, 1.0], steps);
    r.spec.model.kind = ModelKind::Rnn;
    for s in &mut r.steps {
        s.grad_norm = norm(s.step);
    }
    r
}

/// The rule's finding, which must be there.
fn fired(r: &RunRecord) -> Finding {
    rules::exploding_through_time(r).expect("exploding_through_time fires")
}

#[test]
fn spikes_a_hundred_times_the_typical_norm_are_counted_and_the_largest_named() {
    // Typical 0.5: 0.25, 0.5, 0.5, 1 in turn (half of any window is 0.5).
    let spiky = |step: usize| match step {
        50 => 1e3,
        120 => 5e5,
        // 100x its neighbours' 0.5 is a spike; 99x is not.
        121 => 49.5,
        s => [0.25, 0.5, 0.5, 1.0][s % 4],
    };
    let r = rnn_run(200, spiky);
    let f = fired(&r);
    assert_eq!(
        (f.kind, f.severity),
        (FindingKind::ExplodingGradient, Severity::Critical)
    );
    assert_eq!(value(&f, "spike_steps"), 2.0);
    assert_eq!(value(&f, "largest_spike_step"), 120.0);
    assert_eq!(value(&f, "typical_grad_norm"), 0.5);
    assert_eq!(value(&f, "largest_spike_factor"), 1e6);
    // The largest spike's step was probed: the update took it (here 1e-3).
    assert_eq!(value(&f, "spike_update_ratio"), 1e-3);
    assert_eq!(
        (f.layers.clone(), f.steps.clone()),
        (vec![0], vec![50, 120])
    );
    assert!(
        f.summary.starts_with(
            "the gradient explodes through time: 2 steps had a gradient norm at least 100 \
             times the typical norm around them; the largest, at step 120, was 1.0e6 times it"
        ),
        "{}",
        f.summary
    );
    assert!(f
        .evidence
        .iter()
        .all(|e| !e.name.starts_with("through_time")));
    // Unclipped: clipping first, then the gated cells.
    assert!(
        f.remedies[0].command.contains("--clip-norm 1"),
        "{:?}",
        f.remedies
    );
    assert!(
        f.remedies[1].command.contains("--model lstm"),
        "{:?}",
        f.remedies
    );
    // Spikes of 2e3 at most: a warning.
    let r = rnn_run(200, |s| if s == 120 { 1e3 } else { spiky(s).min(1.0) });
    assert_eq!(value(&fired(&r), "largest_spike_factor"), 2e3);
    assert_eq!(fired(&r).severity, Severity::Warning);
}

#[test]
fn clipped_spikes_are_info_and_say_the_update_did_not_take_them() {
    let mut r = rnn_run(200, |s| if s == 70 { 300.0 } else { 0.5 });
    r.spec.optimizer.clip_norm = Some(1.0);
    let f = fired(&r);
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(value(&f, "clipped_spikes"), 1.0);
    assert!(
        f.summary.contains(
            "clipping to 1 kept 1 of them out of the update (the largest was scaled by 3.3e-3)"
        ),
        "{}",
        f.summary
    );
    // Clipping at 1 is on: no clipping remedy, the gated cells first.
    let clipping = "Gradient clipping at global norm 1";
    assert!(
        f.remedies.iter().all(|r| r.title != clipping),
        "{:?}",
        f.remedies
    );
    assert!(
        f.remedies[0].command.contains("--model lstm"),
        "{:?}",
        f.remedies
    );
    // A spike under the clip norm was not clipped: a warning.
    r.spec.optimizer.clip_norm = Some(500.0);
    let f = fired(&r);
    assert_eq!(
        (f.severity, value(&f, "clipped_spikes")),
        (Severity::Warning, 0.0)
    );
    // A clip norm above 1 is offered at 1.
    assert_eq!(f.remedies[0].title, clipping);
    assert!(
        f.remedies[0].command.ends_with("--clip-norm 1"),
        "{:?}",
        f.remedies
    );
}

#[test]
fn a_gradient_above_the_clip_norm_at_most_steps_is_a_warning() {
    // Norm 10 at every step, a spike of 1e4 at step 30, clipped at 1: 199
    // of 200 steps rescaled... and all 200.
    let mut r = rnn_run(200, |s| if s == 30 { 1e4 } else { 10.0 });
    r.spec.optimizer.clip_norm = Some(1.0);
    let f = fired(&r);
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(value(&f, "clipped_steps_fraction"), 1.0);
    assert!(
        f.summary
            .contains("the median norm, 1.0e1, is above the clip norm 1"),
        "{}",
        f.summary
    );
}

#[test]
fn steady_or_slowly_drifting_norms_and_mlp_spikes_are_left_alone() {
    // Tenfold noise around a norm that falls 1000-fold over the run: the
    // median of the neighbours follows it.
    let drifting = |s: usize| {
        10f64.powf(-3.0 * s as f64 / 1000.0) * if s.is_multiple_of(3) { 8.0 } else { 0.8 }
    };
    assert!(rules::exploding_through_time(&rnn_run(1000, drifting)).is_none());
    // Clipped and healthy: steady norms under the clip norm.
    let mut clipped = rnn_run(200, |s| 0.4 + 0.1 * (s % 5) as f64);
    clipped.spec.optimizer.clip_norm = Some(1.0);
    assert!(rules::exploding_through_time(&clipped).is_none());
    // A healthy LSTM: flat through time, steady norms.
    let mut lstm = recurrent(30, 1.0);
    lstm.spec.model.kind = ModelKind::Lstm;
    assert!(rules::exploding_through_time(&lstm).is_none());
    // An MLP's spike is the exploding-gradient rule's, not this one's.
    let mut mlp = rnn_run(200, |s| if s == 70 { 1e6 } else { 1.0 });
    mlp.spec.model.kind = ModelKind::Mlp;
    assert!(rules::exploding_through_time(&mlp).is_none());
    // Too few steps for a typical norm.
    assert!(rules::exploding_through_time(&rnn_run(9, |s| 10f64.powi(s as i32))).is_none());
}

#[test]
fn a_gradient_growing_toward_early_time_steps_explodes_through_time() {
    // ||dL/dh_t|| doubles per step back over 30 steps: 2^29 = 5.4e8 at t = 1.
    let f = fired(&recurrent(30, 2.0));
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(value(&f, "through_time_peak"), 2f64.powi(29));
    assert_eq!(value(&f, "through_time_growth_steps"), 10.0);
    assert_eq!(value(&f, "through_time_median_peak"), 2f64.powi(29));
    assert!(f.evidence.iter().all(|e| e.name != "spike_steps"));
    assert!(
        f.summary.contains(
            "at step 0 the gradient reaching time step 1 was 5.4e8 times the gradient at the \
             last of 30 time steps; at 10 of 10 probed steps"
        ),
        "{}",
        f.summary
    );
    assert_eq!(f.steps, vec![0, 9]);
    // 1.3^29 = 2.0e3: a warning; 1.2^29 = 198: nothing.
    assert_eq!(fired(&recurrent(30, 1.3)).severity, Severity::Warning);
    assert!(rules::exploding_through_time(&recurrent(30, 1.2)).is_none());
    // The adding problem (T = 50) gets a truncation of 20 among the remedies.
    let mut r = recurrent(30, 2.0);
    r.spec.data.name = "adding".into();
    let f = fired(&r);
    assert!(
        f.remedies
            .iter()
            .any(|r| r.command.contains("--truncation 20")),
        "{:?}",
        f.remedies
    );
}

#[test]
fn spikes_before_a_divergence_are_its_cause_and_name_its_step() {
    // Norm 1, then x100 per step from step 101 to Inf at step 105.
    let mut r = rnn_run(106, |s| match s {
        0..=100 => 1.0,
        105 => f64::INFINITY,
        s => 100f64.powi(s as i32 - 100),
    });
    r.steps.last_mut().unwrap().loss = f64::NAN;
    r.status = RunStatus::Diverged;
    let f = fired(&r);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(value(&f, "spike_steps"), 4.0);
    assert_eq!(value(&f, "diverged_at"), 105.0);
    assert_eq!(f.steps, vec![101, 104]);
    assert!(
        f.summary.ends_with("; the run then diverged at step 105"),
        "{}",
        f.summary
    );
    // Clipped, and diverged all the same: a warning, not info.
    let mut clipped = r.clone();
    clipped.spec.optimizer.clip_norm = Some(1e9);
    assert_eq!(fired(&clipped).severity, Severity::Warning);
    // Divergence first, then its cause (both critical, in rule order).
    let kinds: Vec<FindingKind> = diagnose(&r).iter().map(|f| f.kind).collect();
    assert_eq!(
        &kinds[..2],
        [FindingKind::Divergence, FindingKind::ExplodingGradient]
    );
}
