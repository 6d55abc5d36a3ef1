//! Parquet input: AWS's Parquet delivery (columns named `account_id`, `log_status`, …) and
//! vpcflow's own Parquet output. Each row goes through the same decoder as text, so types,
//! validation and malformed-row reports are identical for both.

use std::io;

use arrow_array::{RecordBatch, RecordBatchReader};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;
use vpcflow_core::render::ColumnReader;
use vpcflow_core::{Decoder, LogFormat};

use crate::report::{RunError, SourceError};

/// Decodes a Parquet file. The outer error stops the run; the inner one says why this source
/// stopped early.
pub(crate) fn decode<T: ChunkReader + 'static>(
    file: T,
    name: &str,
    decoder: &mut Decoder,
    on_batch: &mut dyn FnMut(RecordBatch) -> io::Result<()>,
) -> Result<Result<(), SourceError>, RunError> {
    decoder.begin_source(name);
    let batch_size = decoder.options().batch_size.max(1);
    let reader = match ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(batch_size).build())
    {
        Ok(reader) => reader,
        Err(e) => return Ok(Err(parquet_error(name, e))),
    };
    let names: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    match LogFormat::from_names(names.iter().map(String::as_str)) {
        Ok(format) => decoder.use_source_format(format),
        Err(e) => {
            return Ok(Err(SourceError::Format {
                name: name.to_owned(),
                message: e.to_string(),
            }));
        }
    }
    let mut line = Vec::with_capacity(512);
    for batch in reader {
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => return Ok(Err(parquet_error(name, e))),
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

fn parquet_error(name: &str, e: impl std::fmt::Display) -> SourceError {
    SourceError::Parquet {
        name: name.to_owned(),
        message: e.to_string(),
    }
}
