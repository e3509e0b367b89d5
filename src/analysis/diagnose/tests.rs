//! The rules on hand-built records, where every figure is known exactly.

use super::*;
use crate::experiment::trainer::{EvalRecord, StepRecord};
use crate::experiment::{RunStatus, Spec};
use crate::nn::Loss;
use crate::probe::{LayerProbe, StepProbe, TensorStats};

/// Stats of `n` equal entries with L2 norm `l2`.
fn stats(l2: f64, n: u64) -> TensorStats {
    TensorStats {
        n,
        sum: 0.0,
        sum_sq: l2 * l2,
        max_abs: l2,
        zeros: if l2 == 0.0 { n } else { 0 },
        ..TensorStats::default()
    }
}

/// A layer whose weight gradient and delta both have norm `g`, with
/// healthy weights, update ratio 1e-3, nothing saturated or dead.
fn layer(i: usize, g: f64) -> LayerProbe {
    LayerProbe {
        layer: i,
        path: format!("layers.{}", 2 * i),
        weight: stats(1.0, 100),
        weight_grad: stats(g, 100),
        bias_grad: None,
        pre_grad: stats(g, 640),
        out_grad: stats(g, 640),
        pre: stats(1.0, 640),
        pre_pct: [-1.0, 0.0, 1.0],
        out: stats(1.0, 640),
        saturated: 0.0,
        dead: 0.0,
        update_ratio: 1e-3,
        series: Vec::new(),
    }
}

/// `steps` steps of a run whose layer `i` gets gradient `grads[i]`, loss
/// falling from 2.3 to 0.3, held-out accuracy 90%.
fn record(grads: &[f64], steps: usize) -> RunRecord {
    let mut r = RunRecord::new(Spec::default());
    for step in 0..steps {
        r.steps.push(StepRecord {
            step,
            loss: 2.3 - 2.0 * step as f64 / steps as f64,
            accuracy: 0.5,
            lr: 0.1,
            grad_norm: 1.0,
        });
        let layers = grads
            .iter()
            .enumerate()
            .map(|(i, &g)| layer(i, g))
            .collect();
        r.probes.push(StepProbe {
            step,
            layers,
            histograms: Vec::new(),
        });
    }
    r.evals.push(EvalRecord {
        step: steps,
        train_loss: 0.3,
        train_accuracy: 0.9,
        test_loss: 0.3,
        test_accuracy: 0.9,
    });
    r.status = RunStatus::Finished;
    r
}

fn value(f: &Finding, name: &str) -> f64 {
    f.evidence.iter().find(|e| e.name == name).unwrap().value
}

#[test]
fn an_empty_record_has_no_findings() {
    assert!(diagnose(&RunRecord::new(Spec::default())).is_empty());
}

#[test]
fn a_flat_profile_has_no_findings() {
    assert!(diagnose(&record(&[0.5, 0.4, 0.6, 0.5], 20)).is_empty());
}

/// Regression: the text said "13 of 21 layers (0-12)" (those under the
/// floor) while the `layers` field held those under the warning ratio,
/// 0-17. The text names the field's layers, and the floor's among them.
#[test]
fn a_vanishing_findings_text_names_its_layers() {
    // g_i = 0.1^(9 - i): layers 0-6 under 1e-2 of the last (7 sits at it),
    // 0-2 under 1e-6.
    let grads: Vec<f64> = (0..10).map(|i| 0.1f64.powi(9 - i)).collect();
    let v = &diagnose(&record(&grads, 10))[0];
    assert_eq!(v.layers, (0..=6).collect::<Vec<_>>());
    assert_eq!(value(v, "layers_below_floor"), 3.0);
    assert!(
        v.summary.contains(
            "; 7 of 10 layers (0-6) get less than 1.0e-2 of it, 3 of them (0-2) less than 1.0e-6"
        ),
        "{}",
        v.summary
    );
}

#[test]
fn geometric_decay_is_measured_exactly() {
    // g_i = 0.1^(5 - i): first/last 1e-5, factor 0.1 per layer.
    let grads: Vec<f64> = (0..6).map(|i| 0.1f64.powi(5 - i)).collect();
    let f = diagnose(&record(&grads, 10));
    assert_eq!(f.len(), 1);
    let v = &f[0];
    assert_eq!(
        (v.kind, v.severity),
        (FindingKind::VanishingGradient, Severity::Critical)
    );
    assert!((value(v, "first_last_ratio") / 1e-5 - 1.0).abs() < 1e-9);
    assert!((value(v, "decay_per_layer") - 0.1).abs() < 1e-9);
    assert_eq!(value(v, "layers_below_floor"), 0.0);
    // Layers below 1e-2 of the last (layer 3 sits exactly at it).
    assert_eq!(v.layers, vec![0, 1, 2]);
    assert_eq!(v.steps, vec![0, 9]);
    // Three decades: a warning.
    let grads: Vec<f64> = (0..4).map(|i| 0.1f64.powi(3 - i)).collect();
    let v = &diagnose(&record(&grads, 10))[0];
    assert_eq!(v.severity, Severity::Warning);
}

/// A chaotic init: the gradient grows 1e6-fold toward the input at step 0,
/// the first updates saturate the net, and from then on it vanishes. The
/// explosion at initialization is the cause and is reported; the
/// vanishing (median over the run) is reported beside it.
#[test]
fn an_explosion_at_initialization_is_reported_though_the_run_then_vanishes() {
    let mut r = record(&(0..7).map(|i| 0.1f64.powi(6 - i)).collect::<Vec<_>>(), 10);
    r.probes[0].layers = (0..7).map(|i| layer(i, 10f64.powi(6 - i as i32))).collect();
    let f = diagnose(&r);
    let kinds: Vec<FindingKind> = f.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&FindingKind::VanishingGradient), "{kinds:?}");
    let e = f
        .iter()
        .find(|f| f.kind == FindingKind::ExplodingGradient)
        .expect("the explosion at step 0 is found");
    assert_eq!(e.severity, Severity::Critical);
    assert!((value(e, "init_first_last_ratio") / 1e6 - 1.0).abs() < 1e-9);
    assert!(e.summary.starts_with("at initialization"), "{}", e.summary);
    assert!(e.summary.contains("then vanishes"), "{}", e.summary);
    // 1e3 at step 0 in a run whose gradient then flows: information only.
    let mut absorbed = record(&[1.0; 7], 10);
    absorbed.probes[0].layers = (0..7)
        .map(|i| layer(i, 10f64.powf((6 - i) as f64 / 2.0)))
        .collect();
    let f = diagnose(&absorbed);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].kind, f[0].severity),
        (FindingKind::ExplodingGradient, Severity::Info)
    );
    assert!(f[0].summary.contains("absorbed"), "{}", f[0].summary);
    // Growth at step 0 within the bar (10x over 7 layers) is no finding.
    let mut mild = record(&[1.0; 7], 10);
    mild.probes[0].layers = (0..7)
        .map(|i| layer(i, 10f64.powf((6 - i) as f64 / 6.0)))
        .collect();
    assert!(diagnose(&mild).is_empty());
}

#[test]
fn exact_zeros_are_critical_and_suggest_f64() {
    let f = diagnose(&record(&[0.0, 1e-3, 0.1, 1.0], 10));
    let v = &f[0];
    assert_eq!(v.severity, Severity::Critical);
    assert_eq!(value(v, "underflowed_layers"), 1.0);
    assert_eq!(value(v, "first_last_ratio"), 0.0);
    assert!(v.remedies.last().unwrap().command.ends_with("--dtype f64"));
}

/// The weight gradients a vanishing finding rests on (the first layer's,
/// and the layers it names) with subnormal entries: it says how many, in
/// which layer and step, and suggests f64; a layer it does not name is
/// not counted.
#[test]
fn subnormal_weight_gradients_are_named_and_suggest_f64() {
    // g_i = 0.1^(5 - i): layers 0-2 are named (below 1e-2 of the last).
    let grads: Vec<f64> = (0..6).map(|i| 0.1f64.powi(5 - i)).collect();
    let mut r = record(&grads, 10);
    let plain = diagnose(&r)[0].clone();
    assert!(plain.evidence.iter().all(|e| !e.name.contains("subnormal")));
    assert!(!plain.summary.contains("subnormal"), "{}", plain.summary);
    assert!(plain
        .remedies
        .iter()
        .all(|r| !r.command.contains("--dtype")));
    for p in &mut r.probes {
        p.layers[0].weight_grad.subnormal = if p.step == 3 { 60 } else { 30 };
        p.layers[1].weight_grad.subnormal = 5;
        // Not named: the last layer's subnormals are not what it rests on.
        p.layers[5].weight_grad.subnormal = 90;
    }
    let v = &diagnose(&r)[0];
    assert_eq!(v.kind, FindingKind::VanishingGradient);
    assert_eq!(value(v, "subnormal_layers"), 2.0);
    assert_eq!(value(v, "subnormal_fraction_max"), 0.6);
    assert_eq!(value(v, "first_layer_subnormal_entries"), 60.0);
    assert!(
        v.summary.contains(
            "the weight gradients of layers 0-1 had subnormal entries in f32 (below 1.18e-38, \
             with fewer significant bits: up to 60 of 100 entries, 60%, in layer 0 at step 3)"
        ),
        "{}",
        v.summary
    );
    let f64_remedy = v.remedies.last().unwrap();
    assert!(
        f64_remedy.command.ends_with("--dtype f64"),
        "{f64_remedy:?}"
    );
    assert!(f64_remedy.why.contains("subnormal"), "{f64_remedy:?}");
    // An f64 run is told its figures are subnormal there, and offered no f64.
    r.spec.dtype = crate::experiment::Dtype::F64;
    let v = &diagnose(&r)[0];
    assert!(
        v.summary
            .contains("subnormal entries in f64 (below 2.23e-308"),
        "{}",
        v.summary
    );
    assert!(v.remedies.iter().all(|r| r.title != f64_remedy.title));
}

#[test]
fn exact_zeros_behind_a_dead_layer_are_not_underflow() {
    let mut r = record(&[0.0, 1e-3, 0.1, 1.0], 10);
    for p in &mut r.probes {
        p.layers[1].dead = 1.0;
    }
    let v = diagnose(&r)
        .into_iter()
        .find(|f| f.kind == FindingKind::VanishingGradient)
        .unwrap();
    assert!(v.evidence.iter().all(|e| e.name != "underflowed_layers"));
}

#[test]
fn growth_over_steps_dates_the_take_off() {
    // Norm 1 for 30 steps, then x10 per step from step 30 on.
    let mut r = record(&[1.0, 1.0, 1.0], 40);
    for s in &mut r.steps {
        s.grad_norm = 10f64.powi(s.step.saturating_sub(29) as i32);
    }
    let f = diagnose(&r);
    let e = &f[0];
    assert_eq!(
        (e.kind, e.severity),
        (FindingKind::ExplodingGradient, Severity::Critical)
    );
    assert_eq!(value(e, "early_grad_norm"), 1.0);
    assert_eq!(value(e, "grad_norm_growth"), 1e10);
    // Step 31 is the first above 10x the early median (step 30 is exactly 10).
    assert_eq!(value(e, "takeoff_step"), 31.0);
    assert_eq!(e.steps, vec![31, 39]);
}

#[test]
fn a_diverged_status_without_probes_still_names_the_step() {
    let mut r = record(&[1.0, 1.0, 1.0], 5);
    r.probes.clear();
    r.status = RunStatus::Diverged;
    r.error = Some("non-finite loss at step 5".into());
    let d = &diagnose(&r)[0];
    assert_eq!(
        (d.kind, d.steps.clone()),
        (FindingKind::Divergence, vec![5])
    );
    assert!(d.layers.is_empty());
    assert!(
        d.summary.ends_with("(non-finite loss at step 5)"),
        "{}",
        d.summary
    );
}

#[test]
fn a_nan_born_in_the_backward_pass_is_traced_output_side_first() {
    let mut r = record(&[1.0, 1.0, 1.0, 1.0], 5);
    let p = r.probes.last_mut().unwrap();
    // Layer 2's delta is NaN, and so (downstream in backward) are layers 0-1's.
    for i in 0..3 {
        p.layers[i].pre_grad.nan = 3;
        p.layers[i].weight_grad.nan = 3;
    }
    let d = &diagnose(&r)[0];
    assert_eq!(d.kind, FindingKind::Divergence);
    assert_eq!((d.layers.clone(), d.steps.clone()), (vec![2], vec![4]));
    assert!(
        d.summary.contains("in its pre_grad (3 NaN/Inf entries)"),
        "{}",
        d.summary
    );
}

#[test]
fn input_layers_starved_by_vanishing_do_not_blame_the_learning_rate() {
    let mut r = record(&[1.0, 1.0, 1.0, 1.0, 1.0], 10);
    for p in &mut r.probes {
        for l in &mut p.layers[..3] {
            l.update_ratio = 1e-9;
        }
    }
    assert!(diagnose(&r).is_empty());
    for p in &mut r.probes {
        for l in &mut p.layers {
            l.update_ratio = 1e-9;
        }
    }
    let lr = &diagnose(&r)[0];
    assert_eq!(lr.kind, FindingKind::LearningRate);
    assert!((value(lr, "suggested_lr_factor") - 1e6).abs() < 1e-3);
    assert!(
        lr.remedies[0].command.contains("--lr 100000"),
        "{}",
        lr.remedies[0].command
    );
}

#[test]
fn a_flat_mse_loss_at_chance_accuracy_stalls() {
    let mut r = record(&[1.0, 1.0, 1.0], 20);
    r.spec.loss = Loss::Mse;
    for s in &mut r.steps {
        s.loss = 0.25;
    }
    // Two classes: the output layer's z is batch (64) x 2.
    for p in &mut r.probes {
        p.layers.last_mut().unwrap().pre.n = 128;
    }
    r.evals[0].test_accuracy = 0.52;
    let f = diagnose(&r);
    let s = f.iter().find(|f| f.kind == FindingKind::Stalled).unwrap();
    assert_eq!(value(s, "early_loss"), 0.25);
    assert_eq!(value(s, "chance_accuracy"), 0.5);
    r.evals[0].test_accuracy = 0.7;
    assert!(diagnose(&r).iter().all(|f| f.kind != FindingKind::Stalled));
}

#[test]
fn findings_come_most_severe_first() {
    // Saturation (warning) in a sigmoid net with a critical vanishing.
    let grads: Vec<f64> = (0..6).map(|i| 0.1f64.powi(5 - i)).collect();
    let mut r = record(&grads, 10);
    r.spec.model.activation = crate::nn::Activation::Sigmoid;
    for p in &mut r.probes {
        p.layers[4].saturated = 0.7;
        p.layers[5].saturated = f64::NAN;
    }
    let f = diagnose(&r);
    let order: Vec<(FindingKind, Severity)> = f.iter().map(|f| (f.kind, f.severity)).collect();
    assert_eq!(
        order,
        vec![
            (FindingKind::VanishingGradient, Severity::Critical),
            (FindingKind::Saturation, Severity::Warning),
        ]
    );
    assert_eq!(f[1].layers, vec![4]);
    assert_eq!(f[1].steps, vec![0, 9]);
}

/// A recurrent run whose `||dL/dh_t||` halves per step back from the
/// last of `t_len` steps (`decay` 0.5), or stays flat (`decay` 1).
fn recurrent(t_len: usize, decay: f64) -> RunRecord {
    let mut r = record(&[1.0, 1.0], 10);
    r.spec.model.kind = crate::nn::ModelKind::Rnn;
    for p in &mut r.probes {
        p.layers[0].series = vec![crate::probe::Series {
            tensor: "hidden_grad".into(),
            axis: crate::probe::Axis::TimeStep,
            stats: (0..t_len)
                .map(|t| stats_with_l2(decay.powi((t_len - 1 - t) as i32)))
                .collect(),
        }];
    }
    r
}

/// Statistics of a tensor whose L2 norm is `l2`.
fn stats_with_l2(l2: f64) -> crate::probe::TensorStats {
    crate::probe::TensorStats {
        n: 4,
        sum_sq: l2 * l2,
        max_abs: l2,
        ..Default::default()
    }
}

#[test]
fn a_gradient_halving_per_time_step_vanishes_beyond_a_twenty_step_horizon() {
    let f = rules::vanishing_through_time(&recurrent(30, 0.5)).unwrap();
    assert_eq!(f.kind, FindingKind::VanishingGradient);
    // 0.5^20 = 9.5e-7 is the first below 1e-6: 20 steps back.
    assert_eq!(value(&f, "horizon_steps"), 20.0);
    assert!((value(&f, "decay_per_step") - 0.5).abs() < 1e-9);
    assert!((value(&f, "first_last_through_time") - 0.5f64.powi(29)).abs() < 1e-20);
    assert!(f.summary.contains("the first 10 steps"), "{}", f.summary);
    // Twenty of thirty steps still reached: a warning, not critical.
    assert_eq!(f.severity, Severity::Warning);
    assert!(
        f.remedies[0].command.contains("--model lstm"),
        "{:?}",
        f.remedies[0]
    );
    // Faster decay, horizon 10 of 40: critical.
    let f = rules::vanishing_through_time(&recurrent(40, 0.25)).unwrap();
    assert_eq!(
        (value(&f, "horizon_steps"), f.severity),
        (10.0, Severity::Critical)
    );
    // A flat gradient through time, and an MLP's record: nothing.
    assert!(rules::vanishing_through_time(&recurrent(30, 1.0)).is_none());
    assert!(rules::vanishing_through_time(&record(&[1.0, 1e-9, 1.0], 10)).is_none());
    // The depth rule leaves recurrent runs to this one.
    let mut deep = record(&[1e-9, 1e-5, 1.0], 10);
    deep.spec.model.kind = crate::nn::ModelKind::Lstm;
    assert!(rules::vanishing_gradient(&deep).is_none());
}

mod exploding_through_time;
