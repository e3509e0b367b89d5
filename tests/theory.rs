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

mod measured {
    //! The theory against real nets at initialization: the weight
    //! gradient's per-layer factor at step 0 on the bundled MNIST digits
    //! is `sqrt(chi_1)`, the factor the depth profile's dashed line draws.

    use gradscope::analysis::theory::MeanField;
    use gradscope::experiment::trainer::train;
    use gradscope::experiment::{RecordSink, RunRecord, Spec};
    use gradscope::report::predicted_depth_profile as prediction;

    fn first_step(activation: &str, init: &str, depth: usize) -> RunRecord {
        let spec = Spec::from_toml(
            &format!(
                "steps = 1\nbatch = 64\n[model]\ndepth = {depth}\nwidth = 100\n\
                 activation = \"{activation}\"\ninit = \"{init}\"\n[probe]\nevery = 1\n"
            ),
            "test",
        )
        .unwrap();
        let data = spec.prepare_data().unwrap();
        let mut sink = RecordSink::new(spec.clone());
        train(&spec, &data, &mut sink).unwrap();
        sink.record
    }

    /// The least-squares factor per layer of the step-0 weight-gradient
    /// norm over the hidden layers 1 to depth - 1 (layer 0 reads the data,
    /// the last is the read-out).
    fn measured_factor(r: &RunRecord) -> f64 {
        let layers = &r.probes[0].layers;
        let pts: Vec<(f64, f64)> = (1..layers.len() - 1)
            .map(|l| (l as f64, layers[l].weight_grad.l2().log10()))
            .collect();
        let n = pts.len() as f64;
        let (mx, my) = (
            pts.iter().map(|p| p.0).sum::<f64>() / n,
            pts.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        // Toward the input: the inverse of the slope along the layers.
        10f64.powf(-sxy / sxx)
    }

    /// Measured at width 100 (seed 0): sigmoid "standard" 0.1410 per
    /// layer against 0.1414 (`chi_1 = 0.0200`), tanh ordered 0.867 against
    /// 0.871, tanh chaotic 1.048 against 1.065.
    #[test]
    fn the_gradient_at_initialization_changes_by_sqrt_chi_1_per_layer() {
        for (activation, init, depth, tolerance) in [
            ("sigmoid", "standard", 12, 0.05),
            ("tanh", "mean_field_var(1.0, 0.05)", 40, 0.03),
            ("tanh", "mean_field_var(2.5, 0.05)", 40, 0.03),
        ] {
            let r = first_step(activation, init, depth);
            let predicted = MeanField::of_model(&r.spec.model)
                .unwrap()
                .predict()
                .chi_1
                .sqrt();
            let measured = measured_factor(&r);
            assert!(
                (measured / predicted - 1.0).abs() < tolerance,
                "{activation} {init}: measured {measured}, predicted {predicted}"
            );
            // The report's dashed line is that prediction, from the last
            // hidden layer.
            let (pts, label) = prediction(&r).unwrap();
            assert_eq!(pts.len(), depth - 1);
            let ratio = pts[0].1 / pts[1].1;
            assert!((ratio / predicted - 1.0).abs() < 1e-12, "{label}");
        }
    }
}
