//! Parquet decode throughput per codec, next to the same records as text.
//!
//! 200,000 generated v5 records are written as AWS writes its Parquet delivery (underscored
//! column names, addresses and ids as strings, int32/int64 numbers), once per codec, and read
//! back through `vpcflow-input` (the columnar path `verdict` and `parse` use). Throughput is in
//! bytes of the *text* form of the records, so every codec and the text baseline are comparable;
//! each iteration asserts the record count. Run with `cargo bench --bench parquet`.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_cast::cast;
use arrow_schema::{DataType, Field, Schema};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use parquet::arrow::ArrowWriter;
use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
use parquet::file::properties::WriterProperties;
use vpcflow_core::render::ColumnReader;
use vpcflow_core::{Decoder, DecoderOptions};
use vpcflow_generate::{Generator, Options, v5_format};
use vpcflow_input::{Input, decode_source, open};

const RECORDS: u64 = 200_000;

/// The records as text, and as AWS-style Arrow batches.
fn sample() -> (Vec<u8>, Vec<RecordBatch>) {
    let mut text = Vec::new();
    Generator::new(Options {
        records: RECORDS,
        format: v5_format(),
        ..Options::default()
    })
    .write_to(&mut text)
    .unwrap();
    let mut decoder = Decoder::new(DecoderOptions {
        format: Some(v5_format()),
        batch_size: 65_536,
        ..DecoderOptions::default()
    });
    decoder.begin_source("sample");
    let mut batches = Vec::new();
    let mut rest = &text[..];
    while !rest.is_empty() {
        let n = decoder.decode(rest).unwrap();
        rest = &rest[n..];
        if decoder.is_full() {
            batches.extend(decoder.flush());
        }
    }
    decoder.finish().unwrap();
    batches.extend(decoder.flush());
    (text, batches.iter().map(aws_style).collect())
}

/// vpcflow's batch as AWS's Parquet delivery types it: strings for addresses and ids, int32
/// for the small numbers, int64 for the rest, names with underscores.
fn aws_style(batch: &RecordBatch) -> RecordBatch {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        let (ty, array): (DataType, ArrayRef) = match c.data_type() {
            DataType::FixedSizeBinary(16) => {
                let r = ColumnReader::new(c);
                let s: StringArray = (0..c.len())
                    .map(|i| match r.value(i) {
                        vpcflow_core::render::Value::Null => None,
                        v => Some(v.to_string()),
                    })
                    .collect();
                (DataType::Utf8, Arc::new(s))
            }
            DataType::Dictionary(..) => (DataType::Utf8, cast(c, &DataType::Utf8).unwrap()),
            DataType::UInt8 | DataType::UInt16 => {
                (DataType::Int32, cast(c, &DataType::Int32).unwrap())
            }
            _ => (DataType::Int64, cast(c, &DataType::Int64).unwrap()),
        };
        fields.push(Field::new(f.name().replace('-', "_"), ty, true));
        columns.push(array);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn write(path: &std::path::Path, batches: &[RecordBatch], codec: Compression) {
    let props = WriterProperties::builder().set_compression(codec).build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = ArrowWriter::try_new(file, batches[0].schema(), Some(props)).unwrap();
    for b in batches {
        w.write(b).unwrap();
    }
    w.close().unwrap();
}

/// Decodes a file through vpcflow-input and counts its records.
fn decode(path: &std::path::Path, columns: Option<&[&str]>) -> u64 {
    let mut decoder = Decoder::new(DecoderOptions {
        columns: columns.map(|c| c.iter().map(|s| s.to_string()).collect()),
        ..DecoderOptions::default()
    });
    let mut rows = 0u64;
    let opened = open(&Input::Path(path.to_owned())).unwrap();
    let report = decode_source(opened, "bench", &mut decoder, &mut |b| {
        rows += b.num_rows() as u64;
        Ok(())
    })
    .unwrap();
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(decoder.stats().malformed, 0);
    rows
}

fn bench_parquet(c: &mut Criterion) {
    let (text, batches) = sample();
    let dir = tempfile::tempdir().unwrap();
    let text_path = dir.path().join("v5.log");
    std::fs::write(&text_path, {
        let mut t = v5_format()
            .names()
            .collect::<Vec<_>>()
            .join(" ")
            .into_bytes();
        t.push(b'\n');
        t.extend_from_slice(&text);
        t
    })
    .unwrap();
    let mut group = c.benchmark_group("parquet");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function(BenchmarkId::from_parameter("text"), |b| {
        b.iter(|| assert_eq!(decode(&text_path, None), RECORDS));
    });
    let codecs = [
        ("gzip", Compression::GZIP(GzipLevel::default())),
        ("snappy", Compression::SNAPPY),
        ("zstd", Compression::ZSTD(ZstdLevel::default())),
        ("lz4_raw", Compression::LZ4_RAW),
        ("brotli", Compression::BROTLI(BrotliLevel::default())),
        ("none", Compression::UNCOMPRESSED),
    ];
    for (name, codec) in codecs {
        let path = dir.path().join(format!("v5-{name}.parquet"));
        write(&path, &batches, codec);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| assert_eq!(decode(&path, None), RECORDS));
        });
    }
    // What `verdict` reads: its columns only.
    let path = dir.path().join("v5-gzip.parquet");
    group.bench_function(BenchmarkId::from_parameter("gzip-verdict-columns"), |b| {
        b.iter(|| assert_eq!(decode(&path, Some(&vpcflow_verdict::READ)), RECORDS));
    });
    group.finish();
}

criterion_group!(benches, bench_parquet);
criterion_main!(benches);
