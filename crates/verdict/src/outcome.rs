//! What happened to one connection attempt, and what a client–endpoint pair's attempts add up
//! to. `docs/verdicts.md` is the specification; this module follows it.

use std::fmt;

/// Bits of [`Attempt::flags`]: which records an attempt has, by direction, action and side.
pub mod flag {
    /// A request (client → endpoint:port) ACCEPTed at the endpoint side.
    pub const REQ_ACCEPT_ENDPOINT: u16 = 1 << 0;
    /// A request REJECTed at the endpoint side.
    pub const REQ_REJECT_ENDPOINT: u16 = 1 << 1;
    /// A request ACCEPTed at the client side.
    pub const REQ_ACCEPT_CLIENT: u16 = 1 << 2;
    /// A request REJECTed at the client side.
    pub const REQ_REJECT_CLIENT: u16 = 1 << 3;
    /// A reply (endpoint:port → client) ACCEPTed at the endpoint side.
    pub const REP_ACCEPT_ENDPOINT: u16 = 1 << 4;
    /// A reply REJECTed at the endpoint side.
    pub const REP_REJECT_ENDPOINT: u16 = 1 << 5;
    /// A reply ACCEPTed at the client side.
    pub const REP_ACCEPT_CLIENT: u16 = 1 << 6;
    /// A reply REJECTed at the client side.
    pub const REP_REJECT_CLIENT: u16 = 1 << 7;
    /// The side of some record was inferred (no ENI in the catalogue, no flow-direction).
    pub const SIDE_INFERRED: u16 = 1 << 8;
    /// Some record carried tcp-flags.
    pub const TCP_FLAGS: u16 = 1 << 9;
    /// Some REJECT record carried a `reject-reason`: a VPC-level control (Block Public Access)
    /// refused it, not a security group or network ACL.
    pub const REJECT_REASONED: u16 = 1 << 10;
    /// Some REJECT record carried no `reject-reason`: a security group or network ACL.
    pub const REJECT_PLAIN: u16 = 1 << 11;

    /// Any ACCEPTed request.
    pub const REQ_ACCEPT: u16 = REQ_ACCEPT_ENDPOINT | REQ_ACCEPT_CLIENT;
    /// Any ACCEPTed reply.
    pub const REP_ACCEPT: u16 = REP_ACCEPT_ENDPOINT | REP_ACCEPT_CLIENT;
    /// Any REJECTed reply.
    pub const REP_REJECT: u16 = REP_REJECT_ENDPOINT | REP_REJECT_CLIENT;

    /// The bit of a record: a request or a reply, ACCEPTed or REJECTed, seen at the endpoint
    /// side or the client side.
    #[inline]
    pub const fn record_kind(request: bool, accept: bool, at_endpoint: bool) -> u16 {
        match (request, accept, at_endpoint) {
            (true, true, true) => REQ_ACCEPT_ENDPOINT,
            (true, false, true) => REQ_REJECT_ENDPOINT,
            (true, true, false) => REQ_ACCEPT_CLIENT,
            (true, false, false) => REQ_REJECT_CLIENT,
            (false, true, true) => REP_ACCEPT_ENDPOINT,
            (false, false, true) => REP_REJECT_ENDPOINT,
            (false, true, false) => REP_ACCEPT_CLIENT,
            (false, false, false) => REP_REJECT_CLIENT,
        }
    }
}

/// TCP flag values as AWS logs them in `tcp-flags`.
pub mod tcp {
    /// FIN.
    pub const FIN: u8 = 1;
    /// SYN.
    pub const SYN: u8 = 2;
    /// RST.
    pub const RST: u8 = 4;
    /// SYN-ACK, as logged (SYN | ACK).
    pub const SYN_ACK: u8 = 18;
}

/// Everything recorded about one attempt: (endpoint, client address, client port), TCP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attempt {
    /// [`flag`] bits.
    pub flags: u16,
    /// tcp-flags ORed over the ACCEPTed request records.
    pub request_tcp: u8,
    /// tcp-flags ORed over the ACCEPTed reply records.
    pub reply_tcp: u8,
    /// Records of this attempt.
    pub records: u32,
    /// Of which REJECT.
    pub rejects: u32,
    /// Earliest `start`.
    pub first: i64,
    /// Latest `end`.
    pub last: i64,
}

impl Attempt {
    /// Folds another observation of the same attempt in. Commutative and associative, so the
    /// result does not depend on record order, batching or threads.
    pub fn merge(&mut self, o: &Attempt) {
        if self.records == 0 {
            *self = *o;
            return;
        }
        self.flags |= o.flags;
        self.request_tcp |= o.request_tcp;
        self.reply_tcp |= o.reply_tcp;
        self.records = self.records.saturating_add(o.records);
        self.rejects = self.rejects.saturating_add(o.rejects);
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
    }

    /// The attempt's outcome.
    pub fn outcome(&self) -> Outcome {
        let f = self.flags;
        // The client sent SYN and later FIN: the handshake completed, so the server answered
        // even if its reply was logged nowhere we can see.
        let handshake = self.request_tcp & (tcp::SYN | tcp::FIN) == tcp::SYN | tcp::FIN;
        if f & flag::REP_ACCEPT != 0 || (f & flag::REQ_ACCEPT != 0 && handshake) {
            Outcome::Connected
        } else if f & flag::REQ_REJECT_CLIENT != 0 {
            Outcome::BlockedEgress
        } else if f & flag::REQ_REJECT_ENDPOINT != 0 {
            Outcome::BlockedIngress
        } else if f & flag::REP_REJECT != 0 {
            Outcome::BlockedReturn
        } else {
            Outcome::Unanswered
        }
    }

    /// Whether the attempt was blocked and every REJECT of it carried a `reject-reason`: a
    /// VPC-level control blocked it, not a security group or network ACL.
    pub fn blocked_by_vpc_control(&self) -> bool {
        self.outcome().is_blocked()
            && self.flags & flag::REJECT_REASONED != 0
            && self.flags & flag::REJECT_PLAIN == 0
    }

    /// REJECT records in a connected attempt: packets after the connection closed (FIN/RST
    /// stragglers), which AWS REJECTs. Counted apart; they do not make the attempt blocked.
    pub fn late_rejects(&self) -> u32 {
        if self.outcome() == Outcome::Connected {
            self.rejects
        } else {
            0
        }
    }
}

/// What happened to one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// The request was REJECTed on the client side.
    BlockedEgress,
    /// The request was REJECTed at the endpoint side.
    BlockedIngress,
    /// The request got in, the reply was REJECTed and no reply was ACCEPTed: a NACL.
    BlockedReturn,
    /// Request and reply both ACCEPTed.
    Connected,
    /// The request was ACCEPTed, no reply was recorded and nothing was REJECTed.
    Unanswered,
}

impl Outcome {
    /// Every outcome, in [`Outcome::index`] order.
    pub const ALL: [Outcome; 5] = [
        Outcome::BlockedEgress,
        Outcome::BlockedIngress,
        Outcome::BlockedReturn,
        Outcome::Connected,
        Outcome::Unanswered,
    ];

    /// Its position in [`Outcome::ALL`] (for compact state).
    pub fn index(self) -> u8 {
        self as u8
    }

    /// What `intermittent` tells apart: blocked (0), connected (1), unanswered (2).
    pub fn class(self) -> u8 {
        if self.is_blocked() {
            0
        } else if self == Outcome::Connected {
            1
        } else {
            2
        }
    }

    /// Whether the attempt was blocked, wherever.
    pub fn is_blocked(self) -> bool {
        matches!(
            self,
            Outcome::BlockedEgress | Outcome::BlockedIngress | Outcome::BlockedReturn
        )
    }

    /// The JSON/CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::BlockedEgress => "blocked_egress",
            Outcome::BlockedIngress => "blocked_ingress",
            Outcome::BlockedReturn => "blocked_return",
            Outcome::Connected => "connected",
            Outcome::Unanswered => "unanswered",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pair's attempt outcomes in time order, reduced to what a verdict reports: when the outcome
/// class (blocked, connected, unanswered) last changed, and the latest outcome. Pushed in time
/// order it is exact, and it takes constant memory however many attempts go through it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// The class of the latest attempt.
    pub class: Option<u8>,
    /// The start of the first attempt after the latest change of class.
    pub since: Option<i64>,
    /// The latest attempt's outcome.
    pub latest: Option<Outcome>,
}

impl Timeline {
    /// The next attempt: it started at `t`, no earlier than those before.
    pub fn push(&mut self, t: i64, o: Outcome) {
        let class = o.class();
        if self.class.is_some_and(|c| c != class) {
            self.since = Some(t);
        }
        self.class = Some(class);
        self.latest = Some(o);
    }
}

/// The verdict on a client–endpoint pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Every attempt was blocked.
    Blocked,
    /// Some attempts were blocked and some were not.
    Intermittent,
    /// No attempt was blocked and none connected.
    Unanswered,
    /// Every attempt connected.
    Allowed,
}

impl Verdict {
    /// Every verdict, in declaration order (for compact forms: a verdict is its position).
    pub const ALL: [Verdict; 4] = [
        Verdict::Blocked,
        Verdict::Intermittent,
        Verdict::Unanswered,
        Verdict::Allowed,
    ];

    /// From the outcome counts.
    pub fn from_counts(c: &Counts) -> Verdict {
        let blocked = c.blocked();
        if c.attempts > 0 && blocked == c.attempts {
            Verdict::Blocked
        } else if c.attempts > 0 && c.connected == c.attempts {
            Verdict::Allowed
        } else if blocked == 0 && c.connected == 0 {
            Verdict::Unanswered
        } else {
            Verdict::Intermittent
        }
    }

    /// The JSON/CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Blocked => "blocked",
            Verdict::Intermittent => "intermittent",
            Verdict::Unanswered => "unanswered",
            Verdict::Allowed => "allowed",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Attempts of a pair, by outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// All attempts.
    pub attempts: u64,
    /// Connected.
    pub connected: u64,
    /// Blocked on the client side.
    pub blocked_egress: u64,
    /// Blocked at the endpoint.
    pub blocked_ingress: u64,
    /// Reply blocked.
    pub blocked_return: u64,
    /// Unanswered.
    pub unanswered: u64,
    /// REJECTs inside connected attempts.
    pub late_rejects: u64,
    /// Blocked attempts whose every REJECT carried a `reject-reason` (a VPC-level control,
    /// not a security group or NACL); a subset of the blocked ones.
    pub blocked_by_vpc: u64,
}

impl Counts {
    /// Adds one attempt.
    pub fn add(&mut self, a: &Attempt) {
        self.attempts += 1;
        self.late_rejects += u64::from(a.late_rejects());
        self.blocked_by_vpc += u64::from(a.blocked_by_vpc_control());
        match a.outcome() {
            Outcome::BlockedEgress => self.blocked_egress += 1,
            Outcome::BlockedIngress => self.blocked_ingress += 1,
            Outcome::BlockedReturn => self.blocked_return += 1,
            Outcome::Connected => self.connected += 1,
            Outcome::Unanswered => self.unanswered += 1,
        }
    }

    /// The counts in a fixed order: attempts, connected, blocked egress, blocked ingress,
    /// blocked return, unanswered, late rejects, blocked by a VPC-level control.
    pub fn to_array(&self) -> [u64; 8] {
        [
            self.attempts,
            self.connected,
            self.blocked_egress,
            self.blocked_ingress,
            self.blocked_return,
            self.unanswered,
            self.late_rejects,
            self.blocked_by_vpc,
        ]
    }

    /// The inverse of [`Counts::to_array`].
    pub fn from_array(a: [u64; 8]) -> Counts {
        let [
            attempts,
            connected,
            blocked_egress,
            blocked_ingress,
            blocked_return,
            unanswered,
            late_rejects,
            blocked_by_vpc,
        ] = a;
        Counts {
            attempts,
            connected,
            blocked_egress,
            blocked_ingress,
            blocked_return,
            unanswered,
            late_rejects,
            blocked_by_vpc,
        }
    }

    /// Adds another pair's counts.
    pub fn merge(&mut self, o: &Counts) {
        let (mut a, b) = (self.to_array(), o.to_array());
        for (x, y) in a.iter_mut().zip(b) {
            *x += y;
        }
        *self = Counts::from_array(a);
    }

    /// Blocked attempts, wherever.
    pub fn blocked(&self) -> u64 {
        self.blocked_egress + self.blocked_ingress + self.blocked_return
    }

    /// The kind of block most attempts met (ties: ingress, egress, return); `None` when no
    /// attempt was blocked.
    pub fn dominant_block(&self) -> Option<Outcome> {
        [
            (self.blocked_ingress, Outcome::BlockedIngress),
            (self.blocked_egress, Outcome::BlockedEgress),
            (self.blocked_return, Outcome::BlockedReturn),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .max_by_key(|(n, o)| (*n, std::cmp::Reverse(*o)))
        .map(|(_, o)| o)
    }
}

#[cfg(test)]
mod tests {
    use super::flag::*;
    use super::*;

    fn attempt(flags: u16) -> Attempt {
        Attempt {
            flags,
            records: 1,
            ..Attempt::default()
        }
    }

    #[test]
    fn outcomes_follow_the_spec() {
        assert_eq!(
            attempt(REQ_REJECT_ENDPOINT).outcome(),
            Outcome::BlockedIngress
        );
        assert_eq!(
            attempt(REQ_ACCEPT_CLIENT | REQ_REJECT_ENDPOINT).outcome(),
            Outcome::BlockedIngress
        );
        assert_eq!(attempt(REQ_REJECT_CLIENT).outcome(), Outcome::BlockedEgress);
        // NACL: in, but the reply is REJECTed and never ACCEPTed.
        assert_eq!(
            attempt(REQ_ACCEPT_ENDPOINT | REP_REJECT_ENDPOINT).outcome(),
            Outcome::BlockedReturn
        );
        assert_eq!(
            attempt(REQ_ACCEPT_ENDPOINT | REP_ACCEPT_ENDPOINT).outcome(),
            Outcome::Connected
        );
        // A REJECT beside an ACCEPTed reply is late traffic: still connected, counted apart.
        let mut late = attempt(REQ_ACCEPT_ENDPOINT | REP_ACCEPT_ENDPOINT | REQ_REJECT_ENDPOINT);
        late.rejects = 2;
        assert_eq!(late.outcome(), Outcome::Connected);
        assert_eq!(late.late_rejects(), 2);
        assert_eq!(attempt(REQ_ACCEPT_ENDPOINT).outcome(), Outcome::Unanswered);
        assert_eq!(attempt(REQ_ACCEPT_CLIENT).outcome(), Outcome::Unanswered);
    }

    #[test]
    fn tcp_flags_refine_outcomes() {
        // SYN then FIN from the client: the handshake completed though no reply was logged.
        let mut a = attempt(REQ_ACCEPT_CLIENT | TCP_FLAGS);
        a.request_tcp = tcp::SYN | tcp::FIN;
        assert_eq!(a.outcome(), Outcome::Connected);
        // SYN only, retried: an attempt nobody answered.
        a.request_tcp = tcp::SYN;
        assert_eq!(a.outcome(), Outcome::Unanswered);
        // A SYN-ACK in the reply means the server answered.
        let mut b = attempt(REQ_ACCEPT_ENDPOINT | REP_REJECT_CLIENT | TCP_FLAGS);
        assert_eq!(b.outcome(), Outcome::BlockedReturn);
        b.reply_tcp = tcp::SYN_ACK;
        b.flags |= REP_ACCEPT_ENDPOINT;
        assert_eq!(b.outcome(), Outcome::Connected);
    }

    #[test]
    fn verdicts_from_counts() {
        let counts = |flags: &[u16]| {
            let mut c = Counts::default();
            for &f in flags {
                c.add(&attempt(f));
            }
            c
        };
        let ok = REQ_ACCEPT_ENDPOINT | REP_ACCEPT_ENDPOINT;
        assert_eq!(
            Verdict::from_counts(&counts(&[REQ_REJECT_ENDPOINT, REQ_REJECT_CLIENT])),
            Verdict::Blocked
        );
        assert_eq!(Verdict::from_counts(&counts(&[ok, ok])), Verdict::Allowed);
        assert_eq!(
            Verdict::from_counts(&counts(&[REQ_ACCEPT_ENDPOINT])),
            Verdict::Unanswered
        );
        assert_eq!(
            Verdict::from_counts(&counts(&[ok, REQ_REJECT_ENDPOINT])),
            Verdict::Intermittent
        );
        assert_eq!(
            Verdict::from_counts(&counts(&[REQ_ACCEPT_ENDPOINT, REQ_REJECT_ENDPOINT])),
            Verdict::Intermittent
        );
    }

    #[test]
    fn merge_is_order_independent() {
        let a = Attempt {
            flags: REQ_ACCEPT_ENDPOINT,
            request_tcp: 2,
            reply_tcp: 0,
            records: 1,
            rejects: 0,
            first: 10,
            last: 20,
        };
        let b = Attempt {
            flags: REP_REJECT_CLIENT,
            request_tcp: 0,
            reply_tcp: 18,
            records: 2,
            rejects: 2,
            first: 5,
            last: 15,
        };
        let mut ab = a;
        ab.merge(&b);
        let mut ba = b;
        ba.merge(&a);
        assert_eq!(ab, ba);
        assert_eq!((ab.first, ab.last, ab.records, ab.rejects), (5, 20, 3, 2));
    }
}
