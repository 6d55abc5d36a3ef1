//! The verdict semantics of docs/verdicts.md, case by case, on decoded flow-log text.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use vpcflow_core::{Decoder, DecoderOptions, LogFormat, Reader};
use vpcflow_verdict::{
    Aggregator, Catalogue, Confidence, Outcome, PairVerdict, Plan, Report, Side, Verdict,
    VerdictState,
};

const CATALOGUE: &str = r#"
[[endpoint]]
name = "db"
address = "10.0.3.213"
port = 3306
interface_id = "eni-db"

[[endpoint]]
name = "pg6"
address = "2001:db8:3::5"
port = 5432
interface_id = "eni-pg6"

[[endpoint]]
name = "noeni"
address = "10.0.4.4"
port = 3306
"#;

const V5: &str = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${tcp-flags} ${pkt-srcaddr} ${pkt-dstaddr} ${flow-direction}";

/// Decodes `text` in `format` (None: the default v2 format) with batches of `batch` rows,
/// aggregates on `threads` threads, and reports.
fn judge_with(format: Option<&str>, text: &str, batch: usize, threads: usize) -> Report {
    let catalogue = Catalogue::from_toml(CATALOGUE, "test").unwrap();
    let agg = Aggregator::new(catalogue, None, None);
    let opts = DecoderOptions {
        batch_size: batch,
        format: format.map(|f| LogFormat::parse(f).unwrap()),
        ..DecoderOptions::default()
    };
    let batches: Vec<_> = Reader::new(text.as_bytes(), Decoder::new(opts), "t")
        .collect::<Result<_, _>>()
        .unwrap();
    std::thread::scope(|s| {
        for part in batches.chunks(batches.len().div_ceil(threads).max(1)) {
            let agg = &agg;
            s.spawn(move || {
                let mut w = agg.worker();
                for b in part {
                    w.add_batch(b).unwrap();
                }
            });
        }
    });
    agg.report().unwrap()
}

fn judge(format: Option<&str>, text: &str) -> Report {
    judge_with(format, text, 8192, 1)
}

fn only(report: &Report) -> &PairVerdict {
    assert_eq!(report.verdicts.len(), 1, "{:#?}", report.verdicts);
    &report.verdicts[0]
}

// v2 lines: version account eni src dst sport dport proto packets bytes start end action status
fn v2(eni: &str, src: &str, dst: &str, sport: u16, dport: u16, t: i64, action: &str) -> String {
    format!(
        "2 123456789012 {eni} {src} {dst} {sport} {dport} 6 3 180 {t} {} {action} OK\n",
        t + 59
    )
}

#[test]
fn blocked_ingress_v2_with_enis_from_the_catalogue() {
    let text = v2(
        "eni-client",
        "10.0.1.10",
        "10.0.3.213",
        50000,
        3306,
        100,
        "ACCEPT",
    ) + &v2(
        "eni-db",
        "10.0.1.10",
        "10.0.3.213",
        50000,
        3306,
        100,
        "REJECT",
    );
    let r = judge(None, &text);
    let v = only(&r);
    assert_eq!(
        (v.verdict, v.counts.blocked_ingress, v.counts.attempts),
        (Verdict::Blocked, 1, 1)
    );
    assert_eq!(v.side, Side::Eni);
    assert_eq!(
        v.reason,
        "REJECTed inbound at eni-db: no security group or NACL rule admits 10.0.1.10 on tcp/3306"
    );
    assert_eq!((v.first_seen, v.last_seen), (100, 159));
    assert!(r.any_blocked());
}

#[test]
fn nacl_blocks_the_return_traffic() {
    let text = v2(
        "eni-db",
        "10.0.1.10",
        "10.0.3.213",
        50000,
        3306,
        100,
        "ACCEPT",
    ) + &v2(
        "eni-db",
        "10.0.3.213",
        "10.0.1.10",
        3306,
        50000,
        100,
        "REJECT",
    );
    let v = only(&judge(None, &text)).clone();
    assert_eq!(v.verdict, Verdict::Blocked);
    assert_eq!(v.counts.blocked_return, 1);
    assert!(v.reason.contains("network ACL"), "{}", v.reason);
}

#[test]
fn client_egress_blocked() {
    let text = v2(
        "eni-client",
        "10.0.1.10",
        "10.0.3.213",
        50000,
        3306,
        100,
        "REJECT",
    );
    let v = only(&judge(None, &text)).clone();
    assert_eq!((v.verdict, v.counts.blocked_egress), (Verdict::Blocked, 1));
    assert!(
        v.reason
            .starts_with("REJECTed outbound at the client's eni-client"),
        "{}",
        v.reason
    );
}

#[test]
fn connected_with_late_rejects_stays_connected() {
    let text = v2(
        "eni-db",
        "10.0.1.10",
        "10.0.3.213",
        50000,
        3306,
        100,
        "ACCEPT",
    ) + &v2(
        "eni-db",
        "10.0.3.213",
        "10.0.1.10",
        3306,
        50000,
        100,
        "ACCEPT",
    ) + &v2(
        "eni-db",
        "10.0.1.10",
        "10.0.3.213",
        50000,
        3306,
        200,
        "REJECT",
    );
    let v = only(&judge(None, &text)).clone();
    assert_eq!(v.verdict, Verdict::Allowed);
    assert_eq!((v.counts.connected, v.counts.late_rejects), (1, 1));
    assert!(!judge(None, &text).any_blocked());
}

#[test]
fn unanswered_when_nothing_comes_back() {
    let text = v2(
        "eni-db",
        "10.0.1.10",
        "10.0.3.213",
        50000,
        3306,
        100,
        "ACCEPT",
    );
    let v = only(&judge(None, &text)).clone();
    assert_eq!((v.verdict, v.counts.unanswered), (Verdict::Unanswered, 1));
}

#[test]
fn ipv6_endpoint() {
    let text = v2(
        "eni-pg6",
        "2001:db8:1::10",
        "2001:db8:3::5",
        50000,
        5432,
        100,
        "REJECT",
    );
    let v = only(&judge(None, &text)).clone();
    assert_eq!(v.endpoint, "pg6");
    assert_eq!(v.client.to_string(), "2001:db8:1::10");
    assert_eq!(v.verdict, Verdict::Blocked);
}

#[test]
fn nat_traffic_matches_on_pkt_addresses() {
    // On the NAT gateway's ENI the packet addresses hold the real client and database.
    let line = "5 eni-nat 10.0.9.9 10.0.9.1 50000 3306 6 3 180 100 159 REJECT OK 2 10.0.1.10 10.0.3.213 ingress\n";
    let v = only(&judge(Some(V5), line)).clone();
    assert_eq!(v.endpoint, "db");
    assert_eq!(v.client.to_string(), "10.0.1.10");
    // eni-nat is not the database's ENI: the REJECT is on the client's side of the path.
    assert_eq!(v.counts.blocked_egress, 1);
}

#[test]
fn flow_direction_decides_the_side_without_enis() {
    let ingress = "5 eni-x 10.0.1.10 10.0.4.4 50000 3306 6 3 180 100 159 REJECT OK 2 - - ingress\n";
    let egress = "5 eni-y 10.0.1.10 10.0.4.4 50000 3306 6 3 180 100 159 REJECT OK 2 - - egress\n";
    let a = only(&judge(Some(V5), ingress)).clone();
    assert_eq!((a.counts.blocked_ingress, a.side), (1, Side::FlowDirection));
    let b = only(&judge(Some(V5), egress)).clone();
    assert_eq!(b.counts.blocked_egress, 1);
    // v2: no ENI, no direction: inferred, at the endpoint, and said so.
    let c = only(&judge(
        None,
        &v2("eni-z", "10.0.1.10", "10.0.4.4", 50000, 3306, 100, "REJECT"),
    ))
    .clone();
    assert_eq!(
        (c.counts.blocked_ingress, c.side, c.confidence),
        (1, Side::Inferred, Confidence::Medium)
    );
}

#[test]
fn tcp_flags_complete_a_handshake_without_a_logged_reply() {
    let line =
        "5 eni-client 10.0.1.10 10.0.3.213 50000 3306 6 12 1500 100 159 ACCEPT OK 3 - - egress\n";
    assert_eq!(only(&judge(Some(V5), line)).verdict, Verdict::Allowed);
    let syn_only =
        "5 eni-client 10.0.1.10 10.0.3.213 50000 3306 6 6 360 100 159 ACCEPT OK 2 - - egress\n";
    assert_eq!(
        only(&judge(Some(V5), syn_only)).verdict,
        Verdict::Unanswered
    );
}

#[test]
fn intermittent_says_when_it_changed() {
    let text = v2(
        "eni-db",
        "10.0.1.10",
        "10.0.3.213",
        50000,
        3306,
        100,
        "REJECT",
    ) + &v2(
        "eni-db",
        "10.0.1.10",
        "10.0.3.213",
        50001,
        3306,
        200,
        "REJECT",
    ) + &v2(
        "eni-db",
        "10.0.1.10",
        "10.0.3.213",
        50002,
        3306,
        600,
        "ACCEPT",
    ) + &v2(
        "eni-db",
        "10.0.3.213",
        "10.0.1.10",
        3306,
        50002,
        600,
        "ACCEPT",
    );
    let v = only(&judge(None, &text)).clone();
    assert_eq!(v.verdict, Verdict::Intermittent);
    assert_eq!((v.counts.blocked(), v.counts.connected), (2, 1));
    assert_eq!(v.changed_at, Some(600));
    assert_eq!(v.latest, Some(Outcome::Connected));
    assert!(
        v.reason.contains("connected since 1970-01-01T00:10:00Z"),
        "{}",
        v.reason
    );
}

#[test]
fn nodata_and_skipdata_lower_confidence_and_unrelated_records_are_counted() {
    let text = v2(
        "eni-db",
        "10.0.1.10",
        "10.0.3.213",
        50000,
        3306,
        100,
        "REJECT",
    ) + "2 123456789012 eni-db - - - - - - - 0 59 - SKIPDATA\n"
        + &v2(
            "eni-web",
            "10.0.1.10",
            "93.184.216.34",
            50000,
            443,
            100,
            "ACCEPT",
        )
        + "2 123456789012 eni-db 10.0.1.10 10.0.3.213 0 3306 17 1 80 100 159 ACCEPT OK\n";
    let r = judge(None, &text);
    let v = only(&r);
    assert_eq!(v.confidence, Confidence::Low);
    assert_eq!(r.stats.skipdata, 1);
    assert_eq!(r.stats.ignored, 1);
    assert_eq!(r.stats.non_tcp, 1);
    assert_eq!(r.stats.matched, 1);
    assert_eq!(r.silent_endpoints, ["pg6", "noeni"]);
}

#[test]
fn the_same_records_in_a_custom_order_give_the_same_verdicts() {
    let v5 = "5 eni-db 10.0.1.10 10.0.3.213 50000 3306 6 3 180 100 159 ACCEPT OK 2 - - ingress\n\
              5 eni-db 10.0.3.213 10.0.1.10 3306 50000 6 3 180 100 159 REJECT OK 18 - - egress\n";
    let custom = "${action} ${dstport} ${srcport} ${dstaddr} ${srcaddr} ${interface-id} ${protocol} ${start} ${end}";
    let text = "ACCEPT 3306 50000 10.0.3.213 10.0.1.10 eni-db 6 100 159\n\
                REJECT 50000 3306 10.0.1.10 10.0.3.213 eni-db 6 100 159\n";
    let a = only(&judge(Some(V5), v5)).clone();
    let b = only(&judge(Some(custom), text)).clone();
    assert_eq!(a.verdict, Verdict::Blocked);
    assert_eq!(
        (a.verdict, a.counts, a.reason.clone()),
        (b.verdict, b.counts, b.reason.clone())
    );
}

fn scenario_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..40u16 {
        let t = 100 + i64::from(i) * 60;
        let client = format!("10.0.1.{}", 10 + i % 4);
        let port = 50000 + i;
        match i % 5 {
            0 => lines.push(v2("eni-db", &client, "10.0.3.213", port, 3306, t, "REJECT")),
            1 => {
                lines.push(v2("eni-db", &client, "10.0.3.213", port, 3306, t, "ACCEPT"));
                lines.push(v2("eni-db", "10.0.3.213", &client, 3306, port, t, "ACCEPT"));
            }
            2 => {
                lines.push(v2("eni-db", &client, "10.0.3.213", port, 3306, t, "ACCEPT"));
                lines.push(v2(
                    "eni-db",
                    "10.0.3.213",
                    &client,
                    3306,
                    port,
                    t + 60,
                    "REJECT",
                ));
            }
            3 => lines.push(v2("eni-cl", &client, "10.0.3.213", port, 3306, t, "REJECT")),
            _ => lines.push(v2(
                "eni-pg6",
                "2001:db8:1::10",
                "2001:db8:3::5",
                port,
                5432,
                t,
                "ACCEPT",
            )),
        }
    }
    lines
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    /// Verdicts do not depend on record order, batch size or thread count.
    #[test]
    fn verdicts_ignore_order_batching_and_threads(
        order in Just(scenario_lines()).prop_shuffle(),
        batch in 1usize..20,
        threads in 1usize..4,
    ) {
        let reference = judge(None, &scenario_lines().concat()).verdicts;
        prop_assert!(reference.len() >= 4);
        let shuffled = judge_with(None, &order.concat(), batch, threads).verdicts;
        prop_assert_eq!(shuffled, reference);
    }
}

fn decode(text: &str, batch: usize) -> Vec<arrow_array::RecordBatch> {
    Reader::new(
        text.as_bytes(),
        Decoder::new(DecoderOptions {
            batch_size: batch,
            ..DecoderOptions::default()
        }),
        "t",
    )
    .collect::<Result<_, _>>()
    .unwrap()
}

fn catalogue() -> Catalogue {
    Catalogue::from_toml(CATALOGUE, "test").unwrap()
}

#[test]
fn a_state_written_and_read_into_a_fresh_aggregator_gives_the_same_verdicts() {
    let lines = scenario_lines();
    let (first, second) = lines.split_at(lines.len() / 2);
    let reference = judge(None, &lines.concat());
    // Run one: the first half, then its state in bytes (as a checkpoint file holds it).
    let one = Aggregator::new(catalogue(), None, None);
    for b in decode(&first.concat(), 8192) {
        one.worker().add_batch(&b).unwrap();
    }
    let mut bytes = Vec::new();
    one.write_state(&mut bytes).unwrap();
    // Run two: read it, then the second half.
    let two = Aggregator::new(catalogue(), None, None);
    two.read_state(&bytes[..]).unwrap();
    for b in decode(&second.concat(), 8192) {
        two.worker().add_batch(&b).unwrap();
    }
    let resumed = two.report().unwrap();
    assert_eq!(resumed.verdicts, reference.verdicts);
    assert_eq!(resumed.stats, reference.stats);
    let state = |agg: &Aggregator| {
        let mut bytes = Vec::new();
        agg.write_state(&mut bytes).unwrap();
        VerdictState::decode(agg.plan().clone(), &bytes).unwrap()
    };
    let all = Aggregator::new(catalogue(), None, None);
    for b in decode(&lines.concat(), 8192) {
        all.worker().add_batch(&b).unwrap();
    }
    assert_eq!(state(&two), state(&all));
    // Uncommitted work is not in the state.
    let three = Aggregator::new(catalogue(), None, None);
    let mut w = three.worker();
    for b in decode(&first.concat(), 8192) {
        w.fold(&b).unwrap();
    }
    assert!(state(&three).is_empty());
    w.commit();
    assert!(!state(&three).is_empty());
    assert_eq!(state(&three), state(&one));
}

#[test]
fn a_state_of_another_catalogue_is_refused_by_name() {
    let one = Aggregator::new(catalogue(), None, None);
    for b in decode(&scenario_lines().concat(), 8192) {
        one.worker().add_batch(&b).unwrap();
    }
    let mut bytes = Vec::new();
    one.write_state(&mut bytes).unwrap();
    let other = Catalogue::from_toml(
        "[[endpoint]]\nname = \"db\"\naddress = \"10.0.3.213\"\nport = 3306\n",
        "other",
    )
    .unwrap();
    let err = Aggregator::new(other, None, None)
        .read_state(&bytes[..])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the state names endpoint `pg6`, which the catalogue does not have; use the catalogue \
         the state was made with"
    );
}

#[test]
fn partial_states_merged_equal_one_fold_of_all_records() {
    let lines = scenario_lines();
    let plan = Plan::new(catalogue(), None, None);
    let fold = |lines: &[String]| {
        let mut s = VerdictState::new(plan.clone());
        for b in decode(&lines.concat(), 7) {
            s.fold(&b).unwrap();
        }
        s
    };
    let whole = fold(&lines);
    for cut in [0, 1, 13, lines.len() / 2, lines.len()] {
        let (a, b) = lines.split_at(cut);
        // Through bytes, in both orders.
        let (a, b) = (fold(a).encode(), fold(b).encode());
        let mut ab = VerdictState::decode(plan.clone(), &a).unwrap();
        ab.merge(&VerdictState::decode(plan.clone(), &b).unwrap());
        let mut ba = VerdictState::decode(plan.clone(), &b).unwrap();
        ba.merge(&VerdictState::decode(plan.clone(), &a).unwrap());
        assert_eq!(ab, whole, "cut at {cut}");
        assert_eq!(ba, whole, "cut at {cut}");
        assert_eq!(ab.encode(), whole.encode());
        assert_eq!(ab.report().verdicts, whole.report().verdicts);
    }
}

/// 5 h 20 min of attempts from 40 clients to `db`: blocked for the first two hours, then
/// connected; 4,800 attempts in all.
fn long_lines() -> Vec<String> {
    let t0 = 1_795_165_200i64;
    let mut lines = Vec::new();
    for k in 0..4800i64 {
        let t = t0 + k * 4; // one attempt every 4 s: 320 s per 80 attempts
        let client = format!("10.0.1.{}", 10 + k % 40);
        let sport = 32768 + (k % 20000) as u16;
        let blocked = t < t0 + 2 * 3600;
        if blocked {
            lines.push(v2(
                "eni-db",
                &client,
                "10.0.3.213",
                sport,
                3306,
                t,
                "REJECT",
            ));
        } else {
            lines.push(v2(
                "eni-db",
                &client,
                "10.0.3.213",
                sport,
                3306,
                t,
                "ACCEPT",
            ));
            lines.push(v2(
                "eni-db",
                "10.0.3.213",
                &client,
                3306,
                sport,
                t,
                "ACCEPT",
            ));
        }
    }
    lines
}

#[test]
fn spilling_bounds_memory_and_keeps_the_verdicts_in_any_order() {
    let mut lines = long_lines();
    let reference = judge(None, &lines.concat());
    let v = &reference.verdicts[0];
    assert_eq!(v.verdict, Verdict::Intermittent);
    assert_eq!(v.latest, Some(Outcome::Connected), "{v:?}");
    assert_eq!(v.changed_at, Some(1_795_165_200 + 2 * 3600), "{v:?}");
    assert_eq!(
        reference
            .verdicts
            .iter()
            .map(|v| v.counts.attempts)
            .sum::<u64>(),
        4800
    );
    // Newest first: the order a watermark would have sealed wrongly.
    lines.reverse();
    let temp = tempfile::tempdir().unwrap();
    let bounded = Aggregator::new(catalogue(), None, None)
        .with_memory_limit(300 * vpcflow_verdict::BYTES_PER_ATTEMPT)
        .with_temp_dir(Some(temp.path().to_owned()));
    let mut peak = 0;
    for b in decode(&lines.concat(), 100) {
        bounded.worker().add_batch(&b).unwrap();
        peak = peak.max(bounded.attempts_in_memory());
    }
    assert!(peak <= 300 + 100, "peak {peak}");
    let (bytes, runs) = bounded.spilled();
    assert!(runs >= 10 && bytes > 0, "{runs} spills, {bytes} bytes");
    let report = bounded.report().unwrap();
    assert_eq!(report.verdicts, reference.verdicts);
    assert_eq!(report.stats, reference.stats);
    // Reporting again (a tail does) reads the compacted partitions: the same verdicts.
    assert_eq!(bounded.report().unwrap().verdicts, reference.verdicts);
    // The state of a spilled aggregator holds everything, and reads back into a small bound.
    let mut state = Vec::new();
    bounded.write_state(&mut state).unwrap();
    let restored = Aggregator::new(catalogue(), None, None)
        .with_memory_limit(200 * vpcflow_verdict::BYTES_PER_ATTEMPT)
        .with_temp_dir(Some(temp.path().to_owned()));
    restored.read_state(&state[..]).unwrap();
    assert_eq!(restored.report().unwrap().verdicts, reference.verdicts);
    let spill_dirs = || std::fs::read_dir(temp.path()).unwrap().count();
    assert_eq!(spill_dirs(), 2, "one spill directory per aggregator");
    drop((bounded, restored));
    assert_eq!(
        spill_dirs(),
        0,
        "spill files are removed with the aggregator"
    );
}
