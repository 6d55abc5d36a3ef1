//! Parquet input: AWS's Parquet delivery (columns named `account_id`, `log_status`, …),
//! Athena-style and other writers' schemas, and vpcflow's own Parquet output.
//!
//! The read is columnar: only the columns the command needs are read
//! ([`DecoderOptions::columns`](vpcflow_core::DecoderOptions::columns), a Parquet projection),
//! one batch of a row group at a time (memory is bounded by a row group's column chunks, never
//! the file), and every column is cast to one of a few Arrow types and handed to the decoder as
//! typed values ([`Decoder::decode_values`]): no text is rendered and parsed again. The decoder
//! checks the values as it checks text (a port above 65535, a protocol above 255 or a negative
//! count is a malformed record, reported with the file and row), so types, validation and
//! reports are the same as for text.
//!
//! The Parquet and Arrow readers have panicked on corrupt files, so everything they do runs
//! [isolated](crate::isolate): a batch is read and cast inside, and its values are decoded
//! outside. A panic becomes this source's error, and the run goes on.

use std::io;

use arrow_array::{ArrayRef, RecordBatch, RecordBatchReader};
use arrow_schema::DataType;
use parquet::arrow::ProjectionMask;
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
    let wanted = decoder.options().columns.clone();
    let built = isolate(|| {
        ParquetRecordBatchReaderBuilder::try_new(file).and_then(|b| {
            let bytes: i64 = b
                .metadata()
                .row_groups()
                .iter()
                .map(|g| g.compressed_size())
                .sum();
            let mask = projection(&b, wanted.as_deref());
            Ok((
                b.with_projection(mask)
                    .with_batch_size(batch_size)
                    .build()?,
                bytes,
            ))
        })
    });
    let mut reader = match built {
        Ok(Ok((reader, bytes))) => {
            decoder.count_bytes(bytes.max(0) as u64);
            reader
        }
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
    let stopped = loop {
        let next = isolate(|| -> Result<Option<Vec<ArrayRef>>, Stop> {
            let Some(batch) = reader.next() else {
                return Ok(None);
            };
            let batch = batch.map_err(|e| Stop::Parquet(e.to_string()))?;
            batch
                .columns()
                .iter()
                .zip(&names)
                .map(|(array, name)| readable(array, name))
                .collect::<Result<Vec<ArrayRef>, Stop>>()
                .map(Some)
        });
        let arrays = match next {
            Ok(Ok(Some(arrays))) => arrays,
            Ok(Ok(None)) => break None,
            Ok(Err(Stop::Parquet(message))) => break Some(parquet_error(name, message)),
            Ok(Err(Stop::Type(message))) => {
                break Some(SourceError::Format {
                    name: name.to_owned(),
                    message,
                });
            }
            Err(panic) => break Some(panicked(name, &panic)),
        };
        let columns: Vec<ColumnReader<'_>> = arrays.iter().map(ColumnReader::new).collect();
        let rows = arrays.first().map_or(0, |a| a.len());
        for row in 0..rows {
            decoder
                .decode_values(columns.iter().map(|c| c.value(row)))
                .map_err(RunError::Decode)?;
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

/// The columns to read: those whose field is in `wanted` (by either spelling), every column
/// when `wanted` is `None`.
fn projection<T>(
    builder: &parquet::arrow::arrow_reader::ArrowReaderBuilder<T>,
    wanted: Option<&[String]>,
) -> ProjectionMask {
    let parquet = builder.parquet_schema();
    let Some(wanted) = wanted else {
        return ProjectionMask::all();
    };
    let canonical = |n: &str| {
        vpcflow_core::field::lookup(n).map_or_else(|| n.replace('_', "-"), |f| f.name.to_owned())
    };
    let keep: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            let name = canonical(f.name());
            wanted.iter().any(|w| canonical(w) == name)
        })
        .map(|(i, _)| i)
        .collect();
    ProjectionMask::roots(parquet, keep)
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

    mod through_parquet {
        use std::sync::Arc;

        use arrow_array::types::Int32Type;
        use arrow_array::{DictionaryArray, Int32Array, Int64Array, StringArray};
        use parquet::arrow::ArrowWriter;
        use proptest::prelude::*;
        use vpcflow_core::{Decoder, DecoderOptions, LogFormat};

        type Row = (
            Option<String>,
            Option<i64>,
            Option<i32>,
            Option<i64>,
            Option<&'static str>,
        );

        fn row() -> impl Strategy<Value = Row> {
            let addr = prop_oneof![
                any::<[u8; 4]>().prop_map(|b| format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])),
                Just("2001:db8::7".to_owned()),
                Just("not-an-ip".to_owned()),
            ];
            (
                proptest::option::of(addr),
                proptest::option::of(-2i64..70_000),
                proptest::option::of(-2i32..300),
                proptest::option::of(-2i64..5_000),
                proptest::option::of(prop_oneof![Just("ACCEPT"), Just("REJECT")]),
            )
        }

        /// The rows as AWS-style Parquet (underscored names, int64/int32, a dictionary column).
        fn parquet(rows: &[Row]) -> Vec<u8> {
            let batch = arrow_array::RecordBatch::try_from_iter([
                (
                    "srcaddr",
                    Arc::new(StringArray::from_iter(rows.iter().map(|r| r.0.clone())))
                        as arrow_array::ArrayRef,
                ),
                (
                    "srcport",
                    Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.1))),
                ),
                (
                    "protocol",
                    Arc::new(Int32Array::from_iter(rows.iter().map(|r| r.2))),
                ),
                (
                    "packets",
                    Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.3))),
                ),
                (
                    "action",
                    Arc::new(
                        rows.iter()
                            .map(|r| r.4)
                            .collect::<DictionaryArray<Int32Type>>(),
                    ),
                ),
            ])
            .unwrap();
            let mut out = Vec::new();
            let mut w = ArrowWriter::try_new(&mut out, batch.schema(), None).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            out
        }

        fn text(v: &Option<impl ToString>) -> String {
            v.as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string)
        }

        proptest! {
            /// Random values, out-of-range ones and nulls, read through Parquet, give exactly
            /// the batches and malformed rows the same records give as text.
            #[test]
            fn random_rows_through_parquet_decode_as_their_text(rows in proptest::collection::vec(row(), 1..80)) {
                let mut columnar = Decoder::new(DecoderOptions { batch_size: 16, ..DecoderOptions::default() });
                let mut from_parquet = Vec::new();
                let result = super::decode(bytes::Bytes::from(parquet(&rows)), "t.parquet", &mut columnar, &mut |b| {
                    from_parquet.push(b);
                    Ok(())
                })
                .unwrap();
                prop_assert!(result.is_ok(), "{:?}", result);

                let format = LogFormat::parse("${srcaddr} ${srcport} ${protocol} ${packets} ${action}").unwrap();
                let mut textual = Decoder::new(DecoderOptions { batch_size: 16, format: Some(format), ..DecoderOptions::default() });
                textual.begin_source("t.parquet");
                let mut from_text = Vec::new();
                for r in &rows {
                    let line = format!("{} {} {} {} {}", text(&r.0), text(&r.1), text(&r.2), text(&r.3), text(&r.4));
                    textual.decode_line(line.as_bytes()).unwrap();
                    if textual.is_full() {
                        from_text.extend(textual.flush());
                    }
                }
                from_text.extend(textual.flush());
                prop_assert_eq!(&from_parquet, &from_text);
                prop_assert_eq!(columnar.stats().records, textual.stats().records);
                prop_assert_eq!(columnar.stats().malformed, textual.stats().malformed);
                let reasons = |d: &mut Decoder| -> Vec<(u64, String)> {
                    d.take_malformed().into_iter().map(|m| (m.position.line, m.reason.to_string())).collect()
                };
                prop_assert_eq!(reasons(&mut columnar), reasons(&mut textual));
            }
        }
    }
}
