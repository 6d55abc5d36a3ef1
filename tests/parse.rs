//! `vpcflow parse` end to end: golden files, outputs, errors and exit codes.

use std::io::Write;
use std::process::Stdio;

use crate::common::{stderr, stdout, summary_value, testdata, vpcflow};

/// Runs `vpcflow parse` on a file under `testdata/decode/` (with its `.format` file, if any)
/// and compares the JSON lines with the reviewed golden file beside it.
fn golden(file: &str) -> String {
    let base = file.split('.').next().unwrap();
    let path = testdata(&format!("decode/{file}"));
    let mut args = vec!["parse".to_owned(), "--threads".into(), "1".into()];
    let format = testdata(&format!("decode/{base}.format"));
    if format.exists() {
        args.push("--log-format".into());
        args.push(std::fs::read_to_string(format).unwrap().trim().to_owned());
    }
    args.push(path.to_str().unwrap().to_owned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = vpcflow(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let expected =
        std::fs::read_to_string(testdata(&format!("decode/{base}.golden.jsonl"))).unwrap();
    assert_eq!(
        stdout(&out),
        expected,
        "{file} differs from its golden file"
    );
    // Every line is a JSON object with numbers as numbers and `-` as null.
    for line in expected.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v.is_object());
    }
    stderr(&out)
}

#[test]
fn golden_v2() {
    golden("v2.log");
}

#[test]
fn golden_v3_with_tcp_flags() {
    golden("v3-tcp-flags.log");
}

#[test]
fn golden_v5_custom_order() {
    golden("v5-custom-order.log");
}

#[test]
fn golden_ipv6() {
    golden("ipv6.log");
}

#[test]
fn golden_nodata_and_skipdata() {
    golden("nodata-skipdata.log");
}

#[test]
fn golden_double_spaces_and_crlf() {
    golden("spaces-crlf.log");
}

#[test]
fn golden_s3_header_line() {
    golden("s3-header.log.gz");
}

#[test]
fn golden_multi_member_gzip() {
    golden("multi-member.log.gz");
}

#[test]
fn golden_malformed_lines_are_reported_and_skipped() {
    let err = golden("malformed.log");
    assert!(err.contains("skipped 4 malformed lines"), "{err}");
    for (line, reason) in [
        (2, "expected 14 fields, found 13"),
        (3, "field `dstport` is too large for its type"),
        (4, "field `srcaddr` is not an IPv4 or IPv6 address"),
        (5, "field `packets` is not an unsigned integer"),
    ] {
        assert!(
            err.contains(&format!("malformed.log:{line}: {reason}")),
            "line {line} not reported: {err}"
        );
    }
}

#[test]
fn json_numbers_and_nulls_are_typed() {
    let out = vpcflow(&[
        "parse",
        testdata("decode/nodata-skipdata.log").to_str().unwrap(),
    ]);
    let first: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(first["srcaddr"], serde_json::Value::Null);
    assert_eq!(first["start"], serde_json::json!(1700000000));
    assert_eq!(first["account-id"], serde_json::json!("123456789012"));
    assert_eq!(first["log-status"], serde_json::json!("NODATA"));
}

#[test]
fn strict_fails_on_the_first_malformed_line() {
    let out = vpcflow(&[
        "parse",
        "--strict",
        testdata("decode/malformed.log").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("malformed.log:2: expected 14 fields, found 13"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn summary_counts_every_category() {
    let files = ["nodata-skipdata.log", "malformed.log", "v2.log"]
        .map(|f| testdata(&format!("decode/{f}")));
    let mut args = vec!["parse", "--output", "summary"];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    let out = vpcflow(&args);
    assert_eq!(out.status.code(), Some(0));
    let field = |name: &str| summary_value(&out, name);
    assert_eq!(field("records"), "9");
    assert_eq!(field("ACCEPT"), "3");
    assert_eq!(field("REJECT"), "4");
    assert_eq!(field("NODATA"), "1");
    assert_eq!(field("SKIPDATA"), "1");
    assert_eq!(field("malformed"), "4");
    let total: u64 = files
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(field("bytes read"), total.to_string());
    assert!(field("throughput").contains("MB/s"));
}

#[test]
fn stdin_and_csv_output() {
    let mut child = crate::common::command()
        .args(["parse", "--output", "csv", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(testdata("decode/multi-member.log.gz")).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("version,account-id,interface-id,srcaddr"));
    assert_eq!(
        lines[2],
        "2,123456789012,eni-0acae018ffc56ba56,10.0.1.10,10.0.3.205,49170,3306,6,1,60,1700000300,1700000360,REJECT,OK"
    );
}

#[test]
fn truncated_gzip_keeps_what_it_decoded_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..2000 {
        text.push_str(&format!(
            "2 123456789012 eni-1 10.0.1.10 10.0.3.213 {} 3306 6 1 60 1700000000 1700000060 REJECT OK\n",
            10000 + i
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let path = dir.path().join("cut.log.gz");
    std::fs::write(&path, &gz[..gz.len() * 2 / 3]).unwrap();
    let out = vpcflow(&["parse", "--output", "summary", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("cut.log.gz"), "{err}");
    assert!(err.contains("compressed bytes"), "{err}");
    let records: u64 = summary_value(&out, "records").parse().unwrap();
    assert!(records > 0 && records < 2000, "kept {records} records");
    assert!(err.contains(&format!("after {records} records")), "{err}");
}

#[test]
fn parquet_round_trip_and_output_path_checks() {
    let dir = tempfile::tempdir().unwrap();
    let pq = dir.path().join("flows.parquet");
    let pq_s = pq.to_str().unwrap();
    let src = testdata("decode/v3-tcp-flags.log");
    let fmt = std::fs::read_to_string(testdata("decode/v3-tcp-flags.format")).unwrap();
    let out = vpcflow(&[
        "parse",
        "--log-format",
        fmt.trim(),
        "-o",
        "parquet",
        "--out",
        pq_s,
        src.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Reading the Parquet back gives the same records as the text.
    let back = vpcflow(&["parse", pq_s]);
    assert_eq!(back.status.code(), Some(0), "{}", stderr(&back));
    let expected = std::fs::read_to_string(testdata("decode/v3-tcp-flags.golden.jsonl")).unwrap();
    assert_eq!(stdout(&back), expected);
    // An existing file is not overwritten without --force.
    let again = vpcflow(&[
        "parse",
        "--log-format",
        fmt.trim(),
        "-o",
        "parquet",
        "--out",
        pq_s,
        src.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    let into_dir = vpcflow(&[
        "parse",
        "-o",
        "parquet",
        "--out",
        dir.path().to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert!(stderr(&into_dir).contains("is a directory"));
    let no_out = vpcflow(&["parse", "-o", "parquet", src.to_str().unwrap()]);
    assert!(stderr(&no_out).contains("--out"));
}

#[test]
fn unknown_fields_warn_with_their_name_and_strict_refuses_them() {
    let out = vpcflow(&["parse", "--log-format", "${srcaddr} ${warp-factor}", "-"]);
    // Regression: the warning was printed twice (once for the flag, once per report).
    assert_eq!(
        stderr(&out).matches("warp-factor").count(),
        1,
        "{}",
        stderr(&out)
    );
    let strict = vpcflow(&[
        "parse",
        "--strict",
        "--log-format",
        "${srcaddr} ${warp-factor}",
        "-",
    ]);
    assert_eq!(strict.status.code(), Some(2));
    assert!(stderr(&strict).contains("unknown flow-log field `warp-factor`"));
    let bad = vpcflow(&["parse", "--log-format", "${srcaddr} dstaddr", "-"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("at byte 11"), "{}", stderr(&bad));
}

#[test]
fn missing_input_is_an_error_that_names_it() {
    let out = vpcflow(&["parse", "/nonexistent/flows.log"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot open /nonexistent/flows.log"),
        "{}",
        stderr(&out)
    );
}
