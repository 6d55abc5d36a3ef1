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
    if c.late_rejects > 0 {
        reason.push_str(&format!(
            "; {} REJECTs after connections closed were late packets, not blocks",
            c.late_rejects
        ));
    }
    reason
}
