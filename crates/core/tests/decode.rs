//! Decoder behaviour on whole inputs: chunking, formats, malformed lines, round trips.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, UInt16Type};
use arrow_array::{Array, RecordBatch};
use proptest::prelude::*;
use vpcflow_core::render::ColumnReader;
use vpcflow_core::{Decoder, DecoderOptions, ErrorKind, LogFormat, Malformed, PortSet, Reader};
use vpcflow_scan::Path;

/// Every way the decoder cuts lines into fields: the byte-at-a-time tokenizer (`None`) and
/// each structural-pass path this CPU runs. Tests force each one.
fn paths() -> Vec<Option<Path>> {
    std::iter::once(None)
        .chain(Path::available_paths().into_iter().map(Some))
        .collect()
}

/// Decodes `input` fed in pieces of `chunk` bytes.
fn decode_chunked(input: &[u8], chunk: usize, opts: DecoderOptions) -> (Vec<RecordBatch>, Decoder) {
    let mut decoder = Decoder::new(opts);
    decoder.begin_source("test.log");
    let mut batches = Vec::new();
    for piece in input.chunks(chunk) {
        let mut piece = piece;
        while !piece.is_empty() {
            let n = decoder.decode(piece).expect("not strict");
            piece = &piece[n..];
            if decoder.is_full() {
                batches.extend(decoder.flush());
            }
        }
    }
    decoder.finish().expect("not strict");
    batches.extend(decoder.flush());
    (batches, decoder)
}

/// Every row of every batch as text, `column=value` pairs, to compare independent of batching.
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        let readers: Vec<_> = batch.columns().iter().map(ColumnReader::new).collect();
        for row in 0..batch.num_rows() {
            let mut line = Vec::new();
            for (i, r) in readers.iter().enumerate() {
                line.extend_from_slice(schema.field(i).name().as_bytes());
                line.push(b'=');
                r.value(row).write_plain(&mut line).unwrap();
                line.push(b' ');
            }
            out.push(String::from_utf8(line).unwrap());
        }
    }
    out
}

const MIXED: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 123456789012 eni-085da82d3ccb0f0ad 10.0.1.10 10.0.3.213 49152 3306 6 3 180 1700000000 1700000060 REJECT OK
2  123456789012   eni-085da82d3ccb0f0ad - - - - - - - 1700000000 1700000060 - NODATA\r
2 123456789012 eni-085da82d3ccb0f0ad - - - - - - - 1700000000 1700000060 - SKIPDATA
not a record at all

2 123456789012 eni-0e71f2697f24bffbf 2001:db8::10 2001:db8::5 50000 5432 6 10 840 1700000000 1700000060 ACCEPT OK
2 123456789012 eni-0e71f2697f24bffbf 10.0.1.10 10.0.3.82 50001 99999 6 10 840 1700000000 1700000060 ACCEPT OK
2 123456789012 eni-0e71f2697f24bffbf 10.0.1.10 10.0.3.300 50001 3306 6 10 840 1700000000 1700000060 ACCEPT OK
2 unknown eni-0e71f2697f24bffbf 10.0.3.82 10.0.1.10 3306 50001 6 12 4200 1700000000 1700000060 ACCEPT OK";

#[test]
fn every_chunk_size_gives_the_same_records() {
    let byte_path = DecoderOptions {
        scan: None,
        ..DecoderOptions::default()
    };
    let (whole, _) = decode_chunked(MIXED.as_bytes(), MIXED.len(), byte_path);
    let expected = rows(&whole);
    assert_eq!(expected.len(), 5);
    for scan in paths() {
        for chunk in 1..=MIXED.len() {
            for batch_size in [1, 2, 3, 8192] {
                let opts = DecoderOptions {
                    batch_size,
                    scan,
                    ..DecoderOptions::default()
                };
                let (batches, mut decoder) = decode_chunked(MIXED.as_bytes(), chunk, opts);
                assert_eq!(
                    rows(&batches),
                    expected,
                    "{scan:?}, chunk {chunk}, batch {batch_size}"
                );
                assert!(batches.iter().all(|b| b.num_rows() <= batch_size));
                let malformed: Vec<String> = decoder
                    .take_malformed()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                assert_eq!(malformed.len(), 3, "{scan:?}, chunk {chunk}");
                assert_eq!(
                    malformed[2],
                    "test.log:9: field `dstaddr` is not an IPv4 or IPv6 address or `-`",
                    "{scan:?}"
                );
            }
        }
    }
}

/// Filter-first drops exactly the records whose ports are both plain numbers outside the set
/// (never NODATA, SKIPDATA or a `-` port), counts them, and keeps every other record as the
/// unfiltered decoder has it, on every path and at every chunk size. A skipped line's other
/// fields are not checked: the one with a bad address is skipped, not reported.
#[test]
fn filter_first_skips_exactly_the_records_of_other_ports() {
    let unfiltered = DecoderOptions {
        scan: None,
        ..DecoderOptions::default()
    };
    let (all, _) = decode_chunked(MIXED.as_bytes(), MIXED.len(), unfiltered);
    let all = rows(&all);
    // Kept: NODATA, SKIPDATA (no ports) and the IPv6 record to 5432. Skipped: the records of
    // lines 2, 9 (bad dstaddr) and 10, all 3306. The port 99999 of line 8 is no plain port, so
    // that line is decoded, and malformed.
    let ports = std::sync::Arc::new(PortSet::new([5432]));
    let kept: Vec<String> = all
        .iter()
        .filter(|r| r.contains("port=5432 ") || r.contains("DATA "))
        .cloned()
        .collect();
    assert_eq!(kept.len(), 3, "{all:#?}");
    for scan in paths() {
        for chunk in [1, 5, 64, MIXED.len()] {
            let opts = DecoderOptions {
                scan,
                ports: Some(ports.clone()),
                ..DecoderOptions::default()
            };
            let (batches, decoder) = decode_chunked(MIXED.as_bytes(), chunk, opts);
            assert_eq!(rows(&batches), kept, "{scan:?}, chunk {chunk}");
            let stats = decoder.stats();
            assert_eq!(stats.filtered, 3, "{scan:?}, chunk {chunk}");
            assert_eq!(stats.records, 3);
            assert_eq!(stats.malformed, 2);
        }
    }
}

#[test]
fn malformed_lines_are_counted_with_their_line_numbers() {
    let (batches, mut decoder) = decode_chunked(MIXED.as_bytes(), 7, DecoderOptions::default());
    let stats = decoder.stats();
    assert_eq!(stats.records, 5);
    assert_eq!(stats.malformed, 3);
    assert_eq!(stats.headers, 1);
    assert_eq!(stats.blank, 1);
    assert_eq!(stats.lines, 10);
    assert_eq!(stats.bytes, MIXED.len() as u64);
    let malformed = decoder.take_malformed();
    let lines: Vec<u64> = malformed.iter().map(|m| m.position.line).collect();
    assert_eq!(lines, [5, 8, 9]);
    assert_eq!(
        malformed[0].reason,
        Malformed::FieldCount {
            expected: 14,
            found: 5
        }
    );
    assert!(
        matches!(&malformed[1].reason, Malformed::IntegerOverflow { field } if &**field == "dstport")
    );
    assert!(
        matches!(&malformed[2].reason, Malformed::BadAddress { field } if &**field == "dstaddr")
    );
    assert_eq!(
        malformed[1].to_string(),
        "test.log:8: field `dstport` is too large for its type"
    );
    // Byte offsets point at the start of the line.
    let offset = malformed[0].position.byte as usize;
    assert!(MIXED[offset..].starts_with("not a record"));

    let batch = &batches[0];
    let status = batch
        .column_by_name("log-status")
        .unwrap()
        .as_dictionary::<Int32Type>();
    let values = status.values().as_string::<i32>();
    let statuses: Vec<&str> = status
        .keys()
        .iter()
        .map(|k| values.value(k.unwrap() as usize))
        .collect();
    assert_eq!(statuses, ["OK", "NODATA", "SKIPDATA", "OK", "OK"]);
    let account = ColumnReader::new(batch.column_by_name("account-id").unwrap());
    assert_eq!(account.value(4).to_string(), "unknown");
}

#[test]
fn strict_mode_stops_at_the_first_malformed_line() {
    let opts = DecoderOptions {
        strict: true,
        ..DecoderOptions::default()
    };
    let reader = Reader::new(MIXED.as_bytes(), Decoder::new(opts), "strict.log");
    let err = reader.collect::<Result<Vec<_>, _>>().unwrap_err();
    let pos = err.position().unwrap();
    assert_eq!((pos.source.as_ref(), pos.line), ("strict.log", 5));
    assert!(matches!(err.kind(), ErrorKind::Malformed(_)));
}

#[test]
fn custom_order_v5_and_tcp_flags() {
    let format = "${flow-direction} ${dstport} ${srcaddr} ${dstaddr} ${tcp-flags} ${action} ${pkt-dstaddr} ${traffic-path} ${interface-id}";
    let text = "ingress 3306 10.0.1.10 10.0.3.213 2 REJECT 10.0.3.213 1 eni-1\negress 50001 10.0.3.82 10.0.1.10 18 ACCEPT - - eni-2\n";
    let opts = DecoderOptions {
        format: Some(LogFormat::parse(format).unwrap()),
        ..DecoderOptions::default()
    };
    let (batches, decoder) = decode_chunked(text.as_bytes(), 5, opts);
    assert_eq!(decoder.stats().malformed, 0);
    assert_eq!(
        rows(&batches),
        [
            "flow-direction=ingress dstport=3306 srcaddr=10.0.1.10 dstaddr=10.0.3.213 tcp-flags=2 action=REJECT pkt-dstaddr=10.0.3.213 traffic-path=1 interface-id=eni-1 ",
            "flow-direction=egress dstport=50001 srcaddr=10.0.3.82 dstaddr=10.0.1.10 tcp-flags=18 action=ACCEPT pkt-dstaddr=- traffic-path=- interface-id=eni-2 ",
        ]
    );
    let flags = batches[0]
        .column_by_name("tcp-flags")
        .unwrap()
        .as_primitive::<UInt16Type>();
    assert_eq!(flags.values().to_vec(), [2, 18]);
}

#[test]
fn an_explicit_format_skips_the_header_line() {
    let text = "srcaddr dstaddr\n10.0.0.1 10.0.0.2\n";
    let opts = DecoderOptions {
        format: Some(LogFormat::parse("${dstaddr} ${srcaddr}").unwrap()),
        ..DecoderOptions::default()
    };
    let (batches, decoder) = decode_chunked(text.as_bytes(), 3, opts);
    assert_eq!(decoder.stats().headers, 1);
    assert_eq!(rows(&batches), ["dstaddr=10.0.0.1 srcaddr=10.0.0.2 "]);
}

#[test]
fn a_new_header_mid_stream_switches_format_between_batches() {
    // Two S3 objects concatenated: different formats, each with its header.
    let text = "version srcaddr action\n2 10.0.0.1 ACCEPT\naction srcaddr\nREJECT 10.0.0.2\nREJECT 10.0.0.3\n";
    for chunk in 1..text.len() {
        let (batches, _) = decode_chunked(text.as_bytes(), chunk, DecoderOptions::default());
        assert_eq!(batches.len(), 2, "chunk {chunk}");
        assert_eq!(batches[0].num_columns(), 3);
        assert_eq!(batches[1].num_columns(), 2);
        assert_eq!(
            rows(&batches),
            [
                "version=2 srcaddr=10.0.0.1 action=ACCEPT ",
                "action=REJECT srcaddr=10.0.0.2 ",
                "action=REJECT srcaddr=10.0.0.3 "
            ]
        );
    }
}

#[test]
fn unknown_header_fields_are_text_or_strict_errors() {
    let text = "version srcaddr quantum-flux\n2 10.0.0.1 teleported\n";
    let (batches, decoder) = decode_chunked(text.as_bytes(), 4, DecoderOptions::default());
    assert_eq!(
        rows(&batches),
        ["version=2 srcaddr=10.0.0.1 quantum-flux=teleported "]
    );
    assert_eq!(decoder.unknown_fields().len(), 1);
    let strict = DecoderOptions {
        strict: true,
        ..DecoderOptions::default()
    };
    let err = Reader::new(text.as_bytes(), Decoder::new(strict), "x")
        .collect::<Result<Vec<_>, _>>()
        .unwrap_err();
    assert!(err.to_string().contains("quantum-flux"), "{err}");
}

#[test]
fn overlong_lines_are_skipped_without_buffering_them() {
    let mut text = Vec::new();
    text.extend_from_slice(b"2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK\n");
    text.extend(std::iter::repeat_n(b'x', 10_000));
    text.extend_from_slice(b"\n2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 REJECT OK\n");
    for chunk in [1, 100, 4096, text.len()] {
        let opts = DecoderOptions {
            max_line_len: 1000,
            ..DecoderOptions::default()
        };
        let (batches, mut decoder) = decode_chunked(&text, chunk, opts);
        assert_eq!(rows(&batches).len(), 2, "chunk {chunk}");
        let malformed = decoder.take_malformed();
        assert_eq!(malformed.len(), 1);
        assert_eq!(malformed[0].position.line, 2);
        assert_eq!(malformed[0].reason, Malformed::LineTooLong { limit: 1000 });
    }
}

#[test]
fn bad_utf8_is_malformed_not_a_panic() {
    let text = b"2 1 eni-\xff 10.0.0.1 10.0.0.2 1 2 6 1 1 1 2 ACCEPT OK\n";
    let (batches, mut decoder) = decode_chunked(text, 3, DecoderOptions::default());
    assert!(batches.is_empty());
    assert!(
        matches!(&decoder.take_malformed()[0].reason, Malformed::BadUtf8 { field } if &**field == "interface-id")
    );
}

// ---- Property test: render random records in random formats and decode them back. ----

#[derive(Clone, Debug)]
enum Val {
    Null,
    Int(u64),
    Ip(IpAddr),
    Text(String),
}

fn value_for(kind: vpcflow_core::Kind) -> BoxedStrategy<Val> {
    use vpcflow_core::Kind;
    let value = match kind {
        Kind::UInt8 => any::<u8>().prop_map(|v| Val::Int(v.into())).boxed(),
        Kind::UInt16 => any::<u16>().prop_map(|v| Val::Int(v.into())).boxed(),
        Kind::UInt64 => any::<u64>().prop_map(Val::Int).boxed(),
        Kind::Timestamp => (0..i64::MAX as u64).prop_map(Val::Int).boxed(),
        Kind::Ip => any::<IpAddr>()
            .prop_map(|ip| Val::Ip(ip.to_canonical()))
            .boxed(),
        _ => "[A-Za-z0-9:/._-]{1,12}|[éü漢]{1,3}"
            .prop_filter("`-` means null", |s| s != "-")
            .prop_map(Val::Text)
            .boxed(),
    };
    prop_oneof![1 => Just(Val::Null), 6 => value].boxed()
}

fn format_and_records()
-> impl Strategy<Value = (Vec<&'static str>, Vec<Vec<Val>>, Vec<usize>, bool)> {
    let names: Vec<&'static str> = vpcflow_core::field::FIELDS.iter().map(|f| f.name).collect();
    proptest::sample::subsequence(names, 1..20)
        .prop_shuffle()
        .prop_flat_map(|names| {
            let row: Vec<_> = names
                .iter()
                .map(|n| value_for(vpcflow_core::field::lookup(n).unwrap().kind))
                .collect();
            (
                Just(names),
                proptest::collection::vec(row, 1..20),
                proptest::collection::vec(1usize..4, 1..8),
                any::<bool>(),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn rendered_records_decode_back((names, records, spaces, crlf) in format_and_records(), chunk in 1usize..64) {
        let format = LogFormat::from_names(names.iter().copied()).unwrap();
        let mut text = String::new();
        let mut expected = Vec::new();
        for (r, record) in records.iter().enumerate() {
            let mut line = Vec::new();
            let mut want = String::new();
            for (i, v) in record.iter().enumerate() {
                let rendered = match v {
                    Val::Null => "-".to_owned(),
                    Val::Int(n) => n.to_string(),
                    Val::Ip(ip) => ip.to_string(),
                    Val::Text(s) => s.clone(),
                };
                want.push_str(&format!("{}={} ", names[i], rendered));
                line.push(rendered);
            }
            let sep = " ".repeat(spaces[r % spaces.len()]);
            text.push_str(&line.join(&sep));
            text.push_str(if crlf { "\r\n" } else { "\n" });
            expected.push(want);
        }
        for scan in paths() {
            let opts = DecoderOptions { format: Some(format.clone()), batch_size: 7, scan, ..DecoderOptions::default() };
            let (batches, decoder) = decode_chunked(text.as_bytes(), chunk, opts);
            prop_assert_eq!(decoder.stats().malformed, 0);
            prop_assert_eq!(rows(&batches), expected.clone());
            for batch in &batches {
                for column in batch.columns() {
                    prop_assert!(column.len() == batch.num_rows());
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), chunk in 1usize..32) {
        let mut first = None;
        for scan in paths() {
            let opts = DecoderOptions { scan, ..DecoderOptions::default() };
            let (batches, decoder) = decode_chunked(&bytes, chunk, opts);
            let n: usize = batches.iter().map(|b| b.num_rows()).sum();
            prop_assert_eq!(n as u64, decoder.stats().records);
            // Every path gives the byte path's records and counters.
            let seen = (rows(&batches), decoder.stats());
            match &first {
                None => first = Some(seen),
                Some(f) => prop_assert_eq!(&seen, f, "{:?}", scan),
            }
        }
    }

    /// Records of random ports, statuses and field spacing: every path, filtered or not, agrees
    /// with the byte path, and filtering drops exactly the records the rule names.
    #[test]
    fn filter_first_agrees_on_random_records(
        records in proptest::collection::vec((
            prop_oneof![Just("3306".to_owned()), Just("-".to_owned()), (0u32..70000).prop_map(|p| p.to_string())],
            prop_oneof![Just("5432".to_owned()), (0u32..70000).prop_map(|p| p.to_string())],
            prop_oneof![Just("OK"), Just("NODATA"), Just("SKIPDATA")],
            1usize..3,
        ), 1..60),
        chunk in 1usize..200,
    ) {
        let mut text = String::new();
        let mut keep = 0u64;
        let mut skip = 0u64;
        for (sport, dport, status, spaces) in &records {
            let sep = " ".repeat(*spaces);
            text.push_str(&["2", "123456789012", "eni-0a1b2c3d4e5f60718", "10.0.1.10", "10.0.3.213", sport, dport,
                "6", "3", "180", "1700000000", "1700000060", "ACCEPT", status].join(&sep));
            text.push('\n');
            let port = |p: &str| p.parse::<u32>().ok().filter(|&v| v <= 65535);
            let valid = (port(sport).is_some() || sport == "-") && port(dport).is_some();
            let in_set = |p: &str| p == "3306" || p == "5432";
            let skipped = port(sport).is_some() && port(dport).is_some() && !in_set(sport)
                && !in_set(dport) && *status == "OK";
            if skipped { skip += 1 } else if valid { keep += 1 }
        }
        let ports = std::sync::Arc::new(PortSet::new([3306, 5432]));
        let mut first = None;
        for scan in paths() {
            let opts = DecoderOptions { scan, ports: Some(ports.clone()), batch_size: 7, ..DecoderOptions::default() };
            let (batches, decoder) = decode_chunked(text.as_bytes(), chunk, opts);
            prop_assert_eq!(decoder.stats().filtered, skip);
            prop_assert_eq!(decoder.stats().records, keep);
            let seen = rows(&batches);
            match &first {
                None => first = Some(seen),
                Some(f) => prop_assert_eq!(&seen, f, "{:?}", scan),
            }
        }
    }
}
