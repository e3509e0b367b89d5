//! The schema and its migrations. `PRAGMA user_version` holds the number of
//! migrations applied; [`migrate`] applies the missing ones in order, each
//! in its own transaction, and refuses a database newer than it knows.

use super::sql_err;
use crate::error::{Error, Result};
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::sync::OnceLock;

/// Migrations, in order: entry `i` takes the schema from version `i` to
/// `i + 1`. Applied migrations are frozen; change the schema by appending.
const MIGRATIONS: &[&str] = &[
    include_str!("v1.sql"),
    include_str!("v2.sql"),
    include_str!("v3.sql"),
];

/// The schema version this gradscope writes and reads.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The probed tensors of a layer, as column-name prefixes in `layer_steps`,
/// in the order of the columns.
pub const TENSORS: [&str; 7] = [
    "weight",
    "weight_grad",
    "bias_grad",
    "pre_grad",
    "out_grad",
    "pre",
    "out",
];

/// Stored [`TensorStats`](crate::probe::TensorStats) fields, per tensor.
pub(super) const RAW: [&str; 8] = [
    "n",
    "sum",
    "sum_sq",
    "max_abs",
    "nan",
    "inf",
    "zeros",
    "subnormal",
];

/// Figures derived from the raw fields, stored for SQL users, never read back.
pub(super) const DERIVED: [&str; 6] = ["l2", "rms", "mean", "std", "zero_frac", "subnormal_frac"];

/// Per-layer figures after the tensor columns.
pub(super) const LAYER_TAIL: [&str; 7] = [
    "pre_p15",
    "pre_p50",
    "pre_p85",
    "saturated",
    "dead",
    "update_ratio",
    "grad_data_ratio",
];

/// Every column of `layer_steps`: the layer's keys, each tensor's [`RAW`]
/// and [`DERIVED`] columns, then [`LAYER_TAIL`]. (In the table, the
/// columns schema version 2 added, `*_subnormal` and `*_subnormal_frac`,
/// come after the tail.)
pub(super) fn layer_columns() -> &'static [String] {
    static COLUMNS: OnceLock<Vec<String>> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        let mut c: Vec<String> = ["run_id", "step", "layer", "path"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for t in TENSORS {
            c.extend(RAW.iter().chain(DERIVED.iter()).map(|f| format!("{t}_{f}")));
        }
        c.extend(LAYER_TAIL.iter().map(|s| s.to_string()));
        c
    })
}

/// The columns of `layer_series` before the statistics: which run, step
/// and layer, which series of the layer (its position in
/// [`LayerProbe::series`](crate::probe::LayerProbe::series)), its tensor
/// and axis, and the index along the axis.
pub(super) const SERIES_KEYS: [&str; 7] =
    ["run_id", "step", "layer", "series", "tensor", "axis", "idx"];

/// Every column of `layer_series`, in table order: [`SERIES_KEYS`], then
/// the [`RAW`] and [`DERIVED`] fields under their own names.
pub(super) fn series_columns() -> &'static [&'static str] {
    static COLUMNS: OnceLock<Vec<&'static str>> = OnceLock::new();
    COLUMNS.get_or_init(|| {
        SERIES_KEYS
            .iter()
            .chain(&RAW)
            .chain(&DERIVED)
            .copied()
            .collect()
    })
}

/// Brings the database at `path` up to [`SCHEMA_VERSION`].
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    // Cheap check first; the authoritative one is under the write lock, so
    // two workers opening a fresh file do not both create the tables.
    if version(conn, path)? == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_err(path, "locking for migration"))?;
    let from = version(&tx, path)?;
    if from > SCHEMA_VERSION {
        return Err(Error::Store {
            path: path.to_path_buf(),
            reason: format!(
                "database schema version {from} is newer than this gradscope knows \
                 (version {SCHEMA_VERSION}); hint: use a newer gradscope to read it"
            ),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        tx.execute_batch(sql)
            .map_err(sql_err(path, "applying a schema migration"))?;
        tx.pragma_update(None, "user_version", i as u32 + 1)
            .map_err(sql_err(path, "recording the schema version"))?;
    }
    tx.commit().map_err(sql_err(path, "committing migrations"))
}

/// `PRAGMA user_version`.
pub(super) fn version(conn: &Connection, path: &Path) -> Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql_err(path, "reading the schema version"))
}
