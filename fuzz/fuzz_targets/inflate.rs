//! Untrusted bytes into the whole-object inflate (libdeflate through FFI): it must never crash,
//! and whenever it answers, its answer must be what zlib-rs streaming every member gives.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(out) = vpcflow_inflate::gunzip(data, 1 << 20) {
        let mut streamed = Vec::new();
        flate2::read::MultiGzDecoder::new(data)
            .read_to_end(&mut streamed)
            .expect("whole inflate accepted what streaming refuses");
        assert_eq!(out, streamed);
    }
});
