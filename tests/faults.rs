//! Faults and hostile input (issue 19): each finding of the adversarial review has a test named
//! after it. The AWS ones (stalls, resets, replaced objects, Retry-After, empty prefixes,
//! malformed events in `tail`) live beside the other S3 and CloudWatch tests.

use std::path::Path;

use crate::common::{
    files_under, path_str as path, python, stderr, stdout, summary_value, testdata, vpcflow,
};

const V5: &str = "parquet/v5.parquet";
const V5_ENDPOINTS: &str = "parquet/v5.endpoints.toml";

/// `verdict --output json` over `input` with the v5 fixture's catalogue.
fn v5_verdicts(input: &Path) -> std::process::Output {
    vpcflow(&[
        "verdict",
        "--endpoints",
        path(&testdata(V5_ENDPOINTS)),
        "--output",
        "json",
        path(input),
    ])
}

fn no_panic(out: &std::process::Output) {
    let err = stderr(out);
    assert_ne!(out.status.code(), Some(101), "{err}");
    assert!(!err.contains("panicked at"), "{err}");
}

/// Finding 1: corrupt Parquet panicked inside the parquet crate
/// (`fixed_len_byte_array.rs:432`), and the good files beside it were never reported.
#[test]
fn corrupt_parquet_panicked_inside_the_parquet_crate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(testdata(V5), dir.path().join("a-good.parquet")).unwrap();
    std::fs::copy(
        testdata("parquet/panics-parquet-60.1.parquet"),
        dir.path().join("b-corrupt.parquet"),
    )
    .unwrap();
    std::fs::copy(testdata(V5), dir.path().join("c-good.parquet")).unwrap();
    let out = vpcflow(&["parse", "--output", "summary", path(dir.path())]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("b-corrupt.parquet"), "{err}");
    assert!(err.contains("the Parquet reader panicked"), "{err}");
    // Both good files are read whole; of the corrupt one, what came before the break.
    let records: u64 = summary_value(&out, "records").parse().unwrap();
    assert!((600..900).contains(&records), "{records}");

    // verdict: the verdicts of what could be read are printed, and the run says it failed.
    let out = v5_verdicts(dir.path());
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).lines().count() > 10, "{}", stdout(&out));
}

/// Finding 2: `--poll-interval nan`, a concurrency of 2^64-1 and huge batch sizes panicked.
#[test]
fn bad_arguments_panicked() {
    let endpoints = testdata(V5_ENDPOINTS);
    let cases: &[(&[&str], &str)] = &[
        (
            &["tail", "--log-group", "g", "--poll-interval", "nan"],
            "--poll-interval",
        ),
        (
            &["tail", "--log-group", "g", "--poll-interval", "inf"],
            "--poll-interval",
        ),
        (
            &["tail", "--log-group", "g", "--poll-interval", "1e300"],
            "--poll-interval",
        ),
        (
            &["verdict", "--concurrency", "18446744073709551615", "-"],
            "--concurrency",
        ),
        (
            &["parse", "--batch-size", "18446744073709551615", "-"],
            "--batch-size",
        ),
        (
            &["parse", "--batch-size", "4000000000", "-"],
            "--batch-size",
        ),
        (&["verdict", "--timeout", "0", "-"], "--timeout"),
        (&["verdict", "--max-attempts", "0", "-"], "--max-attempts"),
        (
            &["verdict", "--memory-limit", "99999999999T", "-"],
            "--memory-limit",
        ),
    ];
    for (args, flag) in cases {
        let mut args = args.to_vec();
        if args[0] != "parse" {
            args.splice(1..1, ["--endpoints", path(&endpoints)]);
        }
        let out = vpcflow(&args);
        no_panic(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(flag), "{args:?}: {}", stderr(&out));
    }
}

/// Finding 5: Parquet `large_string` and `string_view` columns read as the literal `"?"`, and
/// 1,000 REJECTs became "touch no catalogued endpoint". Every string, binary and integer type
/// a writer may use gives the verdicts the original file gives.
#[test]
fn large_string_and_string_view_columns_read_as_question_marks() {
    let dir = tempfile::tempdir().unwrap();
    let rewritten = dir.path().join("types.parquet");
    python(&format!(
        r#"
import pyarrow as pa, pyarrow.parquet as pq, pyarrow.compute as pc
t = pq.read_table({src:?})
kinds = [pa.large_string(), pa.string_view(), pa.binary(), pa.large_binary()]
ints = [pa.int64(), pa.uint32(), pa.int32()]
cols = []
for i, (f, c) in enumerate(zip(t.schema, t.columns)):
    if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type):
        c = c.cast(pa.string()).cast(kinds[i % len(kinds)])
    elif pa.types.is_fixed_size_binary(f.type):
        pass
    elif pa.types.is_integer(f.type):
        c = c.cast(ints[i % len(ints)])
    cols.append(c)
out = pa.table(cols, names=t.schema.names)
assert any(pa.types.is_large_string(f.type) for f in out.schema)
assert any(pa.types.is_string_view(f.type) for f in out.schema)
pq.write_table(out, {dst:?})
"#,
        src = path(&testdata(V5)),
        dst = path(&rewritten),
    ));
    let verdicts = |file: &Path| {
        let out = v5_verdicts(file);
        (out.status.code(), stdout(&out), stderr(&out))
    };
    let (code, original, _) = verdicts(&testdata(V5));
    let (code2, again, err) = verdicts(&rewritten);
    assert_eq!(code, Some(1));
    assert_eq!(code2, code, "{err}");
    assert!(original.lines().count() > 10);
    assert_eq!(again, original, "{err}");
    assert!(!again.contains("\"?\""));

    // A type that is not a flow log field is refused by name, and the run says so.
    let nested = dir.path().join("nested.parquet");
    python(&format!(
        r#"
import pyarrow as pa, pyarrow.parquet as pq
pq.write_table(pa.table({{"srcaddr": pa.array([[1, 2]], pa.list_(pa.int32())), "dstaddr": ["10.0.3.20"]}}), {dst:?})
"#,
        dst = path(&nested)
    ));
    let out = vpcflow(&["parse", path(&nested)]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("column `srcaddr` has Arrow type List"),
        "{}",
        stderr(&out)
    );
}

fn v5_line(account: &str, port: u16) -> String {
    format!(
        "5 {account} eni-0db0000000000000f 10.0.1.56 10.0.3.34 {port} 3306 6 1 60 1700000040 \
         1700000100 REJECT OK vpc-0a1b2c3d4e5f60718 subnet-0db00000000000001 - 2 IPv4 10.0.1.56 \
         10.0.3.34 ap-northeast-1 apne1-az1 - - - - ingress -\n"
    )
}

const V5_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol \
    packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type \
    pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service \
    pkt-dst-aws-service flow-direction traffic-path\n";

/// Finding 6: `convert` lost a row when two partition values cleaned up to the same directory
/// name (`a/b` next to `a_b`).
#[test]
fn partition_values_that_cleaned_up_alike_lost_a_row() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("two.log");
    std::fs::write(
        &input,
        format!(
            "{V5_HEADER}{}{}",
            v5_line("a/b", 40001),
            v5_line("a_b", 40002)
        ),
    )
    .unwrap();
    let out_dir = dir.path().join("pq");
    let out = vpcflow(&["convert", "--out", path(&out_dir), path(&input)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let files = files_under(&out_dir);
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(out_dir.join("account-id=a%2Fb").is_dir(), "{files:?}");
    assert!(out_dir.join("account-id=a_b").is_dir(), "{files:?}");
    let back = vpcflow(&["parse", "--output", "summary", path(&out_dir)]);
    assert_eq!(summary_value(&back, "records"), "2", "{}", stderr(&back));
    // pyarrow decodes the escaped partition value back to the account-id.
    let accounts = python(&format!(
        r#"
import pyarrow.dataset as ds
t = ds.dataset({root:?}, format="parquet", partitioning="hive").to_table()
print(sorted(t.column("account-id").to_pylist()))
"#,
        root = path(&out_dir)
    ));
    assert_eq!(accounts.trim(), "['a/b', 'a_b']");
}

/// Finding 7: a 300-character account-id ("File name too long") aborted the whole `convert`,
/// and the other sources were dropped. Names are bounded; a source that still cannot be
/// written is reported, and the others are written.
#[test]
fn a_long_name_aborted_the_whole_convert() {
    let dir = tempfile::tempdir().unwrap();
    let long = dir.path().join("a-long.log");
    std::fs::write(
        &long,
        format!("{V5_HEADER}{}", v5_line(&"1".repeat(300), 40001)),
    )
    .unwrap();
    let normal = dir.path().join("b-normal.log");
    std::fs::write(
        &normal,
        format!("{V5_HEADER}{}", v5_line("123456789012", 40002)),
    )
    .unwrap();
    let blocked = dir.path().join("c-blocked.log");
    std::fs::write(
        &blocked,
        format!("{V5_HEADER}{}", v5_line("999999999999", 40003)),
    )
    .unwrap();
    let out_dir = dir.path().join("pq");
    std::fs::create_dir_all(&out_dir).unwrap();
    // A file where c-blocked's partition directory must go: that source cannot be written.
    std::fs::write(out_dir.join("account-id=999999999999"), "in the way").unwrap();
    let out = vpcflow(&[
        "convert",
        "--out",
        path(&out_dir),
        path(&long),
        path(&normal),
        path(&blocked),
    ]);
    no_panic(&out);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot write the records of") && err.contains("c-blocked.log"),
        "{err}"
    );
    assert!(!err.contains("a-long.log"), "{err}");
    assert!(
        err.contains("converted 2 records from 2 inputs")
            && err.contains("; 1 records of 1 inputs could not be written"),
        "{err}"
    );
    let files = files_under(&out_dir);
    // The long one and the normal one are written; the file in the way is untouched.
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.iter().all(|f| f.file_name().unwrap().len() < 255));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("account-id=999999999999")).unwrap(),
        "in the way"
    );
    let back = vpcflow(&["parse", "--output", "summary", path(&out_dir)]);
    // Two Parquet files and the text file in the way (one malformed line, not a record).
    assert_eq!(summary_value(&back, "records"), "2", "{}", stderr(&back));
}

/// Finding 8: `parse --force --out X X` truncated its own input to 0 bytes and exited 0.
#[test]
fn parse_force_out_x_x_destroyed_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.log");
    let text = format!("{V5_HEADER}{}", v5_line("123456789012", 40001));
    std::fs::write(&x, &text).unwrap();
    let link = dir.path().join("link.log");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&x, &link).unwrap();
    for out in [&x, &link] {
        let run = vpcflow(&["parse", "--force", "--out", path(out), path(&x)]);
        assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
        let err = stderr(&run);
        assert!(
            err.contains("is the input") || err.contains("symbolic link"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&x).unwrap(), text);
    }
}

/// Finding 9: `verdict --log-format '${srcaddr} ${dstaddr}'` printed `(no rows)` and exited 0
/// unless some line happened to have two fields. The format is checked when it is resolved.
#[test]
fn a_log_format_without_the_needed_fields_printed_no_rows() {
    let out = vpcflow(&[
        "verdict",
        "--endpoints",
        path(&testdata(V5_ENDPOINTS)),
        "--log-format",
        "${srcaddr} ${dstaddr}",
        path(&testdata("decode/v2.log")),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("srcport, dstport, protocol, action"), "{err}");
    assert!(!stdout(&out).contains("(no rows)"));
}

/// Finding 11: the Parquet writer's `OUT.tmp-<pid>` followed a link planted at its name,
/// overwriting the link's target. (The checkpoint's temporary file has its own test in
/// vpcflow-checkpoint: `a_planted_link_at_the_temporary_name_is_not_followed`.)
#[test]
#[cfg(unix)]
fn temp_files_followed_planted_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let out = dir.path().join("out.parquet");
    for planted in ["out.parquet.tmp", ".out.parquet.tmp", "out.parquet.new"] {
        std::os::unix::fs::symlink(&victim, dir.path().join(planted)).unwrap();
    }
    let parse = vpcflow(&[
        "parse",
        "--output",
        "parquet",
        "--out",
        path(&out),
        path(&testdata(V5)),
    ]);
    assert_eq!(parse.status.code(), Some(0), "{}", stderr(&parse));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    let meta = std::fs::symlink_metadata(&out).unwrap();
    assert!(meta.file_type().is_file(), "a plain file");
    let back = vpcflow(&["parse", "--output", "summary", path(&out)]);
    assert_eq!(summary_value(&back, "records"), "300");
    // Nothing but the victim, the three links and the file.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 5);
}

/// Also found: symbolic links inside an input directory were skipped without a word. They
/// are followed (to files and directories, loops ending), and a dangling one is an error
/// naming it.
#[test]
#[cfg(unix)]
fn symlinked_files_in_a_directory_were_skipped_silently() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::copy(testdata(V5), elsewhere.path().join("real.parquet")).unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    std::os::unix::fs::symlink(
        elsewhere.path().join("real.parquet"),
        inputs.join("a.parquet"),
    )
    .unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), inputs.join("b-dir")).unwrap();
    // A loop back to the directory itself is walked once.
    std::os::unix::fs::symlink(&inputs, inputs.join("c-loop")).unwrap();
    let out = vpcflow(&["parse", "--output", "summary", path(&inputs)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary_value(&out, "records"), "600");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), inputs.join("d-dangling.log")).unwrap();
    let out = vpcflow(&["parse", "--output", "summary", path(&inputs)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("d-dangling.log"), "{}", stderr(&out));
    assert_eq!(summary_value(&out, "records"), "600");
}
