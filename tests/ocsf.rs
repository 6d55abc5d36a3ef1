//! `parse --output ocsf`: OCSF 1.1.0 Network Activity events, checked against golden files read
//! by hand against AWS's mapping, and validated against the OCSF JSON Schema.

use crate::common::{path_str as path, python, stderr, stdout, testdata, vpcflow};

/// The fixtures: a v2 ACCEPT, a v5 REJECT with pkt-* addresses and traffic-path, IPv6, NODATA.
const GOLDEN: [&str; 4] = ["v2-accept", "v5-reject-pkt", "ipv6", "nodata"];

fn ocsf(input: &std::path::Path) -> std::process::Output {
    vpcflow(&["parse", "--output", "ocsf", path(input)])
}

#[test]
fn each_record_shape_gives_its_golden_event() {
    for name in GOLDEN {
        let out = ocsf(&testdata(&format!("ocsf/{name}.log")));
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let golden =
            std::fs::read_to_string(testdata(&format!("ocsf/{name}.golden.jsonl"))).unwrap();
        assert_eq!(stdout(&out), golden, "{name}");
    }
}

#[test]
fn transit_gateway_records_are_refused_by_name() {
    let out = ocsf(&testdata("ocsf/tgw.log"));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_eq!(
        err.matches("Transit Gateway flow-log records").count(),
        1,
        "{err}"
    );
    assert!(err.contains("use --output json"), "{err}");
}

/// Every event from the golden fixtures and the bundled scenario (text and the S3 tree with
/// headers), and every verdict event (with and without --explain, with unexpected clients), is
/// valid OCSF 1.1.0 class 4001, by Python's jsonschema (draft 2020-12).
#[test]
fn every_event_validates_against_the_ocsf_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, input) in GOLDEN
        .iter()
        .map(|g| testdata(&format!("ocsf/{g}.log")))
        .chain([
            testdata("rds-sg-patterns/cloudwatch"),
            testdata("rds-sg-patterns/s3"),
            testdata("reject-reason/bpa.log"),
        ])
        .enumerate()
    {
        let out = ocsf(&input);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let file = dir.path().join(format!("{i}.jsonl"));
        std::fs::write(&file, out.stdout).unwrap();
        files.push(path(&file).to_owned());
    }
    // Verdicts as OCSF, with and without --explain, and with unexpected clients.
    let (endpoints, snapshot, cloudwatch) = (
        testdata("rds-sg-patterns/endpoints.toml"),
        testdata("rds-sg-patterns/config"),
        testdata("rds-sg-patterns/cloudwatch"),
    );
    let expected = (
        testdata("expected-clients/endpoints.toml"),
        testdata("expected-clients/flows.log"),
    );
    let runs: [Vec<&str>; 3] = [
        vec!["--endpoints", path(&endpoints), path(&cloudwatch)],
        vec![
            "--endpoints",
            path(&endpoints),
            "--config-snapshot",
            path(&snapshot),
            path(&cloudwatch),
        ],
        vec!["--endpoints", path(&expected.0), path(&expected.1)],
    ];
    for (i, run) in runs.iter().enumerate() {
        let mut args = vec!["verdict", "--output", "ocsf"];
        args.extend(run);
        let out = vpcflow(&args);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let events: Vec<serde_json::Value> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(!events.is_empty());
        for e in &events {
            let blocked = e["unmapped"]["verdict"] == "blocked";
            assert_eq!(e["class_uid"], 4001);
            assert_eq!(e["count"], e["unmapped"]["attempts"]);
            assert_eq!(e["action_id"], if blocked { 2 } else { 1 }, "{e}");
            if i == 1 && blocked {
                assert!(
                    e["unmapped"]["blocked_by"]
                        .as_str()
                        .unwrap()
                        .starts_with("sg:"),
                    "{e}"
                );
            }
            if e["unmapped"]["unexpected"] == true {
                assert_eq!(e["severity_id"], 4, "{e}");
            }
        }
        let file = dir.path().join(format!("verdict-{i}.jsonl"));
        std::fs::write(&file, out.stdout).unwrap();
        files.push(path(&file).to_owned());
    }
    let report = python(&format!(
        r#"
import json
from jsonschema import Draft202012Validator
v = Draft202012Validator(json.load(open({schema:?})))
n = bad = 0
for f in {files:?}:
    for line in open(f):
        n += 1
        for e in v.iter_errors(json.loads(line)):
            bad += 1
            print(f"{{f}}: {{list(e.absolute_path)}}: {{e.message[:300]}}")
print(f"{{n}} events, {{bad}} errors")
"#,
        schema = path(&testdata("ocsf/schema/network_activity-1.1.0.schema.json")),
        files = files,
    ));
    let last = report.lines().last().unwrap_or_default();
    assert!(last.ends_with(" events, 0 errors"), "{report}");
    let n: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert!(n > 40, "{report}");
}
