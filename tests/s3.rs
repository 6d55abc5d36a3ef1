//! S3 inputs against a real S3-protocol server: moto, started on a free loopback port.

use std::path::Path;

use crate::common::{
    Action, Moto, Proxy, gz, http_response, stderr, stdout, summary_value, testdata, via, vpcflow,
    vpcflow_env,
};
use aws_sdk_s3::primitives::ByteStream;
use serde_json::Value;

pub fn client(moto: &Moto) -> aws_sdk_s3::Client {
    let creds = aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "test");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(&moto.url)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn put_all(moto: &Moto, bucket: &str, objects: Vec<(String, Vec<u8>)>) {
    let c = client(moto);
    rt().block_on(async {
        let _ = c.create_bucket().bucket(bucket).send().await;
        for (key, body) in objects {
            c.put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(body))
                .send()
                .await
                .unwrap();
        }
    });
}

pub(crate) fn upload_dir(moto: &Moto, bucket: &str, dir: &Path, prefix: &str) {
    let mut objects = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_str().unwrap().to_owned();
                objects.push((format!("{prefix}{rel}"), std::fs::read(&p).unwrap()));
            }
        }
    }
    put_all(moto, bucket, objects);
}

fn json_rows(out: &std::process::Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const ENDPOINTS: &str = "rds-sg-patterns/endpoints.toml";

#[test]
fn verdicts_from_s3_equal_verdicts_from_local_files() {
    let moto = Moto::start();
    upload_dir(&moto, "flows", &testdata("rds-sg-patterns/s3"), "");
    let endpoints = testdata(ENDPOINTS);
    let s3 = vpcflow_env(
        &[
            "verdict",
            "--endpoints",
            endpoints.to_str().unwrap(),
            "-o",
            "json",
            "s3://flows/AWSLogs/",
        ],
        &moto.env(),
    );
    assert_eq!(s3.status.code(), Some(1), "{}", stderr(&s3));
    let local = vpcflow(&[
        "verdict",
        "--endpoints",
        endpoints.to_str().unwrap(),
        "-o",
        "json",
        testdata("rds-sg-patterns/s3").to_str().unwrap(),
    ]);
    let rows = json_rows(&s3);
    assert_eq!(rows, json_rows(&local));
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["verdict"], "blocked");
    assert_eq!(rows[2]["verdict"], "allowed");
    assert!(stderr(&s3).contains("4 objects listed"), "{}", stderr(&s3));
    // The same records through `parse`.
    let parsed = vpcflow_env(
        &["parse", "-o", "summary", "s3://flows/AWSLogs/"],
        &moto.env(),
    );
    assert_eq!(parsed.status.code(), Some(0), "{}", stderr(&parsed));
    assert!(
        stdout(&parsed).contains("records     36"),
        "{}",
        stdout(&parsed)
    );
}

/// One object per 5 minutes over a day, in three layouts; each holds records of its window.
fn day_of_objects() -> Vec<(String, Vec<u8>)> {
    let day = 1_795_132_800; // 2026-11-20T00:00:00Z
    let mut out = Vec::new();
    for slot in 0..288i64 {
        let t = day + slot * 300;
        let (h, m) = (slot / 12, (slot % 12) * 5);
        let name = format!(
            "123456789012_vpcflowlogs_ap-northeast-1_fl-0abc_20261120T{h:02}{m:02}Z_{slot:08x}.log.gz"
        );
        let body = gz(&format!(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
             2 123456789012 eni-085da82d3ccb0f0ad 10.0.1.10 10.0.3.213 {} 3306 6 1 60 {} {} REJECT OK\n",
            40000 + slot,
            t - 60,
            t + 200
        ));
        let key = match slot % 3 {
            0 => format!("AWSLogs/123456789012/vpcflowlogs/ap-northeast-1/2026/11/20/{name}"),
            1 => {
                format!("AWSLogs/123456789012/vpcflowlogs/ap-northeast-1/2026/11/20/{h:02}/{name}")
            }
            _ => format!(
                "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=ap-northeast-1/year=2026/month=11/day=20/hour={h:02}/{name}"
            ),
        };
        out.push((key, body));
    }
    out
}

#[test]
fn time_pruning_fetches_only_objects_that_may_hold_the_window() {
    let moto = Moto::start();
    put_all(&moto, "pruned", day_of_objects());
    let endpoints = testdata(ENDPOINTS);
    let before = moto.requests("GET /pruned/AWSLogs").len();
    assert_eq!(before, 0);
    let out = vpcflow_env(
        &[
            "verdict",
            "--endpoints",
            endpoints.to_str().unwrap(),
            "-o",
            "json",
            "--since",
            "2026-11-20T09:00:00Z",
            "--until",
            "2026-11-20T10:00:00Z",
            "s3://pruned/AWSLogs/",
        ],
        &moto.env(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let gets = moto.requests("GET /pruned/AWSLogs");
    // 09:00–10:00 holds 12 stamps; the slack admits stamps from 08:50 to 10:20: 19 objects.
    assert_eq!(gets.len(), 19, "{gets:#?}");
    for g in &gets {
        let stamp = g.split("20261120T").nth(1).unwrap();
        let hhmm: u32 = stamp[..4].parse().unwrap();
        assert!((850..=1020).contains(&hhmm), "fetched {g}");
    }
    let err = stderr(&out);
    assert!(
        err.contains("288 objects listed, 269 skipped by key (269 outside the time window)"),
        "{err}"
    );
    // Per record, the window still applies: 12 attempts started between 09:00 and 10:00 …
    let rows = json_rows(&out);
    let attempts = rows[0]["attempts"].as_u64().unwrap();
    assert!((12..=14).contains(&attempts), "{attempts}");
    // Other filters prune too.
    let other = vpcflow_env(
        &[
            "parse",
            "-o",
            "summary",
            "--account",
            "999999999999",
            "s3://pruned/AWSLogs/",
        ],
        &moto.env(),
    );
    assert!(
        stderr(&other).contains("288 skipped by key (288 another account)"),
        "{}",
        stderr(&other)
    );
}

#[test]
fn listings_of_more_than_a_thousand_keys_are_paged() {
    let moto = Moto::start();
    let objects: Vec<(String, Vec<u8>)> = (0..1100)
        .map(|i| {
            (
                format!("many/part-{i:05}.log"),
                format!("2 123456789012 eni-085da82d3ccb0f0ad 10.0.1.10 10.0.3.213 {} 3306 6 1 60 1795165200 1795165259 REJECT OK\n", 20000 + i)
                    .into_bytes(),
            )
        })
        .collect();
    put_all(&moto, "paged", objects);
    let out = vpcflow_env(&["parse", "-o", "summary", "s3://paged/many/"], &moto.env());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("records     1100"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("1100 objects listed"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        moto.requests("GET /paged/?list-type=2").len(),
        2,
        "two pages"
    );
}

#[test]
fn corrupt_and_deleted_objects_are_reported_and_the_run_goes_on() {
    let moto = Moto::start();
    let good = gz(&"2 123456789012 eni-085da82d3ccb0f0ad 10.0.1.10 10.0.3.213 40000 3306 6 1 60 1795165200 1795165259 REJECT OK\n".repeat(3000));
    let cut = good[..good.len() / 2].to_vec();
    put_all(
        &moto,
        "faulty",
        vec![
            ("x/a-good.log.gz".into(), good.clone()),
            ("x/b-cut.log.gz".into(), cut),
            ("x/c-gone.log.gz".into(), good.clone()),
        ],
    );
    // Deleted between the listing and its GetObject, race-free: a proxy deletes it once the
    // listing is back from moto, before vpcflow sees it.
    let deleter = client(&moto);
    let proxy = Proxy::start(&moto.url, move |r| {
        if r.method == "GET" && r.target.contains("list-type=2") {
            let c = deleter.clone();
            Action::ForwardThen(Box::new(move || {
                rt().block_on(async {
                    c.delete_object()
                        .bucket("faulty")
                        .key("x/c-gone.log.gz")
                        .send()
                        .await
                        .unwrap()
                });
            }))
        } else {
            Action::Forward
        }
    });
    let out = vpcflow_env(
        &[
            "parse",
            "-o",
            "summary",
            "--concurrency",
            "1",
            "s3://faulty/x/",
        ],
        &via(&moto, &proxy),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("s3://faulty/x/c-gone.log.gz: NoSuchKey"),
        "{err}"
    );
    assert!(
        err.contains("faulty/x/b-cut.log.gz failed at line"),
        "{err}"
    );
    assert!(err.contains("compressed bytes"), "{err}");
    let records: u64 = summary_value(&out, "records").parse().unwrap();
    // All of the good object, and the part of the cut one before the break.
    assert!(records > 3000 && records < 6000, "{records}");
    assert!(err.contains("3 objects listed"), "{err}");
    assert!(err.contains("), 2 failed"), "{err}");
    // The whole message: the typed error says it once, with one scheme.
    assert!(
        err.contains(
            "error: s3://faulty/x/c-gone.log.gz: NoSuchKey (deleted after it was listed) (0 \
             records from s3://faulty/x/c-gone.log.gz were kept)"
        ),
        "{err}"
    );
    assert!(
        !err.contains("s3://reading") && !err.contains("s3://s3://"),
        "{err}"
    );
    assert_eq!(proxy.requests("x-id=GetObject"), 3, "{:?}", proxy.seen);
}

#[test]
fn a_missing_bucket_is_a_clear_error() {
    let moto = Moto::start();
    let out = vpcflow_env(
        &[
            "verdict",
            "--endpoints",
            testdata(ENDPOINTS).to_str().unwrap(),
            "s3://no-such-bucket/AWSLogs/",
        ],
        &moto.env(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("s3://no-such-bucket: the bucket does not exist"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_resumed_run_after_kill_9_gives_the_verdicts_of_a_clean_run() {
    let moto = Moto::start();
    // 120 objects, each with attempts of several clients to the three databases.
    let mut objects = Vec::new();
    for i in 0..120u32 {
        let mut text = String::from(
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n",
        );
        for j in 0..100u32 {
            let client = format!("10.0.1.{}", 10 + (i + j) % 7);
            let port = 1024 + (i * 100 + j) % 60000;
            let t = 1_795_165_200 + i64::from(i) * 10;
            let (db, eni, action) = match (i + j) % 3 {
                0 => ("10.0.3.213", "eni-085da82d3ccb0f0ad", "REJECT"),
                1 => ("10.0.3.205", "eni-0acae018ffc56ba56", "REJECT"),
                _ => ("10.0.3.82", "eni-0e71f2697f24bffbf", "ACCEPT"),
            };
            text.push_str(&format!(
                "2 123456789012 {eni} {client} {db} {port} 3306 6 1 60 {t} {} {action} OK\n",
                t + 59
            ));
            if action == "ACCEPT" {
                text.push_str(&format!(
                    "2 123456789012 {eni} {db} {client} 3306 {port} 6 1 60 {t} {} ACCEPT OK\n",
                    t + 59
                ));
            }
        }
        objects.push((format!("r/obj-{i:04}.log.gz"), gz(&text)));
    }
    put_all(&moto, "resume", objects);
    let endpoints = testdata(ENDPOINTS);
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = [
            "verdict",
            "--endpoints",
            endpoints.to_str().unwrap(),
            "-o",
            "json",
            "--concurrency",
            "2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a.push("s3://resume/r/".into());
        a
    };
    let clean = {
        let a = args(&[]);
        vpcflow_env(
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            &moto.env(),
        )
    };
    assert_eq!(clean.status.code(), Some(1), "{}", stderr(&clean));

    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    let spill = dir.path().join("spill");
    std::fs::create_dir(&spill).unwrap();
    // A memory bound of about 1,000 attempts: the run spills while it is killed.
    let a = args(&[
        "--checkpoint",
        ckpt.to_str().unwrap(),
        "--checkpoint-every",
        "0",
        "--memory-limit",
        "64KiB",
        "--temp-dir",
        spill.to_str().unwrap(),
    ]);
    let mut child = crate::common::command()
        .args(&a)
        .envs(moto.env().iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL: no cleanup) once the checkpoint holds some objects.
    let done_in = |path: &Path| crate::common::checkpoint_sources(path).len();
    while done_in(&ckpt) < 10 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be interrupted"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let interrupted_at = done_in(&ckpt);
    assert!(
        interrupted_at < 120,
        "interrupted after {interrupted_at} objects"
    );

    let resumed = vpcflow_env(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &moto.env(),
    );
    assert_eq!(resumed.status.code(), Some(1), "{}", stderr(&resumed));
    let err = stderr(&resumed);
    assert!(
        err.contains(&format!("{interrupted_at} already in the checkpoint"))
            || err.contains("already in the checkpoint"),
        "{err}"
    );
    assert_eq!(json_rows(&resumed), json_rows(&clean));
    assert_eq!(done_in(&ckpt), 120);
    assert!(
        err.contains("spilled to disk"),
        "the resumed run spilled: {err}"
    );
    assert_eq!(
        std::fs::read_dir(&spill).unwrap().count(),
        0,
        "no spill files are left, not even the killed run's"
    );
    // A third run has nothing left to read and still gives the same verdicts.
    let again = vpcflow_env(
        &a.iter().map(String::as_str).collect::<Vec<_>>(),
        &moto.env(),
    );
    assert!(
        stderr(&again).contains("120 already in the checkpoint, 0 read"),
        "{}",
        stderr(&again)
    );
    assert_eq!(json_rows(&again), json_rows(&clean));
}

/// A generated log cut into objects whose key order is not their time order.
pub(crate) fn shuffled_objects(
    dir: &Path,
    records: &str,
    objects: usize,
) -> (Vec<(String, Vec<u8>)>, String, String) {
    let log = dir.join("f.log");
    let catalogue = dir.join("c.toml");
    let out = vpcflow(&[
        "generate",
        "--records",
        records,
        "--span",
        "7200",
        "--header",
        "--catalogue",
        catalogue.to_str().unwrap(),
        "--out",
        log.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    let lines: Vec<&str> = body.lines().collect();
    let per = lines.len().div_ceil(objects);
    let mut out = Vec::new();
    for (i, chunk) in lines.chunks(per).enumerate() {
        // Keys in a scrambled order: the i-th slice of time gets a key far from the (i+1)-th.
        let key = format!("flows/obj-{:04}.log.gz", (i * 7919) % 10_007);
        out.push((key, gz(&format!("{header}\n{}\n", chunk.join("\n")))));
    }
    (
        out,
        log.display().to_string(),
        catalogue.display().to_string(),
    )
}

#[test]
fn concurrency_1_and_16_give_identical_json_over_objects_uploaded_out_of_order() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut objects, log, catalogue) = shuffled_objects(dir.path(), "60000", 48);
    objects.reverse();
    put_all(&moto, "shuffled", objects);
    let spill = dir.path().display().to_string();
    let run = |extra: &[&str]| {
        let mut args = vec!["verdict", "--endpoints", &catalogue, "-o", "json"];
        args.extend_from_slice(extra);
        args.push("s3://shuffled/flows/");
        let out = vpcflow_env(&args, &moto.env());
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {}", stderr(&out));
        stdout(&out)
    };
    let local = vpcflow(&["verdict", "--endpoints", &catalogue, "-o", "json", &log]);
    let reference = stdout(&local);
    assert_eq!(reference.lines().count(), 1000);
    assert_eq!(run(&["--concurrency", "1"]), reference);
    assert_eq!(run(&["--concurrency", "16"]), reference);
    assert_eq!(
        run(&[
            "--concurrency",
            "16",
            "--memory-limit",
            "64KiB",
            "--temp-dir",
            &spill
        ]),
        reference,
        "spilling"
    );
    assert_eq!(run(&["--concurrency", "64", "--threads", "1"]), reference);
}

/// One REJECTed attempt to dbinstance3 (10.0.3.213:3306) from `port`.
fn reject(port: u32) -> String {
    format!(
        "2 123456789012 eni-085da82d3ccb0f0ad 10.0.1.10 10.0.3.213 {port} 3306 6 1 60 \
         1795165200 1795165259 REJECT OK\n"
    )
}

fn rejects(ports: std::ops::Range<u32>) -> String {
    ports.map(reject).collect()
}

/// Faults finding 3: a server that accepts the connection and never answers hung
/// ListObjectsV2 (600 s and more), GetObject and CloudWatch calls. Each attempt now has a
/// timeout; a stalled attempt is retried, and a call that never gets an answer fails naming
/// itself and the timeout.
#[test]
fn a_stalled_server_hung_every_call() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let moto = Moto::start();
    put_all(
        &moto,
        "stall",
        vec![("x/a.log.gz".into(), gz(&rejects(40000..40010)))],
    );
    // Every listing stalls.
    let proxy = Proxy::start(&moto.url, |r| {
        if r.target.contains("list-type=2") {
            Action::Stall
        } else {
            Action::Forward
        }
    });
    let args = [
        "parse",
        "-o",
        "summary",
        "--timeout",
        "0.5",
        "--max-attempts",
        "2",
        "s3://stall/x/",
    ];
    let out = vpcflow_env(&args, &via(&moto, &proxy));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("s3://stall/x/: ListObjectsV2 got no answer within 0.5 s in 2 attempts"),
        "{err}"
    );
    assert_eq!(proxy.requests("list-type=2"), 2, "retried once");

    // The first GetObject stalls; its retry is answered, and nothing is lost. (A timeout a
    // loaded machine's moto always answers within.)
    let args = [
        "parse",
        "-o",
        "summary",
        "--timeout",
        "3",
        "--max-attempts",
        "2",
        "s3://stall/x/",
    ];
    let stalled = AtomicBool::new(false);
    let proxy = Proxy::start(&moto.url, move |r| {
        if r.target.contains("a.log.gz") && !stalled.swap(true, Ordering::SeqCst) {
            Action::Stall
        } else {
            Action::Forward
        }
    });
    let out = vpcflow_env(&args, &via(&moto, &proxy));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary_value(&out, "records"), "10");
    assert_eq!(proxy.requests("a.log.gz"), 2);
}

/// Faults finding 4: after a connection reset midway through GetObject, `--checkpoint` marked
/// the half-read object done, and the re-run lost the rest for good. An object is committed
/// only once its last byte decoded; a resumed run reads it again, and the result is a clean
/// run's.
#[test]
fn a_half_read_object_was_marked_done() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let moto = Moto::start();
    put_all(
        &moto,
        "half",
        vec![
            ("x/a.log.gz".into(), gz(&rejects(20000..21000))),
            ("x/b.log.gz".into(), gz(&rejects(30000..31000))),
        ],
    );
    let cut = AtomicBool::new(false);
    let proxy = Proxy::start(&moto.url, move |r| {
        if r.target.contains("/x/a.log.gz") && !cut.swap(true, Ordering::SeqCst) {
            Action::CutBodyAfter(1500)
        } else {
            Action::Forward
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("cp");
    let endpoints = testdata(ENDPOINTS);
    let mut args = vec![
        "verdict",
        "--endpoints",
        endpoints.to_str().unwrap(),
        "--output",
        "json",
        "--concurrency",
        "1",
        "s3://half/x/",
    ];
    let clean = json_rows(&vpcflow_env(&args, &moto.env()));
    assert_eq!(clean.len(), 1);
    assert_eq!(clean[0]["records"], 2000);
    args.extend(["--checkpoint", checkpoint.to_str().unwrap()]);
    let first = vpcflow_env(&args, &via(&moto, &proxy));
    assert_eq!(first.status.code(), Some(2), "{}", stderr(&first));
    assert_eq!(
        crate::common::checkpoint_sources(&checkpoint),
        vec!["half/x/b.log.gz".to_owned()],
        "only the whole object is committed"
    );
    let second = vpcflow_env(&args, &via(&moto, &proxy));
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("1 already in the checkpoint, 1 read"),
        "{}",
        stderr(&second)
    );
    assert_eq!(json_rows(&second), clean);
}

/// Faults finding 4, the other half: an object replaced between its listing and its
/// GetObject is refused (If-Match on the listed ETag), named, and not committed; the resumed
/// run reads the new object.
#[test]
fn an_object_replaced_after_its_listing_is_not_committed() {
    let moto = Moto::start();
    put_all(
        &moto,
        "replaced",
        vec![
            ("x/a.log.gz".into(), gz(&rejects(20000..20010))),
            ("x/b.log.gz".into(), gz(&rejects(30000..30010))),
        ],
    );
    let writer = client(&moto);
    let once = std::sync::atomic::AtomicBool::new(false);
    let proxy = Proxy::start(&moto.url, move |r| {
        if r.target.contains("list-type=2") && !once.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            let c = writer.clone();
            Action::ForwardThen(Box::new(move || {
                rt().block_on(async {
                    c.put_object()
                        .bucket("replaced")
                        .key("x/a.log.gz")
                        .body(ByteStream::from(gz(&rejects(20000..20020))))
                        .send()
                        .await
                        .unwrap()
                });
            }))
        } else {
            Action::Forward
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("cp");
    let endpoints = testdata(ENDPOINTS);
    let args = [
        "verdict",
        "--endpoints",
        endpoints.to_str().unwrap(),
        "--output",
        "json",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "s3://replaced/x/",
    ];
    let first = vpcflow_env(&args, &via(&moto, &proxy));
    assert_eq!(first.status.code(), Some(2), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("s3://replaced/x/a.log.gz: replaced after it was listed"),
        "{}",
        stderr(&first)
    );
    assert_eq!(
        crate::common::checkpoint_sources(&checkpoint),
        vec!["replaced/x/b.log.gz".to_owned()]
    );
    let second = vpcflow_env(&args, &via(&moto, &proxy));
    assert_eq!(second.status.code(), Some(1), "{}", stderr(&second));
    assert_eq!(
        json_rows(&second)[0]["records"],
        30,
        "the new object, whole"
    );
}

/// Also found: `Retry-After` on a 503 was not honoured. The retry waits as long as the server
/// asked.
#[test]
fn retry_after_on_503_was_not_honoured() {
    use std::sync::Mutex;
    use std::time::Instant;
    let moto = Moto::start();
    put_all(
        &moto,
        "slow",
        vec![("x/a.log.gz".into(), gz(&rejects(40000..40010)))],
    );
    let times: std::sync::Arc<Mutex<Vec<Instant>>> = Default::default();
    let seen = times.clone();
    let proxy = Proxy::start(&moto.url, move |r| {
        if !r.target.contains("list-type=2") {
            return Action::Forward;
        }
        let mut t = seen.lock().unwrap();
        t.push(Instant::now());
        if t.len() == 1 {
            Action::Respond(http_response(
                "503 Slow Down",
                &[("Retry-After", "3"), ("Content-Type", "application/xml")],
                b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>",
            ))
        } else {
            Action::Forward
        }
    });
    let out = vpcflow_env(
        &["parse", "-o", "summary", "s3://slow/x/"],
        &via(&moto, &proxy),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary_value(&out, "records"), "10");
    let t = times.lock().unwrap();
    assert_eq!(t.len(), 2);
    let waited = t[1] - t[0];
    // Without Retry-After the first retry waits at most 200 ms.
    assert!(
        waited >= std::time::Duration::from_millis(2900),
        "{waited:?}"
    );
}

/// Also found: an empty S3 prefix exited 0 while an empty local directory exited 2. Both are
/// an error now.
#[test]
fn an_empty_s3_prefix_exited_0() {
    let moto = Moto::start();
    put_all(
        &moto,
        "sparse",
        vec![("elsewhere/a.log.gz".into(), gz(&rejects(40000..40001)))],
    );
    let out = vpcflow_env(&["parse", "-o", "summary", "s3://sparse/x/"], &moto.env());
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no objects under"),
        "{}",
        stderr(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let local = vpcflow(&["parse", "-o", "summary", dir.path().to_str().unwrap()]);
    assert_eq!(local.status.code(), Some(2));
}

/// CloudWatch Logs exports, Firehose-written subscription payloads and direct Firehose records,
/// read from S3, give the verdicts of the same records as text (issue 12).
#[test]
fn wrapped_shapes_from_s3_give_the_verdicts_of_the_text() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    crate::archives::write_shapes(dir.path());
    // The permission check an export task writes under its prefix is no flow log.
    std::fs::write(
        dir.path().join("export/aws-logs-write-test"),
        "Permission Check Successful",
    )
    .unwrap();
    upload_dir(&moto, "shapes", dir.path(), "");
    let (code, expected) = crate::archives::scenario_verdicts();
    let endpoints = testdata(ENDPOINTS);
    for shape in ["export", "subscription", "firehose"] {
        let url = format!("s3://shapes/{shape}/");
        let out = vpcflow_env(
            &[
                "verdict",
                "--endpoints",
                endpoints.to_str().unwrap(),
                "--output",
                "json",
                &url,
            ],
            &moto.env(),
        );
        assert_eq!(out.status.code(), code, "{shape}: {}", stderr(&out));
        assert_eq!(stdout(&out), expected, "{shape}: {}", stderr(&out));
        assert!(!stderr(&out).contains("malformed line"), "{}", stderr(&out));
    }
}

/// Issue 12: `convert --checkpoint` resumes an interrupted conversion without rewriting what
/// is done and without duplicate part files.
#[test]
fn an_interrupted_convert_resumes_from_its_checkpoint() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let moto = Moto::start();
    put_all(
        &moto,
        "conv",
        vec![
            ("x/a.log.gz".into(), gz(&rejects(20000..21000))),
            ("x/b.log.gz".into(), gz(&rejects(30000..31000))),
            ("x/c.log.gz".into(), gz(&rejects(40000..41000))),
        ],
    );
    let cut = AtomicBool::new(false);
    let proxy = Proxy::start(&moto.url, move |r| {
        if r.target.contains("/x/c.log.gz") && !cut.swap(true, Ordering::SeqCst) {
            Action::CutBodyAfter(1500)
        } else {
            Action::Forward
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let names = |root: &Path| -> Vec<String> {
        crate::common::files_under(root)
            .iter()
            .map(|p| p.strip_prefix(root).unwrap().display().to_string())
            .collect()
    };
    let clean_dir = dir.path().join("clean");
    let clean = vpcflow_env(
        &[
            "convert",
            "--out",
            clean_dir.to_str().unwrap(),
            "s3://conv/x/",
        ],
        &moto.env(),
    );
    assert_eq!(clean.status.code(), Some(0), "{}", stderr(&clean));
    let out_dir = dir.path().join("out");
    let checkpoint = dir.path().join("cp");
    let args = [
        "convert",
        "--concurrency",
        "1",
        "--checkpoint",
        checkpoint.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "s3://conv/x/",
    ];
    let first = vpcflow_env(&args, &via(&moto, &proxy));
    assert_eq!(first.status.code(), Some(2), "{}", stderr(&first));
    assert_eq!(
        crate::common::checkpoint_sources(&checkpoint),
        vec!["conv/x/a.log.gz".to_owned(), "conv/x/b.log.gz".to_owned()]
    );
    let written = |name: &str| {
        crate::common::files_under(&out_dir)
            .into_iter()
            .find(|p| p.to_string_lossy().contains(name))
            .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
    };
    let a_before = written("part-a-").expect("a's part file");
    let second = vpcflow_env(&args, &via(&moto, &proxy));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("2 already in the checkpoint, 1 read"),
        "{}",
        stderr(&second)
    );
    assert_eq!(written("part-a-"), Some(a_before), "a is not rewritten");
    assert_eq!(
        names(&out_dir),
        names(&clean_dir),
        "no duplicate part files"
    );
    let back = vpcflow(&["parse", "-o", "summary", out_dir.to_str().unwrap()]);
    assert_eq!(summary_value(&back, "records"), "3000");
}
