//! Untrusted bytes as a Parquet input (anything starting `PAR1` is read as Parquet). Whatever
//! the parquet and arrow crates do with it, vpcflow must not panic: a panic inside them is
//! caught and becomes the source's error, and every record counted must be in a batch.
//!
//! Seed it with valid files so that mutations get past the footer:
//!   mkdir -p corpus/parquet && cp ../testdata/parquet/*.parquet corpus/parquet/
//!   cargo +nightly fuzz run parquet corpus/parquet
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_core::{Decoder, DecoderOptions};

fuzz_target!(|data: &[u8]| {
    let raw = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(opened) = vpcflow_input::open_reader(raw, None) else {
        return;
    };
    let mut decoder = Decoder::new(DecoderOptions {
        batch_size: 64,
        ..DecoderOptions::default()
    });
    let mut rows = 0;
    let report = vpcflow_input::decode_source(opened, "fuzz.parquet", &mut decoder, &mut |b| {
        rows += b.num_rows() as u64;
        Ok(())
    });
    if let Ok(report) = report {
        assert_eq!(report.records, rows, "every record counted is in a batch");
    }
});
