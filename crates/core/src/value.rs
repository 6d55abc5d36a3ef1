//! Parsers for single field values, straight from bytes.
//!
//! These are the hot path: hand-written loops with no allocation. `docs/performance.md`
//! records how they compare with nom's `character::complete::u64` on the same input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a value did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueError {
    /// Not a number, or not an address.
    Invalid,
    /// A number larger than the field's type admits.
    Overflow,
}

/// Parses an unsigned decimal integer no larger than `max`.
#[inline]
pub fn parse_uint(bytes: &[u8], max: u64) -> Result<u64, ValueError> {
    if bytes.is_empty() || bytes.len() > 20 {
        return Err(
            if bytes.len() > 20 && bytes.iter().all(u8::is_ascii_digit) {
                ValueError::Overflow
            } else {
                ValueError::Invalid
            },
        );
    }
    let mut value: u64 = 0;
    if bytes.len() < 20 {
        // 19 digits cannot overflow a u64.
        for &b in bytes {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                return Err(ValueError::Invalid);
            }
            value = value * 10 + digit as u64;
        }
    } else {
        for &b in bytes {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                return Err(ValueError::Invalid);
            }
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(digit as u64))
                .ok_or(ValueError::Overflow)?;
        }
    }
    if value > max {
        return Err(ValueError::Overflow);
    }
    Ok(value)
}

/// Parses an IPv4 or IPv6 address into 16 bytes, IPv4 as an IPv4-mapped IPv6 address.
#[inline]
pub fn parse_ip(bytes: &[u8]) -> Result<[u8; 16], ValueError> {
    if let Some(v4) = parse_ipv4(bytes) {
        return Ok(Ipv4Addr::from(v4).to_ipv6_mapped().octets());
    }
    parse_ipv6(bytes).ok_or(ValueError::Invalid)
}

/// Parses dotted-quad IPv4 (`10.0.3.213`); leading zeros are refused, as `std` does.
#[inline]
fn parse_ipv4(bytes: &[u8]) -> Option<[u8; 4]> {
    if bytes.len() < 7 || bytes.len() > 15 {
        return None;
    }
    let mut out = [0u8; 4];
    let mut octet = 0usize;
    let mut value: u16 = 0;
    let mut digits = 0u8;
    for &b in bytes {
        if b == b'.' {
            if digits == 0 || octet == 3 {
                return None;
            }
            out[octet] = value as u8;
            octet += 1;
            value = 0;
            digits = 0;
        } else {
            let d = b.wrapping_sub(b'0');
            if d > 9 || (digits > 0 && value == 0) {
                return None;
            }
            value = value * 10 + d as u16;
            digits += 1;
            if value > 255 {
                return None;
            }
        }
    }
    if octet != 3 || digits == 0 {
        return None;
    }
    out[3] = value as u8;
    Some(out)
}

#[cold]
fn parse_ipv6(bytes: &[u8]) -> Option<[u8; 16]> {
    if !bytes.contains(&b':') {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    text.parse::<Ipv6Addr>().ok().map(|a| a.octets())
}

/// Turns 16 stored bytes back into an address; IPv4-mapped addresses become IPv4.
#[inline]
pub fn ip_from_bytes(bytes: [u8; 16]) -> IpAddr {
    Ipv6Addr::from(bytes).to_canonical()
}

/// Stores an address as 16 bytes, IPv4 as IPv4-mapped IPv6.
#[inline]
pub fn ip_to_bytes(addr: IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn integers() {
        assert_eq!(parse_uint(b"0", 255), Ok(0));
        assert_eq!(parse_uint(b"255", 255), Ok(255));
        assert_eq!(parse_uint(b"256", 255), Err(ValueError::Overflow));
        assert_eq!(parse_uint(b"18446744073709551615", u64::MAX), Ok(u64::MAX));
        assert_eq!(
            parse_uint(b"18446744073709551616", u64::MAX),
            Err(ValueError::Overflow)
        );
        assert_eq!(
            parse_uint(b"123456789012345678901", u64::MAX),
            Err(ValueError::Overflow)
        );
        assert_eq!(parse_uint(b"", 9), Err(ValueError::Invalid));
        assert_eq!(parse_uint(b"1a", 99), Err(ValueError::Invalid));
        assert_eq!(parse_uint(b"-1", 99), Err(ValueError::Invalid));
        assert_eq!(parse_uint(b"+1", 99), Err(ValueError::Invalid));
    }

    #[test]
    fn addresses() {
        let v4 = parse_ip(b"10.0.3.213").unwrap();
        assert_eq!(ip_from_bytes(v4), "10.0.3.213".parse::<IpAddr>().unwrap());
        let v6 = parse_ip(b"2001:db8::5").unwrap();
        assert_eq!(ip_from_bytes(v6), "2001:db8::5".parse::<IpAddr>().unwrap());
        for bad in [
            &b"10.0.3"[..],
            b"10.0.3.256",
            b"10.0.3.01",
            b"10..3.1",
            b"10.0.3.1.",
            b"eni-1",
            b"::g",
            b"",
        ] {
            assert_eq!(parse_ip(bad), Err(ValueError::Invalid), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn integers_agree_with_std(n: u64) {
            prop_assert_eq!(parse_uint(n.to_string().as_bytes(), u64::MAX), Ok(n));
        }

        #[test]
        fn addresses_agree_with_std(addr: IpAddr) {
            let text = addr.to_string();
            prop_assert_eq!(parse_ip(text.as_bytes()).map(ip_from_bytes), Ok(match addr {
                IpAddr::V6(v6) => v6.to_canonical(),
                v4 => v4,
            }));
        }

        #[test]
        fn garbage_never_panics(bytes: Vec<u8>) {
            let _ = parse_ip(&bytes);
            let _ = parse_uint(&bytes, u64::MAX);
        }
    }
}
