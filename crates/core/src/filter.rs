//! Filter-first decoding: a record whose ports show it cannot concern the caller is counted and
//! skipped before the rest of its line is decoded.
//!
//! A verdict needs only records to or from a catalogued port. On a production VPC most records
//! are other traffic (web, DNS, NTP, other subnets), so checking the two port fields first and
//! skipping the line saves parsing addresses and interning ids for most of them.

/// A set of TCP/UDP ports: a 65,536-bit map.
#[derive(Clone, PartialEq, Eq)]
pub struct PortSet {
    bits: Box<[u64; 1024]>,
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries((0..=u16::MAX).filter(|&p| self.contains(p)))
            .finish()
    }
}

impl PortSet {
    /// The set of `ports`.
    pub fn new(ports: impl IntoIterator<Item = u16>) -> PortSet {
        let mut bits = Box::new([0u64; 1024]);
        for p in ports {
            bits[usize::from(p >> 6)] |= 1 << (p & 63);
        }
        PortSet { bits }
    }

    /// Whether `port` is in the set.
    #[inline(always)]
    pub fn contains(&self, port: u16) -> bool {
        self.bits[usize::from(port >> 6)] & (1 << (port & 63)) != 0
    }
}

/// Where, in the current format, the fields filter-first reads are.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FilterFields {
    pub src: usize,
    pub dst: usize,
    /// `log-status`, when the format has it: NODATA and SKIPDATA records are always decoded
    /// (verdicts count them per ENI).
    pub status: Option<usize>,
}

/// The value of a port token written as 1 to 5 decimal digits, up to 65535; `None` for
/// anything else (`-`, a sign, a larger number), which is then decoded in full.
#[inline(always)]
fn port_of(token: &[u8]) -> Option<u16> {
    if token.is_empty() || token.len() > 5 {
        return None;
    }
    let mut v: u32 = 0;
    for &b in token {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u32::from(d);
    }
    u16::try_from(v).ok()
}

impl FilterFields {
    /// Whether a record whose field `i` is `token(i)` can be skipped: both ports are plain
    /// numbers outside `ports`, and it is not a NODATA or SKIPDATA record.
    #[inline(always)]
    pub(crate) fn skips<'l>(&self, ports: &PortSet, token: impl Fn(usize) -> &'l [u8]) -> bool {
        let (Some(src), Some(dst)) = (port_of(token(self.src)), port_of(token(self.dst))) else {
            return false;
        };
        if ports.contains(src) || ports.contains(dst) {
            return false;
        }
        match self.status {
            Some(i) => !matches!(token(i), b"NODATA" | b"SKIPDATA"),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_tokens() {
        let set = PortSet::new([3306, 5432, 0, 65535]);
        for p in [3306, 5432, 0, 65535] {
            assert!(set.contains(p));
        }
        for p in [1, 3305, 3307, 65534, 63, 64] {
            assert!(!set.contains(p));
        }
        assert_eq!(format!("{set:?}"), "{0, 3306, 5432, 65535}");
        assert_eq!(port_of(b"443"), Some(443));
        assert_eq!(port_of(b"00443"), Some(443));
        assert_eq!(port_of(b"65535"), Some(65535));
        for bad in [&b"65536"[..], b"-", b"", b"123456", b"4a", b"+1"] {
            assert_eq!(port_of(bad), None, "{bad:?}");
        }
        let fields = FilterFields {
            src: 0,
            dst: 1,
            status: Some(2),
        };
        let skips = |t: [&'static [u8]; 3]| fields.skips(&set, |i| t[i]);
        assert!(skips([b"443", b"50000", b"OK"]));
        assert!(!skips([b"3306", b"50000", b"OK"]));
        assert!(!skips([b"50000", b"5432", b"OK"]));
        assert!(!skips([b"-", b"50000", b"OK"]));
        assert!(!skips([b"443", b"50000", b"NODATA"]));
        assert!(!skips([b"443", b"50000", b"SKIPDATA"]));
        assert!(skips([b"443", b"50000", b"-"]));
    }
}
