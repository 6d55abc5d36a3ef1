//! Untrusted bytes into the structural pass: every path this CPU runs must give exactly the
//! separators and line ends a byte-by-byte search finds, and the same ASCII answer.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_scan::{Path, index};

fuzz_target!(|data: &[u8]| {
    let expected: Vec<u32> = (0..data.len() as u32)
        .filter(|&i| matches!(data[i as usize], b' ' | b'\n'))
        .collect();
    for path in Path::available_paths() {
        let mut out = Vec::new();
        assert_eq!(index(path, data, &mut out), data.is_ascii(), "{path:?}");
        assert_eq!(out, expected, "{path:?}");
    }
});
