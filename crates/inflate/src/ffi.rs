//! The libdeflate calls: the only `unsafe` code of this crate.
//!
//! Audit notes. A [`Decompressor`] owns one `libdeflate_decompressor` from
//! `libdeflate_alloc_decompressor` (checked non-null) and frees it once, in `Drop`. It is used
//! by one thread at a time (`&mut self`), as libdeflate requires. `gzip_member` passes libdeflate
//! the pointer and length of two live Rust slices, `input` to read and `out` to write, and two
//! local `usize`s for the counts; libdeflate reads and writes only within those lengths, and
//! keeps no pointer after it returns.
#![allow(unsafe_code)]

use libdeflate_sys::{
    libdeflate_alloc_decompressor, libdeflate_decompressor, libdeflate_free_decompressor,
    libdeflate_gzip_decompress_ex, libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE,
    libdeflate_result_LIBDEFLATE_SUCCESS,
};

/// A libdeflate decompressor.
pub(crate) struct Decompressor(*mut libdeflate_decompressor);

/// What one member's inflate did.
pub(crate) enum Member {
    /// Inflated: (compressed bytes used, bytes written).
    Done(usize, usize),
    /// `out` is too small for the member.
    NeedsSpace,
    /// Not a whole, valid gzip member.
    Bad,
}

impl Decompressor {
    pub(crate) fn new() -> Option<Decompressor> {
        // SAFETY: no arguments; the result is checked for null before use.
        let d = unsafe { libdeflate_alloc_decompressor() };
        (!d.is_null()).then_some(Decompressor(d))
    }

    /// Inflates the gzip member at the start of `input` into `out`.
    pub(crate) fn gzip_member(&mut self, input: &[u8], out: &mut [u8]) -> Member {
        let (mut used, mut written) = (0usize, 0usize);
        // SAFETY: `self.0` is a live decompressor this `&mut self` uses alone; the pointers and
        // lengths are those of two live slices (read-only `input`, writable `out`), and the two
        // count pointers are to locals. libdeflate stays within the lengths and keeps nothing.
        let result = unsafe {
            libdeflate_gzip_decompress_ex(
                self.0,
                input.as_ptr().cast(),
                input.len(),
                out.as_mut_ptr().cast(),
                out.len(),
                &mut used,
                &mut written,
            )
        };
        if result == libdeflate_result_LIBDEFLATE_SUCCESS && written <= out.len() && used > 0 {
            Member::Done(used.min(input.len()), written)
        } else if result == libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE {
            Member::NeedsSpace
        } else {
            Member::Bad
        }
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: `self.0` came from `libdeflate_alloc_decompressor`, was not null, and is freed
        // here once: `Decompressor` is not `Clone`.
        unsafe { libdeflate_free_decompressor(self.0) }
    }
}
