//! Verdict aggregation throughput: decoded batches of generated traffic (20 endpoints, 50
//! clients) folded into the aggregator. Reports bytes of the source text per second, and
//! asserts how many records were judged.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vpcflow_core::{Decoder, DecoderOptions, Reader};
use vpcflow_generate::{Generator, Options};
use vpcflow_scan::Path;
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

/// Filter-first on a realistic mix (5% of records touch a catalogued endpoint, 500 ENIs,
/// random addresses and ports): text to verdict state, decoding every line, and skipping the
/// lines of other ports after reading only those. Both must judge the same records.
fn bench_filter_first(c: &mut Criterion) {
    let mut generator = Generator::new(Options {
        records: RECORDS,
        db_share: Some(0.05),
        ..Options::default()
    });
    let catalogue = generator.catalogue_toml();
    let mut text = Vec::new();
    generator.write_to(&mut text).unwrap();
    let run = |filter: bool, scan: Option<Path>| -> vpcflow_verdict::RunStats {
        let agg = Aggregator::new(
            Catalogue::from_toml(&catalogue, "bench").unwrap(),
            None,
            None,
        );
        let opts = DecoderOptions {
            ports: filter.then(|| Arc::new(agg.plan().port_set())),
            scan,
            ..DecoderOptions::default()
        };
        let mut reader = Reader::new(&text[..], Decoder::new(opts), "bench");
        let mut worker = agg.worker();
        for batch in &mut reader {
            worker.add_batch(&batch.unwrap()).unwrap();
        }
        worker.skipped(reader.decoder_mut().stats().filtered);
        worker.commit();
        agg.stats()
    };
    let expected = run(false, None);
    assert!(expected.matched > RECORDS / 40, "{expected:?}");
    let mut group = c.benchmark_group("verdict-mix-5pc");
    group.throughput(Throughput::Bytes(text.len() as u64));
    // Each decoder path (`byte`: the byte-at-a-time tokenizer), decoding every line and with
    // filter-first.
    let paths = std::iter::once(None).chain(Path::available_paths().into_iter().map(Some));
    for scan in paths.collect::<Vec<_>>() {
        let path = scan.map_or("byte", Path::name);
        assert_eq!(run(true, scan), expected, "{path}");
        for (name, filter) in [("decode-every-line", false), ("filter-first", true)] {
            group.bench_function(format!("{name}/{path}"), |b| {
                b.iter(|| assert_eq!(run(filter, scan), expected));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_verdict, bench_filter_first);
criterion_main!(benches);
