//! Benchmarks live in `decode.rs`; this crate has no library code.
