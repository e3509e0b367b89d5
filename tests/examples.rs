//! The programs in examples/ run and do what their headers say. Each
//! example's source is compiled here as a module and its core function
//! called directly: `cargo test` builds the example binaries too, but a
//! test filtered with `--test examples` would not find them, and a
//! function's result can be checked more closely than a binary's output.

use gradscope::analysis::diagnose::{FindingKind, Severity};
use gradscope::experiment::RunStatus;
use gradscope::store::Store;

#[allow(dead_code)]
#[path = "../examples/custom_loop.rs"]
mod custom_loop;

#[allow(dead_code)]
#[path = "../examples/train_and_diagnose.rs"]
mod train_and_diagnose;

#[allow(dead_code)]
#[path = "../examples/read_store.rs"]
mod read_store;

/// The user-written loop's steps and probes reach both sinks: the record
/// in memory and the store hold the same run, and diagnosis finds the
/// 12-layer sigmoid net's vanishing gradient.
#[test]
fn custom_loop_records_every_step_and_finds_the_vanishing_gradient() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let ran = custom_loop::run(&db).unwrap();
    let record = &ran.record;
    assert_eq!(record.status, RunStatus::Finished);
    assert_eq!(record.steps.len(), custom_loop::STEPS);
    assert_eq!(record.probes.len(), custom_loop::STEPS);
    assert_eq!(record.depth(), 13, "12 hidden layers and the output layer");
    // The prober saw the loop's own update move the output layer (the
    // first layers' gradients, near 1e-11, move nothing in f32).
    let last = record.probes.last().unwrap();
    assert!(last.layers.iter().all(|l| l.update_ratio.is_finite()));
    assert!(last.layers[12].update_ratio > 1e-6);

    let store = Store::open(&db).unwrap();
    let stored = store.load(ran.run_id).unwrap();
    assert_eq!(stored.status, RunStatus::Finished);
    assert_eq!(stored.steps.len(), record.steps.len());
    assert_eq!(stored.probes.len(), record.probes.len());
    assert_eq!(store.findings(ran.run_id).unwrap(), ran.findings);

    let vanishing = ran
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::VanishingGradient)
        .expect("a vanishing-gradient finding");
    assert_eq!(vanishing.severity, Severity::Critical);
    assert!(!vanishing.remedies.is_empty());
}

/// Both runs are stored; the saturating spec is diagnosed as saturated
/// and the Batch Normalization remedy clears it. The example's own sink
/// saw every step; `read_store` reads the newest run back.
#[test]
fn train_and_diagnose_then_read_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let outcomes = train_and_diagnose::run(&db).unwrap();
    assert_eq!(outcomes.len(), 2);
    let kinds =
        |i: usize| -> Vec<FindingKind> { outcomes[i].0.findings.iter().map(|f| f.kind).collect() };
    assert!(
        kinds(0).contains(&FindingKind::Saturation),
        "{:?}",
        kinds(0)
    );
    assert!(
        !kinds(1).contains(&FindingKind::Saturation),
        "{:?}",
        kinds(1)
    );
    for (outcome, counter) in &outcomes {
        let summary = outcome.result.as_ref().unwrap();
        assert_eq!(counter.steps, summary.steps);
        assert_eq!(counter.probes, outcome.record.probes.len());
        assert_eq!(summary.layers.len(), 11);
    }

    let read = read_store::read(&db, None).unwrap();
    assert_eq!(read.runs.len(), 2);
    assert_eq!(read.record.id, outcomes[1].0.run_id);
    assert_eq!(read.record.spec.name, "tanh-10-large-init+bn");
    assert_eq!(read.profile.len(), 11);
    let paths: Vec<&str> = read.profile.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, outcomes[1].0.record.summary.as_ref().unwrap().layers);
    assert!(read.profile.iter().all(|r| r.weight_grad > 0.0));
    assert_eq!(read.findings, outcomes[1].0.findings);

    let first = read_store::read(&db, outcomes[0].0.run_id).unwrap();
    assert_eq!(first.record.spec.name, "tanh-10-large-init");
    assert_eq!(first.findings, outcomes[0].0.findings);
}

/// An empty store is an error naming the file, not a panic.
#[test]
fn read_store_says_when_the_store_is_empty() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("runs.db");
    let err = read_store::read(&db, None).err().expect("an error");
    let text = err.to_string();
    assert!(
        text.contains("runs.db") && text.contains("no run"),
        "{text}"
    );
}
