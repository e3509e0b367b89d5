//! A run's series routes: `steps`, `evals`, `layers` (downsampled on the
//! server), and the `histograms` and `through-time` figures at one step
//! (docs/API.md).

use super::downsample::{thin, within};
use super::error::{ApiError, ApiResult};
use super::params::{id, printable, Params};
use super::state::App;
use crate::store::{histogram_bins, is_figure, is_layer_field, StepTable, Store};
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use serde_json::{json, Map, Value};
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
    Path(run): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref(), &["points", "from", "to"])?;
    let (run, window) = (id("run", &run)?, Window::of(&p)?);
    app.read(move |app, store| {
        store.run_texts(run)?;
        let all = app.steps(store, run, StepTable::Steps)?;
        let (rows, stride, steps) = window.pick(&all, window.points);
        let names = ["loss", "accuracy", "lr", "grad_norm"];
        let columns = store.step_columns(run, &steps, &names)?;
        let mut out = head(rows, stride, &steps);
        for (name, col) in names.iter().zip(columns) {
            out.insert(name.to_string(), json!(col));
        }
        Ok(Json(Value::Object(out)))
    })
    .await
}

/// `GET /api/runs/{id}/evals`.
pub async fn evals(
    State(app): State<Arc<App>>,
    Path(run): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref(), &["points", "from", "to"])?;
    let (run, window) = (id("run", &run)?, Window::of(&p)?);
    app.read(move |_, store| {
        store.run_texts(run)?;
        let (all, cols) =
            store.evals_between(run, window.from.unwrap_or(0), window.to.unwrap_or(MAX_STEP))?;
        let (stride, kept) = thin(all.len(), window.points);
        let steps: Vec<usize> = kept.iter().map(|&i| all[i]).collect();
        let mut out = head(all.len(), stride, &steps);
        let names = ["train_loss", "train_accuracy", "test_loss", "test_accuracy"];
        for (name, col) in names.iter().zip(cols) {
            let col: Vec<f64> = kept.iter().map(|&i| col[i]).collect();
            out.insert(name.to_string(), json!(col));
        }
        Ok(Json(Value::Object(out)))
    })
    .await
}

/// `GET /api/runs/{id}/layers?fields=...`.
pub async fn layers(
    State(app): State<Arc<App>>,
    Path(run): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref(), &["fields", "points", "from", "to"])?;
    let (run, window) = (id("run", &run)?, Window::of(&p)?);
    let fields = fields(&p)?;
    app.read(move |app, store| {
        let layers = store.run_layers(run)?;
        if layers.is_empty() {
            store.run_texts(run)?;
        }
        let all = app.steps(store, run, StepTable::Layers)?;
        let per_step = (layers.len() * fields.len()).max(1);
        let points = window.points.min((MAX_VALUES / per_step).max(2));
        let (rows, stride, steps) = window.pick(&all, points);
        let names: Vec<&str> = fields.iter().map(String::as_str).collect();
        let columns = store.layer_columns_at(run, &steps, &names)?;
        let layers: Vec<Value> = columns
            .into_iter()
            .map(|l| {
                let mut m = Map::new();
                m.insert("layer".into(), json!(l.layer));
                m.insert("path".into(), json!(l.path));
                for (name, col) in fields.iter().zip(l.columns) {
                    m.insert(name.clone(), json!(col));
                }
                Value::Object(m)
            })
            .collect();
        let mut out = head(rows, stride, &steps);
        out.insert("fields".into(), json!(fields));
        out.insert("layers".into(), Value::Array(layers));
        Ok(Json(Value::Object(out)))
    })
    .await
}

/// `GET /api/runs/{id}/histograms?step=`.
pub async fn histograms(
    State(app): State<Arc<App>>,
    Path(run): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref(), &["step"])?;
    let run = id("run", &run)?;
    let step = p.required_number("step", 0, MAX_STEP)?;
    app.read(move |_, store| {
        store.run_texts(run)?;
        let Some((step, hists)) = store.histograms_near(run, step)? else {
            return Err(ApiError::not_found(format!("run {run} has no histograms")));
        };
        let (log10_min, width, count) = histogram_bins();
        Ok(Json(json!({
            "step": step,
            "bins": { "log10_min": log10_min, "width": width, "count": count },
            "histograms": hists,
        })))
    })
    .await
}

/// `GET /api/runs/{id}/through-time?step=&figure=`.
pub async fn through_time(
    State(app): State<Arc<App>>,
    Path(run): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
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
    app.read(move |_, store: &Store| {
        store.run_texts(run)?;
        let Some((step, series)) = store.series_near(run, step, &figure)? else {
            return Err(ApiError::not_found(format!(
                "run {run} has no through-time series"
            )));
        };
        let series: Vec<Value> = series
            .into_iter()
            .map(|s| {
                json!({ "layer": s.layer, "tensor": s.tensor, "axis": s.axis, "values": s.values })
            })
            .collect();
        Ok(Json(
            json!({ "step": step, "figure": figure, "series": series }),
        ))
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

/// The head every series answer starts with.
fn head(rows: usize, stride: usize, steps: &[usize]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("rows".into(), json!(rows));
    m.insert("stride".into(), json!(stride));
    m.insert("step".into(), json!(steps));
    m
}
