//! `vpcflow convert`: Hive-partitioned Parquet that other tools read (pyarrow and DuckDB,
//! installed from PyPI by scripts/install-test-deps.sh).

use crate::common::{files_under, python, stderr, testdata, vpcflow};

#[test]
fn converted_parquet_reads_back_in_pyarrow_and_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("pq");
    let out = vpcflow(&[
        "convert",
        "--out",
        out_dir.to_str().unwrap(),
        testdata("rds-sg-patterns/s3").to_str().unwrap(),
        testdata("decode/ipv6.log").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("converted 39 records"),
        "{}",
        stderr(&out)
    );
    // Partitions: the scenario's records are of one account, region and day;
    // the IPv6 sample has no region field.
    let listing = python(&format!(
        r#"
import pathlib
root = pathlib.Path({root:?})
for p in sorted(root.rglob("*.parquet")):
    print(p.relative_to(root).parent)
"#,
        root = out_dir.to_str().unwrap()
    ));
    let dirs: std::collections::BTreeSet<&str> = listing.lines().collect();
    assert!(
        dirs.contains("account-id=123456789012/region=ap-northeast-1/date=2026-11-20"),
        "{listing}"
    );
    assert!(
        dirs.contains("account-id=123456789012/region=unknown/date=2023-11-14"),
        "{listing}"
    );
    // pyarrow: row counts and values.
    let py = python(&format!(
        r#"
import pyarrow.dataset as ds, ipaddress
d = ds.dataset({root:?}, format="parquet", partitioning="hive")
t = d.to_table()
print(t.num_rows)
rej = t.filter(ds.field("action") == "REJECT")
print(rej.num_rows)
row = t.filter(ds.field("dstport") == 5432).to_pylist()[0]
start = row["start"]  # INT64 seconds (Parquet has no seconds unit), or a timestamp
print(row["account-id"], row["dstport"], row["bytes"], start if isinstance(start, int) else int(start.timestamp()))
print(ipaddress.IPv6Address(row["dstaddr"]))
"#,
        root = out_dir.to_str().unwrap()
    ));
    let lines: Vec<&str> = py.lines().collect();
    assert_eq!(lines[0], "39");
    assert_eq!(
        lines[1], "13",
        "8 REJECTs at the databases, 4 scan probes, 1 IPv6"
    );
    assert_eq!(lines[2], "123456789012 5432 80 1700000000");
    assert_eq!(lines[3], "2001:db8:3::5");
    // DuckDB, with the hive partitions as columns.
    let duck = python(&format!(
        r#"
import duckdb
q = "SELECT \"region\", count(*), sum(\"bytes\") FROM read_parquet('{root}/**/*.parquet', hive_partitioning=true) GROUP BY 1 ORDER BY 1"
for r in duckdb.sql(q).fetchall():
    print(*r)
"#,
        root = out_dir.to_str().unwrap()
    ));
    assert!(
        duck.lines().any(|l| l.starts_with("ap-northeast-1 36 ")),
        "{duck}"
    );
    assert!(duck.lines().any(|l| l.starts_with("unknown ")), "{duck}");
    // Converting again replaces the same files rather than adding copies.
    let count = |d: &std::path::Path| files_under(d).len();
    let before = count(&out_dir);
    let again = vpcflow(&[
        "convert",
        "--out",
        out_dir.to_str().unwrap(),
        testdata("decode/ipv6.log").to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(count(&out_dir), before);
}

#[test]
fn aws_parquet_delivery_is_read() {
    // A file shaped like AWS's Parquet delivery: underscores in column names, int32/int64 types.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("aws.parquet");
    python(&format!(
        r#"
import pyarrow as pa, pyarrow.parquet as pq
t = pa.table({{
  "version": pa.array([2, 2], pa.int32()),
  "account_id": ["123456789012", "123456789012"],
  "interface_id": ["eni-085da82d3ccb0f0ad", "eni-085da82d3ccb0f0ad"],
  "srcaddr": ["10.0.1.10", "10.0.1.10"],
  "dstaddr": ["10.0.3.213", "10.0.3.213"],
  "srcport": pa.array([51234, 51240], pa.int32()),
  "dstport": pa.array([3306, 3306], pa.int32()),
  "protocol": pa.array([6, 6], pa.int32()),
  "packets": pa.array([5, 5], pa.int64()),
  "bytes": pa.array([300, 300], pa.int64()),
  "start": pa.array([1795165323, 1795165803], pa.int64()),
  "end": pa.array([1795165379, 1795165859], pa.int64()),
  "action": ["REJECT", "REJECT"],
  "log_status": ["OK", "OK"],
}})
pq.write_table(t, {path:?})
"#,
        path = path.to_str().unwrap()
    ));
    let out = vpcflow(&[
        "verdict",
        "--endpoints",
        testdata("rds-sg-patterns/endpoints.toml").to_str().unwrap(),
        "-o",
        "json",
        path.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let row: serde_json::Value =
        serde_json::from_str(crate::common::stdout(&out).lines().next().unwrap()).unwrap();
    assert_eq!(row["endpoint"], "dbinstance1");
    assert_eq!(row["verdict"], "blocked");
    assert_eq!(row["attempts"], 2);
}

/// `convert --format ocsf`: Security Lake's layout, read back by pyarrow and DuckDB, and every
/// row equal to the event `parse --output ocsf` writes for the same record.
#[test]
fn ocsf_parquet_is_in_security_lake_layout_and_equals_the_json_events() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("lake");
    let inputs = [
        testdata("rds-sg-patterns/s3"),
        testdata("ocsf/v5-reject-pkt.log"),
        testdata("ocsf/nodata.log"),
    ];
    let inputs: Vec<&str> = inputs.iter().map(|p| p.to_str().unwrap()).collect();
    let mut args = vec![
        "convert",
        "--format",
        "ocsf",
        "--out",
        out_dir.to_str().unwrap(),
    ];
    args.extend(&inputs);
    let out = vpcflow(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut parse = vec!["parse", "--output", "ocsf"];
    parse.extend(&inputs);
    let events = vpcflow(&parse);
    assert_eq!(events.status.code(), Some(0), "{}", stderr(&events));
    let json = dir.path().join("events.jsonl");
    std::fs::write(&json, &events.stdout).unwrap();
    let py = python(&format!(
        r#"
import json, pathlib, datetime, collections
import pyarrow.dataset as ds, duckdb
root = pathlib.Path({root:?})
print(sorted(str(p.relative_to(root).parent) for p in root.rglob("*.parquet"))[0])
dirs = collections.Counter(str(p.relative_to(root).parent) for p in root.rglob("*.parquet"))
for d in sorted(dirs):
    print(d, dirs[d])
t = ds.dataset(root, format="parquet", partitioning="hive").to_table()
print("rows", t.num_rows)
# Each row, nulls dropped, equals a JSON event (unmapped values are text in Parquet).
def clean(v):
    if isinstance(v, dict):
        return {{k: clean(x) for k, x in v.items() if x is not None}}
    if isinstance(v, list):
        if v and isinstance(v[0], tuple):
            return {{k: x for k, x in v}}
        return [clean(x) for x in v]
    if isinstance(v, datetime.datetime):
        return v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return v
rows = []
for r in t.to_pylist():
    for k in ("region", "accountId", "eventDay"):
        r.pop(k)
    rows.append(json.dumps(clean(r), sort_keys=True))
def textual(e):
    if "unmapped" in e:
        e["unmapped"] = {{k: str(v) for k, v in e["unmapped"].items()}}
    return json.dumps(e, sort_keys=True)
want = [textual(json.loads(l)) for l in open({json:?})]
print("equal", sorted(rows) == sorted(want), len(want))
q = f"SELECT dst_endpoint.ip, src_endpoint.intermediate_ips[1], accountId, eventDay FROM read_parquet('{{root}}/**/*.parquet', hive_partitioning=true) WHERE region = 'us-east-1' AND activity_id = 5"
print(*duckdb.sql(q).fetchall()[0])
"#,
        root = out_dir.to_str().unwrap(),
        json = json.to_str().unwrap()
    ));
    let lines: Vec<&str> = py.lines().collect();
    assert!(
        lines.contains(&"region=ap-northeast-1/accountId=123456789012/eventDay=20261120 4"),
        "{py}"
    );
    assert!(
        lines.contains(&"region=us-east-1/accountId=123456789012/eventDay=20261120 1"),
        "{py}"
    );
    assert!(
        lines.contains(&"region=unknown/accountId=123456789012/eventDay=20261120 1"),
        "{py}"
    );
    assert!(lines.contains(&"rows 38"), "{py}");
    assert!(lines.contains(&"equal True 38"), "{py}");
    assert!(
        lines.contains(&"10.0.3.82 10.0.0.5 123456789012 20261120"),
        "{py}"
    );
}

/// `convert --athena-ddl`: the statement parses as Athena SQL (sqlglot), its columns line up
/// with the written files as DuckDB reads them (by position and type), and its partition
/// projection names exactly the directories written.
#[test]
fn athena_ddl_parses_and_matches_the_files_convert_wrote() {
    for format in ["parquet", "ocsf"] {
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("out");
        let location = "s3://my-bucket/flows/";
        let out = vpcflow(&[
            "convert",
            "--format",
            format,
            "--out",
            out_dir.to_str().unwrap(),
            "--athena-ddl",
            "--table",
            "flows",
            "--location",
            location,
            testdata("rds-sg-patterns/s3").to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        let ddl = dir.path().join("ddl.sql");
        std::fs::write(&ddl, &out.stdout).unwrap();
        let py = python(&format!(
            r#"
import re, sqlglot, duckdb, pathlib
from sqlglot import exp
ddl = open({ddl:?}).read()
e = sqlglot.parse_one(ddl, read="athena")
assert isinstance(e, exp.Create) and e.args["kind"] == "TABLE", e
cols = [(c.name, c.args["kind"].sql("athena")) for c in e.this.expressions]
parts = [p.name for p in e.find(exp.PartitionedByProperty).this.expressions]
root = {root:?}
rel = duckdb.sql(f"SELECT * FROM read_parquet('{{root}}/**/*.parquet', hive_partitioning=true, hive_types_autocast=false)")
names, types = rel.columns, [str(t) for t in rel.types]
print("columns", len(cols), "files+partitions", len(names), "partitions", len(parts))
# Athena type -> what DuckDB may show for the same Parquet column.
ok = {{"INTEGER": ("UTINYINT", "USMALLINT", "INTEGER"), "BIGINT": ("UBIGINT", "BIGINT"),
      "VARCHAR": ("VARCHAR",), "VARBINARY": ("BLOB",), "TIMESTAMP": ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP")}}
bad = []
for i, (name, t) in enumerate(cols):
    dt = types[i]
    if t.startswith(("STRUCT", "ARRAY", "MAP", "ROW")):
        good = dt.split("(")[0].split("<")[0] in ("STRUCT", "MAP") or dt.endswith("[]")
    else:
        good = dt in ok[t]
    if not good or name != names[i].replace("-", "_").lower():
        bad.append((name, t, names[i], dt))
print("mismatches", bad)
# The DuckDB reading of the column list: every column by position under its Athena name.
sel = ", ".join(f'"{{names[i]}}" AS "{{c}}"' for i, (c, _) in enumerate(cols))
print("rows", duckdb.sql(f"SELECT count(*) FROM (SELECT {{sel}} FROM rel)").fetchall()[0][0])
# The projection: the template, filled with every enum value, names the written directories.
template = re.search(r"'storage.location.template' = '([^']+)'", ddl).group(1)
values = {{k: v.split(",") for k, v in re.findall(r"'projection\.(\w+)\.values' = '([^']+)'", ddl)}}
day = re.search(r"'projection\.\w+\.range' = '(\d+)-?(\d+)-?(\d+),NOW'", ddl).groups()
dirs = sorted(str(p.relative_to(root).parent) for p in pathlib.Path(root).rglob("*.parquet"))
filled = template.replace({location:?}, "")
for k, vs in values.items():
    filled = filled.replace("${{" + k + "}}", vs[0])
filled = re.sub(r"\$\{{\w+\}}", "-".join(day) if "date=" in filled else "".join(day), filled)
print("template names a written directory", filled in dirs, filled)
"#,
            ddl = ddl.to_str().unwrap(),
            root = out_dir.to_str().unwrap(),
            location = location.trim_end_matches('/').to_owned() + "/",
        ));
        let lines: Vec<&str> = py.lines().collect();
        // DuckDB folds the flow layout's account-id and region directories into the columns
        // of the same names; Athena needs them apart (p_account_id, p_region).
        let (columns, duckdb_columns) = if format == "parquet" {
            (29, 30)
        } else {
            (29, 32)
        };
        assert!(
            lines.contains(
                &format!("columns {columns} files+partitions {duckdb_columns} partitions 3")
                    .as_str()
            ),
            "{format}: {py}"
        );
        assert!(lines.contains(&"mismatches []"), "{format}: {py}");
        assert!(lines.contains(&"rows 36"), "{format}: {py}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("template names a written directory True")),
            "{format}: {py}"
        );
    }
}
