//! `vpcflow query` (feature `distributed`) against DuckDB on the same files.

use crate::common::{generate, python, stderr, stdout, vpcflow};

/// `sql` through `vpcflow query --output csv` on `files`: its rows, header left out.
fn vpcflow_rows(sql: &str, files: &[&str]) -> Vec<String> {
    let mut args = vec!["query", "--output", "csv", sql];
    args.extend_from_slice(files);
    let out = vpcflow(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out).lines().skip(1).map(str::to_owned).collect()
}

/// `sql` in DuckDB, `{flows}` standing for the generated file read as CSV: its rows, as CSV.
fn duckdb_rows(sql: &str, file: &str) -> Vec<String> {
    let from = format!(
        "read_csv('{file}', delim=' ', header=true, nullstr='-', \
         types={{'srcaddr': 'VARCHAR', 'dstaddr': 'VARCHAR'}})"
    );
    let sql = sql.replace("{flows}", &from);
    let out = python(&format!(
        r#"
import duckdb
for r in duckdb.sql({sql:?}).fetchall():
    print(",".join("" if v is None else str(v) for v in r))
"#
    ));
    out.lines().map(str::to_owned).collect()
}

#[test]
fn query_gives_duckdbs_answers_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path(), "30000", &["--span", "7200"]);
    let cases = [
        (
            "counts by action",
            "SELECT action, count(*) FROM flows WHERE action IS NOT NULL GROUP BY action ORDER BY action",
            "SELECT action, count(*) FROM {flows} WHERE action IS NOT NULL GROUP BY action ORDER BY action",
        ),
        (
            "bytes by interface",
            r#"SELECT "interface-id", sum(bytes) FROM flows WHERE bytes IS NOT NULL GROUP BY 1 ORDER BY 1"#,
            r#"SELECT "interface-id", sum(bytes) FROM {flows} WHERE bytes IS NOT NULL GROUP BY 1 ORDER BY 1"#,
        ),
        (
            "top 10 REJECTed (srcaddr, dstport)",
            "SELECT srcaddr, dstport, count(*) AS n FROM flows WHERE action = 'REJECT' \
             GROUP BY srcaddr, dstport ORDER BY n DESC, dstport, srcaddr LIMIT 10",
            "SELECT srcaddr, dstport, count(*) AS n FROM {flows} WHERE action = 'REJECT' \
             GROUP BY srcaddr, dstport ORDER BY n DESC, dstport, srcaddr LIMIT 10",
        ),
        (
            "a time window",
            "SELECT count(*), sum(packets) FROM flows \
             WHERE start >= to_timestamp(1700001800) AND start < to_timestamp(1700003600)",
            "SELECT count(*), sum(packets) FROM {flows} WHERE start >= 1700001800 AND start < 1700003600",
        ),
    ];
    for (what, ours, theirs) in cases {
        let got = vpcflow_rows(ours, &[&log]);
        let want = duckdb_rows(theirs, &log);
        assert!(
            !want.is_empty() && want[0] != "0,",
            "{what}: DuckDB found rows: {want:?}"
        );
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn query_without_inputs_or_with_bad_sql_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path(), "100", &[]);
    let out = vpcflow(&["query", "SELECT nope FROM flows", &log]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
    let out = vpcflow(&[
        "query",
        "SELECT 1 FROM flows",
        &dir.path().join("none").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn query_takes_its_columns_from_the_first_files_header() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path(), "200", &["--format", "v5"]);
    let got = vpcflow_rows(
        r#"SELECT count(*) FROM flows WHERE "flow-direction" IS NOT NULL"#,
        &[&log],
    );
    assert_eq!(got, ["200"], "a v5 column, read from the header line");
}
