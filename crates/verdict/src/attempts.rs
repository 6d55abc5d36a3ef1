//! The attempts of one (endpoint, client, client port): records chained by their own times.
//!
//! A client port is reused, minutes or hours later, by a new connection. Which records belong to
//! which connection is decided on the records' own `start`/`end`, never on the order they are
//! read in: stretch every record's interval by [`PORT_REUSE_GAP_SECS`] to the right; records
//! whose stretched intervals overlap, directly or through others, are one attempt. That is
//! interval union, so folding records in any order, or merging two partial states, gives the
//! same attempts (`docs/verdicts.md`, "Port reuse").

use crate::outcome::Attempt;

/// Records of one client port whose intervals are more than this many seconds apart belong to
/// different attempts.
pub const PORT_REUSE_GAP_SECS: i64 = 15 * 60;

/// Whether two attempts of one port are one: their intervals, each stretched by the gap to the
/// right, overlap.
#[inline]
fn chained(a: &Attempt, b: &Attempt) -> bool {
    a.first <= b.last.saturating_add(PORT_REUSE_GAP_SECS)
        && b.first <= a.last.saturating_add(PORT_REUSE_GAP_SECS)
}

/// The attempts of one client port: sorted by start, each more than the gap from the next.
/// Nearly every port holds one attempt, kept inline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PortAttempts {
    /// One attempt (the common case).
    One(Attempt),
    /// Several, sorted by `first`, pairwise not chained.
    Many(Vec<Attempt>),
}

impl PortAttempts {
    /// The attempts, sorted by start.
    pub(crate) fn as_slice(&self) -> &[Attempt] {
        match self {
            PortAttempts::One(a) => std::slice::from_ref(a),
            PortAttempts::Many(v) => v,
        }
    }

    /// How many attempts.
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Folds one observation (a record, or an attempt of another state) in. Returns the change
    /// in the number of attempts: +1 for a new one, 0 when it joined one, negative when it
    /// joined several into one.
    pub(crate) fn add(&mut self, o: Attempt) -> isize {
        match self {
            PortAttempts::One(a) => {
                if chained(a, &o) {
                    a.merge(&o);
                    0
                } else {
                    let (x, y) = if o.first < a.first { (o, *a) } else { (*a, o) };
                    *self = PortAttempts::Many(vec![x, y]);
                    1
                }
            }
            PortAttempts::Many(v) => {
                // The attempts `o` chains with are contiguous: the list is sorted and its
                // members are pairwise more than the gap apart.
                let from =
                    v.partition_point(|a| a.last.saturating_add(PORT_REUSE_GAP_SECS) < o.first);
                let mut to = from;
                while to < v.len() && chained(&v[to], &o) {
                    to += 1;
                }
                let delta = match to - from {
                    0 => {
                        v.insert(from, o);
                        1
                    }
                    n => {
                        let mut joined = o;
                        for a in v.drain(from + 1..to) {
                            joined.merge(&a);
                        }
                        v[from].merge(&joined);
                        1 - n as isize
                    }
                };
                if v.len() == 1 {
                    *self = PortAttempts::One(v[0]);
                }
                delta
            }
        }
    }

    /// Folds another port's attempts in; returns the change in the number of attempts.
    pub(crate) fn merge(&mut self, o: &PortAttempts) -> isize {
        o.as_slice().iter().map(|a| self.add(*a)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rec(first: i64, last: i64) -> Attempt {
        Attempt {
            flags: 1,
            records: 1,
            first,
            last,
            ..Attempt::default()
        }
    }

    const G: i64 = PORT_REUSE_GAP_SECS;

    #[test]
    fn records_within_the_gap_chain_into_one_attempt() {
        let mut p = PortAttempts::One(rec(0, 60));
        assert_eq!(
            p.add(rec(60 + G, 60 + G + 60)),
            0,
            "exactly the gap apart: one"
        );
        assert_eq!(p.len(), 1);
        assert_eq!(
            p.add(rec(10 * G, 10 * G + 60)),
            1,
            "far later: a second attempt"
        );
        assert_eq!(p.add(rec(-10 * G, -10 * G + 1)), 1, "far earlier: a third");
        assert_eq!(p.len(), 3);
        assert_eq!(
            p.add(rec(5 * G, 6 * G)),
            1,
            "between two, chaining neither: a fourth"
        );
        assert_eq!(p.len(), 4);
        assert_eq!(
            p.add(rec(2 * G + 100, 4 * G + 60)),
            -1,
            "bridges the second and fourth"
        );
        assert_eq!(p.add(rec(7 * G, 9 * G)), -1, "bridges that and the last");
        let a = p.as_slice();
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].first, a[0].last, a[0].records),
            (-10 * G, -10 * G + 1, 1)
        );
        assert_eq!((a[1].first, a[1].last, a[1].records), (0, 10 * G + 60, 6));
    }

    fn attempts_of(records: &[(i64, i64)]) -> Vec<(i64, i64, u32)> {
        let mut p: Option<PortAttempts> = None;
        for &(s, len) in records {
            let r = rec(s, s + len);
            match p.as_mut() {
                None => p = Some(PortAttempts::One(r)),
                Some(p) => {
                    p.add(r);
                }
            }
        }
        p.map(|p| {
            p.as_slice()
                .iter()
                .map(|a| (a.first, a.last, a.records))
                .collect()
        })
        .unwrap_or_default()
    }

    /// Single-linkage clustering the slow way: sort, then sweep.
    fn reference(records: &[(i64, i64)]) -> Vec<(i64, i64, u32)> {
        let mut r: Vec<(i64, i64)> = records.iter().map(|&(s, l)| (s, s + l)).collect();
        r.sort();
        let mut out: Vec<(i64, i64, u32)> = Vec::new();
        for (s, e) in r {
            match out.last_mut() {
                Some(last) if s <= last.1 + G => {
                    last.1 = last.1.max(e);
                    last.2 += 1;
                }
                _ => out.push((s, e, 1)),
            }
        }
        out
    }

    proptest! {
        #[test]
        fn any_order_gives_the_sorted_sweep(
            records in proptest::collection::vec((0i64..20_000, 0i64..700), 1..40),
            split in 0usize..40,
        ) {
            prop_assert_eq!(attempts_of(&records), reference(&records));
            let mut reversed = records.clone();
            reversed.reverse();
            prop_assert_eq!(attempts_of(&reversed), reference(&records));
            // Two partial states merged equal one fold of all the records.
            let split = split.min(records.len());
            let (a, b) = records.split_at(split);
            let fold = |rs: &[(i64, i64)]| -> Option<PortAttempts> {
                let mut p: Option<PortAttempts> = None;
                for &(s, l) in rs {
                    match p.as_mut() {
                        None => p = Some(PortAttempts::One(rec(s, s + l))),
                        Some(p) => { p.add(rec(s, s + l)); }
                    }
                }
                p
            };
            let merged = match (fold(a), fold(b)) {
                (Some(mut x), Some(y)) => { x.merge(&y); Some(x) }
                (x, y) => x.or(y),
            };
            prop_assert_eq!(merged, fold(&records));
        }
    }
}
