//! The runs and sweeps routes: `/api/runs`, `/api/runs/{id}`,
//! `/api/sweeps`, `/api/sweeps/{id}` (docs/API.md).

use super::error::{ApiError, ApiResult};
use super::params::{id, printable, Params};
use super::state::{App, Scope};
use crate::experiment::sweep::SweepSpec;
use crate::experiment::RunStatus;
use crate::store::{RunFilter, StepTable};
use axum::extract::{Path, RawQuery, State};
use axum::http::Uri;
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Arc;

/// The longest `name` filter: run names are at most this long.
const MAX_NAME: usize = 256;

/// `GET /api/runs?status=&sweep=&name=`.
pub async fn list(
    State(app): State<Arc<App>>,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref(), &["status", "sweep", "name"])?;
    let status = match p.get("status") {
        None => None,
        Some(s) => Some(RunStatus::from_name(s).ok_or_else(|| {
            ApiError::bad_request(format!(
                "status: must be running, finished, diverged, failed or interrupted, got `{}`",
                printable(s)
            ))
        })?),
    };
    let sweep = p.get("sweep").map(|s| id("sweep", s)).transpose()?;
    if p.get("name").is_some_and(|n| n.chars().count() > MAX_NAME) {
        return Err(ApiError::bad_request(format!(
            "name: at most {MAX_NAME} characters (a run's name is no longer)"
        )));
    }
    let filter = RunFilter {
        status,
        sweep,
        name: p.get("name").map(str::to_string),
    };
    app.answer(uri.to_string(), Scope::Store, move |_, store| {
        Ok(json!({ "runs": store.run_items(&filter)? }))
    })
    .await
}

/// `GET /api/runs/{id}`: the run's row, spec, layers, what was probed,
/// summary and findings.
pub async fn one(
    State(app): State<Arc<App>>,
    uri: Uri,
    Path(run): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    Params::parse(q.as_deref(), &[])?;
    let run = id("run", &run)?;
    app.answer(uri.to_string(), Scope::Run(run), move |app, store| {
        let item = store.run_item(run)?;
        let texts = store.run_texts(run)?;
        let spec_json = toml::from_str::<toml::Value>(&texts.spec)
            .ok()
            .and_then(|v| serde_json::to_value(v).ok());
        let summary = texts
            .summary
            .as_deref()
            .and_then(|s| serde_json::from_str::<Value>(s).ok());
        let layers: Vec<Value> = store
            .run_layers(run)?
            .into_iter()
            .map(|(layer, path)| json!({ "layer": layer, "path": path }))
            .collect();
        let probed = app.steps(store, run, StepTable::Layers)?.len();
        Ok(json!({
            "run": item,
            "spec": texts.spec,
            "spec_json": spec_json,
            "layers": layers,
            "probed_steps": probed,
            "histogram_steps": store.histogram_steps(run)?,
            "through_time": store.series_kinds(run)?,
            "summary": summary,
            "error": texts.error,
            "findings": store.findings(run)?,
        }))
    })
    .await
}

/// `GET /api/sweeps`.
pub async fn sweeps(
    State(app): State<Arc<App>>,
    uri: Uri,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    Params::parse(q.as_deref(), &[])?;
    app.answer(uri.to_string(), Scope::Store, |_, store| {
        let sweeps: Vec<Value> = store.sweeps()?.iter().map(sweep_head).collect();
        Ok(json!({ "sweeps": sweeps }))
    })
    .await
}

/// `GET /api/sweeps/{id}`: the sweep, its axes and its runs with their
/// cells and classes.
pub async fn sweep(
    State(app): State<Arc<App>>,
    uri: Uri,
    Path(sweep): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    Params::parse(q.as_deref(), &[])?;
    let sweep = id("sweep", &sweep)?;
    app.answer(uri.to_string(), Scope::Store, move |_, store| {
        let row = store
            .sweeps()?
            .into_iter()
            .find(|s| s.id == sweep)
            .ok_or_else(|| ApiError::not_found(format!("no sweep {sweep} in the store")))?;
        let mut axes: Vec<String> = Vec::new();
        let runs: Vec<Value> = store
            .sweep_runs(sweep)?
            .into_iter()
            .map(|r| {
                let cell: Value = serde_json::from_str(&r.cell).unwrap_or(Value::Null);
                if let Value::Object(m) = &cell {
                    for k in m.keys() {
                        if !axes.contains(k) {
                            axes.push(k.clone());
                        }
                    }
                }
                let c = r.classification.as_ref();
                json!({
                    "id": r.id,
                    "name": r.name,
                    "status": r.status,
                    "seed": r.seed,
                    "cell": cell,
                    "class": c.map(|c| c.class.name()),
                    "rule": c.map(|c| c.rule.clone()),
                    "test_accuracy": c.and_then(|c| c.test_accuracy),
                })
            })
            .collect();
        // The axes in the file's order, with their values in the order
        // the sweep visits them; else as the cells name them.
        let parsed = SweepSpec::from_toml(&row.spec, "").ok();
        let axis_values: serde_json::Map<String, Value> = parsed
            .iter()
            .flat_map(|spec| &spec.axes)
            .map(|a| {
                (
                    a.key.clone(),
                    serde_json::to_value(&a.values).unwrap_or(Value::Null),
                )
            })
            .collect();
        if let Some(spec) = &parsed {
            axes.sort_by_key(|k| {
                spec.axes
                    .iter()
                    .position(|a| &a.key == k)
                    .unwrap_or(usize::MAX)
            });
        }
        Ok(json!({
            "sweep": sweep_head(&row),
            "spec": row.spec,
            "axes": axes,
            "axis_values": axis_values,
            "runs": runs,
        }))
    })
    .await
}

fn sweep_head(s: &crate::store::SweepRow) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "hash": s.hash,
        "created_at": s.created_at,
        "runs": s.runs,
    })
}
