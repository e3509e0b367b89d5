//! Settings from the command line, layered onto a spec, and back.
//!
//! [`SpecBuilder`] builds a spec in layers: the spec file (or the
//! defaults), then each `--set KEY=VALUE` in order, then each flag of
//! [`FLAGS`]. A flag is shorthand for one key: `--depth 20` is
//! `--set model.depth=20`. Every key of docs/SPEC.md can be set so.
//!
//! A VALUE is read as TOML (`0.05`, `true`, `[16, 32]`, `"x"`), or as an
//! array when it is a bare list (`16,32`, or `16` where the key takes a
//! list), or else as a string (`tanh`, `normal(1)`, `/data/mnist`, or
//! `2024` where the key takes a string). An empty VALUE removes the key,
//! back to its default. Two keys replace others, as `--steps` and `--depth`
//! always did: `steps` removes `epochs`, and `model.depth` and
//! `model.width` remove `model.widths`.
//!
//! [`spec_settings`] goes the other way: the fewest settings that rebuild a
//! spec from the defaults, so a command can carry every setting of a run.
//!
//! ```
//! use gradscope::experiment::{spec_settings, Spec, SpecBuilder};
//! let mut b = SpecBuilder::new();
//! b.set("model.depth", "20", "--depth 20").unwrap();
//! b.set("model.bn_momentum", "0.05", "--set").unwrap();
//! let spec = b.build().unwrap();
//! assert_eq!(spec.model.widths, vec![100; 20]);
//! let keys: Vec<String> = spec_settings(&spec).into_iter().map(|s| s.key).collect();
//! assert_eq!(keys, ["model.depth", "model.bn_momentum"]);
//! ```

use super::flags::{Flag, FLAGS};
use super::Spec;
use crate::error::{Error, Result};
use std::path::Path;
use toml::{Table, Value};

/// One setting: a dotted spec key and its value as written on the
/// command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The dotted key (`model.depth`).
    pub key: String,
    /// The value as typed (`20`).
    pub value: String,
}

impl Setting {
    /// The flag that sets this key, if there is one.
    pub fn flag(&self) -> Option<&'static Flag> {
        FLAGS.iter().find(|f| f.key == self.key)
    }
}

/// A spec built in layers: a file (or the defaults), then settings.
#[derive(Clone, Debug, Default)]
pub struct SpecBuilder {
    table: Table,
    /// The spec file's name and text, for errors in its keys.
    file: Option<(String, String)>,
    /// `(key, origin)` of each setting, in order.
    origins: Vec<(String, String)>,
}

impl SpecBuilder {
    /// The defaults, no file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts from a spec file, which must be valid on its own (errors
    /// name the file, line and key).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Starts from the text of a spec file named `origin`, which must be
    /// valid on its own (errors name `origin`, the line and the key).
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        Spec::from_toml(text, origin)?;
        let table = text
            .parse::<Table>()
            .map_err(|e| spec_error(origin, "", e.message()))?;
        Ok(Self {
            table,
            file: Some((origin.to_string(), text.to_string())),
            origins: Vec::new(),
        })
    }

    /// Sets dotted `key` to `value` (read as the module doc says; empty
    /// removes the key). `origin` names the setting in errors
    /// (`--set model.depth=3`, `--depth 3`).
    pub fn set(&mut self, key: &str, value: &str, origin: &str) -> Result<()> {
        let path: Vec<&str> = key.split('.').collect();
        let word =
            |p: &&str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !path.iter().all(word) {
            return Err(spec_error(
                origin,
                key,
                "not a dotted key (like `model.depth`)",
            ));
        }
        let replaced: &[&[&str]] = match key {
            "steps" => &[&["epochs"]],
            "model.depth" | "model.width" => &[&["model", "widths"]],
            _ => &[],
        };
        for r in replaced {
            remove(&mut self.table, r);
        }
        if value.is_empty() {
            remove(&mut self.table, &path);
        } else {
            insert(&mut self.table, &path, read_value(key, value));
        }
        self.origins.push((key.to_string(), origin.to_string()));
        Ok(())
    }

    /// The spec, checked; an error names the setting (or the file's line)
    /// its key came from.
    pub fn build(&self) -> Result<Spec> {
        let text =
            toml::to_string(&self.table).map_err(|e| spec_error("settings", "", &e.to_string()))?;
        Spec::from_toml(&text, "settings").map_err(|e| self.attribute(e))
    }

    /// Checks `value` for `key` alone (its type and names, not its range):
    /// the message of what is wrong, for an argument parser.
    pub fn check(key: &str, value: &str) -> std::result::Result<(), String> {
        let mut table = Table::new();
        insert(
            &mut table,
            &key.split('.').collect::<Vec<_>>(),
            read_value(key, value),
        );
        Value::Table(table)
            .try_into::<Spec>()
            .map(drop)
            .map_err(|e| e.message().to_string())
    }

    /// `e` (about the merged settings) as an error of the setting or the
    /// file line that gave its key.
    fn attribute(&self, e: Error) -> Error {
        let Error::Spec { field, message, .. } = e else {
            return e;
        };
        let related = |k: &str| {
            field.is_empty()
                || k == field
                || k.starts_with(&format!("{field}."))
                || field.starts_with(&format!("{k}."))
        };
        if let Some((_, origin)) = self.origins.iter().rev().find(|(k, _)| related(k)) {
            return spec_error(origin, &field, &message);
        }
        match &self.file {
            Some((origin, text)) => Error::Spec {
                origin: origin.clone(),
                line: super::spec::line_of_key(text, &field),
                field,
                message,
            },
            None => spec_error("settings", &field, &message),
        }
    }
}

fn spec_error(origin: &str, field: &str, message: &str) -> Error {
    Error::Spec {
        origin: origin.into(),
        line: None,
        field: field.into(),
        message: message.into(),
    }
}

/// `text` read for `key`: the first reading the key takes of TOML, a bare
/// list, a string (the first reading when it takes none).
fn read_value(key: &str, text: &str) -> Value {
    let toml = |t: &str| {
        let mut table = format!("v = {t}").parse::<Table>().ok()?;
        (table.len() == 1).then(|| table.remove("v")).flatten()
    };
    let mut readings: Vec<Value> = Vec::new();
    readings.extend(toml(text));
    if !text.trim_start().starts_with('[') {
        readings.extend(toml(&format!("[{text}]")));
    }
    readings.push(Value::String(text.to_string()));
    let path: Vec<&str> = key.split('.').collect();
    let takes = |v: &Value| {
        let mut table = Table::new();
        insert(&mut table, &path, v.clone());
        Value::Table(table).try_into::<Spec>().is_ok()
    };
    match readings.iter().position(takes) {
        Some(i) => readings.swap_remove(i),
        None => readings.swap_remove(0),
    }
}

/// Sets `path` in `table`, making (or replacing with) tables on the way.
fn insert(table: &mut Table, path: &[&str], value: Value) {
    let (last, parents) = path.split_last().expect("a key has a name");
    let mut t = table;
    for p in parents {
        let slot = t
            .entry(p.to_string())
            .or_insert_with(|| Value::Table(Table::new()));
        if !slot.is_table() {
            *slot = Value::Table(Table::new());
        }
        t = slot.as_table_mut().expect("just made a table");
    }
    t.insert(last.to_string(), value);
}

/// Removes `path` from `table`, if there.
fn remove(table: &mut Table, path: &[&str]) {
    let (last, parents) = path.split_last().expect("a key has a name");
    let mut t = table;
    for p in parents {
        match t.get_mut(*p).and_then(Value::as_table_mut) {
            Some(inner) => t = inner,
            None => return,
        }
    }
    t.remove(*last);
}

/// The fewest settings that rebuild `spec` from the defaults, flags'
/// keys first in [`FLAGS`] order, then the others by key. Applied in this
/// order to [`SpecBuilder::new`] they give `spec` back.
pub fn spec_settings(spec: &Spec) -> Vec<Setting> {
    let mut all = canonical_leaves(spec);
    all.sort_by(|a, b| rank(&a.0).cmp(&rank(&b.0)).then(a.0.cmp(&b.0)));
    let settings: Vec<Setting> = all
        .iter()
        .map(|(key, value)| Setting {
            key: key.clone(),
            value: value_text(key, value),
        })
        .collect();
    let rebuilds = |keep: &[bool]| {
        let mut b = SpecBuilder::new();
        for s in settings
            .iter()
            .zip(keep)
            .filter(|(_, k)| **k)
            .map(|(s, _)| s)
        {
            if b.set(&s.key, &s.value, "").is_err() {
                return false;
            }
        }
        b.build().is_ok_and(|built| built == *spec)
    };
    // Most keys hold their default: try without all of those at once,
    // then without each remaining key in turn.
    let defaults = canonical_leaves(&Spec::default());
    let mut keep: Vec<bool> = all
        .iter()
        .map(|(k, v)| !defaults.iter().any(|(dk, dv)| dk == k && same(dv, v)))
        .collect();
    if !rebuilds(&keep) {
        keep = vec![true; all.len()];
    }
    for i in 0..keep.len() {
        if keep[i] {
            keep[i] = false;
            keep[i] = !rebuilds(&keep);
        }
    }
    settings
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(s, _)| s)
        .collect()
}

/// [`spec_settings`] of `spec`, plus each key that `base` also sets but to
/// another value, even where `spec` holds the default: so the command of
/// a remedy shows what the remedy changes (`--activation relu`).
pub fn spec_settings_against(spec: &Spec, base: &Spec) -> Vec<Setting> {
    let mut settings = spec_settings(spec);
    let base_leaves = canonical_leaves(base);
    for (key, value) in canonical_leaves(spec) {
        let changed = base_leaves
            .iter()
            .any(|(k, v)| *k == key && !same(v, &value));
        if changed && !settings.iter().any(|s| s.key == key) {
            let value = value_text(&key, &value);
            settings.push(Setting { key, value });
        }
    }
    settings.sort_by(|a, b| rank(&a.key).cmp(&rank(&b.key)).then(a.key.cmp(&b.key)));
    settings
}

/// Where `key` goes in a list of settings: flags in [`FLAGS`] order, then
/// the other keys.
fn rank(key: &str) -> usize {
    FLAGS
        .iter()
        .position(|f| f.key == key)
        .unwrap_or(FLAGS.len())
}

/// `spec` as `(dotted key, value)` pairs, as it serializes.
/// The value `key` takes in [`Spec::default`], as a flag or `--set` would
/// write it; `None` for a key unset by default (`optimizer.clip_norm`).
pub fn default_value(key: &str) -> Option<String> {
    canonical_leaves(&Spec::default())
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(k, v)| value_text(&k, &v))
}

fn canonical_leaves(spec: &Spec) -> Vec<(String, Value)> {
    match Value::try_from(spec) {
        Ok(Value::Table(t)) => leaves(&t),
        _ => Vec::new(),
    }
}

/// Every `(dotted key, value)` below `table`; arrays are values.
fn leaves(table: &Table) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (k, v) in table {
        match v {
            Value::Table(inner) => out.extend(
                leaves(inner)
                    .into_iter()
                    .map(|(ik, iv)| (format!("{k}.{ik}"), iv)),
            ),
            v => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// `value` written so that [`read_value`] reads it back for `key`: bare
/// where that works (`tanh`, `16,32`, `0.001`), TOML otherwise (`"2024"`).
fn value_text(key: &str, value: &Value) -> String {
    let bare = match value {
        Value::String(s) => s.clone(),
        Value::Float(f) => float_text(*f),
        Value::Array(items) => items
            .iter()
            .map(|v| value_text("", v))
            .collect::<Vec<_>>()
            .join(","),
        v => v.to_string(),
    };
    if key.is_empty() || (!bare.is_empty() && same(&read_value(key, &bare), value)) {
        bare
    } else {
        value.to_string()
    }
}

/// A float in its shortest form that reads back exactly: plain decimals
/// from 1e-4 to 1e15, exponent form outside (`1e-7`).
fn float_text(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f == 0.0 || f.is_infinite() || (1e-4..1e15).contains(&f.abs()) {
        f.to_string()
    } else {
        format!("{f:e}")
    }
}

/// Whether two values are equal, integers and floats compared as numbers.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Integer(i), Value::Float(f)) | (Value::Float(f), Value::Integer(i)) => {
            *i as f64 == *f
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (a, b) => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Activation;

    fn build(settings: &[(&str, &str)]) -> Result<Spec> {
        let mut b = SpecBuilder::new();
        for (k, v) in settings {
            b.set(k, v, &format!("--set {k}={v}"))?;
        }
        b.build()
    }

    #[test]
    fn values_are_read_as_toml_lists_or_strings() {
        let s = build(&[
            ("model.widths", "16,32"),
            ("model.activation", "leaky_relu(0.2)"),
            ("name", "2024"),
            ("optimizer.clip_value", "1.0"),
            ("model.bias", "false"),
            ("data.dir", "/data/my mnist"),
        ])
        .unwrap();
        assert_eq!(s.model.widths, [16, 32]);
        assert_eq!(s.model.activation, Activation::LeakyRelu { alpha: 0.2 });
        assert_eq!(s.name, "2024");
        assert_eq!(s.optimizer.clip_value, Some(1.0));
        assert!(!s.model.bias);
        assert_eq!(s.data.dir.as_deref(), Some("/data/my mnist"));
        assert_eq!(build(&[("model.widths", "16")]).unwrap().model.widths, [16]);
        assert_eq!(build(&[("name", "\"7\"")]).unwrap().name, "7");
    }

    #[test]
    fn settings_replace_what_they_always_replaced() {
        let s = build(&[("model.widths", "4,5"), ("model.depth", "2")]).unwrap();
        assert_eq!(s.model.widths, [100, 100]);
        let s = build(&[("epochs", "3"), ("steps", "7")]).unwrap();
        assert_eq!((s.steps, s.epochs), (7, 0));
        let s = build(&[("optimizer.clip_norm", "1"), ("optimizer.clip_norm", "")]).unwrap();
        assert_eq!(s.optimizer.clip_norm, None);
    }

    #[test]
    fn errors_name_the_setting_and_the_key() {
        let e = build(&[("model.depth", "2"), ("model.bn_momentun", "0.1")]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--set model.bn_momentun=0.1: `model.bn_momentun`: unknown field"),
            "{e}"
        );
        let e = build(&[("optimizer.lr", "0")]).unwrap_err().to_string();
        assert_eq!(
            e,
            "--set optimizer.lr=0: `optimizer.lr`: must be a positive number"
        );
        let e = build(&[("model.activation", "sigmoidal")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown activation `sigmoidal`"), "{e}");
        let e = build(&[("model..depth", "2")]).unwrap_err().to_string();
        assert!(e.contains("not a dotted key"), "{e}");
        let e = SpecBuilder::check("model.depth", "-3").unwrap_err();
        assert!(e.contains("invalid value: integer `-3`"), "{e}");
        assert!(SpecBuilder::check("model.norm", "bn").is_ok());
    }

    #[test]
    fn the_default_spec_needs_no_settings() {
        assert!(spec_settings(&Spec::default()).is_empty());
    }

    #[test]
    fn floats_are_short_and_exact() {
        for f in [0.1, 1e-7, 0.003, 1.0, 1234.5, 3e20, 0.1 + 0.2] {
            let t = float_text(f);
            assert_eq!(t.parse::<f64>().unwrap(), f, "{t}");
        }
        assert_eq!(float_text(1e-7), "1e-7");
        assert_eq!(float_text(0.003), "0.003");
        assert_eq!(float_text(1.0), "1");
    }
}
