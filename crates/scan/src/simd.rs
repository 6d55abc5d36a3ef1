//! The SIMD paths: with `vpcflow-inflate`'s `ffi.rs`, the only `unsafe` code in vpcflow.
//!
//! Audit notes. Every function here reads `chunk`, a `&[u8; 64]`, with unaligned loads
//! (`_mm256_loadu_si256`, `_mm_loadu_si128`) at offsets 0..=32 (32-byte loads) or 0..=48
//! (16-byte loads): all inside the 64 bytes the reference guarantees. Nothing is written
//! through a pointer. The `#[target_feature]` functions are only called after
//! `is_x86_feature_detected!` said the CPU has the feature ([`has_avx2`], [`has_sse2`]);
//! [`crate::index`] checks it on every call, so a caller that forces a path the CPU lacks gets
//! the portable one instead of an illegal instruction.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m128i, __m256i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
    _mm_set1_epi8, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
    _mm256_set1_epi8,
};

/// Whether the CPU has AVX2.
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether the CPU has SSE2 (every x86-64 CPU does).
pub(crate) fn has_sse2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("sse2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The structural pass with AVX2. Call only when [`has_avx2`].
#[cfg(target_arch = "x86_64")]
pub(crate) fn index_avx2(block: &[u8], out: &mut Vec<u32>) -> bool {
    debug_assert!(has_avx2());
    // SAFETY: `crate::index` calls this only after `has_avx2()` returned true, so the CPU
    // executes the AVX2 instructions `sweep_avx2` was compiled with.
    unsafe { sweep_avx2(block, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sweep_avx2(block: &[u8], out: &mut Vec<u32>) -> bool {
    crate::sweep(block, out, |chunk| masks_avx2(chunk))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn masks_avx2(chunk: &[u8; 64]) -> (u64, u64) {
    let p = chunk.as_ptr();
    // SAFETY: `chunk` is 64 readable bytes; the two 32-byte loads read bytes 0..32 and 32..64,
    // and `loadu` has no alignment requirement.
    let (a, b): (__m256i, __m256i) = unsafe {
        (
            _mm256_loadu_si256(p.cast()),
            _mm256_loadu_si256(p.add(32).cast()),
        )
    };
    let space = _mm256_set1_epi8(b' ' as i8);
    let newline = _mm256_set1_epi8(b'\n' as i8);
    let sep_a = _mm256_or_si256(_mm256_cmpeq_epi8(a, space), _mm256_cmpeq_epi8(a, newline));
    let sep_b = _mm256_or_si256(_mm256_cmpeq_epi8(b, space), _mm256_cmpeq_epi8(b, newline));
    let bits = |lo: i32, hi: i32| u64::from(lo as u32) | (u64::from(hi as u32) << 32);
    (
        bits(_mm256_movemask_epi8(sep_a), _mm256_movemask_epi8(sep_b)),
        // movemask takes each byte's top bit: set exactly for the non-ASCII bytes.
        bits(_mm256_movemask_epi8(a), _mm256_movemask_epi8(b)),
    )
}

/// The structural pass with SSE2. Call only when [`has_sse2`].
#[cfg(target_arch = "x86_64")]
pub(crate) fn index_sse2(block: &[u8], out: &mut Vec<u32>) -> bool {
    debug_assert!(has_sse2());
    // SAFETY: `crate::index` calls this only after `has_sse2()` returned true.
    unsafe { sweep_sse2(block, out) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn sweep_sse2(block: &[u8], out: &mut Vec<u32>) -> bool {
    crate::sweep(block, out, |chunk| masks_sse2(chunk))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[inline]
fn masks_sse2(chunk: &[u8; 64]) -> (u64, u64) {
    let space = _mm_set1_epi8(b' ' as i8);
    let newline = _mm_set1_epi8(b'\n' as i8);
    let (mut sep, mut high) = (0u64, 0u64);
    for i in 0..4 {
        // SAFETY: `chunk` is 64 readable bytes; this 16-byte load reads bytes 16*i..16*i+16
        // (i < 4), and `loadu` has no alignment requirement.
        let v: __m128i = unsafe { _mm_loadu_si128(chunk.as_ptr().add(16 * i).cast()) };
        let s = _mm_or_si128(_mm_cmpeq_epi8(v, space), _mm_cmpeq_epi8(v, newline));
        sep |= u64::from(_mm_movemask_epi8(s) as u32 & 0xffff) << (16 * i);
        high |= u64::from(_mm_movemask_epi8(v) as u32 & 0xffff) << (16 * i);
    }
    (sep, high)
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn index_avx2(block: &[u8], out: &mut Vec<u32>) -> bool {
    crate::index_portable(block, out)
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn index_sse2(block: &[u8], out: &mut Vec<u32>) -> bool {
    crate::index_portable(block, out)
}
