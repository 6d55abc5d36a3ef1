//! Inflate throughput on a gzip'd generated v2 sample: flate2 on the zlib-rs backend (what
//! vpcflow streams with) against libdeflate (whole buffers only). Both assert the bytes they
//! produce. Throughput is in decompressed bytes. Run with `cargo bench --bench inflate`.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::read::MultiGzDecoder;
use vpcflow_generate::{Generator, Options};

fn bench_inflate(c: &mut Criterion) {
    let mut text = Vec::new();
    Generator::new(Options {
        records: 200_000,
        ..Options::default()
    })
    .write_to(&mut text)
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&text).unwrap();
    let gz = gz.finish().unwrap();

    let mut group = c.benchmark_group("inflate");
    group.throughput(Throughput::Bytes(text.len() as u64));
    // Streaming, 256 KiB at a time, as the file reader does: memory stays flat.
    group.bench_function("flate2-zlib-rs-stream", |b| {
        let mut buf = vec![0u8; 256 * 1024];
        b.iter(|| {
            let mut d = MultiGzDecoder::new(&gz[..]);
            let mut total = 0;
            loop {
                let n = d.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                total += n;
            }
            assert_eq!(total, text.len());
        });
    });
    // Whole buffer: needs the decompressed size up front and all of it in memory.
    group.bench_function("libdeflate-whole", |b| {
        let mut out = vec![0u8; text.len()];
        let mut d = libdeflater::Decompressor::new();
        b.iter(|| {
            let n = d.gzip_decompress(&gz, &mut out).unwrap();
            assert_eq!(n, text.len());
        });
    });
    group.finish();
}

criterion_group!(benches, bench_inflate);
criterion_main!(benches);
