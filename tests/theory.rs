//! `gradscope theory` and `gradscope spectrum` through the real binary,
//! parsed from `--json`.

use assert_cmd::Command;

fn json(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("gradscope")
        .unwrap()
        .env("NO_COLOR", "1")
        .current_dir(dir.path())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn theory_json_has_the_issue_figures() {
    let v = json(&[
        "theory",
        "--activation",
        "tanh",
        "--sigma-w2",
        "1.0",
        "--sigma-b2",
        "0.05",
        "--json",
    ]);
    let xi_c = v["xi_c"].as_f64().unwrap();
    assert!((xi_c / 3.63 - 1.0).abs() < 0.02, "{v}");
    let crit = v["critical_sigma_w2"].as_f64().unwrap();
    assert!((crit - 1.761).abs() < 0.005, "{v}");
    assert_eq!(v["phase"], "ordered");
    // chi_1^10 over ten layers.
    let chi = v["chi_1"].as_f64().unwrap();
    let f10 = v["gradient_factor"][1][1].as_f64().unwrap();
    assert!((f10 - chi.powi(10)).abs() < 1e-12 * f10.max(1.0), "{v}");
}

#[test]
fn theory_table_prints_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("gradscope")
        .unwrap()
        .current_dir(dir.path())
        .args([
            "theory",
            "--activation",
            "tanh",
            "--sigma-w2",
            "1.5",
            "--sigma-b2",
            "0.05",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for key in [
        "q*",
        "chi_1",
        "c*",
        "xi_q",
        "xi_c",
        "xi_grad",
        "critical sigma_w^2",
        "L = 50",
    ] {
        assert!(text.contains(key), "missing {key} in\n{text}");
    }
}

#[test]
fn spectrum_json_of_a_linear_orthogonal_net_is_an_isometry() {
    let v = json(&[
        "spectrum",
        "--activation",
        "identity",
        "--init",
        "orthogonal",
        "--sigma-w2",
        "1",
        "--width",
        "40",
        "--depths",
        "1,3",
        "--draws",
        "2",
        "--json",
    ]);
    let moments = v["moments"].as_array().unwrap();
    assert_eq!(moments.len(), 2);
    for m in moments {
        assert!((m["mean"].as_f64().unwrap() - 1.0).abs() < 1e-10, "{m}");
        assert!(m["variance"].as_f64().unwrap().abs() < 1e-10, "{m}");
    }
    // Every singular value of an orthogonal product is 1.
    let sv = v["singular_values"].as_array().unwrap();
    assert_eq!(sv.len(), 80);
    assert!(sv.iter().all(|s| (s.as_f64().unwrap() - 1.0).abs() < 1e-8));
}

/// `gradscope spectrum SPEC`: the spec's model (Glorot & Bengio's
/// "standard" init on tanh) at depths 1, 2, 4 and its own 5; standard
/// init shrinks the signal, so the singular values sit well below 1.
#[test]
fn spectrum_of_a_spec_measures_its_model() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("glorot.toml"),
        "[model]\ndepth = 5\nwidth = 60\nactivation = \"tanh\"\ninit = \"standard\"\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::cargo_bin("gradscope")
            .unwrap()
            .current_dir(dir.path())
            .args(["spectrum", "glorot.toml", "--draws", "2"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["config"]["init"], "uniform");
    assert_eq!(v["config"]["width"], 60);
    assert!((v["config"]["sigma_w2"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    let depths: Vec<u64> = v["moments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["depth"].as_u64().unwrap())
        .collect();
    assert_eq!(depths, [1, 2, 4, 5]);
    let mean_sv = v["mean_singular_value"].as_f64().unwrap();
    assert!(mean_sv < 0.2, "five standard-init tanh layers: {mean_sv}");
    // The spec fixes the net: a flag that would change it is refused.
    let out = run(&["--width", "10"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
