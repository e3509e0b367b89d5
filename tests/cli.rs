//! The real binary, driven as a user would: output, JSON, errors and hints.

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::Write;

mod support;
use support::skip;

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
            "hint: every key and its default is listed by `",
        ))
        .stderr(predicate::str::contains(
            "gradscope train --help` (and in docs/SPEC.md)",
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

/// `--simd` runs a lower level (the same figures to rounding), and a
/// level that does not exist is refused naming the flag and the choices.
#[test]
fn simd_flag_runs_a_lower_level_and_refuses_unknown_ones() {
    let loss = |level: &str| {
        let out = gradscope()
            .args([
                "train", "--depth", "2", "--width", "32", "--steps", "20", "--json", "--simd",
                level,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["train_loss"].as_f64().unwrap()
    };
    let (portable, widest) = (
        loss("portable"),
        loss(&gradscope::tensor::Simd::detected().to_string()),
    );
    assert!(
        (portable - widest).abs() < 1e-4 * widest,
        "{portable} vs {widest}"
    );
    gradscope()
        .args(["train", "--simd", "sse9"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--simd").and(predicate::str::contains("avx2")));
    // The level reaches the pool: at `portable` no build of our kernel runs.
    gradscope()
        .args([
            "bench", "--simd", "portable", "--depth", "1", "--width", "8", "--batch", "4",
            "--steps", "1", "--reps", "1", "--warmup", "1", "--peak-ms", "10",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "SIMD level portable; our kernel's build for dense products: none, for convolutions: none",
        ));
    gradscope()
        .args(["bench", "--gemm", "--simd", "avx2"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("drop --simd"));
}

/// Regression (issue 18, misleading messages): `bench --reps 0` ran one
/// repetition, `--peak-ms 0` printed "inf%", and `train --threads 0` was
/// accepted where `bench --threads 0` was refused.
#[test]
fn zero_counts_are_refused_naming_the_flag() {
    for args in [
        &["bench", "--reps", "0"][..],
        &["bench", "--steps", "0"],
        &["bench", "--peak-ms", "0"],
        &["bench", "--threads", "0"],
        &["train", "--threads", "0"],
    ] {
        gradscope()
            .args(args)
            .assert()
            .failure()
            .stderr(predicate::str::contains(format!(
                "{} must be at least 1",
                args[1]
            )));
    }
}

/// Regression (issue 18): a run name with ESC and BEL sequences was
/// printed raw by `train`, `runs`, `inspect` and `diagnose`: each now
/// shows them escaped, and no control character reaches the terminal.
#[test]
fn control_characters_in_a_run_name_never_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(
        f,
        "name = \"evil\\u001b[2J\\u0007bell\"\nsteps = 5\n[model]\ndepth = 1\nwidth = 8"
    )
    .unwrap();
    let train = gradscope_in(dir.path())
        .args(["train", f.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        train.status.success(),
        "{}",
        String::from_utf8_lossy(&train.stderr)
    );
    for args in [&["runs"][..], &["inspect", "last"], &["diagnose", "last"]] {
        let out = gradscope_in(dir.path()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = [out.stdout, out.stderr].concat();
        let text = String::from_utf8_lossy(&text);
        // (`runs` cuts names at 20 characters.)
        assert!(text.contains("evil\\u{1b}[2J\\u{7}b"), "{args:?}: {text}");
        assert!(!text.contains(['\u{1b}', '\u{7}']), "{args:?}: {text}");
    }
    let text = String::from_utf8_lossy(&[train.stdout, train.stderr].concat()).to_string();
    assert!(!text.contains(['\u{1b}', '\u{7}']), "train: {text}");
}

/// Regression (issue 18, misleading messages): `report -o -` wrote a
/// file named `-`; `report --png FILE` failed with "File exists" after
/// writing the HTML; `demo --report` into a missing folder failed only
/// after training.
#[test]
fn report_paths_are_checked_first_and_dash_means_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let at = || gradscope_in(dir.path());
    at().args([
        "train", "--depth", "1", "--width", "8", "--steps", "3", "-q",
    ])
    .assert()
    .success();
    let out = at().args(["report", "last", "-o", "-"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("<!DOCTYPE html>"));
    assert!(!dir.path().join("-").exists(), "a file named `-`");
    std::fs::write(dir.path().join("figs"), "a file").unwrap();
    at().args(["report", "last", "-o", "r.html", "--png", "figs"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--png figs: not a folder"));
    assert!(
        !dir.path().join("r.html").exists(),
        "nothing written before the error"
    );
    at().args(["demo", "--steps", "50", "--report", "no/such/folder/r.html"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no folder no/such/folder"));
    at().args(["demo", "--steps", "50", "--report", "-"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--report -"));
    // Refused before training: no demo run was recorded.
    let runs = at().arg("runs").output().unwrap();
    assert!(!String::from_utf8_lossy(&runs.stdout).contains("sigmoid"));
}

/// Regression (issue 18): a missing spec file printed the OS error twice
/// (`x.toml: No such file or directory (os error 2): No such file...`).
#[test]
fn an_os_error_is_printed_once() {
    let out = gradscope()
        .args(["train", "no-such-spec.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-spec.toml: "), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}

/// Regression (issue 18): Ctrl-C or SIGTERM killed the process at once
/// and left the run `running`. Now training stops after the step it is
/// running, the run is recorded `interrupted` with its steps, and the
/// process exits 130 (SIGINT) or 143 (SIGTERM).
#[test]
fn ctrl_c_and_sigterm_stop_after_a_step_and_mark_the_run_interrupted() {
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("gradscope"))
            .args([
                "train",
                "--depth",
                "1",
                "--width",
                "16",
                "--steps",
                "100000000",
                "-q",
            ])
            .current_dir(dir.path())
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The store is opened after the handlers are installed: once it
        // is there (and a moment more, for the first steps), a signal
        // stops training.
        let db = dir.path().join("gradscope.db");
        for _ in 0..200 {
            if db.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if !db.exists() {
            let _ = child.kill();
            let _ = child.wait();
            panic!("training did not start");
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        let pid = child.id().to_string();
        let killed = std::process::Command::new("kill")
            .args([signal, &pid])
            .status();
        if !killed.is_ok_and(|s| s.success()) {
            let _ = child.kill();
            let _ = child.wait();
            return skip("no `kill` command to send the signal with");
        }
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{signal}: {err}");
        assert!(
            err.contains("stopped after step") && err.contains("inspect 1` shows it"),
            "{err}"
        );
        let runs = gradscope_in(dir.path()).arg("runs").output().unwrap();
        let runs = String::from_utf8_lossy(&runs.stdout);
        assert!(runs.contains("interrupted"), "{signal}: {runs}");
        assert!(!runs.contains(" 0/100000000"), "no step recorded: {runs}");
    }
}

/// Regression (issue 18, misleading messages): a loss that is not finite
/// before any update (huge initial weights here) was answered with
/// "lower --lr".
#[test]
fn a_non_finite_first_step_does_not_blame_the_learning_rate() {
    let out = gradscope()
        .args([
            "train",
            "--depth",
            "2",
            "--width",
            "16",
            "--steps",
            "5",
            "--init",
            "normal(1e30)",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at step 0"), "{err}");
    assert!(
        err.contains("before any update") && !err.contains("lower --lr"),
        "{err}"
    );
    // Nor do the divergence finding's remedies: an init suited to ReLU.
    assert!(!err.contains("Learning rate /10"), "{err}");
    assert!(err.contains("he_normal initialization"), "{err}");
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
fn the_rnn_demo_runs_both_nets_and_writes_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = gradscope_in(dir.path())
        .args(["demo", "--rnn", "--steps", "20", "--quiet"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    for want in [
        "adding-rnn",
        "adding-lstm",
        "of mean predictor",
        "report: demo-rnn-report.html",
    ] {
        assert!(stdout.contains(want), "no `{want}` in {stdout}");
    }
    let html = std::fs::read_to_string(dir.path().join("demo-rnn-report.html")).unwrap();
    assert!(html.contains("Gradient through time"));
}

/// The canonical MNIST files: `$GRADSCOPE_MNIST_DIR`, else where
/// `gradscope data fetch mnist` puts them.
fn canonical_mnist() -> std::path::PathBuf {
    std::env::var_os("GRADSCOPE_MNIST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| gradscope::data::fetch::cache_dir().join("mnist"))
}

#[test]
fn eval_data_uses_the_canonical_test_set_when_present() {
    let dir = canonical_mnist();
    if !dir.join("t10k-images-idx3-ubyte.gz").exists() {
        return skip(&format!(
            "no canonical MNIST test set in {} (set GRADSCOPE_MNIST_DIR, or run `gradscope data fetch mnist`)",
            dir.display()
        ));
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
    let out = gradscope()
        .args([
            "data",
            "fetch",
            "mnist",
            "--cache",
            cache.path().to_str().unwrap(),
        ])
        .args(["--mirror", &format!("http://127.0.0.1:{port}/")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    // Regression: the hint was inside the `error:` line.
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    assert!(
        lines[at].starts_with("error: cannot reach http://127.0.0.1:")
            && lines[at].ends_with("you appear to be offline"),
        "{stderr}"
    );
    assert_eq!(
        lines[at + 1..],
        ["hint: download the files by hand and pass their folder with `--data-dir`"]
    );
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

/// The spec `args` resolve to (`train ... --print-spec`), run in `dir`.
fn resolved_in(dir: &std::path::Path, args: &[&str]) -> gradscope::experiment::Spec {
    let out = gradscope_in(dir)
        .arg("train")
        .args(args)
        .arg("--print-spec")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    gradscope::experiment::Spec::from_toml(&String::from_utf8(out.stdout).unwrap(), "stdout")
        .unwrap()
}

fn resolved(args: &[&str]) -> gradscope::experiment::Spec {
    resolved_in(&tempfile::tempdir().unwrap().keep(), args)
}

#[test]
fn set_reaches_keys_without_a_flag() {
    let spec = resolved(&[
        "--set",
        "model.bn_momentum=0.05",
        "--set",
        "optimizer.clip_value=1.0",
        "--set",
        "probe.every=10",
        "--set",
        "schedule={name = \"step\", every = 100, gamma = 0.5}",
        "--set",
        "model.init=normal(0.5)",
    ]);
    assert_eq!(spec.model.bn_momentum, 0.05);
    assert_eq!(spec.optimizer.clip_value, Some(1.0));
    assert_eq!(spec.probe.every, 10);
    assert_eq!(spec.schedule.lr_at(1.0, 100), 0.5);
    assert_eq!(spec.model.init.to_string(), "normal(0.5)");
}

/// The file, then `--set` in order, then the flags: later wins.
#[test]
fn set_applies_after_the_file_and_before_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, "[probe]\nevery = 5\n[model]\ndepth = 4\n").unwrap();
    let file = file.to_str().unwrap();
    assert_eq!(resolved_in(dir.path(), &[file]).probe.every, 5);
    let spec = resolved_in(
        dir.path(),
        &[file, "--set", "probe.every=7", "--set", "probe.every=10"],
    );
    assert_eq!((spec.probe.every, spec.model.widths.len()), (10, 4));
    let spec = resolved_in(
        dir.path(),
        &[
            file,
            "--probe-every",
            "20",
            "--set",
            "probe.every=10",
            "--set",
            "model.depth=2",
        ],
    );
    assert_eq!((spec.probe.every, spec.model.widths.len()), (20, 2));
}

#[test]
fn unknown_keys_and_bad_values_in_set_are_named() {
    gradscope()
        .args(["train", "--set", "model.depht=3", "--print-spec"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: --set model.depht=3: `model.depht`: unknown field `depht`",
        ))
        .stderr(predicate::str::contains("hint: every key"));
    gradscope()
        .args(["train", "--set", "optimizer.lr=fast", "--print-spec"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: --set optimizer.lr=fast: `optimizer.lr`: invalid type: string \"fast\"",
        ));
    gradscope()
        .args(["train", "--set", "probe.every"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not KEY=VALUE"));
}

/// `bn` is an alias of `batch` everywhere: flag, `--set`, spec file.
#[test]
fn bn_is_batch_in_flags_set_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bn.toml");
    std::fs::write(&file, "[model]\nnorm = \"bn\"\n").unwrap();
    for args in [
        vec!["--norm", "bn"],
        vec!["--set", "model.norm=bn"],
        vec![file.to_str().unwrap()],
    ] {
        let spec = resolved_in(dir.path(), &args);
        assert_eq!(spec.model.norm, gradscope::nn::Norm::Batch, "{args:?}");
    }
    gradscope()
        .args(["train", "--norm", "batchnorm"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown norm `batchnorm`"));
}

/// Regression: `train --help` listed init names the parser did not take
/// (and missed their arguments); the help now prints each type's one list,
/// and ends with every spec key.
#[test]
fn train_help_prints_the_parsers_names_and_every_key() {
    let out = gradscope().args(["train", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for names in [
        gradscope::tensor::Init::NAMES,
        gradscope::nn::Activation::NAMES,
        gradscope::nn::Norm::NAMES,
        gradscope::optim::OptimizerName::NAMES,
        gradscope::nn::Loss::NAMES,
        gradscope::experiment::Dtype::NAMES,
    ] {
        assert!(
            help.contains(names),
            "`train --help` lacks `{names}`:\n{help}"
        );
    }
    for key in [
        "bn_momentum = 0.1",
        "clip_value",
        "histogram_every = 100",
        "warmup_steps",
    ] {
        assert!(help.contains(key), "`train --help` lacks `{key}`");
    }
}

/// Regression: stdout was styled when stderr was a terminal, so
/// `gradscope train ... > out.txt` wrote ANSI escapes into the file. Runs
/// the binary under `script` (a terminal on stderr), stdout to a file.
#[test]
fn output_to_a_file_has_no_escapes_when_stderr_is_a_terminal() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        return skip("no `script` (util-linux) to give the binary a terminal");
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("gradscope");
    let line = format!(
        "'{}' train --depth 1 --width 8 --steps 5 --no-record > out.txt",
        bin.display()
    );
    let status = std::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(dir.path())
        .env_remove("NO_COLOR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::fs::read(dir.path().join("out.txt")).unwrap();
    assert!(
        String::from_utf8_lossy(&out).contains("run `run`: 5 steps"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        !out.contains(&0x1b),
        "escape in stdout: {:?}",
        String::from_utf8_lossy(&out)
    );
}

/// Missing data says what to do: `--data cifar10` before `data fetch
/// cifar10` names the file it looked for and the command that fetches it;
/// a missing `--eval-data` folder points at `data fetch`, not `--data mnist`.
#[test]
fn missing_data_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = gradscope()
            .current_dir(dir.path())
            .env("GRADSCOPE_CACHE", dir.path().join("cache"))
            .args(["train", "--no-record", "--steps", "1"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        String::from_utf8(out.stderr).unwrap()
    };
    let cifar = run(&["--data", "cifar10"]);
    let batch = dir.path().join("cache/cifar10/data_batch_1.bin");
    assert!(
        cifar.contains(&format!("{}: not found", batch.display()))
            && cifar.contains("gradscope data fetch cifar10`"),
        "{cifar}"
    );
    let missing = dir.path().join("nowhere");
    let eval = run(&["--eval-data", missing.to_str().unwrap()]);
    assert!(
        eval.contains("hint: `") && eval.contains("gradscope data fetch mnist`"),
        "{eval}"
    );
    assert!(!eval.contains("(--data mnist)"), "{eval}");
}

/// `train --help` gives each flag's default (the spec's), so a newcomer
/// sees what a bare `train` runs.
#[test]
fn train_help_shows_the_defaults() {
    let out = gradscope().args(["train", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for want in [
        "[key: steps, default: 1000]",
        "[key: optimizer.lr, default: 0.1]",
        "[key: optimizer.name, default: sgd]",
        "[key: batch, default: 64]",
    ] {
        assert!(help.contains(want), "no `{want}` in:\n{help}");
    }
    // Unset by default: no default shown.
    assert!(help.contains("[key: optimizer.clip_norm]"), "{help}");
}

/// The commands `train` prints run as printed: the binary is not on
/// `PATH` here, so they start with its path, not a bare `gradscope`.
#[test]
fn printed_commands_run_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = gradscope()
        .current_dir(dir.path())
        .args([
            "train", "--data", "xor", "--steps", "5", "--depth", "1", "--width", "8",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("run 1:"))
        .unwrap_or_else(|| panic!("no run line in {stdout}"));
    let inspect = line.split('`').nth(1).unwrap();
    let exe = std::fs::canonicalize(assert_cmd::cargo::cargo_bin("gradscope")).unwrap();
    assert_eq!(inspect, format!("{} inspect 1", exe.display()), "{line}");
    let again = std::process::Command::new("sh")
        .args(["-c", inspect])
        .current_dir(dir.path())
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// `runs` shows what each run takes; `rm` removes runs (ids, ranges,
/// `last`) with everything recorded about them, and `gc` gives the space
/// back. A store other than `gradscope.db` is named in the printed
/// commands, so they run as printed.
#[test]
fn runs_show_their_size_and_rm_and_gc_reclaim_it() {
    let dir = tempfile::tempdir().unwrap();
    let train = |steps: &str| {
        let out = gradscope_in(dir.path())
            .args([
                "--db",
                "my runs.db",
                "train",
                "--data",
                "xor",
                "--depth",
                "2",
            ])
            .args(["--width", "16", "--steps", steps])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let printed = train("400");
    assert!(printed.contains("--db 'my runs.db' inspect 1"), "{printed}");
    for _ in 0..3 {
        train("10");
    }
    let db = dir.path().join("my runs.db");
    let runs = |json: bool| {
        let mut c = gradscope_in(dir.path());
        c.args(["--db", "my runs.db", "runs"]);
        if json {
            c.arg("--json");
        }
        String::from_utf8(c.output().unwrap().stdout).unwrap()
    };
    let table = runs(false);
    assert!(table.contains(" size") && table.contains(" kB"), "{table}");
    let rows: serde_json::Value = serde_json::from_str(&runs(true)).unwrap();
    let bytes: Vec<u64> = (0..4).map(|i| rows[i]["bytes"].as_u64().unwrap()).collect();
    assert!(bytes[0] > 10 * bytes[1], "{bytes:?}");

    gradscope_in(dir.path())
        .args(["--db", "my runs.db", "rm", "2"])
        .assert()
        .success();
    // A range skips the gap an earlier removal left.
    gradscope_in(dir.path())
        .args(["--db", "my runs.db", "rm", "1-3"])
        .assert()
        .success()
        .stdout(predicate::str::contains("removed 2 runs"));
    let before = std::fs::metadata(&db).unwrap().len();
    gradscope_in(dir.path())
        .args(["--db", "my runs.db", "gc"])
        .assert()
        .success()
        .stdout(predicate::str::contains("given back"));
    assert!(std::fs::metadata(&db).unwrap().len() < before);
    let rows: serde_json::Value = serde_json::from_str(&runs(true)).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["id"], 4);
    gradscope_in(dir.path())
        .args(["--db", "my runs.db", "rm", "9"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no run 9"));
}

/// Regression (issue 18): depth 100,000 took 9.5 GB before failing and
/// width 10,000,000 aborted with a backtrace; a batch larger than the
/// data left a failed `0/0` row. Each is now refused before anything is
/// built or recorded, naming the field and (for sizes) the estimate, and
/// the store holds no run; `--max-memory` bounds the estimate.
#[test]
fn runs_that_cannot_start_are_refused_first_and_leave_no_row() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            &["--depth", "100000"][..],
            "invalid value for `model`: the run needs at least",
        ),
        (&["--width", "10000000"], "parameters with their gradients"),
        (
            &["--batch", "100000"],
            "invalid value for `batch`: 100000 is larger than",
        ),
        (&["--max-memory", "1M"], "more than --max-memory (1.0 MB)"),
    ] {
        let out = gradscope_in(dir.path())
            .args(["train", "--data", "xor", "--steps", "5"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(
        !dir.path().join("gradscope.db").exists(),
        "refused before the store was even made"
    );
    gradscope_in(dir.path())
        .args([
            "train",
            "--data",
            "xor",
            "--steps",
            "5",
            "--max-memory",
            "64M",
        ])
        .assert()
        .success();
}

/// Bad run ids (the hostile-input pass of issue 18 found these held):
/// each is refused in one line naming what is wrong.
#[test]
fn bad_run_ids_are_refused_naming_the_id() {
    let dir = tempfile::tempdir().unwrap();
    gradscope_in(dir.path())
        .args(["train", "--data", "xor", "--steps", "3", "--quiet"])
        .assert()
        .success();
    for (args, says) in [
        (&["inspect", "abc"][..], "`abc` is not a run id"),
        (&["inspect", "99"], "no run 99"),
        (&["diagnose", "0"], "no run 0"),
        (
            &["rm", "7-3"],
            "a range goes from the lower id to the higher",
        ),
        (&["report", "1.5"], "`1.5` is not a run id"),
    ] {
        let out = gradscope_in(dir.path()).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
