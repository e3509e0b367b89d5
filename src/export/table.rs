//! The probe table: every figure of every `layer_steps` row of a run, in
//! long form (one row per figure: `run, step, layer, path, tensor,
//! metric, value`) or wide form (one row per run, step and layer, one
//! column per figure, named as in the store: `weight_grad_l2`,
//! `pre_p15`, `saturated`).
//!
//! A figure is a tensor and a metric. The seven probed tensors (`weight`,
//! `weight_grad`, `bias_grad`, `pre_grad`, `out_grad`, `pre`, `out`) each
//! have the fourteen [`STATS`]; the pre-activation's percentiles are the
//! tensor `pre` with metrics `p15`, `p50`, `p85`; what belongs to the
//! layer as a whole (`saturated`, `dead`, `update_ratio`,
//! `grad_data_ratio`) is the tensor `layer`. A figure the step did not
//! measure (no bias, no dead fraction outside the ReLU family) is NaN: a
//! missing row in long form, an empty cell in wide form.

use crate::probe::{LayerProbe, TensorStats};

/// The probed tensors, in the store's column order.
pub use crate::store::TENSORS;

/// The metrics of each tensor: the stored counts and sums, then the
/// figures derived from them (as the store's columns).
pub const STATS: [&str; 14] = [
    "n",
    "sum",
    "sum_sq",
    "max_abs",
    "nan_count",
    "inf_count",
    "zeros",
    "subnormal",
    "l2",
    "rms",
    "mean",
    "std",
    "zero_frac",
    "subnormal_frac",
];

/// The figures after the tensors' statistics: `(tensor, metric)`.
pub const LAYER_FIGURES: [(&str, &str); 7] = [
    ("pre", "p15"),
    ("pre", "p50"),
    ("pre", "p85"),
    ("layer", "saturated"),
    ("layer", "dead"),
    ("layer", "update_ratio"),
    ("layer", "grad_data_ratio"),
];

/// Figures per layer row.
pub const FIGURES: usize = TENSORS.len() * STATS.len() + LAYER_FIGURES.len();

/// One figure of a layer at a step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Figure {
    /// A tensor of [`TENSORS`], or `layer`.
    pub tensor: &'static str,
    /// Its metric.
    pub metric: &'static str,
    /// The value; NaN when not measured.
    pub value: f64,
}

impl Figure {
    /// Its column in the wide table (and the store): `tensor_metric`, or
    /// the metric alone for the layer's own figures.
    pub fn column(&self) -> String {
        column(self.tensor, self.metric)
    }
}

/// The wide column of `tensor` and `metric`.
fn column(tensor: &str, metric: &str) -> String {
    if tensor == "layer" {
        metric.to_string()
    } else {
        format!("{tensor}_{metric}")
    }
}

/// The [`STATS`] of `s`, in order (NaN for a tensor not measured).
fn stats_values(s: Option<&TensorStats>) -> [f64; 14] {
    let Some(s) = s else {
        return [f64::NAN; 14];
    };
    [
        s.n as f64,
        s.sum,
        s.sum_sq,
        s.max_abs,
        s.nan as f64,
        s.inf as f64,
        s.zeros as f64,
        s.subnormal as f64,
        s.l2(),
        s.rms(),
        s.mean(),
        s.std(),
        s.zero_frac(),
        s.subnormal_frac(),
    ]
}

/// Every figure of layer row `l`, in column order.
pub fn figures(l: &LayerProbe) -> [Figure; FIGURES] {
    let (tensors, tail) = (l.tensors(), l.tail());
    let blank = Figure {
        tensor: "",
        metric: "",
        value: f64::NAN,
    };
    let mut out = [blank; FIGURES];
    let mut i = 0;
    for (t, s) in TENSORS.iter().zip(tensors) {
        for (m, v) in STATS.iter().zip(stats_values(s)) {
            out[i] = Figure {
                tensor: t,
                metric: m,
                value: v,
            };
            i += 1;
        }
    }
    for (&(t, m), v) in LAYER_FIGURES.iter().zip(tail) {
        out[i] = Figure {
            tensor: t,
            metric: m,
            value: v,
        };
        i += 1;
    }
    assert_eq!(i, FIGURES);
    out
}

/// Long or wide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One row per figure.
    Long,
    /// One row per run, step and layer.
    Wide,
}

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A 64-bit integer, never missing.
    Int,
    /// UTF-8 text, never missing.
    Text,
    /// A double; NaN is missing (null) where the column is nullable.
    Real,
}

/// One column of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub kind: Kind,
    /// Whether a value may be missing.
    pub nullable: bool,
}

/// One cell of a row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell<'a> {
    /// An integer.
    Int(i64),
    /// Text.
    Text(&'a str),
    /// A double; NaN is missing.
    Real(f64),
}

/// The columns of the table of `shape`.
pub fn columns(shape: Shape) -> Vec<Column> {
    let col = |name: &str, kind| Column {
        name: name.to_string(),
        kind,
        nullable: false,
    };
    let mut c = vec![
        col("run", Kind::Int),
        col("step", Kind::Int),
        col("layer", Kind::Int),
        col("path", Kind::Text),
    ];
    match shape {
        Shape::Long => {
            c.push(col("tensor", Kind::Text));
            c.push(col("metric", Kind::Text));
            c.push(col("value", Kind::Real));
        }
        Shape::Wide => {
            let tensors = TENSORS
                .iter()
                .flat_map(|t| STATS.iter().map(move |m| column(t, m)));
            let tail = LAYER_FIGURES.iter().map(|(t, m)| column(t, m));
            c.extend(tensors.chain(tail).map(|name| Column {
                name,
                kind: Kind::Real,
                nullable: true,
            }));
        }
    }
    c
}

/// Calls `row` with the rows of layer row `l` of run `run` at `step`, in
/// `shape`: one wide row, or one long row per measured figure.
pub fn rows<E>(
    shape: Shape,
    run: i64,
    step: usize,
    l: &LayerProbe,
    mut row: impl FnMut(&[Cell<'_>]) -> Result<(), E>,
) -> Result<(), E> {
    let keys = [
        Cell::Int(run),
        Cell::Int(step as i64),
        Cell::Int(l.layer as i64),
        Cell::Text(&l.path),
    ];
    let figures = figures(l);
    match shape {
        Shape::Wide => {
            let mut cells = Vec::with_capacity(keys.len() + FIGURES);
            cells.extend_from_slice(&keys);
            cells.extend(figures.iter().map(|f| Cell::Real(f.value)));
            row(&cells)
        }
        Shape::Long => {
            let mut cells = [Cell::Int(0); 7];
            cells[..4].copy_from_slice(&keys);
            for f in figures.iter().filter(|f| !f.value.is_nan()) {
                cells[4] = Cell::Text(f.tensor);
                cells[5] = Cell::Text(f.metric);
                cells[6] = Cell::Real(f.value);
                row(&cells)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer() -> LayerProbe {
        let s = TensorStats {
            n: 4,
            sum: 2.0,
            sum_sq: 9.0,
            max_abs: 2.5,
            nan: 0,
            inf: 0,
            zeros: 1,
            subnormal: 0,
        };
        LayerProbe {
            layer: 1,
            path: "layers.2".into(),
            weight: s,
            weight_grad: s,
            bias_grad: None,
            pre_grad: s,
            out_grad: s,
            pre: s,
            pre_pct: [-1.0, 0.0, 1.0],
            out: s,
            saturated: 0.25,
            dead: f64::NAN,
            update_ratio: 1e-3,
            series: Vec::new(),
        }
    }

    #[test]
    fn wide_columns_are_the_store_columns() {
        let c = columns(Shape::Wide);
        assert_eq!(c.len(), 4 + FIGURES);
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        for name in ["weight_grad_l2", "pre_p15", "saturated", "grad_data_ratio"] {
            assert!(names.contains(&name), "{name} missing");
        }
        // Each figure lands in its own column.
        let f = figures(&layer());
        for (fig, col) in f.iter().zip(&c[4..]) {
            assert_eq!(fig.column(), col.name);
        }
    }

    #[test]
    fn long_rows_leave_out_what_was_not_measured() {
        let mut seen = Vec::new();
        rows::<()>(Shape::Long, 7, 30, &layer(), |cells| {
            seen.push(
                cells
                    .to_vec()
                    .iter()
                    .map(|c| format!("{c:?}"))
                    .collect::<Vec<_>>(),
            );
            Ok(())
        })
        .unwrap();
        // No bias (14 figures) and no dead fraction.
        assert_eq!(seen.len(), FIGURES - 14 - 1);
        let l2 = seen
            .iter()
            .find(|r| r[4] == "Text(\"weight_grad\")" && r[5] == "Text(\"l2\")")
            .unwrap();
        // sqrt(sum_sq) = sqrt(9) = 3
        assert_eq!(l2[6], "Real(3.0)");
        assert_eq!(
            l2[..4],
            ["Int(7)", "Int(30)", "Int(1)", "Text(\"layers.2\")"]
        );
    }

    #[test]
    fn a_wide_row_has_a_cell_per_column() {
        let mut n = 0;
        rows::<()>(Shape::Wide, 1, 0, &layer(), |cells| {
            assert_eq!(cells.len(), columns(Shape::Wide).len());
            // weight_grad_l2 = 3, update_ratio = 1e-3, bias_grad_n missing.
            let at = |name: &str| {
                let i = columns(Shape::Wide)
                    .iter()
                    .position(|c| c.name == name)
                    .unwrap();
                cells[i]
            };
            assert_eq!(at("weight_grad_l2"), Cell::Real(3.0));
            assert_eq!(at("update_ratio"), Cell::Real(1e-3));
            assert!(matches!(at("bias_grad_n"), Cell::Real(x) if x.is_nan()));
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 1);
    }
}
