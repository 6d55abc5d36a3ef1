//! Verdicts are a function of the set of records: not of their order, of how they are split
//! into inputs and batches, of threads, or of the memory bound (docs/verdicts.md, "Order
//! independence").

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use vpcflow_core::{Decoder, DecoderOptions, Reader};
use vpcflow_verdict::{Aggregator, BYTES_PER_ATTEMPT, Catalogue, Plan, Report, VerdictState};

const CATALOGUE: &str = r#"
[[endpoint]]
name = "db"
address = "10.0.3.213"
port = 3306
interface_id = "eni-db"

[[endpoint]]
name = "pg"
address = "10.0.4.4"
port = 5432
"#;

/// What happens to one generated connection attempt.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Connected,
    BlockedIngress,
    BlockedEgress,
    BlockedReturn,
    Unanswered,
    /// Connected, with a REJECT straggler after it.
    LateReject,
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Connected),
        Just(Kind::BlockedIngress),
        Just(Kind::BlockedEgress),
        Just(Kind::BlockedReturn),
        Just(Kind::Unanswered),
        Just(Kind::LateReject),
    ]
}

/// One attempt: client, endpoint, client port (a small range, so ports are reused), start
/// time (four hours), what happened, and whether its records span two aggregation windows.
type Spec = (u8, bool, u16, i64, Kind, bool);

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..5,
        any::<bool>(),
        0u16..4,
        0i64..4 * 3600,
        kind(),
        any::<bool>(),
    )
}

/// A v5-ish line: version interface-id srcaddr dstaddr srcport dstport protocol packets bytes
/// start end action log-status flow-direction.
fn line(
    eni: &str,
    (src, sport): (&str, u16),
    (dst, dport): (&str, u16),
    t: i64,
    action: &str,
    dir: &str,
) -> String {
    format!(
        "5 {eni} {src} {dst} {sport} {dport} 6 2 120 {t} {} {action} OK {dir}\n",
        t + 59
    )
}

const FORMAT: &str = "${version} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} ${flow-direction}";

/// The records AWS would log for an attempt, replies sometimes before requests.
fn records(&(client, pg, port, t, kind, two_windows): &Spec) -> Vec<(i64, String)> {
    let c = format!("10.0.1.{}", 10 + client);
    let (addr, dport, eni) = if pg {
        ("10.0.4.4", 5432, "eni-pg")
    } else {
        ("10.0.3.213", 3306, "eni-db")
    };
    let sport = 40000 + port;
    let mut out = Vec::new();
    let windows: &[i64] = if two_windows { &[0, 60] } else { &[0] };
    for &w in windows {
        let t = t + w;
        let req = |action: &str, eni: &str, dir: &str| {
            (t, line(eni, (&c, sport), (addr, dport), t, action, dir))
        };
        let rep = |action: &str, eni: &str, dir: &str| {
            (t, line(eni, (addr, dport), (&c, sport), t, action, dir))
        };
        match kind {
            Kind::Connected => {
                out.push(rep("ACCEPT", eni, "egress"));
                out.push(req("ACCEPT", eni, "ingress"));
            }
            Kind::LateReject => {
                out.push(req("ACCEPT", eni, "ingress"));
                out.push(rep("ACCEPT", eni, "egress"));
                out.push(req("REJECT", eni, "ingress"));
            }
            Kind::BlockedIngress => out.push(req("REJECT", eni, "ingress")),
            Kind::BlockedEgress => out.push(req("REJECT", "eni-client", "egress")),
            Kind::BlockedReturn => {
                out.push(rep("REJECT", eni, "egress"));
                out.push(req("ACCEPT", eni, "ingress"));
            }
            Kind::Unanswered => out.push(req("ACCEPT", eni, "ingress")),
        }
    }
    out
}

fn batches(text: &str, batch: usize) -> Vec<arrow_array::RecordBatch> {
    let opts = DecoderOptions {
        batch_size: batch,
        format: Some(vpcflow_core::LogFormat::parse(FORMAT).unwrap()),
        ..DecoderOptions::default()
    };
    Reader::new(text.as_bytes(), Decoder::new(opts), "t")
        .collect::<Result<_, _>>()
        .unwrap()
}

fn catalogue() -> Catalogue {
    Catalogue::from_toml(CATALOGUE, "test").unwrap()
}

/// One unbounded pass on one thread over the records sorted by time.
fn reference(lines: &[(i64, String)]) -> Report {
    let mut sorted = lines.to_vec();
    sorted.sort();
    let text: String = sorted.into_iter().map(|(_, l)| l).collect();
    let agg = Aggregator::new(catalogue(), None, None);
    let mut w = agg.worker();
    for b in batches(&text, 8192) {
        w.add_batch(&b).unwrap();
    }
    agg.report().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn verdicts_are_a_function_of_the_set_of_records(
        specs in proptest::collection::vec(spec(), 1..120),
        shuffle in any::<u64>(),
        inputs in 1usize..6,
        batch in 1usize..50,
        threads in 1usize..4,
        bound in prop_oneof![Just(1usize), Just(3), Just(20), Just(1 << 20)],
    ) {
        let lines: Vec<(i64, String)> = specs.iter().flat_map(records).collect();
        let expected = reference(&lines);
        // Shuffle (a seeded Fisher–Yates), then cut into inputs.
        let mut shuffled = lines.clone();
        let mut x = shuffle | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let per = shuffled.len().div_ceil(inputs);
        let texts: Vec<String> = shuffled
            .chunks(per.max(1))
            .map(|c| c.iter().map(|(_, l)| l.as_str()).collect())
            .collect();
        let temp = tempfile::tempdir().unwrap();
        let agg = bounded(bound, temp.path());
        std::thread::scope(|s| {
            for t in 0..threads {
                let (agg, texts) = (&agg, &texts);
                s.spawn(move || {
                    let mut w = agg.worker();
                    for text in texts.iter().skip(t).step_by(threads) {
                        for b in batches(text, batch) {
                            w.add_batch(&b).unwrap();
                        }
                    }
                });
            }
        });
        let got = agg.report().unwrap();
        prop_assert_eq!(&got.verdicts, &expected.verdicts);
        prop_assert_eq!(got.stats, expected.stats);
        // And through a written state, read back under another bound.
        let mut state = Vec::new();
        agg.write_state(&mut state).unwrap();
        let again = bounded(2, temp.path());
        again.read_state(&state[..]).unwrap();
        prop_assert_eq!(&again.report().unwrap().verdicts, &expected.verdicts);
    }

    /// The cluster's path: a partial state per input, merged by move in any order, or read
    /// into one aggregator from several threads at once, is the state of all the records.
    #[test]
    fn partial_states_merged_by_move_or_read_in_parallel_are_the_whole_state(
        specs in proptest::collection::vec(spec(), 1..80),
        inputs in 1usize..6,
        threads in 1usize..4,
    ) {
        let lines: Vec<(i64, String)> = specs.iter().flat_map(records).collect();
        let expected = reference(&lines);
        let plan = Plan::new(catalogue(), None, None);
        let per = lines.len().div_ceil(inputs).max(1);
        let partials: Vec<VerdictState> = lines
            .chunks(per)
            .map(|c| state_of(&c.iter().map(|(_, l)| l.as_str()).collect::<String>()))
            .collect();
        let mut copied = VerdictState::new(plan.clone());
        let mut moved = VerdictState::new(plan.clone());
        for p in partials.iter().rev() {
            copied.merge(p);
            moved.merge_owned(VerdictState::decode(plan.clone(), &p.encode()).unwrap());
        }
        prop_assert_eq!(&moved, &copied);
        prop_assert_eq!(&moved.report().verdicts, &expected.verdicts);
        let encoded: Vec<Vec<u8>> = partials.iter().map(VerdictState::encode).collect();
        let agg = Aggregator::new(catalogue(), None, None);
        std::thread::scope(|s| {
            for t in 0..threads {
                let (agg, encoded) = (&agg, &encoded);
                s.spawn(move || {
                    for bytes in encoded.iter().skip(t).step_by(threads) {
                        agg.read_state(&bytes[..]).unwrap();
                    }
                });
            }
        });
        prop_assert_eq!(&agg.report().unwrap().verdicts, &expected.verdicts);
    }

    /// The cluster's report: the final states of disjoint shards of the pairs (NODATA, which
    /// has no pair, in a shard of its own, as `vpcflow_shard` puts it), judged shard by shard,
    /// or read in as any state when one is too large for the bound, or judged where they were
    /// made (`encode_judged`, the shards whose bit is set in `judged`) and their confidence
    /// decided here, give the verdicts of all the records, NODATA's effect on confidence
    /// included.
    #[test]
    fn disjoint_shards_judged_one_by_one_are_the_whole_report(
        specs in proptest::collection::vec(spec(), 1..80),
        shards in 1usize..5,
        threads in 1usize..4,
        bound in prop_oneof![Just(1usize), Just(20), Just(200), Just(1 << 20)],
        nodata in any::<bool>(),
        judged in any::<u8>(),
    ) {
        let mut lines: Vec<(i64, String)> = specs.iter().flat_map(records).collect();
        if nodata {
            lines.push((0, NODATA.to_owned()));
        }
        let expected = reference(&lines);
        let mut texts = vec![String::new(); shards + 1];
        for spec in &specs {
            for (_, l) in records(spec) {
                texts[usize::from(spec.0) % shards].push_str(&l);
            }
        }
        if nodata {
            texts[shards].push_str(NODATA);
        }
        let encoded: Vec<Vec<u8>> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let state = state_of(t);
                if judged & (1 << i) != 0 {
                    state.encode_judged()
                } else {
                    state.encode()
                }
            })
            .collect();
        let slices: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
        let temp = tempfile::tempdir().unwrap();
        let agg = bounded(bound, temp.path());
        let got = agg.report_shards(&slices, threads).unwrap();
        prop_assert_eq!(&got.verdicts, &expected.verdicts);
        prop_assert_eq!(got.stats, expected.stats);
    }
}

/// An aggregator that holds about `attempts` attempts before it spills into `dir`.
fn bounded(attempts: usize, dir: &std::path::Path) -> Aggregator {
    Aggregator::new(catalogue(), None, None)
        .with_memory_limit(attempts * BYTES_PER_ATTEMPT)
        .with_temp_dir(Some(dir.to_owned()))
}

/// A NODATA record of the database's ENI.
const NODATA: &str = "5 eni-db - - - - - - - 0 59 - NODATA -\n";

/// The state of the records of `text`, folded in batches of 7.
fn state_of(text: &str) -> VerdictState {
    let mut state = VerdictState::new(Plan::new(catalogue(), None, None));
    for b in batches(text, 7) {
        state.fold(&b).unwrap();
    }
    state
}

#[test]
fn a_pair_in_two_shard_states_is_an_error() {
    let text: String = records(&(1, false, 0, 0, Kind::BlockedIngress, false))
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    let state = state_of(&text);
    let (encoded, judged) = (state.encode(), state.encode_judged());
    for shards in [
        [&encoded, &encoded],
        [&judged, &judged],
        [&encoded, &judged],
    ] {
        let agg = Aggregator::new(catalogue(), None, None);
        let err = agg.report_shards(&[shards[0], shards[1]], 2).unwrap_err();
        assert!(
            err.to_string()
                .contains("10.0.1.11 are in two shard states"),
            "{err}"
        );
    }
}
