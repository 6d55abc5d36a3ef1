//! Parquet input: AWS's Parquet delivery (columns named `account_id`, `log_status`, …) and
//! vpcflow's own Parquet output. Each row goes through the same decoder as text, so types,
//! validation and malformed-row reports are identical for both.
//!
//! The Parquet and Arrow readers have panicked on corrupt files, so everything they do runs
//! [isolated](crate::isolate): a row group is read and rendered to text lines inside, and the
//! lines are decoded outside. A panic becomes this source's error, and the run goes on.

use std::io;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchReader};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::ChunkReader;
use vpcflow_core::render::ColumnReader;
use vpcflow_core::{Decoder, LogFormat};

use crate::isolate::isolate;
use crate::report::{RunError, SourceError};

/// Decodes a Parquet file. The outer error stops the run; the inner one says why this source
/// stopped early (what was decoded before it is kept).
pub(crate) fn decode<T: ChunkReader + 'static>(
    file: T,
    name: &str,
    decoder: &mut Decoder,
    on_batch: &mut dyn FnMut(RecordBatch) -> io::Result<()>,
) -> Result<Result<(), SourceError>, RunError> {
    decoder.begin_source(name);
    let batch_size = decoder.options().batch_size.max(1);
    let built = isolate(|| {
        ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(batch_size).build())
    });
    let mut reader = match built {
        Ok(Ok(reader)) => reader,
        Ok(Err(e)) => return Ok(Err(parquet_error(name, e))),
        Err(panic) => return Ok(Err(panicked(name, &panic))),
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
    // One batch of rows as text: `text[ends[i-1]..ends[i]]` is row i.
    let mut text = Vec::new();
    let mut ends = Vec::new();
    let stopped = loop {
        let next = isolate(|| -> Result<bool, Stop> {
            text.clear();
            ends.clear();
            let Some(batch) = reader.next() else {
                return Ok(false);
            };
            let batch = batch.map_err(|e| Stop::Parquet(e.to_string()))?;
            render(&batch, &names, &mut text, &mut ends)?;
            Ok(true)
        });
        match next {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => break None,
            Ok(Err(Stop::Parquet(message))) => break Some(parquet_error(name, message)),
            Ok(Err(Stop::Type(message))) => {
                break Some(SourceError::Format {
                    name: name.to_owned(),
                    message,
                });
            }
            Err(panic) => break Some(panicked(name, &panic)),
        }
        let mut start = 0;
        for &end in &ends {
            decoder
                .decode_line(&text[start..end])
                .map_err(RunError::Decode)?;
            start = end;
            if decoder.is_full()
                && let Some(batch) = decoder.flush()
            {
                on_batch(batch).map_err(RunError::Output)?;
            }
        }
    };
    if let Some(batch) = decoder.flush() {
        on_batch(batch).map_err(RunError::Output)?;
    }
    Ok(stopped.map_or(Ok(()), Err))
}

/// Why a batch could not be rendered.
enum Stop {
    /// The Parquet reader failed.
    Parquet(String),
    /// A column of a type vpcflow does not read.
    Type(String),
}

/// Renders every row of `batch` as a text line (values separated by spaces).
fn render(
    batch: &RecordBatch,
    names: &[String],
    text: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> Result<(), Stop> {
    let arrays = batch
        .columns()
        .iter()
        .zip(names)
        .map(|(array, name)| readable(array, name))
        .collect::<Result<Vec<ArrayRef>, Stop>>()?;
    let columns: Vec<ColumnReader<'_>> = arrays.iter().map(ColumnReader::new).collect();
    for row in 0..batch.num_rows() {
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                text.push(b' ');
            }
            // Writing to a Vec cannot fail.
            let _ = column.value(row).write_plain(text);
        }
        ends.push(text.len());
    }
    Ok(())
}

/// `array` as one of the types [`ColumnReader`] reads: every Arrow string, binary, integer,
/// float and timestamp type a writer may use is cast to one of them; anything else is refused,
/// naming the column and its type.
fn readable(array: &ArrayRef, name: &str) -> Result<ArrayRef, Stop> {
    use DataType::*;
    let target = match array.data_type() {
        Utf8 | Boolean | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Float64
        | FixedSizeBinary(16) => return Ok(array.clone()),
        Dictionary(key, value) if **key == Int32 && **value == Utf8 => return Ok(array.clone()),
        Timestamp(arrow_schema::TimeUnit::Second, None) => return Ok(array.clone()),
        Timestamp(_, _) => Timestamp(arrow_schema::TimeUnit::Second, None),
        LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView | Null => Utf8,
        Dictionary(_, value)
            if matches!(
                **value,
                Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView
            ) =>
        {
            Utf8
        }
        Int8 | Int16 => Int64,
        Float16 | Float32 => Float64,
        other => {
            return Err(Stop::Type(format!(
                "column `{name}` has Arrow type {other}, which vpcflow does not read as a flow \
                 log field (it reads strings, binary, integers, floats, booleans and timestamps)"
            )));
        }
    };
    arrow_cast::cast(array, &target).map_err(|e| {
        Stop::Type(format!(
            "column `{name}` ({}) cannot be read as {target}: {e}",
            array.data_type()
        ))
    })
}

fn parquet_error(name: &str, e: impl std::fmt::Display) -> SourceError {
    SourceError::Parquet {
        name: name.to_owned(),
        message: e.to_string(),
    }
}

fn panicked(name: &str, panic: &str) -> SourceError {
    SourceError::Parquet {
        name: name.to_owned(),
        message: format!(
            "the Parquet reader panicked on this file ({panic}); the file is corrupt, or this \
             is a bug in the parquet crate worth reporting with the file"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vpcflow_core::DecoderOptions;

    /// vpcflow's own Parquet output of 300 generated v5 records.
    fn seed() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/parquet/v5.parquet"
        );
        std::fs::read(path).expect("testdata/parquet/v5.parquet")
    }

    fn read(bytes: Vec<u8>) -> (usize, Result<(), SourceError>) {
        let mut decoder = Decoder::new(DecoderOptions::default());
        let mut rows = 0;
        let result = decode(
            bytes::Bytes::from(bytes),
            "mutated.parquet",
            &mut decoder,
            &mut |b| {
                rows += b.num_rows();
                Ok(())
            },
        )
        .expect("a bad file is never a run error");
        (rows, result)
    }

    fn next(state: &mut u64) -> u64 {
        // xorshift64*: a fixed sequence, so every run mutates the same way.
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Regression (faults #1): corrupt Parquet panicked inside the parquet and arrow crates
    /// (`fixed_len_byte_array.rs`, `bit_chunk_iterator.rs`), ending the run. 900 mutations of a
    /// valid file: each is read, or becomes this source's error; none panics out.
    #[test]
    fn corrupt_parquet_panicked_inside_the_parquet_crate() {
        let seed = seed();
        let (rows, result) = read(seed.clone());
        assert_eq!(rows, 300);
        assert!(result.is_ok(), "{result:?}");
        let mut state = 0x9e37_79b9_7f4a_7c15;
        let (mut panics, mut errors, mut read_whole) = (0, 0, 0);
        for _ in 0..900 {
            let mut mutated = seed.clone();
            for _ in 0..1 + next(&mut state) % 8 {
                let at = (next(&mut state) % mutated.len() as u64) as usize;
                mutated[at] = next(&mut state) as u8;
            }
            match read(mutated).1 {
                Ok(()) => read_whole += 1,
                Err(SourceError::Parquet { message, .. }) if message.contains("panicked") => {
                    panics += 1
                }
                Err(SourceError::Parquet { .. } | SourceError::Format { .. }) => errors += 1,
                Err(other) => panic!("unexpected error kind: {other}"),
            }
        }
        eprintln!("900 mutations: {read_whole} read, {errors} errors, {panics} panics caught");
        assert!(errors > 0, "some mutations must break the file");
        // With parquet 60.1 some do panic inside it (testdata/parquet/panics-parquet-60.1.parquet
        // is the first): if none does any more, the crate fixed them and this may go.
        assert!(panics > 0, "no mutation reached a panic");
    }

    #[test]
    fn a_file_that_panics_the_reader_is_this_sources_error() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/parquet/panics-parquet-60.1.parquet"
        );
        let (_, result) = read(std::fs::read(path).unwrap());
        let message = result.expect_err("a corrupt file").to_string();
        assert!(message.contains("mutated.parquet"), "{message}");
        assert!(message.contains("fixed_len_byte_array.rs"), "{message}");
        assert!(!message.contains(".cargo/registry"), "{message}");
    }
}
