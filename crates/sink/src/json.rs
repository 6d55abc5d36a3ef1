use std::io::{self, Write};

use arrow_array::RecordBatch;

use crate::{BatchWriter, finish_buffered, flush_if_large, readers};
use vpcflow_core::render::write_json_string;

/// Writes one JSON object per row, keyed by column name. Nulls are written as `null`.
#[derive(Debug)]
pub struct JsonLinesWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    keys: Vec<Vec<u8>>,
}

impl<W: Write> JsonLinesWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> JsonLinesWriter<W> {
        JsonLinesWriter {
            out,
            buf: Vec::with_capacity(1 << 17),
            keys: Vec::new(),
        }
    }
}

impl<W: Write> BatchWriter for JsonLinesWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        self.keys.clear();
        for field in batch.schema().fields() {
            let mut key = Vec::new();
            write_json_string(&mut key, field.name())?;
            key.push(b':');
            self.keys.push(key);
        }
        let columns = readers(batch);
        for row in 0..batch.num_rows() {
            self.buf.push(b'{');
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    self.buf.push(b',');
                }
                self.buf.extend_from_slice(&self.keys[i]);
                column.value(row).write_json(&mut self.buf)?;
            }
            self.buf.extend_from_slice(b"}\n");
            flush_if_large(&mut self.buf, &mut self.out)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        finish_buffered(&mut self.buf, &mut self.out)
    }
}
