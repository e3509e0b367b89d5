//! The commands diagnosis prints are real: the real binary accepts every
//! remedy command of a diagnosed run, reads it back as the run's spec with
//! only the remedy's change, and the run's own command reproduces it bit
//! for bit. Every run of the binary happens in a temporary folder with its
//! `--db` there.

use assert_cmd::Command;
use gradscope::analysis::diagnose::{diagnose, train_command};
use gradscope::experiment::trainer::{train, Summary};
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
        scaling = "standardize"
        [model]
        widths = [16, 16, 16, 16, 16, 16, 16, 16]
        activation = "{activation}"
        init = "{init}"
        bn_momentum = 0.05
        [optimizer]
        name = "momentum"
        lr = {lr}
        momentum = 0.8
        weight_decay = 1e-4
        clip_value = 100.0
        [schedule]
        name = "step"
        every = 15
        gamma = 0.5
        [probe]
        every = 2
        "#
        ),
        "test",
    )
    .unwrap()
}

/// A vanilla RNN of spectral radius 3 on the adding problem (T = 30) by
/// plain SGD: its gradient explodes through time at the first step, then
/// vanishes through time (the units saturate), so both rules' remedies
/// come out: clipping, LSTM, GRU, orthogonal init, the IRNN, truncation.
fn rnn_spec() -> Spec {
    Spec::from_toml(
        r#"
        name = "rnn 3's"
        seed = 3
        steps = 60
        batch = 32
        eval_every = 30
        [data]
        name = "adding"
        length = 30
        [model]
        kind = "rnn"
        hidden = 16
        recurrent_init = "gaussian(3.0)"
        [optimizer]
        name = "sgd"
        lr = 0.01
        [probe]
        every = 2
        "#,
        "test",
    )
    .unwrap()
}

/// Runs `line` (a `gradscope train ...` command) with `extra` arguments,
/// in a fresh temporary folder that also holds its store.
fn gradscope(line: &str, extra: &[&str]) -> std::process::Output {
    let args = words(line);
    assert_eq!(&args[..2], ["gradscope", "train"], "{line}");
    let dir = tempfile::tempdir().unwrap();
    Command::cargo_bin("gradscope")
        .unwrap()
        .current_dir(dir.path())
        .arg("--db")
        .arg(dir.path().join("gradscope.db"))
        .args(&args[1..])
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// The spec the binary resolves `line` to (`--print-spec`).
fn resolved(line: &str) -> Spec {
    let out = gradscope(line, &["--print-spec"]);
    assert!(
        out.status.success(),
        "{line}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Spec::from_toml(&String::from_utf8(out.stdout).unwrap(), line).unwrap()
}

/// The keys that differ between two specs, as they serialize.
fn differing_keys(a: &Spec, b: &Spec) -> Vec<String> {
    fn leaves(prefix: &str, v: &toml::Value, out: &mut Vec<(String, toml::Value)>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    leaves(&format!("{prefix}{k}."), v, out);
                }
            }
            v => out.push((prefix.trim_end_matches('.').to_string(), v.clone())),
        }
    }
    let (mut la, mut lb) = (Vec::new(), Vec::new());
    leaves("", &toml::Value::try_from(a).unwrap(), &mut la);
    leaves("", &toml::Value::try_from(b).unwrap(), &mut lb);
    let mut keys: Vec<String> = la
        .iter()
        .filter(|x| !lb.contains(x))
        .chain(lb.iter().filter(|x| !la.contains(x)))
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort();
    keys.dedup();
    keys
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

/// Four runs: saturated tanh; sigmoid with standard init (vanishing,
/// stalled: Adam, which must drop the momentum); ReLU + He at lr 1
/// (divergence, exploding, dead units: `'leaky_relu(0.01)'`, `--clip-norm`);
/// an RNN exploding, then vanishing, through time (`--model lstm`,
/// `'orthogonal(1)'`, `--truncation`).
/// Each run also sets keys that had no flag before (schedule, clip_value,
/// scaling, probe cadence, BatchNorm momentum): every remedy command must
/// carry them, and differ from the run only where the remedy says.
#[test]
fn every_remedy_command_runs_and_carries_the_whole_run() {
    let mut remedies = Vec::new();
    let specs = [
        spec(),
        spec_with("sigmoid", "standard", "0.05"),
        spec_with("relu", "he_normal", "1.0"),
        rnn_spec(),
    ];
    for spec in specs {
        let data = spec.prepare_data().unwrap();
        let mut sink = RecordSink::new(spec.clone());
        let _ = train(&spec, &data, &mut sink);
        for f in diagnose(&sink.record) {
            remedies.extend(f.remedies.into_iter().map(|r| (spec.clone(), r)));
        }
    }
    remedies.sort_by(|a, b| a.1.command.cmp(&b.1.command));
    remedies.dedup_by(|a, b| a.1.command == b.1.command);
    let has = |s: &str| remedies.iter().any(|(_, r)| r.command.contains(s));
    assert!(
        has("--optimizer adam")
            && has("'leaky_relu(0.01)'")
            && has("--clip-norm 1")
            && has("--model lstm")
            && has("'orthogonal(1)'")
            && has("--truncation 15"),
        "{:#?}",
        remedies.iter().map(|(_, r)| &r.command).collect::<Vec<_>>()
    );
    // What a remedy may change (the run's name always).
    let allowed = [
        "name",
        "dtype",
        "model.activation",
        "model.init",
        "model.norm",
        "model.residual_every",
        "optimizer.name",
        "optimizer.lr",
        "optimizer.clip_norm",
        "optimizer.momentum",
        "optimizer.nesterov",
        "optimizer.weight_decay",
        "optimizer.beta1",
        "optimizer.beta2",
        "optimizer.eps",
        "model.kind",
        "model.recurrent_init",
        "model.forget_bias",
        "model.nonlinearity",
        "model.truncation",
    ];
    for (run, remedy) in &remedies {
        let line = &remedy.command;
        let got = resolved(line);
        // Named for what the new run is: the run plus an addition, or a
        // replacement made from the run.
        let (adds, replaces) = (format!("{}+", run.name), format!("-from-{}", run.name));
        assert!(
            got.name.starts_with(&adds) || got.name.ends_with(&replaces),
            "{line}"
        );
        for key in differing_keys(run, &got) {
            assert!(allowed.contains(&key.as_str()), "{line}: changes `{key}`");
        }
        assert_ne!(
            differing_keys(run, &got),
            ["name"],
            "{line} changes nothing"
        );
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

/// Specs with every key away from its default (two of them, as the hidden
/// layers and the update rule each take two forms) come back from their
/// command unchanged.
#[test]
fn every_key_round_trips_through_the_command() {
    let uniform = Spec::from_toml(
        r#"
        name = "every key"
        seed = 7
        dtype = "f64"
        steps = 123
        epochs = 2
        batch = 16
        eval_every = 5
        loss = "mse"
        [data]
        name = "circles"
        dir = "/data/my mnist"
        eval_dir = "2024"
        scaling = "binarize(0.3)"
        train_size = 300
        test_size = 200
        noise = 0.25
        [model]
        depth = 5
        width = 7
        activation = "elu(0.5)"
        norm = "layer"
        norm_placement = "after"
        residual_every = 2
        init = "he_uniform(fan_out, 0.2)"
        bias = false
        bn_momentum = 0.05
        norm_eps = 1e-3
        [optimizer]
        name = "nesterov"
        lr = 0.02
        momentum = 0.8
        weight_decay = 1e-4
        clip_norm = 2.0
        clip_value = 100.0
        [schedule]
        name = "step"
        every = 10
        gamma = 0.5
        warmup_steps = 5
        [probe]
        every = 10
        histogram_every = 50
        "#,
        "uniform",
    )
    .unwrap();
    let mut mixed = uniform.clone();
    mixed.model.widths = vec![16, 32, 8];
    mixed.model.norm = gradscope::nn::Norm::Batch;
    mixed.optimizer.rule = gradscope::optim::OptimizerConfig::AdamW {
        beta1: 0.8,
        beta2: 0.99,
        eps: 1e-6,
        weight_decay: 0.1,
    };
    mixed.schedule = toml::from_str("name = \"cosine\"\ntotal_steps = 100\nmin_lr = 1e-5").unwrap();
    mixed.name = "-x".into();
    for spec in [uniform, mixed] {
        let line = train_command(&spec);
        assert_eq!(resolved(&line), spec, "{line}");
    }
}

#[test]
fn the_run_command_reproduces_the_run() {
    let mut spec = spec();
    spec.steps = 20;
    let data = spec.prepare_data().unwrap();
    let mut sink = RecordSink::new(spec.clone());
    let summary: Summary = train(&spec, &data, &mut sink).unwrap();
    let line = train_command(&spec);
    assert_eq!(
        line,
        "gradscope train --name 'tanh 8'\\''s' --depth 8 --width 16 --activation tanh \
         --init 'normal(1)' --lr 0.05 --momentum 0.8 --weight-decay 0.0001 --clip-value 100 \
         --steps 20 --batch 32 --seed 3 --data spirals --scaling standardize --eval-every 30 \
         --probe-every 2 --set model.bn_momentum=0.05 --set schedule.every=15 \
         --set schedule.gamma=0.5 --set schedule.name=step"
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
