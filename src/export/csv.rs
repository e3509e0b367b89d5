//! The probe table as CSV (RFC 4180): a header line, then one line per
//! row, `\n`-terminated. Text is quoted when it holds a comma, a quote or
//! a line break; a missing value is an empty field; infinities are `inf`
//! and `-inf` (pandas and DuckDB read both as doubles); other doubles are
//! written so they read back exactly (the shortest digits that round-trip,
//! in exponent form outside `[1e-5, 1e16)`).

use super::table::{Cell, Column};
use super::TableWriter;
use std::io::{self, Write};

/// Writes CSV to `W`.
pub struct CsvWriter<W: Write> {
    out: W,
}

impl<W: Write> CsvWriter<W> {
    /// Writes the header of `columns` and returns the writer.
    pub fn new(mut out: W, columns: &[Column]) -> io::Result<Self> {
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write_text(&mut out, &c.name)?;
        }
        out.write_all(b"\n")?;
        Ok(CsvWriter { out })
    }
}

impl<W: Write> TableWriter for CsvWriter<W> {
    fn row(&mut self, cells: &[Cell<'_>]) -> io::Result<()> {
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            match *c {
                Cell::Int(v) => write!(self.out, "{v}")?,
                Cell::Text(t) => write_text(&mut self.out, t)?,
                Cell::Real(x) if x.is_nan() => {}
                Cell::Real(x) if x == f64::INFINITY => self.out.write_all(b"inf")?,
                Cell::Real(x) if x == f64::NEG_INFINITY => self.out.write_all(b"-inf")?,
                Cell::Real(x) => write_number(&mut self.out, x)?,
            }
        }
        self.out.write_all(b"\n")
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.out.flush()
    }
}

/// A field, quoted (quotes doubled) when it must be.
fn write_text(out: &mut impl Write, t: &str) -> io::Result<()> {
    if t.contains([',', '"', '\n', '\r']) {
        write!(out, "\"{}\"", t.replace('"', "\"\""))
    } else {
        out.write_all(t.as_bytes())
    }
}

/// A finite double that reads back exactly: Rust's shortest round-trip
/// digits, plain inside `[1e-5, 1e16)` (and for 0), else with an exponent
/// (`{}` would spell 1e-300 with 300 zeros).
pub(super) fn write_number(out: &mut impl Write, x: f64) -> io::Result<()> {
    let a = x.abs();
    if a == 0.0 || (1e-5..1e16).contains(&a) {
        write!(out, "{x}")
    } else {
        write!(out, "{x:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::table::Kind;

    fn text(cells: &[Cell<'_>]) -> String {
        let cols: Vec<Column> = (0..cells.len())
            .map(|i| Column {
                name: format!("c{i}"),
                kind: Kind::Real,
                nullable: true,
            })
            .collect();
        let mut buf = Vec::new();
        let mut w = Box::new(CsvWriter::new(&mut buf, &cols).unwrap());
        w.row(cells).unwrap();
        w.finish().unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn numbers_round_trip_and_missing_is_empty() {
        let t = text(&[
            Cell::Real(0.1),
            Cell::Real(1e-300),
            Cell::Real(f64::NAN),
            Cell::Real(f64::NEG_INFINITY),
            Cell::Real(3.0),
            Cell::Int(-4),
        ]);
        assert_eq!(t, "c0,c1,c2,c3,c4,c5\n0.1,1e-300,,-inf,3,-4\n");
        for s in ["0.1", "1e-300"] {
            let x: f64 = s.parse().unwrap();
            let mut b = Vec::new();
            write_number(&mut b, x).unwrap();
            assert_eq!(String::from_utf8(b).unwrap().parse::<f64>().unwrap(), x);
        }
    }

    #[test]
    fn text_with_commas_and_quotes_is_quoted() {
        let t = text(&[Cell::Text("a,\"b\""), Cell::Text("plain")]);
        assert_eq!(t.lines().nth(1).unwrap(), "\"a,\"\"b\"\"\",plain");
    }
}
