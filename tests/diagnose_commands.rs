//! The commands diagnosis prints are real: the real binary accepts every
//! remedy command of a diagnosed run, and the run's own command (no
//! changes) reproduces it bit for bit.

use assert_cmd::Command;
use gradscope::analysis::diagnose::{diagnose, train_command};
use gradscope::experiment::trainer::{prepare_data, train, Summary};
use gradscope::experiment::{RecordSink, Spec};

/// Splits a POSIX shell line into words: blanks separate, single quotes
/// quote (`'it'\''s'` is `it's`); nothing else is special in our commands.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' => out.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    w.push(q);
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    out.extend(word);
    out
}

/// A spec that sets many flags (and a name that needs quoting): 8 tanh
/// layers of 16 with N(0, 1) weights on the spirals (saturated).
fn spec() -> Spec {
    spec_with("tanh", "normal(1.0)", "0.05")
}

/// The same with another activation, init and learning rate.
fn spec_with(activation: &str, init: &str, lr: &str) -> Spec {
    Spec::from_toml(
        &format!(
            r#"
        name = "tanh 8's"
        seed = 3
        steps = 60
        batch = 32
        eval_every = 30
        [data]
        name = "spirals"
        [model]
        widths = [16, 16, 16, 16, 16, 16, 16, 16]
        activation = "{activation}"
        init = "{init}"
        [optimizer]
        name = "momentum"
        lr = {lr}
        momentum = 0.8
        weight_decay = 1e-4
        "#
        ),
        "test",
    )
    .unwrap()
}

/// Runs `line` (a `gradscope train ...` command) with `extra` arguments.
fn gradscope(line: &str, extra: &[&str]) -> std::process::Output {
    let args = words(line);
    assert_eq!(&args[..2], ["gradscope", "train"], "{line}");
    Command::cargo_bin("gradscope")
        .unwrap()
        .args(&args[1..])
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

#[test]
fn the_splitter_reads_our_quoting() {
    assert_eq!(
        words(r"gradscope train --name 'tanh 8'\''s' --init 'normal(1)'"),
        [
            "gradscope",
            "train",
            "--name",
            "tanh 8's",
            "--init",
            "normal(1)"
        ]
    );
}

/// Three runs: saturated tanh; sigmoid with standard init (vanishing,
/// stalled: Adam, which must drop `--momentum`); ReLU + He at lr 1
/// (divergence, exploding, dead units: `'leaky_relu(0.01)'`, `--clip-norm`).
#[test]
fn every_remedy_command_runs() {
    let mut commands = Vec::new();
    let specs = [
        spec(),
        spec_with("sigmoid", "standard", "0.05"),
        spec_with("relu", "he_normal", "1.0"),
    ];
    for spec in specs {
        let data = prepare_data(&spec).unwrap();
        let mut sink = RecordSink::new(spec.clone());
        let _ = train(&spec, &data, &mut sink);
        commands.extend(
            diagnose(&sink.record)
                .iter()
                .flat_map(|f| f.remedies.iter().map(|r| r.command.clone())),
        );
    }
    commands.sort();
    commands.dedup();
    let has = |s: &str| commands.iter().any(|c| c.contains(s));
    assert!(
        has("--optimizer adam") && has("'leaky_relu(0.01)'") && has("--clip-norm 1"),
        "{commands:#?}"
    );
    for line in &commands {
        assert!(line.contains(" --steps 60"), "{line}");
        let short = line.replace(" --steps 60", " --steps 2");
        let out = gradscope(&short, &["--quiet"]);
        assert!(
            out.status.success(),
            "{short}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_run_command_reproduces_the_run() {
    let mut spec = spec();
    spec.steps = 20;
    let data = prepare_data(&spec).unwrap();
    let mut sink = RecordSink::new(spec.clone());
    let summary: Summary = train(&spec, &data, &mut sink).unwrap();
    let line = train_command(&spec, &[]);
    assert_eq!(
        line,
        "gradscope train --name 'tanh 8'\\''s' --widths 16,16,16,16,16,16,16,16 \
         --activation tanh --init 'normal(1)' --optimizer momentum --lr 0.05 --momentum 0.8 \
         --weight-decay 0.0001 --steps 20 --batch 32 --seed 3 --data spirals --eval-every 30"
    );
    let out = gradscope(&line, &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["name"], "tanh 8's");
    assert_eq!(json["train_loss"].as_f64(), Some(summary.train_loss));
    assert_eq!(json["test_accuracy"].as_f64(), Some(summary.test_accuracy));
    let norms: Vec<f64> = serde_json::from_value(json["grad_norms"].clone()).unwrap();
    assert_eq!(norms, summary.grad_norms);
}
