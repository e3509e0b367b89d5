//! A run's series routes: `steps`, `evals`, `layers` (downsampled on the
//! server), and the `histograms` and `through-time` figures at one step
//! (docs/API.md).

use super::downsample::{thin, within};
use super::error::{ApiError, ApiResult};
use super::params::{id, printable, Params};
use super::state::{App, Scope};
use crate::probe::{BINS, BIN_WIDTH, LOG10_MIN};
use crate::store::{is_figure, is_layer_field, LayerColumns, StepTable, Store};
use axum::extract::{Path, RawQuery, State};
use axum::http::Uri;
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;

/// Points a series answer holds when `points` is not given.
pub const DEFAULT_POINTS: usize = 1000;
/// The most points a series answer may ask for.
pub const MAX_POINTS: usize = 5000;
/// The most values a `layers` answer holds (points x layers x fields).
pub const MAX_VALUES: usize = 2_000_000;
/// The most fields one `layers` request may ask for.
pub const MAX_FIELDS: usize = 8;
/// The largest step a query may name.
const MAX_STEP: usize = i64::MAX as usize;

/// `points`, `from` and `to`, checked.
struct Window {
    points: usize,
    from: Option<usize>,
    to: Option<usize>,
}

impl Window {
    fn of(p: &Params) -> ApiResult<Window> {
        Ok(Window {
            points: p.number("points", 2, MAX_POINTS)?.unwrap_or(DEFAULT_POINTS),
            from: p.number("from", 0, MAX_STEP)?,
            to: p.number("to", 0, MAX_STEP)?,
        })
    }

    /// The steps of `all` this window keeps, with the rows it saw and the
    /// stride it kept them at.
    fn pick(&self, all: &[usize], points: usize) -> (usize, usize, Vec<usize>) {
        let rows = within(all, self.from, self.to);
        let (stride, kept) = thin(rows.len(), points);
        (
            rows.len(),
            stride,
            kept.into_iter().map(|i| rows[i]).collect(),
        )
    }
}

/// `GET /api/runs/{id}/steps`.
pub async fn steps(
    State(app): State<Arc<App>>,
    uri: Uri,
    Path(run): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["points", "from", "to"])?;
    let (run, window) = (id("run", &run)?, Window::of(&p)?);
    app.answer(uri.to_string(), Scope::Run(run), move |app, store| {
        let all = app.steps(store, run, StepTable::Steps)?;
        let (rows, stride, steps) = window.pick(&all, window.points);
        let names = ["loss", "accuracy", "lr", "grad_norm"];
        let columns = store.step_columns(run, &steps, &names)?;
        Ok(Answer {
            rows,
            stride,
            columns: named(&names, columns),
            step: steps,
            layers: None,
        })
    })
    .await
}

/// `GET /api/runs/{id}/evals`.
pub async fn evals(
    State(app): State<Arc<App>>,
    uri: Uri,
    Path(run): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["points", "from", "to"])?;
    let (run, window) = (id("run", &run)?, Window::of(&p)?);
    app.answer(uri.to_string(), Scope::Run(run), move |_, store| {
        let (all, cols) =
            store.evals_between(run, window.from.unwrap_or(0), window.to.unwrap_or(MAX_STEP))?;
        let (stride, kept) = thin(all.len(), window.points);
        let steps: Vec<usize> = kept.iter().map(|&i| all[i]).collect();
        let names = ["train_loss", "train_accuracy", "test_loss", "test_accuracy"];
        let cols = cols.map(|col| kept.iter().map(|&i| col[i]).collect());
        Ok(Answer {
            rows: all.len(),
            stride,
            step: steps,
            columns: named(&names, cols),
            layers: None,
        })
    })
    .await
}

/// `GET /api/runs/{id}/layers?fields=...`.
pub async fn layers(
    State(app): State<Arc<App>>,
    uri: Uri,
    Path(run): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["fields", "points", "from", "to"])?;
    let (run, window) = (id("run", &run)?, Window::of(&p)?);
    let fields = fields(&p)?;
    app.answer(uri.to_string(), Scope::Run(run), move |app, store| {
        let layers = store.run_layers(run)?;
        let all = app.steps(store, run, StepTable::Layers)?;
        let per_step = (layers.len() * fields.len()).max(1);
        let points = window.points.min((MAX_VALUES / per_step).max(2));
        let (rows, stride, steps) = window.pick(&all, points);
        let names: Vec<&str> = fields.iter().map(String::as_str).collect();
        let columns = store.layer_columns_at(run, &steps, &names)?;
        Ok(Answer {
            rows,
            stride,
            step: steps,
            columns: Vec::new(),
            layers: Some((fields, columns)),
        })
    })
    .await
}

/// `GET /api/runs/{id}/histograms?step=`.
pub async fn histograms(
    State(app): State<Arc<App>>,
    uri: Uri,
    Path(run): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["step"])?;
    let run = id("run", &run)?;
    let step = p.required_number("step", 0, MAX_STEP)?;
    app.answer(uri.to_string(), Scope::Run(run), move |_, store| {
        let Some((step, hists)) = store.histograms_near(run, step)? else {
            return Err(ApiError::not_found(format!("run {run} has no histograms")));
        };
        Ok(json!({
            "step": step,
            "bins": { "log10_min": LOG10_MIN, "width": BIN_WIDTH, "count": BINS },
            "histograms": hists,
        }))
    })
    .await
}

/// `GET /api/runs/{id}/through-time?step=&figure=`.
pub async fn through_time(
    State(app): State<Arc<App>>,
    uri: Uri,
    Path(run): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["step", "figure"])?;
    let run = id("run", &run)?;
    let step = p.required_number("step", 0, MAX_STEP)?;
    let figure = p.get("figure").unwrap_or("rms").to_string();
    if !is_figure(&figure) {
        return Err(ApiError::bad_request(format!(
            "figure: unknown `{}` (n, sum, sum_sq, max_abs, nan, inf, zeros, subnormal, \
             l2, rms, mean, std, zero_frac or subnormal_frac)",
            printable(&figure)
        )));
    }
    app.answer(uri.to_string(), Scope::Run(run), move |_, store: &Store| {
        let Some((step, series)) = store.series_near(run, step, &figure)? else {
            return Err(ApiError::not_found(format!(
                "run {run} has no through-time series"
            )));
        };
        let series: Vec<AxisSeries> = series
            .into_iter()
            .map(|s| AxisSeries {
                layer: s.layer,
                tensor: s.tensor,
                axis: s.axis,
                values: Figures(s.values),
            })
            .collect();
        Ok(ThroughTime {
            step,
            figure,
            series,
        })
    })
    .await
}

/// The `fields` of a `layers` request, each checked.
fn fields(p: &Params) -> ApiResult<Vec<String>> {
    let text = p
        .get("fields")
        .ok_or_else(|| ApiError::bad_request("fields: required (e.g. fields=pre_grad_rms)"))?;
    let fields: Vec<String> = text.split(',').map(|f| f.trim().to_string()).collect();
    if fields.len() > MAX_FIELDS {
        return Err(ApiError::bad_request(format!(
            "fields: at most {MAX_FIELDS}, got {}",
            fields.len()
        )));
    }
    for (i, f) in fields.iter().enumerate() {
        if !is_layer_field(f) {
            return Err(ApiError::bad_request(format!(
                "fields: unknown `{}` (a tensor's figure such as pre_grad_rms, or saturated, \
                 dead, update_ratio, grad_data_ratio, pre_p15, pre_p50, pre_p85; docs/API.md)",
                printable(f)
            )));
        }
        if fields[..i].contains(f) {
            return Err(ApiError::bad_request(format!("fields: `{f}` given twice")));
        }
    }
    Ok(fields)
}

/// A column of figures as JSON: each to 7 significant digits (as an f32,
/// half the bytes of an f64's 17) where an f32 holds it, else in full (a
/// gradient of 1e-300 or 1e300 stays what it is); `null` for NaN and
/// infinities.
struct Figures(Vec<f64>);

impl serde::Serialize for Figures {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        FiguresRef(&self.0).serialize(s)
    }
}

/// [`Figures`] of a borrowed column.
struct FiguresRef<'a>(&'a [f64]);

impl serde::Serialize for FiguresRef<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for &v in self.0 {
            let a = v.abs();
            if a == 0.0 || (a >= f32::MIN_POSITIVE as f64 && a <= f32::MAX as f64) {
                seq.serialize_element(&(v as f32))?;
            } else {
                seq.serialize_element(&v)?;
            }
        }
        seq.end()
    }
}

/// Columns under their names, as an [`Answer`] holds them.
fn named(names: &[&str], columns: impl IntoIterator<Item = Vec<f64>>) -> Vec<(String, Figures)> {
    names
        .iter()
        .map(|n| n.to_string())
        .zip(columns.into_iter().map(Figures))
        .collect()
}

/// A series answer (docs/API.md): `rows`, `stride`, `step`, then one
/// column per figure; for `layers`, the fields and one entry per layer
/// with its columns.
struct Answer {
    rows: usize,
    stride: usize,
    step: Vec<usize>,
    columns: Vec<(String, Figures)>,
    layers: Option<(Vec<String>, Vec<LayerColumns>)>,
}

impl serde::Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("rows", &self.rows)?;
        m.serialize_entry("stride", &self.stride)?;
        m.serialize_entry("step", &self.step)?;
        for (name, col) in &self.columns {
            m.serialize_entry(name, col)?;
        }
        if let Some((fields, layers)) = &self.layers {
            m.serialize_entry("fields", fields)?;
            let layers: Vec<LayerAnswer> = layers
                .iter()
                .map(|l| LayerAnswer { fields, layer: l })
                .collect();
            m.serialize_entry("layers", &layers)?;
        }
        m.end()
    }
}

/// One layer's entry of a `layers` answer.
struct LayerAnswer<'a> {
    fields: &'a [String],
    layer: &'a LayerColumns,
}

impl serde::Serialize for LayerAnswer<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("layer", &self.layer.layer)?;
        m.serialize_entry("path", &self.layer.path)?;
        for (name, col) in self.fields.iter().zip(&self.layer.columns) {
            m.serialize_entry(name, &FiguresRef(col))?;
        }
        m.end()
    }
}

/// A `through-time` answer.
#[derive(serde::Serialize)]
struct ThroughTime {
    step: usize,
    figure: String,
    series: Vec<AxisSeries>,
}

/// One per-axis series of a `through-time` answer.
#[derive(serde::Serialize)]
struct AxisSeries {
    layer: usize,
    tensor: String,
    axis: String,
    values: Figures,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_keep_seven_digits_and_whatever_an_f32_cannot_hold() {
        let text = serde_json::to_string(&Figures(vec![
            0.1,
            4.179492706268998e-10,
            1e-300,
            -3e200,
            0.0,
            f64::NAN,
            f64::INFINITY,
        ]))
        .unwrap();
        assert_eq!(text, "[0.1,4.1794926e-10,1e-300,-3e+200,0.0,null,null]");
    }
}
