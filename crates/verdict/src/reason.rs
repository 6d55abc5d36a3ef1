//! The one-sentence `reason` of a verdict.

use std::net::IpAddr;
use std::sync::Arc;

use crate::catalogue::Endpoint;
use crate::outcome::{Counts, Outcome, Verdict, flag, tcp};
use crate::report::rfc3339;

/// What a reason is made of.
pub(crate) struct Facts<'a> {
    pub endpoint: &'a Endpoint,
    pub client: IpAddr,
    pub verdict: Verdict,
    pub counts: &'a Counts,
    pub request_tcp: u8,
    pub reply_tcp: u8,
    pub changed_at: Option<i64>,
    pub latest: Option<Outcome>,
    /// The ENIs that logged records of the kinds in the bits, sorted.
    pub enis: &'a dyn Fn(u16) -> Vec<Arc<str>>,
    /// REJECT records by `reject-reason`, sorted by value.
    pub reject_reasons: &'a [(Arc<str>, u64)],
}

/// What a `reject-reason` value means, in words.
pub fn reject_reason_words(value: &str) -> &'static str {
    match value {
        "BPA" => "VPC Block Public Access",
        _ => "a VPC-level control",
    }
}

/// `VPC Block Public Access (reject-reason BPA)`, for every value the pair's REJECTs carried.
fn vpc_controls(f: &Facts<'_>) -> String {
    let named: Vec<String> = f
        .reject_reasons
        .iter()
        .map(|(v, _)| format!("{} (reject-reason {v})", reject_reason_words(v)))
        .collect();
    named.join(" and ")
}

fn list(v: Vec<Arc<str>>) -> String {
    if v.is_empty() {
        "an ENI not in the logs".to_owned()
    } else {
        v.join(", ")
    }
}

/// Why attempts met `o`, a kind of block.
fn block(f: &Facts<'_>, o: Outcome) -> String {
    let (client, service) = (f.client, format!("tcp/{}", f.endpoint.port));
    if f.counts.blocked_by_vpc > 0 && f.counts.blocked_by_vpc == f.counts.blocked() {
        return vpc_block(f, o);
    }
    match o {
        Outcome::BlockedIngress => format!(
            "REJECTed inbound at {}: no security group or NACL rule admits {client} on {service}",
            list((f.enis)(flag::REQ_REJECT_ENDPOINT))
        ),
        Outcome::BlockedEgress => format!(
            "REJECTed outbound at the client's {}: its security group or NACL lets nothing out to {} on {service}",
            list((f.enis)(flag::REQ_REJECT_CLIENT)),
            f.endpoint.name
        ),
        Outcome::BlockedReturn => format!(
            "ACCEPTed inbound at {}, but the reply to {client} was REJECTed at {}{}: security groups are stateful, so a network ACL blocks the return traffic to the client's ephemeral ports",
            list((f.enis)(flag::REQ_ACCEPT)),
            list((f.enis)(flag::REP_REJECT)),
            if f.reply_tcp & tcp::SYN_ACK == tcp::SYN_ACK {
                " (the server had answered with SYN-ACK)"
            } else {
                ""
            }
        ),
        Outcome::Connected | Outcome::Unanswered => String::new(),
    }
}

/// Why attempts met `o` when every REJECT carried a `reject-reason`: a VPC-level control, not a
/// security group or NACL.
fn vpc_block(f: &Facts<'_>, o: Outcome) -> String {
    let (client, controls) = (f.client, vpc_controls(f));
    let service = format!("tcp/{}", f.endpoint.port);
    let not = "not by a security group or NACL: the control applies at the VPC level, whatever the rules allow";
    match o {
        Outcome::BlockedEgress => format!(
            "REJECTed outbound at the client's {} by {controls}, {not}",
            list((f.enis)(flag::REQ_REJECT_CLIENT))
        ),
        Outcome::BlockedReturn => format!(
            "ACCEPTed inbound at {}, but the reply to {client} was REJECTed at {} by {controls}, {not}",
            list((f.enis)(flag::REQ_ACCEPT)),
            list((f.enis)(flag::REP_REJECT))
        ),
        _ => format!(
            "REJECTed inbound at {} by {controls} ({client} on {service}), {not}",
            list((f.enis)(flag::REQ_REJECT_ENDPOINT))
        ),
    }
}

/// The sentence.
pub(crate) fn sentence(f: &Facts<'_>) -> String {
    let c = f.counts;
    let dominant = c.dominant_block();
    let mut reason = match f.verdict {
        Verdict::Blocked => block(f, dominant.unwrap_or(Outcome::BlockedIngress)),
        Verdict::Allowed => format!(
            "{} of {} attempts connected: request and reply ACCEPTed",
            c.connected, c.attempts
        ),
        Verdict::Unanswered => format!(
            "ACCEPTed at {}, but no reply was recorded and nothing was REJECTed{}: the database did not answer on tcp/{}, or the reply is logged on an ENI not in the input",
            list((f.enis)(flag::REQ_ACCEPT)),
            if f.request_tcp & tcp::SYN != 0 {
                " (SYN only)"
            } else {
                ""
            },
            f.endpoint.port
        ),
        Verdict::Intermittent => {
            let mut r = format!(
                "{} of {} attempts blocked, {} connected",
                c.blocked(),
                c.attempts,
                c.connected
            );
            if let Some(o) = dominant {
                r.push_str(&format!(" ({})", block(f, o)));
            }
            if let (Some(at), Some(o)) = (f.changed_at, f.latest) {
                r.push_str(&format!(
                    "; {} since {}: a rule changed then",
                    o.as_str().replace('_', " "),
                    rfc3339(at)
                ));
            }
            r
        }
    };
    if c.blocked_by_vpc > 0 && c.blocked_by_vpc < c.blocked() {
        reason.push_str(&format!(
            "; {} of the {} blocked attempts were REJECTed by {}, not by a rule",
            c.blocked_by_vpc,
            c.blocked(),
            vpc_controls(f)
        ));
    }
    if c.late_rejects > 0 {
        reason.push_str(&format!(
            "; {} REJECTs after connections closed were late packets, not blocks",
            c.late_rejects
        ));
    }
    reason
}
