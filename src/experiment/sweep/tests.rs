use super::*;
use crate::nn::Activation;

const SWEEP: &str = r#"steps = 30
batch = 16

[data]
name = "xor"

[sweep]
name = "da"
seeds = 2

[sweep.axes]
"model.depth" = [2, 4]
"model.activation" = ["tanh", "relu"]
"#;

#[test]
fn expansion_is_the_product_in_file_order_then_seeds() {
    let sweep = SweepSpec::from_toml(SWEEP, "s.toml").unwrap();
    let runs = sweep.runs().unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "da/depth=2,activation=tanh,seed=0",
            "da/depth=2,activation=tanh,seed=1",
            "da/depth=2,activation=relu,seed=0",
            "da/depth=2,activation=relu,seed=1",
            "da/depth=4,activation=tanh,seed=0",
            "da/depth=4,activation=tanh,seed=1",
            "da/depth=4,activation=relu,seed=0",
            "da/depth=4,activation=relu,seed=1",
        ]
    );
    let last = &runs[7];
    assert_eq!(last.index, 7);
    assert_eq!(last.spec.name, last.name);
    assert_eq!(last.spec.seed, 1);
    assert_eq!(last.spec.model.widths.len(), 4);
    assert_eq!(last.spec.model.activation, Activation::Relu);
    assert_eq!(last.spec.steps, 30);
    assert_eq!(last.spec.data.name, "xor");
    assert_eq!(last.cell, r#"{"model.activation":"relu","model.depth":4}"#);
}

#[test]
fn seeds_count_from_the_base_seed_or_are_listed() {
    let text = SWEEP.replace("steps = 30", "steps = 30\nseed = 5");
    let seeds = SweepSpec::from_toml(&text, "s.toml").unwrap().seeds;
    assert_eq!(seeds, [5, 6]);
    let text = SWEEP.replace("seeds = 2", "seeds = [3, 9, 4]");
    let sweep = SweepSpec::from_toml(&text, "s.toml").unwrap();
    assert_eq!(sweep.runs().unwrap().len(), 12);
    assert_eq!(sweep.runs().unwrap()[2].spec.seed, 4);
}

#[test]
fn the_hash_follows_the_content_not_the_layout() {
    let a = SweepSpec::from_toml(SWEEP, "s.toml").unwrap();
    let b = SweepSpec::from_toml(&SWEEP.replace(" = ", "="), "t.toml").unwrap();
    let c = SweepSpec::from_toml(&SWEEP.replace("[2, 4]", "[2, 5]"), "s.toml").unwrap();
    assert_eq!(a.hash(), b.hash());
    assert_ne!(a.hash(), c.hash());
    assert_eq!(a.hash().len(), 16);
}

#[test]
fn a_range_axis_names_runs_by_its_values() {
    let text = SWEEP.replace(
        "\"model.activation\" = [\"tanh\", \"relu\"]",
        "\"optimizer.lr\" = {from = 0.01, to = 1, steps = 3, scale = \"log\"}",
    );
    let runs = SweepSpec::from_toml(&text, "s.toml")
        .unwrap()
        .runs()
        .unwrap();
    assert_eq!(runs[2].name, "da/depth=2,lr=0.1,seed=0");
    assert!((runs[2].spec.optimizer.lr - 0.1).abs() < 1e-12);
}

fn error(text: &str) -> String {
    SweepSpec::from_toml(text, "s.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_sweeps_name_the_file_line_and_key() {
    let e = error(&SWEEP.replace("\"model.depth\"", "\"model.dept\""));
    assert!(
        e.starts_with("s.toml:12: `sweep.axes.\"model.dept\"`"),
        "{e}"
    );
    assert!(e.contains("unknown field"), "{e}");
    let e = error(&SWEEP.replace("[2, 4]", "[2, -4]"));
    assert!(
        e.starts_with("s.toml:12: `sweep.axes.\"model.depth\"`: value -4"),
        "{e}"
    );
    let e = error(&SWEEP.replace("[\"tanh\", \"relu\"]", "[\"tanh\", \"relux\"]"));
    assert!(e.starts_with("s.toml:13:"), "{e}");
    assert!(e.contains("unknown activation `relux`"), "{e}");
    let e = error(&SWEEP.replace("seeds = 2", "seeds = 2\nseed = 1"));
    assert_eq!(
        e,
        "s.toml:10: `sweep.seed`: unknown field, expected `name`, `seeds` or `axes`"
    );
    let e = error(&SWEEP.replace("[2, 4]", "{from = 2, to = 4}"));
    assert!(
        e.starts_with("s.toml:12: `model.depth`: a range needs `steps`"),
        "{e}"
    );
    let e = error(&SWEEP.replace("batch = 16", "batchh = 16"));
    assert!(e.starts_with("s.toml:2: `batchh`"), "{e}");
    let e = error(&SWEEP.replace("name = \"da\"", "name = \"a/b\""));
    assert!(e.starts_with("s.toml:8: `sweep.name`"), "{e}");
    let e = error("steps = 3\n");
    assert!(e.contains("needs a [sweep] table"), "{e}");
}

const MEAN_FIELD: &str = r#"steps = 30
[data]
name = "xor"
[model]
activation = "tanh"
init = "mean_field_var({sw2}, {sb2})"
[sweep]
name = "mf"
[sweep.axes]
"model.depth" = [10, 20]
sw2 = {from = 1.0, to = 4.0, steps = 4}
sb2 = [0.05]
"#;

#[test]
fn a_variable_axis_fills_its_name_in_the_spec() {
    let sweep = SweepSpec::from_toml(MEAN_FIELD, "s.toml").unwrap();
    assert!(sweep.axes.iter().filter(|a| a.variable).count() == 2);
    let runs = sweep.runs().unwrap();
    assert_eq!(runs.len(), 8);
    assert_eq!(runs[5].name, "mf/depth=20,sw2=2,sb2=0.05,seed=0");
    assert_eq!(runs[5].cell, r#"{"model.depth":20,"sb2":0.05,"sw2":2.0}"#);
    assert_eq!(
        runs[5].spec.model.init,
        crate::tensor::Init::MeanFieldVar {
            sigma_w2: 2.0,
            sigma_b2: 0.05
        }
    );
    assert_eq!(runs[5].spec.model.widths.len(), 20);
}

#[test]
fn a_bad_variable_value_or_an_unused_bare_axis_is_an_error() {
    let e = error(&MEAN_FIELD.replace("from = 1.0", "from = -1.0"));
    assert!(e.starts_with("s.toml:6: `model.init`"), "{e}");
    assert!(e.contains("(with sw2 = -1, sb2 = 0.05)"), "{e}");
    let e = error(&MEAN_FIELD.replace("{sb2})", "0.05)"));
    assert!(e.starts_with("s.toml:12: `sweep.axes.\"sb2\"`"), "{e}");
    assert!(
        e.contains("is a variable only where the spec uses it"),
        "{e}"
    );
}

/// Regression (issue 18, fuzzing: unbounded sizes): `seeds = 10^12`, a
/// range of 10^11 steps and a product of axes past any machine aborted on
/// allocation while the sweep was parsed. Each is refused, naming the key,
/// before anything is expanded.
#[test]
fn a_sweep_of_more_than_max_sweep_runs_is_refused_unexpanded() {
    let e = error(&SWEEP.replace("seeds = 2", "seeds = 1000000000000"));
    assert_eq!(
        e,
        "s.toml:9: `sweep.seeds`: 1000000000000 seeds: more runs than the 100000 a sweep may have"
    );
    let e = error(&SWEEP.replace("[2, 4]", "{from = 2, to = 4, steps = 100000000000}"));
    assert!(
        e.starts_with("s.toml:12: `model.depth`: range `steps` is 100000000000"),
        "{e}"
    );
    // Each axis is within the bound, the product (200,000 runs) is not.
    let wide = (0..50_000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let e = error(&SWEEP.replace("[2, 4]", &format!("[{wide}]")));
    assert!(
        e.contains("`sweep.axes`: 2 seeds x 50000 x 2 values: more runs than the 100000"),
        "{e}"
    );
    // A sweep within the bound parses.
    let sweep = SweepSpec::from_toml(&SWEEP.replace("seeds = 2", "seeds = 1"), "s.toml").unwrap();
    assert_eq!(sweep.runs().unwrap().len(), 4);
}
