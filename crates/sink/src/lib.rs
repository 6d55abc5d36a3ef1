//! Output writers for vpcflow: JSON lines, CSV, an aligned table, and Parquet.
//!
//! Every writer takes Arrow [`RecordBatch`]es — decoded flow-log records or verdict rows alike —
//! through the [`BatchWriter`] trait, and renders values the same way
//! ([`vpcflow_core::render`]): integers as
//! numbers, addresses as text, dictionary values as their strings, nulls as `null` in JSON and
//! `-` elsewhere.
//!
//! ```
//! use std::sync::Arc;
//! use arrow_array::{RecordBatch, UInt16Array};
//! use arrow_schema::{DataType, Field, Schema};
//! use vpcflow_sink::{BatchWriter, JsonLinesWriter};
//!
//! let schema = Arc::new(Schema::new(vec![Field::new("dstport", DataType::UInt16, true)]));
//! let batch = RecordBatch::try_new(schema, vec![Arc::new(UInt16Array::from(vec![Some(3306), None]))]).unwrap();
//! let mut out = Vec::new();
//! let mut writer = JsonLinesWriter::new(&mut out);
//! writer.write(&batch).unwrap();
//! writer.finish().unwrap();
//! assert_eq!(String::from_utf8(out).unwrap(), "{\"dstport\":3306}\n{\"dstport\":null}\n");
//! ```
#![deny(missing_docs)]

use std::io::{self, Write};

use arrow_array::RecordBatch;
use vpcflow_core::render::ColumnReader;

mod athena;
mod csv;
mod json;
mod ocsf;
mod parquet;
mod partition;
mod summary;
mod table;

pub use crate::athena::{DdlError, PartitionValues, Table, column_name, create_table};
pub use crate::csv::CsvWriter;
pub use crate::json::JsonLinesWriter;
pub use crate::ocsf::{OcsfWriter, SCHEMA as OCSF_SCHEMA, ocsf_batch};
pub use crate::parquet::{ParquetOptions, ParquetWriter};
pub use crate::partition::{Layout, Partition, PartitionedWriter, path_safe};
pub use crate::summary::Summary;
pub use crate::table::{Fit, TableWriter};

/// Something that consumes batches and writes them out.
pub trait BatchWriter {
    /// Writes one batch.
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()>;
    /// Writes whatever is buffered and closes the output.
    fn finish(&mut self) -> io::Result<()>;
}

impl<W: BatchWriter + ?Sized> BatchWriter for Box<W> {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        (**self).write(batch)
    }
    fn finish(&mut self) -> io::Result<()> {
        (**self).finish()
    }
}

fn readers(batch: &RecordBatch) -> Vec<ColumnReader<'_>> {
    batch.columns().iter().map(ColumnReader::new).collect()
}

/// Writes what is buffered and flushes: the end of every line-oriented writer.
fn finish_buffered(buf: &mut Vec<u8>, out: &mut impl Write) -> io::Result<()> {
    out.write_all(buf)?;
    buf.clear();
    out.flush()
}

fn flush_if_large(buf: &mut Vec<u8>, out: &mut impl Write) -> io::Result<()> {
    if buf.len() >= 1 << 16 {
        out.write_all(buf)?;
        buf.clear();
    }
    Ok(())
}
