//! docs/SPEC.md and examples/ stay true to the code, and every key they
//! list can be set from the command line.

use gradscope::experiment::sweep::SweepSpec;
use gradscope::experiment::{Spec, SpecBuilder, FLAGS};
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The ```toml block of docs/SPEC.md.
fn documented_block() -> String {
    let doc = std::fs::read_to_string(root().join("docs/SPEC.md")).unwrap();
    let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("closed block");
    doc[start..end].to_string()
}

#[test]
fn documented_defaults_equal_the_code_defaults() {
    let spec = Spec::from_toml(&documented_block(), "docs/SPEC.md").unwrap();
    assert_eq!(spec, Spec::default());
}

#[test]
fn every_key_the_code_knows_is_documented() {
    let block = documented_block();
    // Keys the code serializes by default, plus the optional ones.
    let mut keys: Vec<String> = Spec::default()
        .to_toml()
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_string()))
        .collect();
    keys.extend(
        [
            "dir",
            "eval_dir",
            "length",
            "permute",
            "widths",
            "momentum",
            "weight_decay",
            "clip_norm",
            "clip_value",
            "beta1",
            "beta2",
            "eps",
        ]
        .map(String::from),
    );
    for key in keys {
        let set = format!("\n{key} = ");
        let commented = format!("# {key} = ");
        assert!(
            block.contains(&set) || block.contains(&commented),
            "docs/SPEC.md does not document `{key}`"
        );
    }
}

/// `(dotted key, value)` of every key line of the block, commented or not.
fn documented_keys() -> Vec<(String, String)> {
    let mut table = String::new();
    let mut keys = Vec::new();
    for line in documented_block().lines() {
        let line = line
            .trim_start_matches("# ")
            .split(" #")
            .next()
            .unwrap()
            .trim();
        if line.starts_with('[') {
            table = line
                .split(']')
                .next()
                .unwrap()
                .trim_start_matches('[')
                .to_string();
        } else if let Some((key, value)) = line.split_once(" = ") {
            let dotted = if table.is_empty() {
                key.trim().to_string()
            } else {
                format!("{table}.{}", key.trim())
            };
            keys.push((dotted, value.trim().to_string()));
        }
    }
    keys
}

#[test]
fn every_documented_key_can_be_set_from_the_command_line() {
    let keys = documented_keys();
    assert!(keys.len() >= 35, "{keys:?}");
    for (key, value) in &keys {
        let mut b = SpecBuilder::new();
        if ["optimizer.beta1", "optimizer.beta2", "optimizer.eps"].contains(&key.as_str()) {
            b.set("optimizer.name", "adam", "--optimizer adam").unwrap();
        }
        if key == "model.image" {
            b.set("model.kind", "cnn", "--model cnn").unwrap();
        }
        b.set(key, value, "--set").unwrap();
        b.build()
            .unwrap_or_else(|e| panic!("--set {key}={value}: {e}"));
    }
}

#[test]
fn every_flag_sets_a_documented_key() {
    let keys = documented_keys();
    for flag in FLAGS {
        assert!(
            keys.iter().any(|(k, _)| k == flag.key),
            "--{} sets `{}`, which docs/SPEC.md does not list",
            flag.long,
            flag.key
        );
    }
}

#[test]
fn every_example_parses() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let sweep = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("sweep-"));
        if path.extension().is_some_and(|e| e == "toml") {
            if sweep {
                SweepSpec::load(&path).unwrap_or_else(|e| panic!("{e}"));
            } else {
                Spec::load(&path).unwrap_or_else(|e| panic!("{e}"));
            }
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} examples");
}
