//! The real binary, driven as a user would: output, JSON, errors and hints.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::Write;

/// The binary, run in a fresh folder (so its `gradscope.db` and reports
/// land there, not in the repository).
fn gradscope() -> Command {
    let dir = tempfile::tempdir().unwrap().keep();
    gradscope_in(&dir)
}

fn gradscope_in(dir: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("gradscope").unwrap();
    c.env("NO_COLOR", "1").current_dir(dir);
    c
}

#[test]
fn train_json_has_the_documented_keys() {
    let out = gradscope()
        .args([
            "train", "--depth", "3", "--width", "32", "--steps", "40", "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "steps",
        "train_loss",
        "train_accuracy",
        "test_loss",
        "test_accuracy",
        "grad_norms",
    ] {
        assert!(v.get(key).is_some(), "missing `{key}` in {v}");
    }
    assert_eq!(v["steps"], 40);
    assert_eq!(v["grad_norms"].as_array().unwrap().len(), 4);
}

#[test]
fn flags_override_the_spec_file() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "steps = 500\n[model]\ndepth = 5\nwidth = 16").unwrap();
    let out = gradscope()
        .args([
            "train",
            f.path().to_str().unwrap(),
            "--steps",
            "10",
            "--depth",
            "2",
            "--json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["steps"], 10);
    assert_eq!(v["grad_norms"].as_array().unwrap().len(), 3);
}

#[test]
fn text_output_reports_both_splits() {
    gradscope()
        .args(["train", "--depth", "2", "--width", "16", "--steps", "20"])
        .assert()
        .success()
        .stdout(predicate::str::contains("held-out  loss"))
        .stdout(predicate::str::contains("first / last layer"));
}

#[test]
fn bad_spec_names_file_line_and_key_with_a_hint() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "steps = 10\n[model]\ndepht = 3").unwrap();
    let path = f.path().display().to_string();
    gradscope()
        .args(["train", &path])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "{path}:3: `model.depht`: unknown field"
        )))
        .stderr(predicate::str::contains(
            "hint: every key and its default is listed in docs/SPEC.md",
        ));
}

#[test]
fn unknown_activation_flag_is_a_usage_error() {
    gradscope()
        .args(["train", "--activation", "sigmoidal"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown activation `sigmoidal`"));
}

#[test]
fn divergence_ends_with_a_message_and_a_hint() {
    gradscope()
        .args([
            "train",
            "--depth",
            "3",
            "--width",
            "64",
            "--init",
            "normal(3)",
            "--lr",
            "1000",
            "--steps",
            "200",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("error: non-finite"))
        .stderr(predicate::str::contains("hint: the run diverged"));
}

#[test]
fn missing_data_dir_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    gradscope()
        .args([
            "train",
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--steps",
            "5",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "train-images-idx3-ubyte.gz: not found",
        ));
}

#[test]
fn demo_runs_all_three_nets_with_reduced_steps() {
    gradscope()
        .args(["demo", "--steps", "30", "--quiet", "--no-record"])
        .assert()
        .success()
        .stdout(predicate::str::contains("report: demo-report.html"))
        .stdout(predicate::str::contains("sigmoid "))
        .stdout(predicate::str::contains("relu+he"))
        .stdout(predicate::str::contains("sigmoid+bn"))
        .stdout(predicate::str::contains("grad first/last"));
}

#[test]
fn eval_data_uses_the_canonical_test_set_when_present() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist");
    if !dir.join("t10k-images-idx3-ubyte.gz").exists() {
        eprintln!("skipped: canonical MNIST test set absent");
        return;
    }
    let out = gradscope()
        .args([
            "train", "--depth", "1", "--width", "64", "--steps", "300", "--json",
        ])
        .args(["--eval-data", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["test_accuracy"].as_f64().unwrap() > 0.8, "{v}");
}

#[test]
fn data_fetch_offline_fails_with_a_clear_message() {
    // A port that was just freed: connection refused, as offline.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cache = tempfile::tempdir().unwrap();
    gradscope()
        .args([
            "data",
            "fetch",
            "mnist",
            "--cache",
            cache.path().to_str().unwrap(),
        ])
        .args(["--mirror", &format!("http://127.0.0.1:{port}/")])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("you appear to be offline"));
}

#[test]
fn recorded_runs_can_be_listed_inspected_diagnosed_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let out = gradscope_in(dir.path())
        .args([
            "train",
            "--depth",
            "12",
            "--width",
            "32",
            "--activation",
            "sigmoid",
        ])
        .args(["--init", "standard", "--steps", "60", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run"], 1);
    assert!(dir.path().join("gradscope.db").exists());

    gradscope_in(dir.path())
        .args(["runs"])
        .assert()
        .success()
        .stdout(predicate::str::contains("finished"))
        .stdout(predicate::str::contains("60/60"));
    let runs: serde_json::Value = serde_json::from_slice(
        &gradscope_in(dir.path())
            .args(["runs", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(runs[0]["id"], 1);

    gradscope_in(dir.path())
        .args(["inspect", "last"])
        .assert()
        .success()
        .stdout(predicate::str::contains("|dL/dW|"))
        .stdout(predicate::str::contains("vanishing_gradient"));

    let out = gradscope_in(dir.path())
        .args(["diagnose", "1", "--json"])
        .output()
        .unwrap();
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &findings[0];
    assert_eq!(f["kind"], "vanishing_gradient");
    for key in ["severity", "layers", "steps", "evidence", "remedies"] {
        assert!(f.get(key).is_some(), "finding lacks `{key}`: {f}");
    }
    assert!(f["remedies"][0]["command"]
        .as_str()
        .unwrap()
        .starts_with("gradscope train"));

    gradscope_in(dir.path())
        .args(["report", "1", "-o", "r.html", "--png", "figs"])
        .assert()
        .success();
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    assert!(html.contains("<svg"));
    assert!(std::fs::read_dir(dir.path().join("figs")).unwrap().count() >= 5);
}

#[test]
fn no_record_leaves_no_store_and_missing_runs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    gradscope_in(dir.path())
        .args([
            "train",
            "--depth",
            "1",
            "--width",
            "8",
            "--steps",
            "5",
            "--no-record",
        ])
        .assert()
        .success();
    assert!(!dir.path().join("gradscope.db").exists());
    gradscope_in(dir.path())
        .args(["inspect", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no such store"));
    gradscope_in(dir.path())
        .args([
            "train", "--depth", "1", "--width", "8", "--steps", "5", "-q",
        ])
        .assert()
        .success();
    gradscope_in(dir.path())
        .args(["inspect", "7"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no run 7"));
}
