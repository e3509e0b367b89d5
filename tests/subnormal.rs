//! f32 loses a vanished gradient's precision before it loses the gradient
//! (issue 11, section 4): in a 50-layer sigmoid net with "standard" init the
//! gradient shrinks by about 0.14 per layer toward the input, so the first
//! layer's weight gradient lands below f32's smallest normal magnitude
//! (1.18e-38), where an f32 keeps only some of its 24 significant bits. The
//! probe counts those subnormal entries, and the vanishing-gradient finding
//! says so and suggests f64.
//!
//! Both nets are built from one seed: the initializer draws every weight in
//! f64 and rounds it to the run's dtype, and the batch is the same, so the
//! two first-layer gradients differ by rounding only where f32 is normal.

use gradscope::analysis::diagnose::{diagnose, FindingKind};
use gradscope::experiment::trainer::train;
use gradscope::experiment::{RecordSink, RunRecord, Spec};
use gradscope::probe::TensorStats;

/// One step (one batch) of the 50-layer sigmoid net in `dtype`.
fn one_step(dtype: &str) -> RunRecord {
    let spec = Spec::from_toml(
        &format!(
            r#"
            name = "sigmoid-50-{dtype}"
            dtype = "{dtype}"
            steps = 1
            [model]
            depth = 50
            width = 100
            activation = "sigmoid"
            init = "standard"
            "#
        ),
        "test",
    )
    .unwrap();
    let data = spec.prepare_data().unwrap();
    let mut sink = RecordSink::new(spec.clone());
    train(&spec, &data, &mut sink).unwrap();
    sink.record
}

/// Layer `i`'s weight gradient at the one probed step.
fn weight_grad(r: &RunRecord, i: usize) -> TensorStats {
    r.probes[0].layers[i].weight_grad
}

/// Relative difference of two norms.
fn rel(a: f64, b: f64) -> f64 {
    (a / b - 1.0).abs()
}

#[test]
fn a_50_layer_sigmoid_nets_first_layer_gradient_is_subnormal_in_f32() {
    let (r32, r64) = (one_step("f32"), one_step("f64"));
    let (g32, g64) = (weight_grad(&r32, 0), weight_grad(&r64, 0));
    // The f64 gradient is far below f32's normal range, and normal in f64.
    assert!(g64.max_abs < f32::MIN_POSITIVE as f64, "{g64:?}");
    assert_eq!(g64.subnormal, 0, "{g64:?}");
    // In f32 every non-zero entry is subnormal, and counted. (MNIST's
    // blank pixels give exact zeros in both. Measured: of the f64
    // gradient's 47,200 non-zero entries, 16,305 are subnormal in f32 and
    // the rest flushed to zero.)
    assert_eq!(g32.n, g64.n);
    assert_eq!(g32.subnormal + g32.zeros, g32.n, "no normal entry: {g32:?}");
    let nonzero = g64.n - g64.zeros;
    assert!(g32.subnormal > nonzero / 4, "{g32:?}\n{g64:?}");
    // Its norm is off by far more than rounding (measured: 5.0e-43 in
    // f32, 4.5e-43 in f64) ...
    assert!(
        rel(g32.l2(), g64.l2()) > 0.05,
        "f32 {:e} vs f64 {:e}",
        g32.l2(),
        g64.l2()
    );
    // ... while the last layer's, normal in both, agrees to rounding.
    let last = r32.depth() - 1;
    let (l32, l64) = (weight_grad(&r32, last), weight_grad(&r64, last));
    assert_eq!(l32.subnormal, 0);
    assert!(
        rel(l32.l2(), l64.l2()) < 1e-4,
        "{:e} vs {:e}",
        l32.l2(),
        l64.l2()
    );

    // The finding says what it rests on, and suggests f64.
    let findings = diagnose(&r32);
    let v = findings
        .iter()
        .find(|f| f.kind == FindingKind::VanishingGradient)
        .expect("a vanishing gradient");
    assert!(
        v.summary.contains("had subnormal entries in f32"),
        "{}",
        v.summary
    );
    let first = v
        .evidence
        .iter()
        .find(|e| e.name == "first_layer_subnormal_entries")
        .expect("the first layer's count");
    assert_eq!(first.value, g32.subnormal as f64);
    assert!(
        v.remedies
            .iter()
            .any(|r| r.command.ends_with("--dtype f64")),
        "{:?}",
        v.remedies
    );
    // In f64 the same figures are exact: no such clause.
    let v64 = diagnose(&r64)
        .into_iter()
        .find(|f| f.kind == FindingKind::VanishingGradient)
        .expect("a vanishing gradient in f64 too");
    assert!(!v64.summary.contains("subnormal"), "{}", v64.summary);
}
