//! The `gradscope train ...` command that reproduces a run's spec, with
//! changes: every setting that differs from [`Spec::default`] and has a
//! flag becomes one, in the order `gradscope train --help` lists them,
//! quoted for a POSIX shell so the line can be pasted.
//!
//! ```
//! use gradscope::analysis::diagnose::train_command;
//! use gradscope::experiment::Spec;
//! let mut spec = Spec::default();
//! spec.model.depth = 20;
//! assert_eq!(
//!     train_command(&spec, &[("activation", "leaky_relu(0.01)")]),
//!     "gradscope train --depth 20 --activation 'leaky_relu(0.01)'"
//! );
//! ```

use crate::experiment::Spec;

/// Every flag of `gradscope train` that sets a spec value, in `--help`
/// order, with the value `spec` gives it when that differs from the
/// default.
fn flags(spec: &Spec) -> Vec<(&'static str, Option<String>)> {
    let d = Spec::default();
    let (m, dm) = (&spec.model, &d.model);
    let (o, dop) = (&spec.optimizer, &d.optimizer);
    let differs = |a: bool, v: String| a.then_some(v);
    let opt = |v: Option<f64>, dv: Option<f64>| v.filter(|_| v != dv).map(number);
    // `--widths` overrides `--depth`/`--width`; `--epochs` overrides `--steps`.
    let (depth, width, widths) = match &m.widths {
        Some(w) => (None, None, Some(join(w))),
        None => (
            differs(m.depth != dm.depth, m.depth.to_string()),
            differs(m.width != dm.width, m.width.to_string()),
            None,
        ),
    };
    let (steps, epochs) = if spec.epochs > 0 {
        (None, Some(spec.epochs.to_string()))
    } else {
        (differs(spec.steps != d.steps, spec.steps.to_string()), None)
    };
    vec![
        ("name", differs(spec.name != d.name, spec.name.clone())),
        ("depth", depth),
        ("width", width),
        ("widths", widths),
        (
            "activation",
            differs(m.activation != dm.activation, m.activation.to_string()),
        ),
        ("norm", differs(m.norm != dm.norm, enum_name(&m.norm))),
        (
            "norm-placement",
            differs(
                m.norm_placement != dm.norm_placement,
                enum_name(&m.norm_placement),
            ),
        ),
        (
            "residual-every",
            differs(
                m.residual_every != dm.residual_every,
                m.residual_every.to_string(),
            ),
        ),
        ("init", differs(m.init != dm.init, m.init.to_string())),
        ("optimizer", differs(o.name != dop.name, o.name.clone())),
        ("lr", differs(o.lr != dop.lr, number(o.lr))),
        ("momentum", opt(o.momentum, dop.momentum)),
        ("weight-decay", opt(o.weight_decay, dop.weight_decay)),
        ("clip-norm", opt(o.clip_norm, dop.clip_norm)),
        ("steps", steps),
        ("epochs", epochs),
        (
            "batch",
            differs(spec.batch != d.batch, spec.batch.to_string()),
        ),
        ("seed", differs(spec.seed != d.seed, spec.seed.to_string())),
        (
            "data",
            differs(spec.data.name != d.data.name, spec.data.name.clone()),
        ),
        ("data-dir", spec.data.dir.clone()),
        ("eval-data", spec.data.eval_dir.clone()),
        (
            "dtype",
            differs(spec.dtype != d.dtype, enum_name(&spec.dtype)),
        ),
        ("loss", differs(spec.loss != d.loss, spec.loss.to_string())),
        (
            "eval-every",
            differs(spec.eval_every != d.eval_every, spec.eval_every.to_string()),
        ),
    ]
}

/// The command that reproduces `spec` with `changes` (flag name without
/// the dashes, value) applied: a change replaces the spec's value, or adds
/// the flag where the spec has the default, and an empty value removes
/// the flag (back to the default). `steps` and `epochs` replace each
/// other, as do `widths` and `depth`/`width`.
///
/// Settings with no flag (see [`unflagged_settings`]) cannot be expressed
/// and are left out.
pub fn train_command(spec: &Spec, changes: &[(&str, &str)]) -> String {
    let mut flags: Vec<(String, Option<String>)> = flags(spec)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    fn clear(flags: &mut [(String, Option<String>)], key: &str) {
        if let Some(slot) = flags.iter_mut().find(|(k, _)| k == key) {
            slot.1 = None;
        }
    }
    for (key, value) in changes {
        let replaced: &[&str] = match *key {
            "steps" => &["epochs"],
            "epochs" => &["steps"],
            "widths" => &["depth", "width"],
            "depth" | "width" => &["widths"],
            _ => &[],
        };
        for r in replaced {
            clear(&mut flags, r);
        }
        let value = (!value.is_empty()).then(|| value.to_string());
        match flags.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => flags.push((key.to_string(), value)),
        }
    }
    let mut line = String::from("gradscope train");
    for (key, value) in flags {
        if let Some(v) = value {
            line.push_str(&format!(" --{key} {}", shell_quote(&v)));
        }
    }
    line
}

/// The spec's settings that differ from the default but have no
/// `gradscope train` flag, by dotted key (`schedule`, `data.noise`).
pub fn unflagged_settings(spec: &Spec) -> Vec<&'static str> {
    let d = Spec::default();
    [
        ("schedule", spec.schedule != d.schedule),
        ("probe", spec.probe != d.probe),
        ("model.bias", spec.model.bias != d.model.bias),
        (
            "optimizer.clip_value",
            spec.optimizer.clip_value != d.optimizer.clip_value,
        ),
        ("data.scaling", spec.data.scaling != d.data.scaling),
        ("data.train_size", spec.data.train_size != d.data.train_size),
        ("data.test_size", spec.data.test_size != d.data.test_size),
        ("data.noise", spec.data.noise != d.data.noise),
    ]
    .into_iter()
    .filter_map(|(k, differs)| differs.then_some(k))
    .collect()
}

/// A number rounded to 6 significant digits, written short: plain
/// decimals from 1e-4 to 1e6 (`0.001`, not `0.0010000000000000002`),
/// exponent form outside (`1e-7`).
pub fn number(x: f64) -> String {
    if !x.is_finite() || x == 0.0 {
        return x.to_string();
    }
    let rounded: f64 = format!("{x:.5e}").parse().unwrap_or(x);
    if (1e-4..1e6).contains(&rounded.abs()) {
        rounded.to_string()
    } else {
        format!("{rounded:e}")
    }
}

fn join(values: &[usize]) -> String {
    values
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The snake_case serde name of a unit enum variant (`batch`, `f64`).
fn enum_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// `s` as one word of a POSIX shell: bare when it is only safe
/// characters, otherwise in single quotes.
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-.,:/=+@%".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Dtype;
    use crate::nn::{Activation, Norm};
    use crate::tensor::Init;

    #[test]
    fn the_default_spec_needs_no_flags() {
        assert_eq!(train_command(&Spec::default(), &[]), "gradscope train");
    }

    #[test]
    fn every_setting_that_differs_becomes_a_flag_in_help_order() {
        let mut s = Spec {
            name: "sigmoid-20".into(),
            steps: 3000,
            dtype: Dtype::F64,
            ..Spec::default()
        };
        s.model.depth = 20;
        s.model.activation = Activation::Sigmoid;
        s.model.init = Init::Standard;
        s.model.norm = Norm::Batch;
        s.optimizer.name = "momentum".into();
        s.optimizer.lr = 0.01;
        s.optimizer.clip_norm = Some(1.0);
        s.data.dir = Some("/data/my mnist".into());
        assert_eq!(
            train_command(&s, &[]),
            "gradscope train --name sigmoid-20 --depth 20 --activation sigmoid --norm batch \
             --init standard --optimizer momentum --lr 0.01 --clip-norm 1 --steps 3000 \
             --data-dir '/data/my mnist' --dtype f64"
        );
    }

    #[test]
    fn changes_replace_or_add_flags() {
        let mut s = Spec::default();
        s.model.activation = Activation::Sigmoid;
        s.model.init = Init::Standard;
        s.optimizer.lr = 0.03;
        let lower = number(s.optimizer.lr / 10.0);
        let cmd = train_command(
            &s,
            &[
                ("activation", "relu"),
                ("init", "he_normal"),
                ("lr", &lower),
                ("residual-every", "2"),
            ],
        );
        assert_eq!(
            cmd,
            "gradscope train --activation relu --residual-every 2 --init he_normal --lr 0.003"
        );
    }

    #[test]
    fn steps_and_epochs_widths_and_depth_replace_each_other() {
        let mut s = Spec {
            epochs: 5,
            ..Spec::default()
        };
        s.model.widths = Some(vec![256, 128]);
        assert_eq!(
            train_command(&s, &[]),
            "gradscope train --widths 256,128 --epochs 5"
        );
        assert_eq!(
            train_command(&s, &[("steps", "2"), ("depth", "4")]),
            "gradscope train --depth 4 --steps 2"
        );
    }

    #[test]
    fn words_are_quoted_for_the_shell() {
        assert_eq!(shell_quote("he_normal"), "he_normal");
        assert_eq!(shell_quote("he_normal(fan_in)"), "'he_normal(fan_in)'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.1 * 3.0), "0.3");
        assert_eq!(number(1e-7), "1e-7");
        assert_eq!(number(3.7e-5 * 1.0000001), "3.7e-5");
        assert_eq!(number(0.03 / 10.0), "0.003");
        assert_eq!(number(1.0), "1");
    }

    #[test]
    fn settings_without_flags_are_named() {
        let mut s = Spec::default();
        assert!(unflagged_settings(&s).is_empty());
        s.data.noise = 0.3;
        s.model.bias = false;
        assert_eq!(unflagged_settings(&s), vec!["model.bias", "data.noise"]);
    }
}
