//! One axis of a sweep: a dotted spec key and the values it takes, written
//! as a list (`[5, 10, 20]`) or a range (`{from = 1.0, to = 4.0, steps =
//! 13}`, linear, or geometric with `scale = "log"`).

use super::MAX_SWEEP_RUNS;
use toml::{Table, Value};

/// One axis: a spec key and its values, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    /// The dotted spec key (`model.depth`).
    pub key: String,
    /// The values, in the order the sweep visits them.
    pub values: Vec<Value>,
    /// Whether the key is a variable (a bare word the base spec uses as
    /// `{key}`) rather than a spec key.
    pub variable: bool,
    /// The line of the key in the sweep file, when found.
    pub line: Option<usize>,
}

impl Axis {
    /// The axis' name in run names: the key's last word (`depth`), or the
    /// whole key when another axis ends in the same word.
    pub fn short_name<'a>(&'a self, all: &[Axis]) -> &'a str {
        let last = self.key.rsplit('.').next().unwrap_or(&self.key);
        let clash = all
            .iter()
            .filter(|a| a.key.rsplit('.').next() == Some(last))
            .count()
            > 1;
        if clash {
            &self.key
        } else {
            last
        }
    }
}

/// The values `value` (an axis' right-hand side) stands for, or what is
/// wrong with it.
pub fn axis_values(value: &Value) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) if items.is_empty() => Err("an axis needs at least one value".into()),
        Value::Array(items) => Ok(items.clone()),
        Value::Table(t) => range(t),
        other => Err(format!(
            "an axis is a list of values or a range {{from, to, steps}}, not `{other}`"
        )),
    }
}

/// The values of a range table: `steps` values from `from` to `to`, both
/// included, evenly spaced (or evenly spaced in log with `scale = "log"`).
fn range(t: &Table) -> Result<Vec<Value>, String> {
    for key in t.keys() {
        if !["from", "to", "steps", "scale"].contains(&key.as_str()) {
            return Err(format!(
                "unknown range key `{key}` (a range has from, to, steps, scale)"
            ));
        }
    }
    let number = |k: &str| match t.get(k) {
        Some(Value::Float(f)) => Ok(*f),
        Some(Value::Integer(i)) => Ok(*i as f64),
        Some(v) => Err(format!("range `{k}` must be a number, not `{v}`")),
        None => Err(format!("a range needs `{k}`")),
    };
    let (from, to) = (number("from")?, number("to")?);
    let steps = match t.get("steps") {
        Some(Value::Integer(n)) if *n as u64 > MAX_SWEEP_RUNS as u64 => {
            return Err(format!(
                "range `steps` is {n}: more runs than the {MAX_SWEEP_RUNS} a sweep may have"
            ))
        }
        Some(Value::Integer(n)) if *n >= 1 => *n as usize,
        Some(v) => {
            return Err(format!(
                "range `steps` must be a whole number >= 1, not `{v}`"
            ))
        }
        None => return Err("a range needs `steps`".into()),
    };
    let log = match t.get("scale") {
        None => false,
        Some(Value::String(s)) if s == "linear" => false,
        Some(Value::String(s)) if s == "log" => true,
        Some(v) => return Err(format!("range `scale` is \"linear\" or \"log\", not `{v}`")),
    };
    if log && (from <= 0.0 || to <= 0.0) {
        return Err("a log range needs from > 0 and to > 0".into());
    }
    if steps == 1 && from != to {
        return Err("a range of 1 step needs from = to".into());
    }
    let at = |i: usize| {
        let t = if steps == 1 {
            0.0
        } else {
            i as f64 / (steps - 1) as f64
        };
        let v = if log {
            (from.ln() + t * (to.ln() - from.ln())).exp()
        } else {
            from + t * (to - from)
        };
        Value::Float(round_sig(v, 12))
    };
    Ok((0..steps).map(at).collect())
}

/// `v` rounded to `digits` significant digits: range values without the
/// last bits of rounding noise (`1.25`, not `1.2500000000000002`).
fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// `value` as written in a run name: strings bare, numbers short.
pub fn value_label(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Float(f) => format!("{}", round_sig(*f, 6)),
        Value::Array(items) => items.iter().map(value_label).collect::<Vec<_>>().join("x"),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Result<Vec<Value>, String> {
        let t: Table = format!("a = {text}").parse().unwrap();
        axis_values(&t["a"])
    }

    #[test]
    fn a_linear_range_includes_both_ends() {
        let v = values("{from = 1.0, to = 4.0, steps = 13}").unwrap();
        assert_eq!(v.len(), 13);
        assert_eq!(v[0], Value::Float(1.0));
        assert_eq!(v[1], Value::Float(1.25));
        assert_eq!(v[12], Value::Float(4.0));
    }

    #[test]
    fn a_log_range_is_geometric() {
        let v = values("{from = 0.001, to = 1, steps = 4, scale = \"log\"}").unwrap();
        let f: Vec<f64> = v.iter().map(|v| v.as_float().unwrap()).collect();
        assert_eq!(f, [0.001, 0.01, 0.1, 1.0]);
    }

    #[test]
    fn bad_axes_say_what_is_wrong() {
        assert!(values("[]").unwrap_err().contains("at least one"));
        assert!(values("3").unwrap_err().contains("a list of values"));
        assert!(values("{from = 1, to = 2}")
            .unwrap_err()
            .contains("`steps`"));
        assert!(values("{from = 1, to = 2, steps = 3, step = 1}")
            .unwrap_err()
            .contains("unknown range key `step`"));
        assert!(values("{from = 0, to = 2, steps = 3, scale = \"log\"}")
            .unwrap_err()
            .contains("from > 0"));
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(value_label(&Value::String("tanh".into())), "tanh");
        assert_eq!(value_label(&Value::Float(1.0 / 3.0)), "0.333333");
        assert_eq!(value_label(&Value::Integer(10)), "10");
    }
}
