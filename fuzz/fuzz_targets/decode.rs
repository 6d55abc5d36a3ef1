//! Untrusted bytes into the decoder, split at an arbitrary point, in the default format and in
//! a format taken from the input's first line. It must never panic, and every record it counts
//! must be in a batch.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_core::{Decoder, DecoderOptions, LogFormat};

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
    for format in formats {
        let mut decoder = Decoder::new(DecoderOptions {
            batch_size: 7,
            max_line_len: 256,
            format,
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
    }
});
