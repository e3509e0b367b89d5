//! The probe table as Parquet, through the parquet crate's column writer
//! (no arrow): integers as `INT64`, text as `BYTE_ARRAY` annotated
//! `UTF8` (dictionary-encoded: paths, tensors and metrics repeat), doubles
//! as `DOUBLE`, `OPTIONAL` where a value may be missing (NaN is null),
//! snappy-compressed. Rows are buffered by column and written as a row
//! group once about [`GROUP_CELLS`] cells are held, so a long run streams
//! in bounded memory.

use super::table::{Cell, Column, Kind};
use super::TableWriter;
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::io::{self, Write};
use std::sync::Arc;

/// Cells buffered before a row group is written (about 10 MB of doubles).
pub const GROUP_CELLS: usize = 1 << 20;

/// One column's values since the last row group.
enum Buffer {
    Int(Vec<i64>),
    Text(Vec<ByteArray>),
    /// Present values, and a definition level per row when nullable.
    Real {
        values: Vec<f64>,
        defs: Option<Vec<i16>>,
    },
}

/// Writes a Parquet file to `W`.
pub struct ParquetWriter<W: Write + Send> {
    file: SerializedFileWriter<W>,
    buffers: Vec<Buffer>,
    rows: usize,
}

/// A parquet error as an I/O error (the caller names the file).
fn io_err(e: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(e)
}

impl<W: Write + Send> ParquetWriter<W> {
    /// Starts a file of `columns`.
    pub fn new(out: W, columns: &[Column]) -> io::Result<Self> {
        let fields: Vec<String> = columns
            .iter()
            .map(|c| {
                let rep = if c.nullable { "OPTIONAL" } else { "REQUIRED" };
                let ty = match c.kind {
                    Kind::Int => "INT64",
                    Kind::Text => "BYTE_ARRAY",
                    Kind::Real => "DOUBLE",
                };
                let ann = if c.kind == Kind::Text { " (UTF8)" } else { "" };
                format!("{rep} {ty} {}{ann};", c.name)
            })
            .collect();
        let message = format!("message gradscope_probes {{ {} }}", fields.join(" "));
        let schema = parse_message_type(&message).map_err(io_err)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("gradscope {}", env!("CARGO_PKG_VERSION")))
            .build();
        let file =
            SerializedFileWriter::new(out, Arc::new(schema), Arc::new(props)).map_err(io_err)?;
        let buffers = columns
            .iter()
            .map(|c| match c.kind {
                Kind::Int => Buffer::Int(Vec::new()),
                Kind::Text => Buffer::Text(Vec::new()),
                Kind::Real => Buffer::Real {
                    values: Vec::new(),
                    defs: c.nullable.then(Vec::new),
                },
            })
            .collect();
        Ok(ParquetWriter {
            file,
            buffers,
            rows: 0,
        })
    }

    /// Writes the buffered rows as one row group.
    fn flush_group(&mut self) -> io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.file.next_row_group().map_err(io_err)?;
        for buffer in &mut self.buffers {
            let mut col = group
                .next_column()
                .map_err(io_err)?
                .expect("one buffer per column of the schema");
            match buffer {
                Buffer::Int(v) => {
                    col.typed::<Int64Type>()
                        .write_batch(v, None, None)
                        .map_err(io_err)?;
                    v.clear();
                }
                Buffer::Text(v) => {
                    col.typed::<ByteArrayType>()
                        .write_batch(v, None, None)
                        .map_err(io_err)?;
                    v.clear();
                }
                Buffer::Real { values, defs } => {
                    col.typed::<DoubleType>()
                        .write_batch(values, defs.as_deref(), None)
                        .map_err(io_err)?;
                    values.clear();
                    if let Some(d) = defs {
                        d.clear();
                    }
                }
            }
            col.close().map_err(io_err)?;
        }
        group.close().map_err(io_err)?;
        self.rows = 0;
        Ok(())
    }
}

impl<W: Write + Send> TableWriter for ParquetWriter<W> {
    fn row(&mut self, cells: &[Cell<'_>]) -> io::Result<()> {
        assert_eq!(cells.len(), self.buffers.len(), "a cell per column");
        for (buffer, cell) in self.buffers.iter_mut().zip(cells) {
            match (buffer, *cell) {
                (Buffer::Int(v), Cell::Int(x)) => v.push(x),
                (Buffer::Text(v), Cell::Text(t)) => v.push(ByteArray::from(t)),
                (Buffer::Real { values, defs }, Cell::Real(x)) => match defs {
                    Some(d) if x.is_nan() => d.push(0),
                    Some(d) => {
                        d.push(1);
                        values.push(x);
                    }
                    None => values.push(x),
                },
                _ => panic!("a cell of the wrong kind for its column"),
            }
        }
        self.rows += 1;
        if self.rows * self.buffers.len() >= GROUP_CELLS {
            self.flush_group()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.flush_group()?;
        let mut out = self.file.into_inner().map_err(io_err)?;
        out.flush()
    }
}
