//! Turning the aggregated state into verdicts, reasons and an Arrow batch.

use std::net::IpAddr;
use std::sync::Arc;

use arrow_array::builder::{MapBuilder, StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, BooleanArray, RecordBatch, StringArray, UInt16Array, UInt64Array};
use arrow_schema::{Field, Schema};

use hashbrown::HashMap;

use crate::catalogue::Endpoint;
use crate::outcome::{Attempt, Counts, Outcome, Timeline, Verdict, flag};
use crate::plan::{EniTable, Plan};
use crate::reason;
use crate::state::{PairKey, PairState};

/// The address of a 16-byte key.
pub(crate) fn addr(bytes: [u8; 16]) -> IpAddr {
    vpcflow_core::value::ip_from_bytes(bytes)
}

/// How the side a record was seen on was decided (`docs/verdicts.md`, "Where a record was
/// seen").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// By the endpoint's ENIs in the catalogue.
    Eni,
    /// By the records' `flow-direction`.
    FlowDirection,
    /// Neither: taken as seen at the endpoint.
    Inferred,
}

impl Side {
    /// Every side, in declaration order (for compact forms: a side is its position).
    pub const ALL: [Side; 3] = [Side::Eni, Side::FlowDirection, Side::Inferred];

    /// The JSON/CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Eni => "eni",
            Side::FlowDirection => "flow-direction",
            Side::Inferred => "inferred",
        }
    }
}

/// How sure a verdict is, given what the logs say about themselves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Confidence {
    /// SKIPDATA on an ENI involved: records were lost.
    Low,
    /// NODATA on an ENI involved, or the side of records was inferred.
    Medium,
    /// Nothing lowers it.
    High,
}

impl Confidence {
    /// The JSON/CSV spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// The verdict on one client–endpoint pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairVerdict {
    /// The endpoint's catalogue name.
    pub endpoint: String,
    /// The client's address.
    pub client: IpAddr,
    /// The endpoint's port.
    pub port: u16,
    /// The verdict.
    pub verdict: Verdict,
    /// Attempts by outcome.
    pub counts: Counts,
    /// Records that went into this verdict.
    pub records: u64,
    /// Earliest record start (Unix seconds).
    pub first_seen: i64,
    /// Latest record end (Unix seconds).
    pub last_seen: i64,
    /// For intermittent pairs: when the latest outcome began (Unix seconds).
    pub changed_at: Option<i64>,
    /// For intermittent pairs: the outcome of the latest attempts.
    pub latest: Option<Outcome>,
    /// How the side records were seen on was decided.
    pub side: Side,
    /// How sure the verdict is.
    pub confidence: Confidence,
    /// One human sentence saying why.
    pub reason: String,
    /// The lowest and highest client port of the pair's attempts (the client's ephemeral
    /// ports, which replies go to).
    pub client_ports: (u16, u16),
    /// The ENIs on the endpoint's side that logged this pair's records, REJECTs first (a
    /// Multi-AZ instance has two; after a failover, the one that logged matters).
    pub endpoint_enis: Vec<String>,
    /// REJECT records by `reject-reason` value (`BPA`: VPC Block Public Access), sorted by
    /// value; empty when no REJECT carried one.
    pub reject_reasons: Vec<(String, u64)>,
    /// Some of the pair's records came from a sampled live-tail update (`tail`): the counts
    /// are a sample, not every attempt.
    pub sampled: bool,
    /// Every attempt's start (Unix seconds) and outcome, in time order: the pair's timeline
    /// (the HTML report draws it).
    pub timeline: Vec<(i64, Outcome)>,
    /// It connected, and its client is not one the endpoint expects (or is outside the VPC):
    /// [`crate::expect::mark`].
    pub unexpected: bool,
    /// Its client is outside the VPC's address space (the private ranges, without a
    /// configuration).
    pub public: bool,
    /// What the network configuration says about the pair (`verdict --explain`).
    pub explanation: Option<Explanation>,
}

/// What the security groups and network ACLs say about a pair, filled in by
/// `vpcflow-explain`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Explanation {
    /// The component that blocks the flow: `sg:sg-0abc` or `nacl:acl-0123`; `None` when the
    /// configuration admits it.
    pub blocked_by: Option<String>,
    /// One sentence: which rule (or missing rule) decides, e.g. `sg:sg-0abc (db) has no
    /// inbound rule for tcp/3306 from 10.0.1.10 / sg-0client`.
    pub detail: String,
    /// The smallest change that would admit the flow.
    pub fix: Option<String>,
    /// A self-referencing security-group rule is involved (it admits only the group's own
    /// members, or every member to everything).
    pub self_reference: bool,
    /// The configuration disagrees with the logs (it admits what was REJECTed, or blocks what
    /// connected).
    pub contradiction: bool,
    /// Where on the path the blocking component sits, when one does.
    pub hop: Option<Hop>,
}

/// A hop of a connection's path, in path order: the request from the client to the endpoint,
/// then the reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hop {
    /// The client ENI's security groups, outbound.
    ClientSg,
    /// The client subnet's network ACL, outbound.
    ClientAclOut,
    /// A VPC-level control (Block Public Access), before any rule.
    VpcControl,
    /// The endpoint subnet's network ACL, inbound.
    EndpointAclIn,
    /// The endpoint ENI's security groups, inbound.
    EndpointSg,
    /// The endpoint subnet's network ACL, outbound (the reply).
    EndpointAclReply,
    /// The client subnet's network ACL, inbound (the reply).
    ClientAclReply,
}

impl Hop {
    /// The request path, then the return path.
    pub const PATH: [Hop; 7] = [
        Hop::ClientSg,
        Hop::ClientAclOut,
        Hop::VpcControl,
        Hop::EndpointAclIn,
        Hop::EndpointSg,
        Hop::EndpointAclReply,
        Hop::ClientAclReply,
    ];

    /// What the hop is, in words.
    pub fn label(self) -> &'static str {
        match self {
            Hop::ClientSg => "client security groups (out)",
            Hop::ClientAclOut => "client subnet network ACL (out)",
            Hop::VpcControl => "VPC Block Public Access",
            Hop::EndpointAclIn => "database subnet network ACL (in)",
            Hop::EndpointSg => "database security groups (in)",
            Hop::EndpointAclReply => "database subnet network ACL (reply out)",
            Hop::ClientAclReply => "client subnet network ACL (reply in)",
        }
    }

    /// Whether the hop is on the return path.
    pub fn is_reply(self) -> bool {
        matches!(self, Hop::EndpointAclReply | Hop::ClientAclReply)
    }
}

/// Counts over a whole run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Records seen.
    pub records: u64,
    /// Records that touched a catalogued endpoint and went into verdicts.
    pub matched: u64,
    /// Records that touched no catalogued endpoint.
    pub ignored: u64,
    /// Records to or from an endpoint's address and port that were not TCP.
    pub non_tcp: u64,
    /// Records outside --since/--until.
    pub outside_window: u64,
    /// NODATA records.
    pub nodata: u64,
    /// SKIPDATA records.
    pub skipdata: u64,
}

impl RunStats {
    /// The counters in a fixed order: records, matched, ignored, not TCP, outside the window,
    /// NODATA, SKIPDATA.
    pub fn to_array(&self) -> [u64; 7] {
        [
            self.records,
            self.matched,
            self.ignored,
            self.non_tcp,
            self.outside_window,
            self.nodata,
            self.skipdata,
        ]
    }

    /// The inverse of [`RunStats::to_array`].
    pub fn from_array(a: [u64; 7]) -> RunStats {
        let [
            records,
            matched,
            ignored,
            non_tcp,
            outside_window,
            nodata,
            skipdata,
        ] = a;
        RunStats {
            records,
            matched,
            ignored,
            non_tcp,
            outside_window,
            nodata,
            skipdata,
        }
    }

    /// Adds another run's counters.
    pub fn add(&mut self, o: &RunStats) {
        let mut a = self.to_array();
        for (x, y) in a.iter_mut().zip(o.to_array()) {
            *x += y;
        }
        *self = RunStats::from_array(a);
    }
}

/// Every verdict of a run, blocked first.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// The verdicts: blocked, intermittent, unanswered, allowed; then by endpoint and client.
    pub verdicts: Vec<PairVerdict>,
    /// Run counters.
    pub stats: RunStats,
    /// Catalogued endpoints no record touched.
    pub silent_endpoints: Vec<String>,
    /// The verdicts were explained (`--explain`): the explanation columns are present, null
    /// where there is nothing to explain.
    pub explained: bool,
    /// The pairs were checked against expected clients ([`crate::expect::mark`]): the
    /// `unexpected` and `public` columns are present.
    pub flagged: bool,
}

/// RFC 3339, UTC, whole seconds.
pub fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs).map_or_else(|_| secs.to_string(), |t| t.to_string())
}

/// What a pair's attempts add up to: the sums behind its verdict.
#[derive(Clone, Debug, Default)]
struct Totals {
    counts: Counts,
    flags: u16,
    request_tcp: u8,
    reply_tcp: u8,
    records: u64,
    first: i64,
    last: i64,
    ports: (u16, u16),
}

impl Totals {
    /// Adds one attempt on client port `port`.
    fn add(&mut self, port: u16, a: &Attempt) {
        if self.counts.attempts == 0 {
            self.first = a.first;
            self.last = a.last;
            self.ports = (port, port);
        }
        self.counts.add(a);
        self.flags |= a.flags;
        self.request_tcp |= a.request_tcp;
        self.reply_tcp |= a.reply_tcp;
        self.records += u64::from(a.records);
        self.first = self.first.min(a.first);
        self.last = self.last.max(a.last);
        self.ports = (self.ports.0.min(port), self.ports.1.max(port));
    }
}

/// The verdict on one pair, from all of its attempts.
pub(crate) fn judge(
    plan: &Plan,
    enis: &EniTable,
    eni_status: &HashMap<u32, (u64, u64)>,
    (endpoint, client): PairKey,
    state: &PairState,
) -> PairVerdict {
    let e = &plan.catalogue.endpoints[endpoint as usize];
    let mut attempts: Vec<(i64, i64, u16, &Attempt)> = state
        .attempts
        .iter()
        .flat_map(|(&port, list)| {
            list.as_slice()
                .iter()
                .map(move |a| (a.first, a.last, port, a))
        })
        .collect();
    // Time order, with ties broken by the attempts' own fields: the same set of attempts
    // gives the same timeline whatever order they were folded in.
    attempts.sort_unstable_by(|x, y| {
        (x.0, x.1, x.2, x.3.flags, x.3.records).cmp(&(y.0, y.1, y.2, y.3.flags, y.3.records))
    });
    let mut totals = Totals::default();
    let mut timeline = Timeline::default();
    for &(first, _, port, a) in &attempts {
        totals.add(port, a);
        timeline.push(first, a.outcome());
    }
    let counts = totals.counts;
    let verdict = Verdict::from_counts(&counts);
    let (changed_at, latest) = if verdict == Verdict::Intermittent {
        (timeline.since, timeline.latest)
    } else {
        (None, None)
    };
    let side = if totals.flags & flag::SIDE_INFERRED != 0 {
        Side::Inferred
    } else if e.interface_ids.is_empty() {
        Side::FlowDirection
    } else {
        Side::Eni
    };
    let names = EniNames { enis, state };
    let facts = reason::Facts {
        endpoint: e,
        client: addr(client),
        verdict,
        counts: &counts,
        request_tcp: totals.request_tcp,
        reply_tcp: totals.reply_tcp,
        changed_at,
        latest,
        enis: &|bits| names.with(bits),
        reject_reasons: &state.reject_reasons,
    };
    PairVerdict {
        endpoint: e.name.clone(),
        client: addr(client),
        port: e.port,
        verdict,
        counts,
        records: totals.records,
        first_seen: totals.first,
        last_seen: totals.last,
        changed_at,
        latest,
        side,
        confidence: confidence(
            side,
            e,
            enis,
            eni_status,
            state.enis.iter().map(|(id, _)| *id),
        ),
        reason: reason::sentence(&facts),
        client_ports: totals.ports,
        endpoint_enis: names.endpoint_side(),
        reject_reasons: state
            .reject_reasons
            .iter()
            .map(|(r, n)| (r.to_string(), *n))
            .collect(),
        sampled: false,
        unexpected: false,
        public: false,
        timeline: attempts
            .iter()
            .map(|&(first, _, _, a)| (first, a.outcome()))
            .collect(),
        explanation: None,
    }
}

/// Each pair's REJECTs by `reject-reason`, as a map column (`{"BPA": 3}` in JSON).
fn reject_reasons(v: &[PairVerdict]) -> ArrayRef {
    let mut b = MapBuilder::new(None, StringBuilder::new(), UInt64Builder::new());
    for p in v {
        for (reason, n) in &p.reject_reasons {
            b.keys().append_value(reason);
            b.values().append_value(*n);
        }
        b.append(true).expect("keys and values of equal length");
    }
    Arc::new(b.finish())
}

/// The ENI names behind a pair's records.
struct EniNames<'a> {
    enis: &'a EniTable,
    state: &'a PairState,
}

impl EniNames<'_> {
    /// The names of the ENIs that logged records of the kinds in `bits`, sorted.
    fn with(&self, bits: u16) -> Vec<Arc<str>> {
        let mut names: Vec<Arc<str>> = self
            .state
            .enis
            .iter()
            .filter(|(_, b)| b & bits != 0)
            .map(|(id, _)| self.enis.name(*id))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The ENIs on the endpoint's side, REJECTing ones first, each once.
    fn endpoint_side(&self) -> Vec<String> {
        const ENDPOINT: u16 =
            flag::REQ_ACCEPT_ENDPOINT | flag::REP_ACCEPT_ENDPOINT | flag::REP_REJECT_ENDPOINT;
        let mut v: Vec<String> = Vec::new();
        for e in self
            .with(flag::REQ_REJECT_ENDPOINT)
            .iter()
            .chain(&self.with(ENDPOINT))
        {
            if !v.iter().any(|x| x.as_str() == &**e) {
                v.push(e.to_string());
            }
        }
        v
    }
}

/// How sure a verdict is: lowered by NODATA or SKIPDATA on the endpoint's catalogued ENIs or
/// the ENIs the pair's records came from (`pair_enis`, ids of `enis`), and by an inferred side.
pub(crate) fn confidence(
    side: Side,
    e: &Endpoint,
    enis: &EniTable,
    eni_status: &HashMap<u32, (u64, u64)>,
    pair_enis: impl Iterator<Item = u32>,
) -> Confidence {
    let mut confidence = if side == Side::Inferred {
        Confidence::Medium
    } else {
        Confidence::High
    };
    let catalogued = e.interface_ids.iter().filter_map(|i| enis.get(i));
    for id in pair_enis.chain(catalogued) {
        if let Some(&(nodata, skipdata)) = eni_status.get(&id) {
            if skipdata > 0 {
                confidence = Confidence::Low;
            } else if nodata > 0 {
                confidence = confidence.min(Confidence::Medium);
            }
        }
    }
    confidence
}

impl Report {
    /// The report of `verdicts`, sorted blocked first, with the run's counters and the
    /// endpoints of `plan` no record touched.
    pub(crate) fn new(mut verdicts: Vec<PairVerdict>, stats: RunStats, plan: &Plan) -> Report {
        verdicts.sort_by(|a, b| {
            (a.verdict, &a.endpoint, a.client).cmp(&(b.verdict, &b.endpoint, b.client))
        });
        let silent_endpoints = plan
            .catalogue
            .endpoints
            .iter()
            .filter(|e| !verdicts.iter().any(|v| v.endpoint == e.name))
            .map(|e| e.name.clone())
            .collect();
        Report {
            verdicts,
            stats,
            silent_endpoints,
            explained: false,
            flagged: false,
        }
    }
}

impl Report {
    /// Whether any attempt was blocked (the exit code is 1 then).
    pub fn any_blocked(&self) -> bool {
        self.verdicts.iter().any(|v| v.counts.blocked() > 0)
    }

    /// Every verdict as one Arrow batch: the JSON/CSV columns.
    pub fn to_batch(&self) -> RecordBatch {
        let v = &self.verdicts;
        let s = |f: &dyn Fn(&PairVerdict) -> String| -> ArrayRef {
            Arc::new(StringArray::from(v.iter().map(f).collect::<Vec<_>>()))
        };
        let n = |f: &dyn Fn(&PairVerdict) -> u64| -> ArrayRef {
            Arc::new(UInt64Array::from(v.iter().map(f).collect::<Vec<_>>()))
        };
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("endpoint", s(&|p| p.endpoint.clone())),
            ("client", s(&|p| p.client.to_string())),
            (
                "port",
                Arc::new(UInt16Array::from(
                    v.iter().map(|p| p.port).collect::<Vec<_>>(),
                )),
            ),
            ("verdict", s(&|p| p.verdict.as_str().to_owned())),
            ("attempts", n(&|p| p.counts.attempts)),
            ("blocked", n(&|p| p.counts.blocked())),
            ("connected", n(&|p| p.counts.connected)),
            ("blocked_ingress", n(&|p| p.counts.blocked_ingress)),
            ("blocked_return", n(&|p| p.counts.blocked_return)),
            ("blocked_egress", n(&|p| p.counts.blocked_egress)),
            ("unanswered", n(&|p| p.counts.unanswered)),
            ("late_rejects", n(&|p| p.counts.late_rejects)),
            ("records", n(&|p| p.records)),
            ("first_seen", s(&|p| rfc3339(p.first_seen))),
            ("last_seen", s(&|p| rfc3339(p.last_seen))),
            (
                "changed_at",
                Arc::new(StringArray::from(
                    v.iter()
                        .map(|p| p.changed_at.map(rfc3339))
                        .collect::<Vec<_>>(),
                )),
            ),
            (
                "latest_outcome",
                Arc::new(StringArray::from(
                    v.iter()
                        .map(|p| p.latest.map(|o| o.as_str()))
                        .collect::<Vec<_>>(),
                )),
            ),
            ("side", s(&|p| p.side.as_str().to_owned())),
            (
                "side_inferred",
                Arc::new(BooleanArray::from(
                    v.iter()
                        .map(|p| p.side == Side::Inferred)
                        .collect::<Vec<_>>(),
                )),
            ),
            ("confidence", s(&|p| p.confidence.as_str().to_owned())),
            ("reason", s(&|p| p.reason.clone())),
        ];
        let mut columns = columns;
        if v.iter().any(|p| !p.reject_reasons.is_empty()) {
            columns.push(("blocked_by_vpc", n(&|p| p.counts.blocked_by_vpc)));
            columns.push(("reject_reasons", reject_reasons(v)));
        }
        if self.flagged {
            let b = |f: &dyn Fn(&PairVerdict) -> bool| -> ArrayRef {
                Arc::new(BooleanArray::from(v.iter().map(f).collect::<Vec<_>>()))
            };
            columns.push(("unexpected", b(&|p| p.unexpected)));
            columns.push(("public", b(&|p| p.public)));
        }
        if v.iter().any(|p| p.sampled) {
            columns.push((
                "sampled",
                Arc::new(BooleanArray::from(
                    v.iter().map(|p| p.sampled).collect::<Vec<_>>(),
                )),
            ));
        }
        if self.explained || v.iter().any(|p| p.explanation.is_some()) {
            let e = |f: &dyn Fn(&Explanation) -> Option<String>| -> ArrayRef {
                Arc::new(StringArray::from(
                    v.iter()
                        .map(|p| p.explanation.as_ref().and_then(f))
                        .collect::<Vec<_>>(),
                ))
            };
            let b = |f: &dyn Fn(&Explanation) -> bool| -> ArrayRef {
                Arc::new(BooleanArray::from(
                    v.iter()
                        .map(|p| p.explanation.as_ref().map(f))
                        .collect::<Vec<_>>(),
                ))
            };
            columns.extend([
                ("explanation", e(&|x| Some(x.detail.clone()))),
                ("blocked_by", e(&|x| x.blocked_by.clone())),
                ("fix", e(&|x| x.fix.clone())),
                ("self_reference", b(&|x| x.self_reference)),
                ("contradiction", b(&|x| x.contradiction)),
            ]);
        }
        let schema = Schema::new(
            columns
                .iter()
                .map(|(name, a)| {
                    let nullable =
                        a.null_count() > 0 || matches!(*name, "changed_at" | "latest_outcome");
                    Field::new(*name, a.data_type().clone(), nullable)
                })
                .collect::<Vec<_>>(),
        );
        RecordBatch::try_new(
            Arc::new(schema),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .expect("columns of equal length")
    }

    /// The columns the table shows, in order.
    pub const TABLE_COLUMNS: &'static [&'static str] = &[
        "verdict",
        "endpoint",
        "client",
        "port",
        "attempts",
        "blocked",
        "connected",
        "confidence",
        "first_seen",
        "last_seen",
        "reason",
    ];

    /// The verdicts as a batch of [`Report::TABLE_COLUMNS`].
    pub fn to_table_batch(&self) -> RecordBatch {
        let batch = self.to_batch();
        let schema = batch.schema();
        let indices: Vec<usize> = Self::TABLE_COLUMNS
            .iter()
            .filter_map(|c| schema.index_of(c).ok())
            .collect();
        batch.project(&indices).expect("the table columns exist")
    }
}
