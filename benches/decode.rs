//! Decode throughput: flow-log text to Arrow batches, on generated v2 and v5 samples.
//!
//! Every benchmark asserts the record count it decoded, so a broken path cannot post a fast
//! time. Run with `cargo bench --bench decode`.

#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use vpcflow_core::{Decoder, DecoderOptions, LogFormat};
use vpcflow_generate::{Generator, Options, v5_format};
use vpcflow_scan::Path;

const RECORDS: u64 = 200_000;

fn sample(format: LogFormat) -> Vec<u8> {
    let mut out = Vec::new();
    Generator::new(Options {
        records: RECORDS,
        format,
        ..Options::default()
    })
    .write_to(&mut out)
    .expect("writing to memory");
    out
}

/// Feeds `input` in 256 KiB slices, as the file reader does, and counts records.
fn decode_all(input: &[u8], format: &LogFormat) -> u64 {
    decode_with(input, format, DecoderOptions::default().scan)
}

/// [`decode_all`] with the fields found by `scan` (`None`: the byte-at-a-time tokenizer).
fn decode_with(input: &[u8], format: &LogFormat, scan: Option<Path>) -> u64 {
    let mut decoder = Decoder::new(DecoderOptions {
        format: Some(format.clone()),
        scan,
        ..DecoderOptions::default()
    });
    decoder.begin_source("bench");
    let mut rows = 0;
    for chunk in input.chunks(256 * 1024) {
        let mut chunk = chunk;
        while !chunk.is_empty() {
            let n = decoder.decode(chunk).expect("not strict");
            chunk = &chunk[n..];
            if decoder.is_full()
                && let Some(batch) = decoder.flush()
            {
                rows += black_box(batch).num_rows() as u64;
            }
        }
    }
    decoder.finish().expect("not strict");
    rows += decoder.flush().map_or(0, |b| b.num_rows() as u64);
    assert_eq!(decoder.stats().malformed, 0);
    rows
}

/// Every decoder path on each format: `byte` (the byte-at-a-time tokenizer) and each
/// structural-pass path this CPU runs (`avx2`, `sse2`, `portable`).
fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    let paths = std::iter::once(None).chain(Path::available_paths().into_iter().map(Some));
    let paths: Vec<Option<Path>> = paths.collect();
    for (name, format) in [("v2", LogFormat::default_v2()), ("v5", v5_format())] {
        let input = sample(format.clone());
        group.throughput(Throughput::Bytes(input.len() as u64));
        for &scan in &paths {
            let id = BenchmarkId::new(name, scan.map_or("byte", Path::name));
            group.bench_with_input(id, &input, |b, input| {
                b.iter(|| assert_eq!(decode_with(input, &format, scan), RECORDS));
            });
        }
    }
    group.finish();
}

/// The structural pass alone: every separator and line end of the v2 sample, per path, in the
/// 64 KiB blocks the decoder indexes.
fn bench_scan(c: &mut Criterion) {
    let input = sample(LogFormat::default_v2());
    let expected = input.iter().filter(|&&b| b == b' ' || b == b'\n').count();
    let mut group = c.benchmark_group("scan");
    group.throughput(Throughput::Bytes(input.len() as u64));
    for path in Path::available_paths() {
        group.bench_function(path.name(), |b| {
            let mut out = Vec::with_capacity(64 * 1024);
            b.iter(|| {
                let mut found = 0;
                for block in input.chunks(64 * 1024) {
                    out.clear();
                    assert!(vpcflow_scan::index(path, block, &mut out));
                    found += black_box(&out).len();
                }
                assert_eq!(found, expected);
            });
        });
    }
    group.finish();
}

/// The integer fields of the v2 sample, parsed by the hand-written loop and by nom.
fn bench_integers(c: &mut Criterion) {
    let input = sample(LogFormat::default_v2());
    let tokens: Vec<&[u8]> = input
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|t| !t.is_empty() && t[0].is_ascii_digit() && !t.contains(&b'.'))
        .collect();
    let bytes: usize = tokens.iter().map(|t| t.len()).sum();
    let expected: u64 = tokens
        .iter()
        .map(|t| std::str::from_utf8(t).unwrap().parse::<u64>().unwrap())
        .fold(0, u64::wrapping_add);
    let mut group = c.benchmark_group("integers");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("hand-written", |b| {
        b.iter(|| {
            let sum = tokens.iter().fold(0u64, |acc, t| {
                acc.wrapping_add(vpcflow_core::value::parse_uint(t, u64::MAX).unwrap())
            });
            assert_eq!(sum, expected);
        });
    });
    group.bench_function("nom", |b| {
        b.iter(|| {
            let sum = tokens.iter().fold(0u64, |acc, t| {
                let (rest, v) =
                    nom::character::complete::u64::<_, nom::error::Error<&[u8]>>(*t).unwrap();
                assert!(rest.is_empty());
                acc.wrapping_add(v)
            });
            assert_eq!(sum, expected);
        });
    });
    group.finish();
}

/// The same sample split at line boundaries into one part per thread, each decoded by its own
/// decoder on its own thread, as `--threads` does with one large file.
fn bench_parallel(c: &mut Criterion) {
    let input = sample(LogFormat::default_v2());
    let format = LogFormat::default_v2();
    let mut group = c.benchmark_group("decode-parallel");
    group.throughput(Throughput::Bytes(input.len() as u64));
    for threads in [1usize, 2] {
        let mut bounds = vec![0];
        for k in 1..threads {
            let at = input.len() * k / threads;
            let nl = input[at..].iter().position(|&b| b == b'\n').unwrap();
            bounds.push(at + nl + 1);
        }
        bounds.push(input.len());
        let parts: Vec<&[u8]> = bounds.windows(2).map(|w| &input[w[0]..w[1]]).collect();
        group.bench_function(BenchmarkId::new("v2", threads), |b| {
            b.iter(|| {
                let rows: u64 = std::thread::scope(|s| {
                    let handles: Vec<_> = parts
                        .iter()
                        .map(|p| s.spawn(|| decode_all(p, &format)))
                        .collect();
                    handles.into_iter().map(|h| h.join().unwrap()).sum()
                });
                assert_eq!(rows, RECORDS);
            });
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_decode,
    bench_scan,
    bench_parallel,
    bench_integers
);
criterion_main!(benches);
