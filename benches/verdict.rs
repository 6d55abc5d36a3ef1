//! Verdict aggregation throughput: decoded batches of generated traffic (20 endpoints, 50
//! clients) folded into the aggregator. Reports bytes of the source text per second, and
//! asserts how many records were judged.

#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vpcflow_core::{Decoder, DecoderOptions, Reader};
use vpcflow_generate::{Generator, Options};
use vpcflow_verdict::{Aggregator, Catalogue};

const RECORDS: u64 = 200_000;

fn bench_verdict(c: &mut Criterion) {
    let mut generator = Generator::new(Options {
        records: RECORDS,
        ..Options::default()
    });
    let catalogue = generator.catalogue_toml();
    let mut text = Vec::new();
    generator.write_to(&mut text).unwrap();
    let batches: Vec<_> = Reader::new(&text[..], Decoder::new(DecoderOptions::default()), "bench")
        .collect::<Result<_, _>>()
        .unwrap();
    // Judged records: everything but noise and NODATA, counted once outside the timing.
    let expected = {
        let agg = Aggregator::new(
            Catalogue::from_toml(&catalogue, "bench").unwrap(),
            None,
            None,
        );
        for b in &batches {
            agg.worker().add_batch(b).unwrap();
        }
        agg.report().unwrap().stats.matched
    };
    assert!(expected > RECORDS / 2, "{expected}");
    let mut group = c.benchmark_group("verdict");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("aggregate-20-endpoints", |b| {
        b.iter(|| {
            let agg = Aggregator::new(
                Catalogue::from_toml(&catalogue, "bench").unwrap(),
                None,
                None,
            );
            let mut worker = agg.worker();
            for batch in &batches {
                worker.add_batch(batch).unwrap();
            }
            let report = agg.report().unwrap();
            assert_eq!(report.stats.matched, expected);
        });
    });
    group.finish();
}

criterion_group!(benches, bench_verdict);
criterion_main!(benches);
