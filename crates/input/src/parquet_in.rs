//! Parquet input: AWS's Parquet delivery (columns named `account_id`, `log_status`, …) and
//! vpcflow's own Parquet output. Each row goes through the same decoder as text, so types,
//! validation and malformed-row reports are identical for both.

use std::io;

use arrow_array::{RecordBatch, RecordBatchReader};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;
use vpcflow_core::render::ColumnReader;
use vpcflow_core::{Decoder, LogFormat};

use crate::run::RunError;

/// Decodes a Parquet file. The outer error stops the run; the inner one says why this source
/// stopped early.
pub(crate) fn decode<T: ChunkReader + 'static>(
    file: T,
    name: &str,
    decoder: &mut Decoder,
    on_batch: &mut dyn FnMut(RecordBatch) -> io::Result<()>,
) -> Result<Result<(), String>, RunError> {
    decoder.begin_source(name);
    let reader = match ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(8192).build())
    {
        Ok(reader) => reader,
        Err(e) => return Ok(Err(format!("cannot read Parquet file {name}: {e}"))),
    };
    let names: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    match LogFormat::from_names(names.iter().map(String::as_str)) {
        Ok(format) => decoder.use_source_format(format),
        Err(e) => return Ok(Err(format!("{name}: {e}"))),
    }
    let mut line = Vec::with_capacity(512);
    for batch in reader {
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => return Ok(Err(format!("reading Parquet file {name} failed: {e}"))),
        };
        let columns: Vec<ColumnReader<'_>> =
            batch.columns().iter().map(ColumnReader::new).collect();
        for row in 0..batch.num_rows() {
            line.clear();
            for (i, column) in columns.iter().enumerate() {
                if i > 0 {
                    line.push(b' ');
                }
                column
                    .value(row)
                    .write_plain(&mut line)
                    .map_err(RunError::Output)?;
            }
            decoder.decode_line(&line).map_err(RunError::Decode)?;
            if decoder.is_full()
                && let Some(batch) = decoder.flush()
            {
                on_batch(batch).map_err(RunError::Output)?;
            }
        }
    }
    if let Some(batch) = decoder.flush() {
        on_batch(batch).map_err(RunError::Output)?;
    }
    Ok(Ok(()))
}
