//! `gradscope report --sweep ID|NAME [--x KEY] [--y KEY] [--facet KEY]`:
//! a sweep's page, the trainability map over two of its axes (by default
//! its first two, the first along y), small multiples over a third, and
//! every run in parallel coordinates. Where the map's axes are depth and
//! `sigma_w^2`, the mean-field `6 xi_c` curve is drawn on it
//! ([`trainable_depth_curve`]).

use super::record::open_to_read;
use anyhow::{bail, Context};
use gradscope::experiment::sweep::{trainable_depth_curve, value_label, SweepSpec};
use gradscope::report::trainability::{MapAxes, SweepRun};
use gradscope::report::{render_sweep_html, sweep_figures, write_pngs, SweepRow, SweepView};
use std::path::Path;

/// Which axes the map puts where (`None`: the defaults).
pub struct MapChoice<'a> {
    /// Along x.
    pub x: Option<&'a str>,
    /// Along y.
    pub y: Option<&'a str>,
    /// Small multiples.
    pub facet: Option<&'a str>,
}

/// Writes sweep `key`'s page to `output` (and its figures as PNG into
/// `png`).
pub fn run(
    key: &str,
    choice: &MapChoice<'_>,
    output: &Path,
    png: Option<&Path>,
    db: &Path,
) -> anyhow::Result<()> {
    let store = open_to_read(db)?;
    let Some(sweep) = store.find_sweep(key)? else {
        bail!(
            "no sweep `{key}` in {} (`gradscope runs` lists what is there)",
            db.display()
        );
    };
    let spec = SweepSpec::from_toml(&sweep.spec, &format!("sweep {}", sweep.id))
        .context("reading the sweep's stored spec")?;
    let axes: Vec<String> = spec.axes.iter().map(|a| a.key.clone()).collect();
    let pick = |given: Option<&str>, default: Option<&String>, what: &str| match given {
        Some(k) if axes.iter().any(|a| a == k) => Ok(Some(k.to_string())),
        Some(k) => bail!(
            "--{what} {k}: not an axis of sweep `{}` (its axes: {})",
            sweep.name,
            axes.join(", ")
        ),
        None => Ok(default.cloned()),
    };
    let y = pick(choice.y, axes.first(), "y")?;
    let x = pick(choice.x, axes.get(1).or(axes.first()), "x")?;
    let facet = pick(choice.facet, axes.get(2), "facet")?;
    let (Some(x), Some(y)) = (x, y) else {
        bail!("sweep `{}` has no axis to map", sweep.name);
    };
    let mut runs = Vec::new();
    let mut rows = Vec::new();
    for r in store.sweep_runs(sweep.id)? {
        let Some(c) = r.classification else { continue };
        let cell: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&r.cell).unwrap_or_default();
        let mut values: Vec<(String, String)> = cell
            .into_iter()
            .map(|(k, v)| {
                let label = toml::Value::try_from(&v)
                    .map(|t| value_label(&t))
                    .unwrap_or_else(|_| v.to_string());
                (k, label)
            })
            .collect();
        values.push(("seed".into(), r.seed.to_string()));
        runs.push(SweepRun {
            cell: values,
            class: c.class.name().to_string(),
            accuracy: c.test_accuracy.unwrap_or(f64::NAN),
        });
        rows.push(SweepRow {
            id: r.id,
            name: r.name,
            rule: c.rule,
        });
    }
    if runs.is_empty() {
        bail!(
            "sweep `{}` has no classified runs yet (`gradscope sweep` runs it)",
            sweep.name
        );
    }
    let curve = trainable_depth_curve(&spec, &x, &y)?;
    let view = SweepView {
        name: &sweep.name,
        axes: &axes,
        runs: &runs,
        rows: &rows,
        map: MapAxes {
            x: &x,
            y: &y,
            facet: facet.as_deref().filter(|f| *f != x && *f != y),
            curve: curve.as_deref().map(|c| (c, CURVE_LABEL)),
        },
    };
    super::report::write_html(output, &render_sweep_html(&view))?;
    if let Some(dir) = png {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
        let written = write_pngs(&sweep_figures(&view), dir)?;
        eprintln!("{} PNG figures in {}", written.len(), dir.display());
    }
    if !super::report::is_stdout(output) {
        println!("{}", output.display());
    }
    Ok(())
}

/// The legend of the theory curve.
const CURVE_LABEL: &str = "6 ξc (mean field)";
