//! Turning the aggregated state into verdicts, reasons and an Arrow batch.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use arrow_array::{ArrayRef, BooleanArray, RecordBatch, StringArray, UInt16Array, UInt64Array};
use arrow_schema::{Field, Schema};

use crate::engine::{Aggregator, PairState, addr};
use crate::outcome::{Counts, Outcome, Verdict, flag, tcp};

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
    /// How the side records were seen on was decided: `eni`, `flow-direction` or `inferred`.
    pub side: &'static str,
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
}

/// RFC 3339, UTC, whole seconds.
pub fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs).map_or_else(|_| secs.to_string(), |t| t.to_string())
}

impl Aggregator {
    /// Computes the verdicts.
    pub fn report(&self) -> Report {
        let c = &self.counters;
        let stats = RunStats {
            records: c.records.load(Ordering::Relaxed),
            matched: c.matched.load(Ordering::Relaxed),
            ignored: c.ignored.load(Ordering::Relaxed),
            non_tcp: c.non_tcp.load(Ordering::Relaxed),
            outside_window: c.outside_window.load(Ordering::Relaxed),
            nodata: c.nodata.load(Ordering::Relaxed),
            skipdata: c.skipdata.load(Ordering::Relaxed),
        };
        let mut verdicts: Vec<PairVerdict> = self
            .pairs
            .iter()
            .map(|entry| self.judge(entry.key().0, entry.key().1, entry.value()))
            .collect();
        verdicts.sort_by(|a, b| {
            (a.verdict, &a.endpoint, a.client).cmp(&(b.verdict, &b.endpoint, b.client))
        });
        let silent_endpoints = self
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
        }
    }

    fn judge(&self, endpoint: u32, client: [u8; 16], state: &PairState) -> PairVerdict {
        let e = &self.catalogue.endpoints[endpoint as usize];
        let client = addr(client);
        // Sealed attempts first (they are the older ones), then the open ones in time order.
        let sealed = state.sealed.as_deref().cloned().unwrap_or_default();
        let mut counts = sealed.counts;
        let mut flags = sealed.flags;
        let mut first = if sealed.records > 0 {
            sealed.first
        } else {
            i64::MAX
        };
        let mut last = if sealed.records > 0 {
            sealed.last
        } else {
            i64::MIN
        };
        let mut records = sealed.records;
        let mut timeline: Vec<(i64, Outcome)> = Vec::with_capacity(state.attempts.len());
        let mut request_tcp = sealed.request_tcp;
        let mut reply_tcp = sealed.reply_tcp;
        let mut client_ports = if sealed.records > 0 {
            sealed.ports
        } else {
            (u16::MAX, 0u16)
        };
        for (&port, a) in &state.attempts {
            client_ports = (client_ports.0.min(port), client_ports.1.max(port));
            counts.add(a);
            flags |= a.flags;
            first = first.min(a.first);
            last = last.max(a.last);
            records += u64::from(a.records);
            request_tcp |= a.request_tcp;
            reply_tcp |= a.reply_tcp;
            timeline.push((a.first, a.outcome()));
        }
        let verdict = Verdict::from_counts(&counts);
        let (changed_at, latest) = if verdict == Verdict::Intermittent {
            timeline.sort();
            let mut t = sealed.timeline;
            for (at, o) in timeline {
                t.push(at, o);
            }
            (t.since, t.latest)
        } else {
            (None, None)
        };
        // The ENI names behind each kind of record, smallest first, for stable reasons.
        let enis_with = |bits: u16| -> Vec<Arc<str>> {
            let mut names: Vec<Arc<str>> = state
                .enis
                .iter()
                .filter(|(_, b)| b & bits != 0)
                .map(|(id, _)| self.eni_name(*id))
                .collect();
            names.sort();
            names.dedup();
            names
        };
        let side = if flags & flag::SIDE_INFERRED != 0 {
            "inferred"
        } else if e.interface_ids.is_empty() {
            "flow-direction"
        } else {
            "eni"
        };
        // NODATA/SKIPDATA on the endpoint's ENIs or the ENIs this pair's records came from.
        let mut confidence = if side == "inferred" {
            Confidence::Medium
        } else {
            Confidence::High
        };
        let ids: Vec<u32> = state.enis.iter().map(|(id, _)| *id).collect();
        let catalogued: Vec<u32> = self
            .eni_names
            .read()
            .map(|n| {
                e.interface_ids
                    .iter()
                    .filter_map(|i| n.1.get(i.as_str()).copied())
                    .collect()
            })
            .unwrap_or_default();
        for id in ids.iter().chain(&catalogued) {
            if let Some(s) = self.eni_status.get(id) {
                if s.1 > 0 {
                    confidence = Confidence::Low;
                } else if s.0 > 0 {
                    confidence = confidence.min(Confidence::Medium);
                }
            }
        }
        let dominant = counts.dominant_block();
        let service = format!("tcp/{}", e.port);
        let list = |v: Vec<Arc<str>>| -> String {
            if v.is_empty() {
                "an ENI not in the logs".to_owned()
            } else {
                v.join(", ")
            }
        };
        let block_reason = |o: Outcome| -> String {
            match o {
                Outcome::BlockedIngress => format!(
                    "REJECTed inbound at {}: no security group or NACL rule admits {client} on {service}",
                    list(enis_with(flag::REQ_REJECT_ENDPOINT))
                ),
                Outcome::BlockedEgress => format!(
                    "REJECTed outbound at the client's {}: its security group or NACL lets nothing out to {} on {service}",
                    list(enis_with(flag::REQ_REJECT_CLIENT)),
                    e.name
                ),
                Outcome::BlockedReturn => format!(
                    "ACCEPTed inbound at {}, but the reply to {client} was REJECTed at {}{}: security groups are stateful, so a network ACL blocks the return traffic to the client's ephemeral ports",
                    list(enis_with(
                        flag::REQ_ACCEPT_ENDPOINT | flag::REQ_ACCEPT_CLIENT
                    )),
                    list(enis_with(
                        flag::REP_REJECT_ENDPOINT | flag::REP_REJECT_CLIENT
                    )),
                    if reply_tcp & tcp::SYN_ACK == tcp::SYN_ACK {
                        " (the server had answered with SYN-ACK)"
                    } else {
                        ""
                    }
                ),
                _ => String::new(),
            }
        };
        let mut reason = match verdict {
            Verdict::Blocked => block_reason(dominant.unwrap_or(Outcome::BlockedIngress)),
            Verdict::Allowed => format!(
                "{} of {} attempts connected: request and reply ACCEPTed",
                counts.connected, counts.attempts
            ),
            Verdict::Unanswered => format!(
                "ACCEPTed at {}, but no reply was recorded and nothing was REJECTed{}: the database did not answer on {service}, or the reply is logged on an ENI not in the input",
                list(enis_with(flag::REQ_ACCEPT)),
                if request_tcp & tcp::SYN != 0 {
                    " (SYN only)"
                } else {
                    ""
                }
            ),
            Verdict::Intermittent => {
                let mut r = format!(
                    "{} of {} attempts blocked, {} connected",
                    counts.blocked(),
                    counts.attempts,
                    counts.connected
                );
                if let Some(o) = dominant {
                    r.push_str(&format!(" ({})", block_reason(o)));
                }
                if let (Some(at), Some(o)) = (changed_at, latest) {
                    r.push_str(&format!(
                        "; {} since {}: a rule changed then",
                        o.as_str().replace('_', " "),
                        rfc3339(at)
                    ));
                }
                r
            }
        };
        if counts.late_rejects > 0 {
            reason.push_str(&format!(
                "; {} REJECTs after connections closed were late packets, not blocks",
                counts.late_rejects
            ));
        }
        PairVerdict {
            endpoint: e.name.clone(),
            client,
            port: e.port,
            verdict,
            counts,
            records,
            first_seen: first,
            last_seen: last,
            changed_at,
            latest,
            side,
            confidence,
            reason,
            client_ports: (client_ports.0.min(client_ports.1), client_ports.1),
            endpoint_enis: {
                const ENDPOINT: u16 = flag::REQ_ACCEPT_ENDPOINT
                    | flag::REP_ACCEPT_ENDPOINT
                    | flag::REP_REJECT_ENDPOINT;
                // REJECTing ENIs first; an ENI in both lists once.
                let mut v: Vec<String> = Vec::new();
                for e in enis_with(flag::REQ_REJECT_ENDPOINT)
                    .iter()
                    .chain(&enis_with(ENDPOINT))
                {
                    if !v.iter().any(|x| x.as_str() == &**e) {
                        v.push(e.to_string());
                    }
                }
                v
            },
            explanation: None,
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
            ("side", s(&|p| p.side.to_owned())),
            (
                "side_inferred",
                Arc::new(BooleanArray::from(
                    v.iter().map(|p| p.side == "inferred").collect::<Vec<_>>(),
                )),
            ),
            ("confidence", s(&|p| p.confidence.as_str().to_owned())),
            ("reason", s(&|p| p.reason.clone())),
        ];
        let mut columns = columns;
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
