//! Verdicts as OCSF 1.1.0 events: one **Network Activity** event (class 4001) per pair verdict,
//! aggregated over the pair's attempts (`count`, `start_time`, `end_time`).
//!
//! Why Network Activity and not Detection Finding (2004): a verdict is a summary of the same
//! flows the record events describe, between the same two endpoints, so it lands in the same
//! Security Lake table and SIEM index as the records, can be joined with them on the endpoints,
//! and is validated by the same schema. Its severity says what matters: a blocked pair is
//! Medium, a connection the endpoint did not expect is High.

use serde_json::{Map, Value, json};
use vpcflow_verdict::{PairVerdict, Report, Verdict, rfc3339};

/// The OCSF event of every verdict of the report.
pub fn events(report: &Report) -> impl Iterator<Item = Value> + '_ {
    report.verdicts.iter().map(event)
}

fn event(v: &PairVerdict) -> Value {
    let blocked = v.counts.blocked() > 0;
    let (activity_id, activity) = if blocked {
        (5, "Refuse")
    } else {
        (6, "Traffic")
    };
    let (action_id, action) = if blocked {
        (2, "Denied")
    } else {
        (1, "Allowed")
    };
    let (disposition_id, disposition) = match v.verdict {
        Verdict::Blocked | Verdict::Intermittent => (2, "Blocked"),
        Verdict::Allowed => (1, "Allowed"),
        Verdict::Unanswered => (0, "Unknown"),
    };
    let (severity_id, severity) = if v.unexpected {
        (4, "High")
    } else if blocked {
        (3, "Medium")
    } else if v.verdict == Verdict::Unanswered {
        (2, "Low")
    } else {
        (1, "Informational")
    };
    let mut e = Map::new();
    e.insert("activity_id".into(), json!(activity_id));
    e.insert("activity_name".into(), json!(activity));
    e.insert("action_id".into(), json!(action_id));
    e.insert("action".into(), json!(action));
    e.insert("disposition_id".into(), json!(disposition_id));
    e.insert("disposition".into(), json!(disposition));
    e.insert("category_uid".into(), json!(4));
    e.insert("category_name".into(), json!("Network Activity"));
    e.insert("class_uid".into(), json!(4001));
    e.insert("class_name".into(), json!("Network Activity"));
    e.insert("type_uid".into(), json!(400100 + activity_id));
    e.insert(
        "type_name".into(),
        json!(format!("Network Activity: {activity}")),
    );
    e.insert("severity_id".into(), json!(severity_id));
    e.insert("severity".into(), json!(severity));
    e.insert("count".into(), json!(v.counts.attempts));
    let ms = |secs: i64| secs.saturating_mul(1000);
    e.insert("time".into(), json!(ms(v.last_seen)));
    e.insert("time_dt".into(), json!(rfc3339(v.last_seen)));
    e.insert("start_time".into(), json!(ms(v.first_seen)));
    e.insert("start_time_dt".into(), json!(rfc3339(v.first_seen)));
    e.insert("end_time".into(), json!(ms(v.last_seen)));
    e.insert("end_time_dt".into(), json!(rfc3339(v.last_seen)));
    e.insert("message".into(), json!(v.reason));
    e.insert(
        "metadata".into(),
        json!({
            "product": {
                "name": "vpcflow",
                "vendor_name": "vpcflow",
                "feature": {"name": "verdict"},
                "version": env!("CARGO_PKG_VERSION"),
            },
            "profiles": ["cloud", "security_control", "datetime"],
            "version": "1.1.0",
        }),
    );
    e.insert("cloud".into(), json!({"provider": "AWS"}));
    e.insert("src_endpoint".into(), json!({"ip": v.client.to_string()}));
    let mut dst = Map::new();
    dst.insert("name".into(), json!(v.endpoint));
    dst.insert("port".into(), json!(v.port));
    if let Some(eni) = v.endpoint_enis.first() {
        dst.insert("interface_uid".into(), json!(eni));
    }
    e.insert("dst_endpoint".into(), Value::Object(dst));
    e.insert(
        "connection_info".into(),
        json!({"protocol_num": 6, "protocol_name": "tcp", "direction_id": 1, "direction": "Inbound"}),
    );
    let c = &v.counts;
    let mut u = Map::new();
    u.insert("verdict".into(), json!(v.verdict.as_str()));
    u.insert("attempts".into(), json!(c.attempts));
    u.insert("connected".into(), json!(c.connected));
    u.insert("blocked_ingress".into(), json!(c.blocked_ingress));
    u.insert("blocked_return".into(), json!(c.blocked_return));
    u.insert("blocked_egress".into(), json!(c.blocked_egress));
    u.insert("unanswered".into(), json!(c.unanswered));
    u.insert("late_rejects".into(), json!(c.late_rejects));
    u.insert("records".into(), json!(v.records));
    u.insert("confidence".into(), json!(v.confidence.as_str()));
    u.insert("side".into(), json!(v.side.as_str()));
    u.insert("unexpected".into(), json!(v.unexpected));
    u.insert("public".into(), json!(v.public));
    if let Some(at) = v.changed_at {
        u.insert("changed_at".into(), json!(rfc3339(at)));
    }
    if let Some(o) = v.latest {
        u.insert("latest_outcome".into(), json!(o.as_str()));
    }
    if !v.reject_reasons.is_empty() {
        let reasons: Map<String, Value> = v
            .reject_reasons
            .iter()
            .map(|(r, n)| (r.clone(), json!(n)))
            .collect();
        u.insert("reject_reasons".into(), Value::Object(reasons));
    }
    if let Some(x) = &v.explanation {
        e.insert("status_detail".into(), json!(x.detail));
        if let Some(b) = &x.blocked_by {
            u.insert("blocked_by".into(), json!(b));
        }
        if let Some(f) = &x.fix {
            u.insert("fix".into(), json!(f));
        }
        u.insert("contradiction".into(), json!(x.contradiction));
        u.insert("self_reference".into(), json!(x.self_reference));
    }
    e.insert("unmapped".into(), Value::Object(u));
    Value::Object(e)
}
