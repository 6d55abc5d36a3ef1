//! The decoder's structural pass: the offset of every field separator (`b' '`) and line end
//! (`b'\n'`) of a block, in one sweep over it, and whether the block is all ASCII.
//!
//! The decoder then parses each field between known offsets, with no per-byte search for the
//! next space ([`vpcflow_core`'s decoder](https://docs.rs/vpcflow-core) uses this index).
//!
//! Three paths give identical results, chosen at run time by [`Path::detect`]:
//! - [`Path::Avx2`]: 32 bytes per compare on x86-64 CPUs with AVX2;
//! - [`Path::Sse2`]: 16 bytes per compare, on every x86-64 CPU (SSE2 is part of x86-64);
//! - [`Path::Portable`]: a plain loop the compiler vectorises as it can, on every target.
//!
//! The SIMD code lives in `simd.rs`, one of the two modules of vpcflow allowed `unsafe` (the
//! other is `vpcflow-inflate`'s FFI): each block there says why it is sound. Tests and the
//! fuzz target run every path against the portable one.
//!
//! ```
//! use vpcflow_scan::{Path, index};
//! let mut out = Vec::new();
//! let ascii = index(Path::detect(), b"2 eni-1 ACCEPT\n2 eni-2 REJECT\n", &mut out);
//! assert!(ascii);
//! assert_eq!(out, [1, 7, 14, 16, 22, 29]);
//! ```
#![deny(missing_docs)]

mod simd;

/// An implementation of the structural pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Path {
    /// AVX2, on x86-64 CPUs that have it.
    Avx2,
    /// SSE2, on every x86-64 CPU.
    Sse2,
    /// Portable Rust, everywhere.
    Portable,
}

impl Path {
    /// Every path, fastest first.
    pub const ALL: [Path; 3] = [Path::Avx2, Path::Sse2, Path::Portable];

    /// The fastest path this CPU runs.
    pub fn detect() -> Path {
        Path::ALL
            .into_iter()
            .find(|p| p.available())
            .unwrap_or(Path::Portable)
    }

    /// Whether this CPU runs the path.
    pub fn available(self) -> bool {
        match self {
            Path::Avx2 => simd::has_avx2(),
            Path::Sse2 => simd::has_sse2(),
            Path::Portable => true,
        }
    }

    /// The paths this CPU runs, fastest first (for tests that force each one).
    pub fn available_paths() -> Vec<Path> {
        Path::ALL.into_iter().filter(|p| p.available()).collect()
    }

    /// The path's name, as `--help` and benchmarks spell it.
    pub fn name(self) -> &'static str {
        match self {
            Path::Avx2 => "avx2",
            Path::Sse2 => "sse2",
            Path::Portable => "portable",
        }
    }
}

/// Appends to `out` the offset of every `b' '` and `b'\n'` in `block`, in ascending order, and
/// returns whether every byte of `block` is ASCII. A path the CPU lacks runs as
/// [`Path::Portable`].
///
/// # Panics
/// If `block` is 4 GiB or longer (offsets are `u32`); the decoder feeds blocks of at most a few
/// MiB.
pub fn index(path: Path, block: &[u8], out: &mut Vec<u32>) -> bool {
    assert!(
        u32::try_from(block.len()).is_ok(),
        "blocks are shorter than 4 GiB"
    );
    match path {
        Path::Avx2 if simd::has_avx2() => simd::index_avx2(block, out),
        Path::Sse2 if simd::has_sse2() => simd::index_sse2(block, out),
        _ => index_portable(block, out),
    }
}

/// The separator and non-ASCII masks of 64 bytes: bit `i` is byte `i`.
#[inline(always)]
fn masks_portable(chunk: &[u8; 64]) -> (u64, u64) {
    let (mut sep, mut high) = (0u64, 0u64);
    for (i, &b) in chunk.iter().enumerate() {
        sep |= u64::from(b == b' ' || b == b'\n') << i;
        high |= u64::from(b >> 7) << i;
    }
    (sep, high)
}

/// Pushes `base + i` for every set bit `i` of `mask`, lowest first.
#[inline(always)]
pub(crate) fn flatten(mut mask: u64, base: u32, out: &mut Vec<u32>) {
    while mask != 0 {
        out.push(base + mask.trailing_zeros());
        mask &= mask - 1;
    }
}

/// Runs `masks` over `block` 64 bytes at a time (the last chunk zero-padded).
#[inline(always)]
pub(crate) fn sweep(
    block: &[u8],
    out: &mut Vec<u32>,
    masks: impl Fn(&[u8; 64]) -> (u64, u64),
) -> bool {
    let mut high = 0u64;
    let mut chunks = block.chunks_exact(64);
    let mut base = 0u32;
    for chunk in &mut chunks {
        let chunk: &[u8; 64] = chunk.try_into().unwrap_or(&[0; 64]);
        let (sep, h) = masks(chunk);
        high |= h;
        out.reserve(64);
        flatten(sep, base, out);
        base += 64;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 64];
        last[..rest.len()].copy_from_slice(rest);
        let (sep, h) = masks(&last);
        high |= h;
        flatten(sep, base, out);
    }
    high == 0
}

fn index_portable(block: &[u8], out: &mut Vec<u32>) -> bool {
    sweep(block, out, masks_portable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(block: &[u8]) -> (Vec<u32>, bool) {
        let positions = block
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b' ' || **b == b'\n')
            .map(|(i, _)| i as u32)
            .collect();
        (positions, block.is_ascii())
    }

    #[test]
    fn every_path_finds_every_separator_at_every_length_and_offset() {
        let text: Vec<u8> = (0..300u32)
            .map(|i| match i % 7 {
                0 => b' ',
                3 if i % 21 == 3 => b'\n',
                _ => b'a' + (i % 26) as u8,
            })
            .collect();
        for path in Path::available_paths() {
            for start in 0..70 {
                for end in start..text.len() {
                    let block = &text[start..end];
                    let mut out = vec![7];
                    let ascii = index(path, block, &mut out);
                    let (expected, is_ascii) = naive(block);
                    assert_eq!(out[0], 7, "appends");
                    assert_eq!(&out[1..], &expected[..], "{path:?} {start}..{end}");
                    assert_eq!(ascii, is_ascii);
                }
            }
        }
    }

    #[test]
    fn a_high_byte_anywhere_is_not_ascii() {
        for path in Path::available_paths() {
            for at in 0..130 {
                let mut block = vec![b'x'; 130];
                block[at] = 0xc3;
                assert!(!index(path, &block, &mut Vec::new()), "{path:?} {at}");
            }
        }
    }

    #[test]
    fn detection_picks_an_available_path() {
        assert!(Path::detect().available());
        assert!(Path::available_paths().contains(&Path::Portable));
        #[cfg(target_arch = "x86_64")]
        assert!(Path::Sse2.available());
    }

    proptest! {
        #[test]
        fn paths_agree_on_random_bytes(block in proptest::collection::vec(
            prop_oneof![Just(b' '), Just(b'\n'), any::<u8>()], 0..400)) {
            let (expected, ascii) = naive(&block);
            for path in Path::available_paths() {
                let mut out = Vec::new();
                prop_assert_eq!(index(path, &block, &mut out), ascii);
                prop_assert_eq!(&out, &expected);
            }
        }
    }
}
