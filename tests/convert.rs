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
        stderr(&out).contains("converted 35 records"),
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
    assert_eq!(lines[0], "35");
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
        duck.lines().any(|l| l.starts_with("ap-northeast-1 32 ")),
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
