//! Archive shapes AWS and common writers produce (issue 12): each must decode to the records
//! the same flow logs give as text.

use std::path::Path;

use crate::common::{gz, path_str as path, python, stderr, stdout, testdata, vpcflow};

/// The 300 generated v5 records of `testdata/parquet/`, as text (header line first).
fn v5_text(dir: &Path) -> std::path::PathBuf {
    let text = dir.join("v5.log");
    let out = vpcflow(&[
        "generate",
        "--records",
        "300",
        "--format",
        "v5",
        "--header",
        "--seed",
        "7",
        "--out",
        path(&text),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    text
}

/// `verdict --output json` over `input` with the catalogue `endpoints` (under testdata/): exit
/// code, stdout, stderr.
fn verdicts(endpoints: &str, input: &Path) -> (Option<i32>, String, String) {
    let out = vpcflow(&[
        "verdict",
        "--endpoints",
        path(&testdata(endpoints)),
        "--output",
        "json",
        path(input),
    ]);
    (out.status.code(), stdout(&out), stderr(&out))
}

fn verdict_json(input: &Path) -> (Option<i32>, String, String) {
    verdicts("parquet/v5.endpoints.toml", input)
}

/// AWS documents its Parquet delivery as GZIP-compressed Parquet; other writers use SNAPPY,
/// ZSTD, LZ4_RAW, BROTLI or none. Each, with AWS's column names (underscores) and types
/// (int32/int64, strings), gives the verdicts of the same records as text.
#[test]
fn parquet_of_every_codec_gives_the_verdicts_of_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let text = v5_text(dir.path());
    let (code, expected, err) = verdict_json(&text);
    assert_eq!(code, Some(1), "{err}");
    assert!(expected.lines().count() > 10, "{expected}");
    let codecs = ["gzip", "snappy", "zstd", "lz4", "brotli", "none"];
    python(&format!(
        r#"
import pyarrow as pa, pyarrow.parquet as pq, pyarrow.csv as csv
t = csv.read_csv({src:?}, parse_options=csv.ParseOptions(delimiter=" "),
                 convert_options=csv.ConvertOptions(null_values=["-"], strings_can_be_null=True))
ints32 = {{"version", "srcport", "dstport", "protocol", "tcp-flags"}}
cols, names = [], []
for f, c in zip(t.schema, t.columns):
    if pa.types.is_integer(f.type):
        c = c.cast(pa.int32() if f.name in ints32 else pa.int64())
    elif pa.types.is_null(f.type):
        c = c.cast(pa.string())
    cols.append(c)
    names.append(f.name.replace("-", "_"))
out = pa.table(cols, names=names)
for codec in {codecs:?}:
    pq.write_table(out, f"{dst}/aws-{{codec}}.parquet", compression=codec)
    assert pq.ParquetFile(f"{dst}/aws-{{codec}}.parquet").metadata.row_group(0).column(0).compression.lower().replace("_raw", "") in (codec, "uncompressed" if codec == "none" else codec)
"#,
        src = path(&text),
        dst = path(dir.path()),
    ));
    for codec in codecs {
        let file = dir.path().join(format!("aws-{codec}.parquet"));
        let (code2, got, err) = verdict_json(&file);
        assert_eq!(code2, code, "{codec}: {err}");
        assert_eq!(got, expected, "{codec}: {err}");
    }
}

/// The bundled CloudWatch streams: (stream name, its records).
fn scenario_streams() -> Vec<(String, Vec<String>)> {
    let dir = testdata("rds-sg-patterns/cloudwatch/soa-05-001-FlowLogGroup");
    let mut streams: Vec<(String, Vec<String>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_stem().unwrap().to_str().unwrap().to_owned();
            let text = std::fs::read_to_string(&p).unwrap();
            (name, text.lines().map(str::to_owned).collect())
        })
        .collect();
    streams.sort();
    streams
}

/// The bundled records in the three wrapped shapes, one directory each under `dir`:
/// - `export/`: a CloudWatch Logs export (`TASK/STREAM/000000.gz`, lines `TIME MESSAGE`, newest
///   first: AWS does not sort them);
/// - `subscription/`: one multi-member gzip object of subscription payloads as Firehose writes
///   them, a CONTROL_MESSAGE first, no separators;
/// - `firehose/`: flow logs delivered straight to Firehose, `{"message":…}` records back to back.
pub fn write_shapes(dir: &Path) {
    let streams = scenario_streams();
    let time = |record: &str| -> String {
        let start: i64 = record.split(' ').nth(10).unwrap().parse().unwrap();
        jiff::Timestamp::from_millisecond(start * 1000 + 123)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    let task = dir.join("export/2f3c9a7e-1d2b-4c5d-9e8f-0a1b2c3d4e5f");
    let mut subscription = gz(serde_json::json!({
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{"id": "", "timestamp": 1_600_110_003_794_i64,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]
    })
    .to_string()
    .as_bytes());
    let mut firehose = String::new();
    for (stream, records) in &streams {
        let lines: String = records
            .iter()
            .rev()
            .map(|r| format!("{} {r}\n", time(r)))
            .collect();
        std::fs::create_dir_all(task.join(stream)).unwrap();
        std::fs::write(task.join(stream).join("000000.gz"), gz(lines.as_bytes())).unwrap();
        let events: Vec<serde_json::Value> = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                serde_json::json!({"id": format!("3195310660696698337880902507980421114328961542429{i:07}"),
                    "timestamp": 1_795_165_323_000_i64, "message": r})
            })
            .collect();
        let payload = serde_json::json!({
            "owner": "123456789012",
            "logGroup": "soa-05-001-FlowLogGroup",
            "logStream": stream,
            "subscriptionFilters": ["to-firehose"],
            "messageType": "DATA_MESSAGE",
            "logEvents": events,
        });
        subscription.extend(gz(payload.to_string().as_bytes()));
        for r in records {
            firehose.push_str(&serde_json::json!({ "message": r }).to_string());
        }
    }
    std::fs::create_dir_all(dir.join("subscription/2026/11/20/09")).unwrap();
    std::fs::write(
        dir.join("subscription/2026/11/20/09/fl-stream-1-2026-11-20-09-05-03-6bd3b0f5"),
        subscription,
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("firehose/2026/11/20/09")).unwrap();
    std::fs::write(
        dir.join("firehose/2026/11/20/09/vpc-direct-1-2026-11-20-09-05-03-1a2b3c4d"),
        firehose,
    )
    .unwrap();
}

/// The bundled scenario's verdicts as JSON, from its CloudWatch text files.
pub fn scenario_verdicts() -> (Option<i32>, String) {
    let (code, out, _) = verdicts(
        "rds-sg-patterns/endpoints.toml",
        &testdata("rds-sg-patterns/cloudwatch"),
    );
    (code, out)
}

/// CloudWatch Logs exports, subscription payloads (Firehose, multi-member gzip, a control
/// message) and direct Firehose records open by content and give the verdicts of the text.
#[test]
fn wrapped_shapes_give_the_verdicts_of_the_text() {
    let dir = tempfile::tempdir().unwrap();
    write_shapes(dir.path());
    let (code, expected) = scenario_verdicts();
    assert_eq!(code, Some(1));
    assert_eq!(expected.lines().count(), 4, "{expected}");
    for shape in ["export", "subscription", "firehose"] {
        let out = vpcflow(&[
            "verdict",
            "--endpoints",
            path(&testdata("rds-sg-patterns/endpoints.toml")),
            "--output",
            "json",
            path(&dir.path().join(shape)),
        ]);
        assert_eq!(out.status.code(), code, "{shape}: {}", stderr(&out));
        assert_eq!(stdout(&out), expected, "{shape}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("malformed"),
            "{shape}: {}",
            stderr(&out)
        );
    }
    // From stdin too.
    let bytes = std::fs::read(
        dir.path()
            .join("subscription/2026/11/20/09/fl-stream-1-2026-11-20-09-05-03-6bd3b0f5"),
    )
    .unwrap();
    let mut child = crate::common::command()
        .args(["parse", "--output", "summary", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    let records: usize = scenario_streams().iter().map(|(_, r)| r.len()).sum();
    assert_eq!(
        crate::common::summary_value(&out, "records"),
        records.to_string()
    );
}

/// A Parquet file with what a text log cannot hold: a port above 65535, a protocol above 255 and
/// a negative start time, one per row among good rows, and a list column vpcflow has no type
/// for. `verdict` reads only the columns it needs (the list column is never read), and reports
/// each bad row as a malformed record with the file and row; `parse`, which reads every column,
/// names the column it cannot read.
#[test]
fn parquet_values_out_of_range_are_malformed_rows_and_unread_columns_are_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("odd.parquet");
    python(&format!(
        r#"
import pyarrow as pa, pyarrow.parquet as pq
n = 6
rows = dict(
    version=[2] * n, account_id=["123456789012"] * n, interface_id=["eni-0e71f2697f24bffbf"] * n,
    srcaddr=["10.0.1.10"] * n, dstaddr=["10.0.3.82"] * n,
    srcport=[40000, 70000, 40002, 40003, 40004, 40005], dstport=[3306] * n,
    protocol=[6, 6, 300, 6, 6, 6], packets=[3] * n, bytes=[180] * n,
    start=[1795165200, 1795165201, 1795165202, -5, 1795165204, 1795165205],
    end=[1795165259 + i for i in range(n)],
    action=["ACCEPT"] * n, log_status=["OK"] * n,
)
t = pa.table({{k: pa.array(v, pa.int32() if k in ("version", "srcport", "dstport", "protocol") else None) for k, v in rows.items()}})
t = t.append_column("tags", pa.array([["a", "b"]] * n, pa.list_(pa.string())))
pq.write_table(t, {file:?}, compression="gzip")
"#,
        file = path(&file),
    ));
    let (code, out, err) = verdicts("rds-sg-patterns/endpoints.toml", &file);
    assert_eq!(code, Some(0), "{err}");
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["endpoint"], "dbinstance3");
    assert_eq!(v["records"], 3, "three good rows judged: {out}");
    for (row, why) in [(2, "srcport"), (3, "protocol"), (4, "start")] {
        let at = format!("odd.parquet:{row}");
        let line = err
            .lines()
            .find(|l| l.contains(&at))
            .unwrap_or_else(|| panic!("no {at} in {err}"));
        assert!(line.contains(why), "{line}");
    }
    assert!(err.contains("3 malformed"), "{err}");
    let out = vpcflow(&["parse", "--output", "json", path(&file)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("column `tags`"), "{}", stderr(&out));
}
