//! The probe table as JSON: one array of objects, one object per row,
//! keys in column order, one row per line (so the array streams, and
//! `jq`, pandas' `read_json` and DuckDB's `read_json` read it whole).
//! JSON has no NaN or infinities: a missing or infinite value is `null`
//! (CSV and Parquet keep the infinities).

use super::csv::write_number;
use super::table::{Cell, Column};
use super::TableWriter;
use std::io::{self, Write};

/// Writes a JSON array of row objects to `W`.
pub struct JsonWriter<W: Write> {
    out: W,
    /// Each column's key, quoted and escaped, with its colon.
    keys: Vec<String>,
    rows: u64,
}

impl<W: Write> JsonWriter<W> {
    /// Opens the array.
    pub fn new(mut out: W, columns: &[Column]) -> io::Result<Self> {
        out.write_all(b"[")?;
        let keys = columns
            .iter()
            .map(|c| format!("{}:", quoted(&c.name)))
            .collect();
        Ok(JsonWriter { out, keys, rows: 0 })
    }
}

/// `t` as a JSON string.
fn quoted(t: &str) -> String {
    serde_json::to_string(t).expect("a string always serializes")
}

impl<W: Write> TableWriter for JsonWriter<W> {
    fn row(&mut self, cells: &[Cell<'_>]) -> io::Result<()> {
        self.out
            .write_all(if self.rows == 0 { b"\n{" } else { b",\n{" })?;
        self.rows += 1;
        for (i, (key, c)) in self.keys.iter().zip(cells).enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            self.out.write_all(key.as_bytes())?;
            match *c {
                Cell::Int(v) => write!(self.out, "{v}")?,
                Cell::Text(t) => self.out.write_all(quoted(t).as_bytes())?,
                Cell::Real(x) if !x.is_finite() => self.out.write_all(b"null")?,
                Cell::Real(x) => write_number(&mut self.out, x)?,
            }
        }
        self.out.write_all(b"}")
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.write_all(b"\n]\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::table::Kind;

    #[test]
    fn rows_are_objects_that_serde_reads_back() {
        let cols: Vec<Column> = ["run", "path", "value", "missing"]
            .iter()
            .map(|n| Column {
                name: n.to_string(),
                kind: Kind::Real,
                nullable: true,
            })
            .collect();
        let mut buf = Vec::new();
        let mut w = Box::new(JsonWriter::new(&mut buf, &cols).unwrap());
        for step in 0..2 {
            w.row(&[
                Cell::Int(step),
                Cell::Text("layers.\"0\""),
                Cell::Real(1e-300),
                Cell::Real(f64::INFINITY),
            ])
            .unwrap();
        }
        w.finish().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 2);
        assert_eq!(v[1]["run"], 1);
        assert_eq!(v[0]["path"], "layers.\"0\"");
        assert_eq!(v[0]["value"].as_f64(), Some(1e-300));
        assert!(v[0]["missing"].is_null());
    }

    #[test]
    fn an_empty_table_is_an_empty_array() {
        let mut buf = Vec::new();
        let w = Box::new(JsonWriter::new(&mut buf, &[]).unwrap());
        w.finish().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v, serde_json::json!([]));
    }
}
