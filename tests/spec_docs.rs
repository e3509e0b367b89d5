//! docs/SPEC.md and examples/ stay true to the code.

use gradscope::experiment::Spec;
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
            "widths",
            "momentum",
            "weight_decay",
            "clip_norm",
            "clip_value",
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

#[test]
fn every_example_parses() {
    let mut n = 0;
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            Spec::load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 4, "only {n} examples");
}
