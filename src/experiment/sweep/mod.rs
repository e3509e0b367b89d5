//! Sweeps: one spec file that stands for many runs. A sweep spec is a run
//! spec (every key of docs/SPEC.md) plus a `[sweep]` table:
//!
//! ```toml
//! steps = 30
//! [data]
//! name = "xor"
//! [sweep]
//! name = "depth-activation"
//! seeds = 2                  # or a list: [0, 7]
//! [sweep.axes]
//! "model.depth" = [2, 4]
//! "model.activation" = ["tanh", "relu"]
//! "optimizer.lr" = {from = 0.01, to = 1.0, steps = 3, scale = "log"}
//! ```
//!
//! [`SweepSpec::runs`] expands it: the Cartesian product of the axes (the
//! first axis varies slowest), each cell once per seed (fastest). Each
//! run's spec is the base with the cell's values applied as `--set
//! KEY=VALUE` would apply them ([`SpecBuilder::set`]), so every key that
//! works there works here, and a bad value is an error naming the file,
//! the axis' line and the key. `seeds = N` runs seeds `seed`, `seed + 1`,
//! ..., `seed + N - 1` of the base spec. A run is named
//! `<sweep>/depth=2,activation=tanh,seed=1`.
//!
//! An axis named by a bare word that the base spec uses as `{word}` inside
//! a string is a *variable*: each run's spec is the base with `{word}`
//! replaced by the value, so one axis can set a number inside a name.
//! The mean-field sweep over `sigma_w^2`:
//!
//! ```toml
//! [model]
//! init = "mean_field_var({sw2}, 0.05)"
//! [sweep.axes]
//! sw2 = {from = 1.0, to = 4.0, steps = 13}
//! ```
//!
//! A sweep is identified by its name and [`SweepSpec::hash`], the hash of
//! its whole content (base and `[sweep]`), so re-running the same file
//! resumes it ([`engine`]), and changing it starts a new sweep.

mod axis;
pub mod classify;
pub mod engine;
pub mod slurm;
pub mod theory;

pub use axis::{axis_values, value_label, Axis};
pub use classify::{classify, Class, Classification};
pub use theory::trainable_depth_curve;

use super::{Spec, SpecBuilder};
use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::path::Path;
use toml::{Table, Value};

/// The most runs a sweep may expand to (our choice: 100,000 runs is days
/// of a cluster). A larger sweep (`seeds = 1000000000000`, a range of a
/// billion steps, ten axes of ten values) is refused before anything is
/// expanded: it aborted on allocation.
pub const MAX_SWEEP_RUNS: usize = 100_000;

/// A parsed sweep spec: the base run spec, the axes and the seeds.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// The sweep's name (`[sweep] name`).
    pub name: String,
    /// The seeds each cell runs with.
    pub seeds: Vec<u64>,
    /// The axes, in the order of the file.
    pub axes: Vec<Axis>,
    /// The file's text, as written (stored with the sweep: it expands to
    /// the same runs, in the same order).
    pub text: String,
    /// The file's content as canonical TOML (keys sorted, no comments):
    /// what [`SweepSpec::hash`] hashes.
    canonical: String,
    /// The base spec's text: the file with its `[sweep]` tables blanked.
    base_text: String,
    /// The base spec (with each variable at its first value).
    base: SpecBuilder,
    origin: String,
}

/// One run of a sweep, expanded.
#[derive(Clone, Debug)]
pub struct SweepRun {
    /// Position in the sweep's order (0-based).
    pub index: usize,
    /// `<sweep>/depth=2,activation=tanh,seed=1`, also the spec's name.
    pub name: String,
    /// The cell: each axis' value, as canonical JSON (`{"model.depth":2}`,
    /// keys sorted).
    pub cell: String,
    /// The resolved spec.
    pub spec: Spec,
}

impl SweepSpec {
    /// Reads and parses a sweep spec file.
    pub fn load(path: &Path) -> Result<SweepSpec> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Parses a sweep spec; errors name `origin`, the line and the key.
    pub fn from_toml(text: &str, origin: &str) -> Result<SweepSpec> {
        let err = |line: Option<usize>, field: &str, message: String| Error::Spec {
            origin: origin.into(),
            line,
            field: field.into(),
            message,
        };
        let mut table: Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            err(line, "", e.message().to_string())
        })?;
        let canonical = toml::to_string(&table).expect("a parsed table serializes");
        let Some(Value::Table(mut sweep)) = table.remove("sweep") else {
            return Err(err(
                None,
                "sweep",
                "a sweep spec needs a [sweep] table".into(),
            ));
        };
        let base_text = blank_sweep_tables(text);
        let name = match sweep.remove("name") {
            Some(Value::String(s)) if !s.is_empty() && !s.contains('/') => s,
            _ => {
                let line = key_line(text, "sweep", "name");
                let message = "needs a name (a non-empty string without `/`)".into();
                return Err(err(line, "sweep.name", message));
            }
        };
        let seeds_value = sweep.remove("seeds");
        let axes_table = match sweep.remove("axes") {
            Some(Value::Table(t)) => t,
            Some(_) => {
                let line = key_line(text, "sweep", "axes");
                return Err(err(line, "sweep.axes", "must be a table".into()));
            }
            None => Table::new(),
        };
        if let Some(key) = sweep.keys().next() {
            let line = key_line(text, "sweep", key);
            let message = "unknown field, expected `name`, `seeds` or `axes`".into();
            return Err(err(line, &format!("sweep.{key}"), message));
        }
        let mut axes = Vec::new();
        for (key, value) in &axes_table {
            let line = key_line(text, "sweep.axes", key);
            let values = axis_values(value).map_err(|m| err(line, key, m))?;
            axes.push(Axis {
                key: key.clone(),
                variable: !key.contains('.') && base_text.contains(&format!("{{{key}}}")),
                values,
                line,
            });
        }
        axes.sort_by_key(|a| a.line.unwrap_or(usize::MAX));
        let first: Vec<&Value> = axes.iter().map(|a| &a.values[0]).collect();
        let base = substituted_base(&base_text, &axes, &first, origin)?;
        let first_seed = base.build()?.seed;
        let too_many =
            |what: String| format!("{what}: more runs than the {MAX_SWEEP_RUNS} a sweep may have");
        let seeds = match seeds_value {
            None => vec![first_seed],
            Some(Value::Integer(n)) if n as u64 > MAX_SWEEP_RUNS as u64 => {
                let line = key_line(text, "sweep", "seeds");
                return Err(err(line, "sweep.seeds", too_many(format!("{n} seeds"))));
            }
            Some(Value::Integer(n)) if n >= 1 => (0..n as u64).map(|i| first_seed + i).collect(),
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| v.as_integer().filter(|i| *i >= 0).map(|i| i as u64))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    let line = key_line(text, "sweep", "seeds");
                    err(line, "sweep.seeds", "seeds are whole numbers >= 0".into())
                })?,
            Some(_) => {
                let line = key_line(text, "sweep", "seeds");
                let message = "a number of seeds (>= 1) or a list of seeds".into();
                return Err(err(line, "sweep.seeds", message));
            }
        };
        let runs = axes
            .iter()
            .try_fold(seeds.len(), |n, a| n.checked_mul(a.values.len()))
            .filter(|&n| n <= MAX_SWEEP_RUNS);
        if runs.is_none() {
            let sizes: Vec<String> = axes.iter().map(|a| a.values.len().to_string()).collect();
            let what = format!("{} seeds x {} values", seeds.len(), sizes.join(" x "));
            return Err(err(None, "sweep.axes", too_many(what)));
        }
        let spec = SweepSpec {
            name,
            seeds,
            axes,
            text: text.to_string(),
            canonical,
            base_text,
            base,
            origin: origin.into(),
        };
        spec.runs()?;
        Ok(spec)
    }

    /// The hash of the whole content (16 hex digits): with the name, what
    /// identifies the sweep in a store.
    pub fn hash(&self) -> String {
        let digest = Sha256::digest(self.canonical.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// Every run, in the sweep's order: cells (first axis slowest), then
    /// seeds. An axis value the spec refuses is an error naming the file,
    /// the axis' line and the key.
    pub fn runs(&self) -> Result<Vec<SweepRun>> {
        let cells = self.axes.iter().fold(vec![vec![]], |cells, axis| {
            let mut out = Vec::new();
            for cell in &cells {
                for v in &axis.values {
                    let mut c: Vec<&Value> = cell.clone();
                    c.push(v);
                    out.push(c);
                }
            }
            out
        });
        let mut runs = Vec::new();
        let has_variables = self.axes.iter().any(|a| a.variable);
        for cell in cells {
            let mut builder = if has_variables {
                substituted_base(&self.base_text, &self.axes, &cell, &self.origin)?
            } else {
                self.base.clone()
            };
            let mut labels = Vec::new();
            let mut json = serde_json::Map::new();
            for (axis, value) in self.axes.iter().zip(&cell) {
                if !axis.variable {
                    builder
                        .set(&axis.key, &value.to_string(), AXIS_ORIGIN)
                        .and_then(|()| builder.build().map(drop))
                        .map_err(|e| self.axis_error(axis, value, e))?;
                }
                labels.push(format!(
                    "{}={}",
                    axis.short_name(&self.axes),
                    value_label(value)
                ));
                let v = serde_json::to_value(value).expect("a TOML value is JSON");
                json.insert(axis.key.clone(), v);
            }
            let cell_json = serde_json::Value::Object(json).to_string();
            for &seed in &self.seeds {
                let mut labels = labels.clone();
                labels.push(format!("seed={seed}"));
                let name = format!("{}/{}", self.name, labels.join(","));
                let mut b = builder.clone();
                b.set("seed", &seed.to_string(), "sweep.seeds")?;
                b.set("name", &Value::String(name.clone()).to_string(), "sweep")?;
                runs.push(SweepRun {
                    index: runs.len(),
                    name,
                    cell: cell_json.clone(),
                    spec: b.build()?,
                });
            }
        }
        Ok(runs)
    }

    /// An error of an axis value as an error of the sweep file.
    fn axis_error(&self, axis: &Axis, value: &Value, e: Error) -> Error {
        match e {
            Error::Spec {
                origin,
                field,
                message,
                ..
            } if origin == AXIS_ORIGIN => {
                let hint = if axis.key.contains('.') {
                    ""
                } else {
                    " (an axis named by a bare word is a variable only where the spec uses it as `{word}` in a string)"
                };
                Error::Spec {
                    origin: self.origin.clone(),
                    line: axis.line,
                    field: format!("sweep.axes.\"{}\"", axis.key),
                    message: format!("value {value}: `{field}`: {message}{hint}"),
                }
            }
            other => other,
        }
    }
}

/// The base spec with each variable axis' `{name}` replaced by its value
/// in `cell` (one value per axis); an error in it names the values.
fn substituted_base(
    base_text: &str,
    axes: &[Axis],
    cell: &[&Value],
    origin: &str,
) -> Result<SpecBuilder> {
    let mut text = base_text.to_string();
    let mut set = Vec::new();
    for (axis, value) in axes.iter().zip(cell).filter(|(a, _)| a.variable) {
        let exact = match value {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        text = text.replace(&format!("{{{}}}", axis.key), &exact);
        set.push(format!("{} = {}", axis.key, value_label(value)));
    }
    SpecBuilder::from_toml(&text, origin).map_err(|e| match e {
        Error::Spec {
            origin,
            line,
            field,
            message,
        } if !set.is_empty() => Error::Spec {
            origin,
            line,
            field,
            message: format!("{message} (with {})", set.join(", ")),
        },
        other => other,
    })
}

/// The origin axis settings are made under, to recognise their errors.
const AXIS_ORIGIN: &str = "\u{0}sweep axis";

/// `text` with the lines of `[sweep]` and `[sweep.*]` tables blanked (kept
/// as empty lines, so the base spec's errors keep their line numbers).
fn blank_sweep_tables(text: &str) -> String {
    let mut in_sweep = false;
    let mut out = String::new();
    for line in text.lines() {
        if let Some(header) = table_header(line) {
            in_sweep = header == "sweep" || header.starts_with("sweep.");
        }
        if !in_sweep {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The table a `[header]` line opens (`sweep.axes`), if `line` is one.
fn table_header(line: &str) -> Option<String> {
    let t = line.trim();
    let inner = t.strip_prefix('[')?.split(']').next()?;
    Some(inner.trim().replace([' ', '"'], ""))
}

/// The 1-based line of `key` (bare or quoted) in table `table` of `text`.
fn key_line(text: &str, table: &str, key: &str) -> Option<usize> {
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(h) = table_header(line) {
            current = h;
            continue;
        }
        let t = line.trim_start();
        let rest = t
            .strip_prefix(&format!("\"{key}\""))
            .or_else(|| t.strip_prefix(key));
        if current == table && rest.is_some_and(|r| r.trim_start().starts_with('=')) {
            return Some(i + 1);
        }
    }
    None
}

#[cfg(test)]
mod tests;
