//! How records map to rows: the flattened `layer_steps` columns, the
//! `layer_series` rows of per-axis figures, histogram tensor names, and
//! JSON for summaries and findings that keeps NaN and infinities (JSON has
//! no such numbers; they are written as the strings `"NaN"`, `"inf"`,
//! `"-inf"`). In columns, NaN is NULL.

use super::schema::{layer_columns, series_columns, DERIVED, LAYER_TAIL, RAW, TENSORS};
use crate::analysis::diagnose::{Evidence, Finding, FindingKind, Remedy, Severity};
use crate::experiment::trainer::Summary;
use crate::probe::{HistTensor, LayerProbe, TensorStats};
use rusqlite::types::Null;
use rusqlite::{Row, Statement, ToSql};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::OnceLock;

/// `NaN` as NULL.
pub(super) fn real(x: f64) -> Option<f64> {
    (!x.is_nan()).then_some(x)
}

/// NULL as `NaN`.
pub(super) fn unreal(x: Option<f64>) -> f64 {
    x.unwrap_or(f64::NAN)
}

/// `INSERT INTO layer_steps` with every column.
pub(super) fn layer_insert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let cols = layer_columns();
        let marks = vec!["?"; cols.len()].join(", ");
        format!(
            "INSERT INTO layer_steps ({}) VALUES ({marks})",
            cols.join(", ")
        )
    })
}

/// Binds parameters 1, 2, ... in order.
struct Binder<'a, 'c> {
    stmt: &'a mut Statement<'c>,
    next: usize,
}

impl Binder<'_, '_> {
    fn bind<T: ToSql>(&mut self, v: T) -> rusqlite::Result<()> {
        self.next += 1;
        self.stmt.raw_bind_parameter(self.next, v)
    }

    fn stats(&mut self, s: Option<&TensorStats>) -> rusqlite::Result<()> {
        let Some(s) = s else {
            for _ in 0..RAW.len() + DERIVED.len() {
                self.bind(Null)?;
            }
            return Ok(());
        };
        self.bind(s.n as i64)?;
        self.bind(real(s.sum))?;
        self.bind(real(s.sum_sq))?;
        self.bind(real(s.max_abs))?;
        self.bind(s.nan as i64)?;
        self.bind(s.inf as i64)?;
        self.bind(s.zeros as i64)?;
        self.bind(s.subnormal as i64)?;
        let derived = [
            s.l2(),
            s.rms(),
            s.mean(),
            s.std(),
            s.zero_frac(),
            s.subnormal_frac(),
        ];
        assert_eq!(derived.len(), DERIVED.len());
        for d in derived {
            self.bind(real(d))?;
        }
        Ok(())
    }
}

/// Inserts one `layer_steps` row with `stmt` (from [`layer_insert_sql`]).
pub(super) fn insert_layer(
    stmt: &mut Statement<'_>,
    run_id: i64,
    step: usize,
    l: &LayerProbe,
) -> rusqlite::Result<()> {
    let mut b = Binder { stmt, next: 0 };
    b.bind(run_id)?;
    b.bind(step as i64)?;
    b.bind(l.layer as i64)?;
    b.bind(&l.path)?;
    for s in l.tensors() {
        b.stats(s)?;
    }
    let tail = l.tail();
    assert_eq!(tail.len(), LAYER_TAIL.len());
    for x in tail {
        b.bind(real(x))?;
    }
    assert_eq!(b.next, layer_columns().len());
    b.stmt.raw_execute().map(|_| ())
}

/// `SELECT` of what [`read_layer`] needs (no derived columns), one run,
/// ordered by step and layer.
pub(super) fn layer_select_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let mut cols: Vec<String> = vec!["step".into(), "layer".into(), "path".into()];
        for t in TENSORS {
            cols.extend(RAW.iter().map(|f| format!("{t}_{f}")));
        }
        // The tail without the derived grad_data_ratio.
        cols.extend(LAYER_TAIL[..6].iter().map(|s| s.to_string()));
        format!(
            "SELECT {} FROM layer_steps WHERE run_id = ?1 ORDER BY step, layer",
            cols.join(", ")
        )
    })
}

/// Reads columns 0, 1, ... in order.
struct Reader<'a, 'r> {
    row: &'a Row<'r>,
    next: usize,
}

impl Reader<'_, '_> {
    fn int(&mut self) -> rusqlite::Result<Option<i64>> {
        self.next += 1;
        self.row.get(self.next - 1)
    }

    fn count(&mut self) -> rusqlite::Result<u64> {
        Ok(self.int()?.unwrap_or(0) as u64)
    }

    fn real(&mut self) -> rusqlite::Result<f64> {
        self.next += 1;
        Ok(unreal(self.row.get(self.next - 1)?))
    }

    fn stats(&mut self) -> rusqlite::Result<Option<TensorStats>> {
        let Some(n) = self.int()? else {
            self.next += RAW.len() - 1;
            return Ok(None);
        };
        Ok(Some(TensorStats {
            n: n as u64,
            sum: self.real()?,
            sum_sq: self.real()?,
            max_abs: self.real()?,
            nan: self.count()?,
            inf: self.count()?,
            zeros: self.count()?,
            // NULL in rows written before schema version 2.
            subnormal: self.count()?,
        }))
    }
}

/// One row of [`layer_select_sql`]: the step and the layer.
pub(super) fn read_layer(row: &Row<'_>) -> rusqlite::Result<(usize, LayerProbe)> {
    let mut r = Reader { row, next: 0 };
    let step = r.int()?.unwrap_or(0) as usize;
    let layer = r.int()?.unwrap_or(0) as usize;
    r.next += 1;
    let path: String = row.get(2)?;
    let missing = TensorStats::default;
    let weight = r.stats()?.unwrap_or_else(missing);
    let weight_grad = r.stats()?.unwrap_or_else(missing);
    let bias_grad = r.stats()?;
    let pre_grad = r.stats()?.unwrap_or_else(missing);
    let out_grad = r.stats()?.unwrap_or_else(missing);
    let pre = r.stats()?.unwrap_or_else(missing);
    let out = r.stats()?.unwrap_or_else(missing);
    let probe = LayerProbe {
        layer,
        path,
        weight,
        weight_grad,
        bias_grad,
        pre_grad,
        out_grad,
        pre,
        pre_pct: [r.real()?, r.real()?, r.real()?],
        out,
        saturated: r.real()?,
        dead: r.real()?,
        update_ratio: r.real()?,
        series: Vec::new(),
    };
    Ok((step, probe))
}

/// `INSERT INTO layer_series` with every column.
pub(super) fn series_insert_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let cols = series_columns();
        let marks = vec!["?"; cols.len()].join(", ");
        format!(
            "INSERT INTO layer_series ({}) VALUES ({marks})",
            cols.join(", ")
        )
    })
}

/// Inserts the `layer_series` rows of layer `l`'s series with `stmt`
/// (from [`series_insert_sql`]): one row per index of each series.
pub(super) fn insert_series(
    stmt: &mut Statement<'_>,
    run_id: i64,
    step: usize,
    l: &LayerProbe,
) -> rusqlite::Result<()> {
    for (pos, series) in l.series.iter().enumerate() {
        for (idx, s) in series.stats.iter().enumerate() {
            let mut b = Binder { stmt, next: 0 };
            b.bind(run_id)?;
            b.bind(step as i64)?;
            b.bind(l.layer as i64)?;
            b.bind(pos as i64)?;
            b.bind(&series.tensor)?;
            b.bind(series.axis.name())?;
            b.bind(idx as i64)?;
            b.stats(Some(s))?;
            assert_eq!(b.next, series_columns().len());
            b.stmt.raw_execute()?;
        }
    }
    Ok(())
}

/// `SELECT` of what [`read_series`] needs (no derived columns), one run,
/// in the order the rows were written: step, layer, series, index.
pub(super) fn series_select_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "SELECT step, layer, series, tensor, axis, idx, {} FROM layer_series \
             WHERE run_id = ?1 ORDER BY step, layer, series, idx",
            RAW.join(", ")
        )
    })
}

/// One `layer_series` row as read by [`series_select_sql`].
pub(super) struct SeriesRow {
    /// The step.
    pub step: usize,
    /// The layer.
    pub layer: usize,
    /// Position of the series in the layer's list.
    pub series: usize,
    /// What was measured.
    pub tensor: String,
    /// The axis, as stored (see [`Axis::from_name`]).
    ///
    /// [`Axis::from_name`]: crate::probe::Axis::from_name
    pub axis: String,
    /// Index along the axis.
    pub idx: usize,
    /// The statistics at that index.
    pub stats: TensorStats,
}

/// One row of [`series_select_sql`].
pub(super) fn read_series(row: &Row<'_>) -> rusqlite::Result<SeriesRow> {
    let mut r = Reader { row, next: 0 };
    let (step, layer, series) = (r.count()?, r.count()?, r.count()?);
    let (tensor, axis) = (row.get(3)?, row.get(4)?);
    r.next = 5;
    let idx = r.count()?;
    Ok(SeriesRow {
        step: step as usize,
        layer: layer as usize,
        series: series as usize,
        tensor,
        axis,
        idx: idx as usize,
        stats: r.stats()?.unwrap_or_default(),
    })
}

/// Parses [`HistTensor::name`].
pub(super) fn hist_tensor(name: &str) -> Option<HistTensor> {
    [
        HistTensor::WeightGrad,
        HistTensor::PreGrad,
        HistTensor::Output,
    ]
    .into_iter()
    .find(|t| t.name() == name)
}

/// An f64 that survives JSON: finite as a number, else `"NaN"`, `"inf"`,
/// `"-inf"`.
#[derive(Clone, Copy, Debug)]
struct J(f64);

impl Serialize for J {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            x if x.is_finite() => s.serialize_f64(x),
            x if x.is_nan() => s.serialize_str("NaN"),
            x if x > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Num {
            N(f64),
            S(String),
        }
        match Num::deserialize(d)? {
            Num::N(x) => Ok(J(x)),
            Num::S(s) => match s.as_str() {
                "NaN" => Ok(J(f64::NAN)),
                "inf" => Ok(J(f64::INFINITY)),
                "-inf" => Ok(J(f64::NEG_INFINITY)),
                other => Err(serde::de::Error::custom(format!("not a number: {other:?}"))),
            },
        }
    }
}

/// [`Summary`] as stored (same keys).
#[derive(Serialize, Deserialize)]
struct SummaryJson {
    steps: usize,
    train_loss: J,
    train_accuracy: J,
    test_loss: J,
    test_accuracy: J,
    grad_norms: Vec<J>,
    layers: Vec<String>,
    train_seconds: J,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sample: Option<String>,
}

/// `summary` as JSON.
pub(super) fn summary_to_json(s: &Summary) -> String {
    let j = SummaryJson {
        steps: s.steps,
        train_loss: J(s.train_loss),
        train_accuracy: J(s.train_accuracy),
        test_loss: J(s.test_loss),
        test_accuracy: J(s.test_accuracy),
        grad_norms: s.grad_norms.iter().map(|&x| J(x)).collect(),
        layers: s.layers.clone(),
        train_seconds: J(s.train_seconds),
        sample: s.sample.clone(),
    };
    serde_json::to_string(&j).expect("a summary always serializes")
}

/// Parses [`summary_to_json`].
pub(super) fn summary_from_json(text: &str) -> serde_json::Result<Summary> {
    let j: SummaryJson = serde_json::from_str(text)?;
    Ok(Summary {
        steps: j.steps,
        train_loss: j.train_loss.0,
        train_accuracy: j.train_accuracy.0,
        test_loss: j.test_loss.0,
        test_accuracy: j.test_accuracy.0,
        grad_norms: j.grad_norms.into_iter().map(|x| x.0).collect(),
        layers: j.layers,
        train_seconds: j.train_seconds.0,
        sample: j.sample,
    })
}

/// [`Evidence`] as stored (same keys).
#[derive(Serialize, Deserialize)]
struct EvidenceJson {
    name: String,
    value: J,
    note: String,
}

/// [`Finding`] as stored (same keys).
#[derive(Serialize, Deserialize)]
struct FindingJson {
    kind: FindingKind,
    severity: Severity,
    summary: String,
    layers: Vec<usize>,
    steps: Vec<usize>,
    evidence: Vec<EvidenceJson>,
    remedies: Vec<Remedy>,
}

/// `finding` as JSON.
pub(super) fn finding_to_json(f: &Finding) -> String {
    let j = FindingJson {
        kind: f.kind,
        severity: f.severity,
        summary: f.summary.clone(),
        layers: f.layers.clone(),
        steps: f.steps.clone(),
        evidence: f
            .evidence
            .iter()
            .map(|e| EvidenceJson {
                name: e.name.clone(),
                value: J(e.value),
                note: e.note.clone(),
            })
            .collect(),
        remedies: f.remedies.clone(),
    };
    serde_json::to_string(&j).expect("a finding always serializes")
}

/// Parses [`finding_to_json`].
pub(super) fn finding_from_json(text: &str) -> serde_json::Result<Finding> {
    let j: FindingJson = serde_json::from_str(text)?;
    Ok(Finding {
        kind: j.kind,
        severity: j.severity,
        summary: j.summary,
        layers: j.layers,
        steps: j.steps,
        evidence: j
            .evidence
            .into_iter()
            .map(|e| Evidence {
                name: e.name,
                value: e.value.0,
                note: e.note,
            })
            .collect(),
        remedies: j.remedies,
    })
}

/// The snake_case name of a severity (as in JSON).
pub(super) fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}
