use std::io::{self, Write};

use arrow_array::RecordBatch;

use crate::{BatchWriter, finish_buffered, flush_if_large, readers};
use vpcflow_core::render::Value;

/// Writes RFC 4180 CSV with a header row. Nulls are empty fields.
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    header: Option<Vec<String>>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> CsvWriter<W> {
        CsvWriter {
            out,
            buf: Vec::with_capacity(1 << 17),
            header: None,
        }
    }
}

fn write_field(buf: &mut Vec<u8>, value: &Value<'_>) -> io::Result<()> {
    match value {
        Value::Null => Ok(()),
        Value::Str(s) if s.contains([',', '"', '\n', '\r']) => {
            buf.push(b'"');
            buf.extend_from_slice(s.replace('"', "\"\"").as_bytes());
            buf.push(b'"');
            Ok(())
        }
        other => other.write_plain(buf),
    }
}

impl<W: Write> BatchWriter for CsvWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        let names: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        if self.header.as_ref() != Some(&names) {
            if self.header.is_some() {
                // A new format mid-stream (inputs with different fields): a new header says so.
                self.buf.push(b'\n');
            }
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                write_field(&mut self.buf, &Value::Str(name))?;
            }
            self.buf.push(b'\n');
            self.header = Some(names);
        }
        let columns = readers(batch);
        for row in 0..batch.num_rows() {
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                write_field(&mut self.buf, &column.value(row))?;
            }
            self.buf.push(b'\n');
            flush_if_large(&mut self.buf, &mut self.out)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        finish_buffered(&mut self.buf, &mut self.out)
    }
}
