//! `vpcflow bench` reports every stage with numbers, and decodes every generated record.

use crate::common::{stderr, stdout, vpcflow};

#[test]
fn bench_reports_each_stage_of_a_generated_gzip_input() {
    let out = vpcflow(&["bench", "--records", "20000", "--gzip"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("20000 records"), "{text}");
    for stage in ["read", "+ inflate", "+ decode", "+ aggregate"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(stage))
            .unwrap_or_else(|| panic!("no {stage} in {text}"));
        let fields: Vec<&str> = line[stage.len()..].split_whitespace().collect();
        let secs: f64 = fields[0].parse().unwrap();
        let mbs: f64 = fields[1].parse().unwrap();
        assert!(secs >= 0.0 && mbs > 0.0, "{line}");
        if stage.contains("decode") || stage.contains("aggregate") {
            let records_per_s: f64 = fields[2].parse().unwrap();
            assert!(records_per_s > 0.0, "{line}");
        }
    }
}
