//! Untrusted bytes into the decoder, split at an arbitrary point, in the default format and in
//! a format taken from the input's first line, on every decoder path (the byte-at-a-time
//! tokenizer and each structural-pass path this CPU runs), with and without filter-first. It
//! must never panic, every record it counts must be in a batch, and every path must give the
//! byte path's counts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

use vpcflow_core::{DecodeStats, Decoder, DecoderOptions, LogFormat, PortSet};
use vpcflow_scan::Path;

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let split = data[0] as usize % data.len();
    let formats = [
        None,
        std::str::from_utf8(data.split(|&b| b == b'\n').next().unwrap_or(&[]))
            .ok()
            .and_then(|f| LogFormat::parse(f).ok()),
    ];
    let scans: Vec<Option<Path>> = std::iter::once(None)
        .chain(Path::available_paths().into_iter().map(Some))
        .collect();
    let ports = Arc::new(PortSet::new([3306, 5432]));
    for format in formats {
        for filter in [None, Some(ports.clone())] {
            let mut first: Option<DecodeStats> = None;
            for &scan in &scans {
                let stats = run(data, split, format.clone(), scan, filter.clone());
                match first {
                    None => first = Some(stats),
                    Some(f) => assert_eq!(stats, f, "{scan:?}"),
                }
            }
        }
    }
});

fn run(
    data: &[u8],
    split: usize,
    format: Option<LogFormat>,
    scan: Option<Path>,
    ports: Option<Arc<PortSet>>,
) -> DecodeStats {
    let mut decoder = Decoder::new(DecoderOptions {
        batch_size: 7,
        max_line_len: 256,
        format,
        scan,
        ports,
        ..DecoderOptions::default()
    });
    decoder.begin_source("fuzz");
    let mut rows = 0;
    for mut piece in [&data[..split], &data[split..]] {
        while !piece.is_empty() {
            let n = decoder.decode(piece).expect("not strict");
            piece = &piece[n..];
            if decoder.is_full() {
                rows += decoder.flush().map_or(0, |b| b.num_rows());
            }
        }
    }
    decoder.finish().expect("not strict");
    rows += decoder.flush().map_or(0, |b| b.num_rows());
    assert_eq!(rows as u64, decoder.stats().records);
    decoder.stats()
}
