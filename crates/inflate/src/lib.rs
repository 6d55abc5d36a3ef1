//! Whole-object gzip inflate with libdeflate, for objects small enough to hold in memory.
//!
//! S3 flow-log objects are usually a few MB. Inflating one whole with libdeflate is about twice
//! as fast as streaming it through zlib-rs, but libdeflate needs the whole input and an output
//! buffer large enough up front. [`gunzip`] inflates every member of a gzip object (Firehose
//! writes several back to back) into one buffer, growing it up to a bound, and gives up (`None`)
//! on anything it cannot do exactly: corrupt or truncated data, more output than the bound.
//! The caller then streams the same bytes with zlib-rs, which reports how far a broken object
//! got. So the result is always the stream's, or nothing.
//!
//! ```
//! use std::io::Write;
//! let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
//! let line = b"2 123456789012 eni-1 - - - - - - - 1 2 - NODATA\n";
//! gz.write_all(line).unwrap();
//! let one = gz.finish().unwrap();
//! let two = [one.clone(), one].concat();
//! let text = vpcflow_inflate::gunzip(&two, 1 << 20).unwrap();
//! assert_eq!(text, [&line[..], &line[..]].concat());
//! assert_eq!(vpcflow_inflate::gunzip(&two[..two.len() - 3], 1 << 20), None);
//! ```
#![deny(missing_docs)]

mod ffi;

/// Inflates every gzip member of `gz`, back to back, into one buffer of at most `limit` bytes;
/// `None` when `gz` is not exactly a sequence of one or more whole, valid members, or inflates to
/// more.
pub fn gunzip(gz: &[u8], limit: usize) -> Option<Vec<u8>> {
    if gz.is_empty() {
        // Found by the fuzz target: no member at all is no gzip object (streaming refuses it).
        return None;
    }
    let mut d = ffi::Decompressor::new()?;
    let mut out: Vec<u8> = Vec::new();
    let mut at = 0;
    while at < gz.len() {
        let rest = &gz[at..];
        // libdeflate skips a header CRC (FHCRC) without checking it; zlib-rs checks it. Leave such
        // members (no AWS writer sets the flag) to the stream, so the answer stays the stream's.
        // Found by the fuzz target.
        if rest.get(3).is_some_and(|flags| flags & 0x02 != 0) {
            return None;
        }
        // The member's own size is its last four bytes only when it is the last member; start
        // from that or from four times the input, and double until it fits.
        let mut room = rest
            .len()
            .saturating_mul(4)
            .max(isize_of(rest))
            .max(64 * 1024);
        loop {
            let start = out.len();
            let room_now = room.min(limit.saturating_sub(start));
            out.resize(start + room_now, 0);
            match d.gzip_member(rest, &mut out[start..]) {
                ffi::Member::Done(used, written) => {
                    out.truncate(start + written);
                    at += used;
                    break;
                }
                ffi::Member::NeedsSpace if room_now == room => {
                    out.truncate(start);
                    room = room.saturating_mul(2);
                }
                _ => return None,
            }
        }
    }
    Some(out)
}

/// The ISIZE field of a gzip member ending where `gz` ends (its last four bytes).
fn isize_of(gz: &[u8]) -> usize {
    match gz.len().checked_sub(4).map(|i| &gz[i..]) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::{Read, Write};

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn stream(data: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn members_of_every_size_inflate_as_the_stream_does() {
        let big: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let members = [gz(b""), gz(b"one line\n"), gz(&big), gz(b"last\n")];
        let object = members.concat();
        assert_eq!(gunzip(&object, 1 << 24), Some(stream(&object).unwrap()));
        // Bounded: one byte short of the output is a refusal, not a cut.
        let n = stream(&object).unwrap().len();
        assert_eq!(gunzip(&object, n - 1), None);
        assert!(gunzip(&object, n).is_some());
    }

    #[test]
    fn broken_objects_are_refused_whole() {
        let first = gz(b"a\n");
        let object = [first.clone(), gz(b"b\n")].concat();
        for cut in 1..object.len() {
            // Cut right after the first member, it is a whole object of one member.
            let expected = (cut == first.len()).then(|| b"a\n".to_vec());
            assert_eq!(gunzip(&object[..cut], 1 << 20), expected, "cut at {cut}");
        }
        let mut flipped = object.clone();
        flipped[12] ^= 0xff;
        assert!(gunzip(&flipped, 1 << 20).is_none() || stream(&flipped).is_ok());
        assert_eq!(gunzip(b"", 1 << 20), None);
        let mut with_header_crc = gz(b"c\n");
        with_header_crc[3] |= 0x02;
        assert_eq!(gunzip(&with_header_crc, 1 << 20), None);
        let mut trailing = object.clone();
        trailing.extend_from_slice(b"junk");
        assert_eq!(gunzip(&trailing, 1 << 20), None);
    }

    proptest! {
        /// Whatever the bytes, `gunzip` gives the stream's output or refuses.
        #[test]
        fn never_a_different_answer(parts in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..2000), 1..4), damage in any::<Option<(usize, u8)>>()) {
            let mut object: Vec<u8> = parts.iter().flat_map(|p| gz(p)).collect();
            if let Some((at, x)) = damage {
                let i = at % object.len();
                object[i] ^= x;
            }
            if let Some(out) = gunzip(&object, 1 << 20) {
                prop_assert_eq!(Some(out), stream(&object).ok());
            }
        }
    }
}
