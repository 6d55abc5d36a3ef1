//! One large uncompressed file shared by threads: the same records, counts, malformed-line
//! positions and verdicts as one thread reading it whole.

use std::io::Write;

use crate::common::{stderr, stdout, summary_value, vpcflow};

/// A generated v5 file with a header, past the split threshold, with malformed lines at known
/// places; and its catalogue.
fn big_file(dir: &std::path::Path) -> (String, String) {
    let clean = dir.join("clean.log");
    let catalogue = dir.join("endpoints.toml");
    let out = vpcflow(&[
        "generate",
        "--records",
        "260000",
        "--format",
        "v5",
        "--header",
        "--endpoints",
        "6",
        "--catalogue",
        catalogue.to_str().unwrap(),
        "--out",
        clean.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&clean).unwrap();
    assert!(
        text.len() as u64 > 2 * vpcflow_input::MIN_PART,
        "the file must be large enough to split"
    );
    // Malformed lines near the start, in the middle and near the end (lines 3, ~130,001 and
    // the last but one).
    let lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    let path = dir.join("big.log");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for (i, line) in lines.iter().enumerate() {
        if i == 2 || i == n / 2 || i == n - 2 {
            writeln!(f, "this line is not a record").unwrap();
        }
        writeln!(f, "{line}").unwrap();
    }
    drop(f);
    (
        path.to_str().unwrap().to_owned(),
        catalogue.to_str().unwrap().to_owned(),
    )
}

fn malformed_positions(err: &str) -> Vec<String> {
    err.lines()
        .filter(|l| l.contains("big.log:"))
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn a_split_file_gives_what_one_thread_gives() {
    let dir = tempfile::tempdir().unwrap();
    let (file, catalogue) = big_file(dir.path());

    let one = vpcflow(&["parse", "--output", "summary", "--threads", "1", &file]);
    let two = vpcflow(&[
        "-v",
        "parse",
        "--output",
        "summary",
        "--threads",
        "2",
        &file,
    ]);
    assert!(
        one.status.success() && two.status.success(),
        "{}",
        stderr(&two)
    );
    assert!(
        stderr(&two).contains("big.log was split into"),
        "two threads share the file: {}",
        stderr(&two)
    );
    assert!(!stderr(&one).contains("was split into"));
    for field in ["records", "ACCEPT", "REJECT", "malformed"] {
        assert_eq!(
            summary_value(&one, field),
            summary_value(&two, field),
            "{field}"
        );
    }
    assert_eq!(summary_value(&one, "records"), "260000");
    assert_eq!(summary_value(&one, "malformed"), "3");
    let positions = malformed_positions(&stderr(&one));
    assert_eq!(positions.len(), 3, "{}", stderr(&one));
    assert_eq!(
        positions,
        malformed_positions(&stderr(&two)),
        "file line numbers, not part ones"
    );
    assert!(positions[0].contains("big.log:3:"), "{}", positions[0]);

    let v1 = vpcflow(&[
        "verdict",
        "--endpoints",
        &catalogue,
        "-o",
        "json",
        "--threads",
        "1",
        &file,
    ]);
    let v2 = vpcflow(&[
        "verdict",
        "--endpoints",
        &catalogue,
        "-o",
        "json",
        "--threads",
        "2",
        &file,
    ]);
    assert_eq!(v1.status.code(), v2.status.code());
    assert!(!stdout(&v1).is_empty());
    assert_eq!(stdout(&v1), stdout(&v2));
}

#[test]
fn a_format_change_midway_stops_a_split_run_and_one_thread_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = big_file(dir.path());
    let text = std::fs::read_to_string(&file).unwrap();
    let head = &text[..text.len() * 3 / 4];
    let cut = head.rfind('\n').unwrap() + 1;
    let mixed = dir.path().join("mixed.log");
    let mut f = std::fs::File::create(&mixed).unwrap();
    f.write_all(&text.as_bytes()[..cut]).unwrap();
    // A concatenated object in another format: v2's header and one record.
    f.write_all(b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n").unwrap();
    f.write_all(b"2 123456789012 eni-1 10.0.1.10 10.0.3.5 40000 3306 6 1 60 1795165200 1795165260 REJECT OK\n").unwrap();
    drop(f);
    let mixed = mixed.to_str().unwrap();
    let two = vpcflow(&["parse", "--output", "summary", "--threads", "2", mixed]);
    assert_eq!(two.status.code(), Some(2));
    assert!(
        stderr(&two).contains("changes the log format"),
        "{}",
        stderr(&two)
    );
    assert!(
        stderr(&two).contains(&format!("at byte {cut}")),
        "{}",
        stderr(&two)
    );
    let one = vpcflow(&["parse", "--output", "summary", "--threads", "1", mixed]);
    assert!(one.status.success(), "{}", stderr(&one));
}
