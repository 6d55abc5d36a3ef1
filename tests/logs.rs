//! CloudWatch Logs inputs against a real CloudWatch Logs-protocol server: moto on a loopback
//! port (and, for throttling, a proxy in front of it).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::Duration;

use crate::common::{
    Action, Moto, Proxy, http_response, stderr, stdout, testdata, via, vpcflow, vpcflow_env,
};
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use serde_json::Value;

const GROUP: &str = "soa-05-001-FlowLogGroup";
const ENDPOINTS: &str = "rds-sg-patterns/endpoints.toml";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn logs(moto: &Moto) -> aws_sdk_cloudwatchlogs::Client {
    let creds =
        aws_sdk_cloudwatchlogs::config::Credentials::new("testing", "testing", None, None, "test");
    aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::config::Builder::new()
            .behavior_version(aws_sdk_cloudwatchlogs::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatchlogs::config::Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(&moto.url)
            .build(),
    )
}

/// Puts `streams` (name → lines) into `group`; each event's time is the record's `start`
/// field (index `start_field`), or `now_ms` when given.
fn put(
    moto: &Moto,
    group: &str,
    streams: &BTreeMap<String, Vec<String>>,
    start_field: usize,
    now_ms: Option<i64>,
) {
    let c = logs(moto);
    rt().block_on(async {
        let _ = c.create_log_group().log_group_name(group).send().await;
        for (stream, lines) in streams {
            let _ = c
                .create_log_stream()
                .log_group_name(group)
                .log_stream_name(stream)
                .send()
                .await;
            let mut events: Vec<InputLogEvent> = lines
                .iter()
                .map(|l| {
                    let t = now_ms.unwrap_or_else(|| {
                        l.split(' ')
                            .nth(start_field)
                            .unwrap()
                            .parse::<i64>()
                            .unwrap()
                            * 1000
                    });
                    InputLogEvent::builder()
                        .timestamp(t)
                        .message(l.clone())
                        .build()
                        .unwrap()
                })
                .collect();
            events.sort_by_key(|e| e.timestamp());
            c.put_log_events()
                .log_group_name(group)
                .log_stream_name(stream)
                .set_log_events(Some(events))
                .send()
                .await
                .unwrap();
        }
    });
}

/// The bundled scenario's CloudWatch files: stream name → lines (default v2 format).
fn scenario_streams() -> BTreeMap<String, Vec<String>> {
    let dir = testdata("rds-sg-patterns/cloudwatch/soa-05-001-FlowLogGroup");
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_stem().unwrap().to_str().unwrap().to_owned();
            let lines = std::fs::read_to_string(&p)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect();
            (name, lines)
        })
        .collect()
}

fn json_rows(out: &std::process::Output) -> Vec<Value> {
    stdout(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn endpoints() -> String {
    testdata(ENDPOINTS).to_str().unwrap().to_owned()
}

#[test]
fn verdict_on_a_log_group_equals_verdict_on_the_files_and_pages() {
    let moto = Moto::start();
    put(&moto, GROUP, &scenario_streams(), 10, None);
    let e = endpoints();
    // A small page size makes the 32 events span many pages.
    let group_verdict = |extra: &[&str]| {
        let mut args = vec![
            "verdict",
            "--endpoints",
            &e,
            "-o",
            "json",
            "--log-group",
            GROUP,
            "--page-size",
            "3",
            "--max-rps",
            "50",
        ];
        args.extend_from_slice(extra);
        vpcflow_env(&args, &moto.env())
    };
    let out = group_verdict(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let files = vpcflow(&[
        "verdict",
        "--endpoints",
        &e,
        "-o",
        "json",
        testdata("rds-sg-patterns/cloudwatch").to_str().unwrap(),
    ]);
    let rows = json_rows(&out);
    assert_eq!(rows, json_rows(&files));
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[0]["verdict"], "blocked");
    assert_eq!(rows[1]["verdict"], "blocked");
    assert_eq!(rows[2]["verdict"], "allowed");
    let err = stderr(&out);
    assert!(err.contains("CloudWatch Logs: 36 events in"), "{err}");
    let pages: u64 = err
        .split("events in ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        pages >= 11,
        "32 events in pages of 3 need at least 11 pages, got {pages}: {err}"
    );
    assert!(
        err.contains("assuming the default version 2 format"),
        "{err}"
    );
    // Streams read one at a time or all at once, on one thread or more: the same bytes.
    for extra in [
        vec!["--concurrency", "1"],
        vec!["--concurrency", "16"],
        vec!["--concurrency", "64", "--threads", "1"],
    ] {
        let again = group_verdict(&extra);
        assert_eq!(
            stdout(&again),
            stdout(&out),
            "{extra:?}: {}",
            stderr(&again)
        );
    }
}

#[test]
fn eni_narrows_the_streams_read() {
    let moto = Moto::start();
    put(&moto, GROUP, &scenario_streams(), 10, None);
    let out = vpcflow_env(
        &[
            "verdict",
            "--endpoints",
            &endpoints(),
            "-o",
            "json",
            "--log-group",
            GROUP,
            "--eni",
            "eni-0e71f2697f24bffbf",
            "--max-rps",
            "50",
        ],
        &moto.env(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // dbinstance3's ENI only: the app client's two sessions and the bastion's one.
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter().all(|r| r["endpoint"] == "dbinstance3"),
        "{rows:?}"
    );
    assert!(
        stderr(&out).contains("CloudWatch Logs: 6 events"),
        "{}",
        stderr(&out)
    );
}

/// Puts the bundled scenario, in the custom v5 format of its S3 objects, in log group
/// `flows-v5`, whose flow log (created in moto's EC2) declares that format. Returns the streams.
fn v5_group(moto: &Moto) -> BTreeMap<String, Vec<String>> {
    let mut streams: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut format = String::new();
    let tree = testdata("rds-sg-patterns/s3");
    let mut stack = vec![tree];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let mut text = String::new();
            flate2::read::GzDecoder::new(std::fs::File::open(&p).unwrap())
                .read_to_string(&mut text)
                .unwrap();
            let mut lines = text.lines();
            let header = lines.next().unwrap();
            format = header
                .split(' ')
                .map(|f| format!("${{{f}}}"))
                .collect::<Vec<_>>()
                .join(" ");
            for l in lines {
                let eni = l.split(' ').nth(2).unwrap();
                streams
                    .entry(format!("{eni}-all"))
                    .or_default()
                    .push(l.to_owned());
            }
        }
    }
    put(moto, "flows-v5", &streams, 10, None);
    let ec2 = moto.ec2();
    rt().block_on(async {
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc_id = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
        ec2.create_flow_logs()
            .resource_ids(vpc_id)
            .resource_type(aws_sdk_ec2::types::FlowLogsResourceType::Vpc)
            .traffic_type(aws_sdk_ec2::types::TrafficType::All)
            .log_group_name("flows-v5")
            .deliver_logs_permission_arn("arn:aws:iam::123456789012:role/flow-logs")
            .log_format(&format)
            .send()
            .await
            .unwrap();
    });
    streams
}

#[test]
fn the_format_comes_from_the_flow_log_via_ec2_describe_flow_logs() {
    let moto = Moto::start();
    v5_group(&moto);
    let out = vpcflow_env(
        &[
            "verdict",
            "--endpoints",
            &endpoints(),
            "-o",
            "json",
            "--log-group",
            "flows-v5",
            "--max-rps",
            "50",
        ],
        &moto.env(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("assuming the default"),
        "{}",
        stderr(&out)
    );
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[2]["endpoint"], "dbinstance3");
    assert_eq!(rows[2]["verdict"], "allowed");
}

/// The body of `key` in bucket `exports`.
async fn object(s3: &aws_sdk_s3::Client, key: &str) -> aws_sdk_s3::primitives::ByteStream {
    let bytes = s3
        .get_object()
        .bucket("exports")
        .key(key)
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    bytes.into()
}

/// Issue 12: CloudWatch Logs export objects carry no header. Their format comes from the export
/// task (DescribeExportTasks, by the task id in the key) and its log group's flow log
/// (DescribeFlowLogs), so the export of a custom-format group gives the group's verdicts.
#[test]
fn export_objects_take_their_format_from_the_export_task_and_its_flow_log() {
    let moto = Moto::start();
    let streams = v5_group(&moto);
    let args = |input: &str| -> Vec<String> {
        ["verdict", "--endpoints", &endpoints(), "-o", "json", input]
            .map(str::to_owned)
            .to_vec()
    };
    let run = |args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        vpcflow_env(&args, &moto.env())
    };
    let mut group = args("--log-group");
    group.push("flows-v5".into());
    let from_group = run(group);
    assert_eq!(from_group.status.code(), Some(1), "{}", stderr(&from_group));
    let s3 = crate::s3::client(&moto);
    let task = rt().block_on(async {
        s3.create_bucket().bucket("exports").send().await.unwrap();
        let task = logs(&moto)
            .create_export_task()
            .log_group_name("flows-v5")
            .from(0)
            .to(4_000_000_000_000)
            .destination("exports")
            .destination_prefix("flows")
            .send()
            .await
            .unwrap()
            .task_id()
            .unwrap()
            .to_owned();
        // AWS writes PREFIX/TASK-ID/STREAM/000000.gz; moto 5.2.5 names the folder with a fresh
        // UUID instead of the task id. Move its objects (their content as moto wrote them) to
        // the key AWS would give them.
        let listed = s3
            .list_objects_v2()
            .bucket("exports")
            .prefix("flows/")
            .send()
            .await
            .unwrap();
        let mut moved = 0;
        for o in listed.contents() {
            let key = o.key().unwrap();
            let parts: Vec<&str> = key.split('/').collect();
            assert_eq!(parts.len(), 4, "{key}");
            let body = object(&s3, key).await;
            s3.put_object()
                .bucket("exports")
                .key(format!("flows/{task}/{}/{}", parts[2], parts[3]))
                .body(body)
                .send()
                .await
                .unwrap();
            s3.delete_object()
                .bucket("exports")
                .key(key)
                .send()
                .await
                .unwrap();
            moved += 1;
        }
        assert_eq!(moved, streams.len());
        task
    });
    let from_export = run(args("s3://exports/flows/"));
    let err = stderr(&from_export);
    assert_eq!(from_export.status.code(), Some(1), "{err}");
    assert!(!err.contains("assuming the default"), "{err}");
    assert!(!err.contains("malformed line"), "{err}");
    assert_eq!(stdout(&from_export), stdout(&from_group), "{err}");
    assert_eq!(json_rows(&from_export).len(), 4);
    // Under a task id the server does not know, the lookup fails: one warning, the default
    // format, and every line of the custom format is then malformed.
    rt().block_on(async {
        let key = format!("flows/{task}/{}/000000.gz", streams.keys().next().unwrap());
        let body = object(&s3, &key).await;
        s3.put_object()
            .bucket("exports")
            .key(
                key.replace(&task, "00000000-0000-4000-8000-000000000000")
                    .replace("flows/", "lost/"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
    });
    let lost = run(args("s3://exports/lost/"));
    let err = stderr(&lost);
    assert_eq!(
        err.matches("assuming the default version 2 format").count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("00000000-0000-4000-8000-000000000000"),
        "{err}"
    );
    assert!(err.contains("malformed line"), "{err}");
}

#[test]
fn throttling_is_retried_with_backoff_and_counted() {
    let moto = Moto::start();
    put(&moto, GROUP, &scenario_streams(), 10, None);
    // moto never throttles: a proxy answers the first two FilterLogEvents calls, then every
    // third, with ThrottlingException.
    let throttled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let count = throttled.clone();
    let proxy = Proxy::start(&moto.url, move |r| {
        use std::sync::atomic::Ordering::SeqCst;
        if !r.amz_target().ends_with("FilterLogEvents") {
            return Action::Forward;
        }
        let n = seen.fetch_add(1, SeqCst);
        if n < 2 || n % 3 == 2 {
            count.fetch_add(1, SeqCst);
            return Action::Respond(http_response(
                "400 Bad Request",
                &[
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("x-amzn-ErrorType", "ThrottlingException"),
                ],
                br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
            ));
        }
        Action::Forward
    });
    let env = via(&moto, &proxy);
    let out = vpcflow_env(
        &[
            "verdict",
            "--endpoints",
            &endpoints(),
            "-o",
            "json",
            "--log-group",
            GROUP,
            "--page-size",
            "4",
            "--max-rps",
            "50",
        ],
        &env,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json_rows(&out).len(), 4);
    let throttled = throttled.load(std::sync::atomic::Ordering::SeqCst);
    assert!(throttled >= 3, "{throttled}");
    assert!(
        stderr(&out).contains(&format!("({throttled} throttled and retried")),
        "{} vs {throttled}",
        stderr(&out)
    );
}

/// Records of one connection attempt of 10.0.1.10 to dbinstance3, `accept` or not, at `t`.
fn attempt(port: u16, t: i64, accept: bool) -> Vec<(String, String)> {
    let db3 = "eni-0e71f2697f24bffbf";
    let mut v = vec![(
        format!("{db3}-all"),
        format!(
            "2 123456789012 {db3} 10.0.1.10 10.0.3.82 {port} 3306 6 3 180 {t} {} {} OK",
            t + 59,
            if accept { "ACCEPT" } else { "REJECT" }
        ),
    )];
    if accept {
        v.push((
            format!("{db3}-all"),
            format!(
                "2 123456789012 {db3} 10.0.3.82 10.0.1.10 3306 {port} 6 3 180 {t} {} ACCEPT OK",
                t + 59
            ),
        ));
    }
    v
}

fn streams_of(records: Vec<(String, String)>) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (s, l) in records {
        m.entry(s).or_default().push(l);
    }
    m
}

/// `tail` on the group as JSON lines for `duration`, polling every second.
fn tail_args(duration: &str) -> Vec<String> {
    [
        "tail",
        "--endpoints",
        &endpoints(),
        "--log-group",
        GROUP,
        "--output",
        "json",
        "--duration",
        duration,
        "--poll-interval",
        "1",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// What a `tail` run against moto showed: its first two JSON lines, what followed, its
/// stderr and exit code.
struct TailRun {
    first: Value,
    second: Value,
    rest: Vec<String>,
    err: String,
    code: Option<i32>,
}

impl TailRun {
    /// A count in the summary: the number before `what`.
    fn count(&self, what: &str) -> u64 {
        self.err
            .split([',', '(', ';'])
            .find_map(|p| p.trim().strip_suffix(what))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{what}` count in {}", self.err))
    }
}

/// Two connected attempts before `tail` starts, then a REJECT burst while it runs; `env` on top
/// of moto's.
fn tail_through_a_change(moto: &Moto, env: &[(&'static str, String)]) -> TailRun {
    let now = jiff::Timestamp::now().as_second();
    let now_ms = now * 1000;
    // Before the tail starts: two connected attempts.
    let before: Vec<_> = [
        attempt(50001, now - 120, true),
        attempt(50002, now - 110, true),
    ]
    .concat();
    put(moto, GROUP, &streams_of(before), 0, Some(now_ms - 60_000));
    let mut all = moto.env();
    all.push(("RUST_LOG", "info".into()));
    all.extend(env.iter().cloned());
    let mut child = crate::common::command()
        .args(tail_args("10s"))
        .args(["--lookback", "10m", "--max-rps", "50"])
        .envs(all.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    // Now a REJECT burst for the same client: the security group changed.
    let burst: Vec<_> = (0..3)
        .flat_map(|i| attempt(50010 + i, now + 5, false))
        .collect();
    put(
        moto,
        GROUP,
        &streams_of(burst),
        0,
        Some(jiff::Timestamp::now().as_millisecond()),
    );
    let second: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let code = child.wait().unwrap().code();
    TailRun {
        first,
        second,
        rest,
        err,
        code,
    }
}

/// The verdicts a tail through [`tail_through_a_change`] must show, whatever its mode.
fn assert_the_change_counted_once(run: &TailRun) {
    let (first, second, err) = (&run.first, &run.second, &run.err);
    assert_eq!(first["endpoint"], "dbinstance3", "{err}");
    assert_eq!(first["verdict"], "allowed");
    assert_eq!(first["records"], 4);
    assert_eq!(second["endpoint"], "dbinstance3");
    assert_eq!(second["verdict"], "intermittent");
    assert_eq!(second["blocked"], 3);
    assert_eq!(second["connected"], 2);
    // Polls overlap (lookback 10 min, every second), yet every record counts once.
    assert_eq!(second["records"], 7, "{err}");
    assert!(run.rest.is_empty(), "no further change: {:?}", run.rest);
    assert_eq!(run.code, Some(1), "{err}");
    assert!(
        run.count(" duplicates dropped") > 0,
        "overlapping reads must have returned events again: {err}"
    );
}

#[test]
fn tail_emits_a_verdict_change_and_counts_no_event_twice() {
    let moto = Moto::start();
    // No AWS_DISABLE_HOST_PREFIX_INJECTION: StartLiveTail goes to stream-127.0.0.1, which does
    // not resolve, and the tail polls.
    let run = tail_through_a_change(&moto, &[]);
    assert_the_change_counted_once(&run);
    assert!(
        run.err.contains("mode: polling FilterLogEvents"),
        "{}",
        run.err
    );
    assert_eq!(run.count(" pushed by live tail"), 0);
}

#[test]
fn live_tail_receives_events_and_polls_on_without_double_counts_when_the_stream_ends() {
    let moto = Moto::start();
    // With the host prefix off, StartLiveTail reaches moto. moto's session sends what the
    // group holds and closes the stream: the tail must say so, fill in by polling, start
    // sessions again, and count every record once across pushed and polled copies.
    let run = tail_through_a_change(
        &moto,
        &[("AWS_DISABLE_HOST_PREFIX_INJECTION", "true".into())],
    );
    assert_the_change_counted_once(&run);
    let err = &run.err;
    assert!(err.contains("mode: StartLiveTail"), "{err}");
    assert!(
        err.contains("mode: polling FilterLogEvents every 1.0s (the live tail session ended: the server closed the stream; StartLiveTail again in 5 s)"),
        "{err}"
    );
    assert!(err.contains("mode: StartLiveTail again"), "{err}");
    assert!(
        run.count(" pushed by live tail") >= 4,
        "the sessions pushed the group's events: {err}"
    );
}

#[test]
fn the_profile_can_turn_the_host_prefix_off_too() {
    let moto = Moto::start();
    put(
        &moto,
        GROUP,
        &streams_of(attempt(50001, 1_795_165_200, true)),
        0,
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::write(&config, "[default]\ndisable_host_prefix_injection = true\n").unwrap();
    let mut env = moto.env();
    env.retain(|(k, _)| *k != "AWS_CONFIG_FILE");
    env.push(("AWS_CONFIG_FILE", config.to_str().unwrap().to_owned()));
    let out = crate::common::command()
        .args(tail_args("1s"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(err.contains("mode: StartLiveTail (after reading"), "{err}");
}

#[test]
fn a_restarted_tail_resumes_from_its_checkpoint_without_gaps_or_double_counts() {
    let moto = Moto::start();
    let now = jiff::Timestamp::now().as_second();
    put(
        &moto,
        GROUP,
        &streams_of(attempt(50001, now - 100, true)),
        0,
        Some(now * 1000 - 30_000),
    );
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("tail.json");
    let run = || {
        let mut args = tail_args("2s");
        args.extend(
            ["--lookback", "10m", "--max-rps", "50", "--checkpoint"]
                .map(str::to_owned)
                .into_iter()
                .chain([ckpt.to_str().unwrap().to_owned()]),
        );
        vpcflow_env(
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            &moto.env(),
        )
    };
    let one = run();
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    assert_eq!(json_rows(&one)[0]["records"], 2);
    // While it is down, more traffic arrives.
    put(
        &moto,
        GROUP,
        &streams_of(
            [
                attempt(50002, now - 20, true),
                attempt(50003, now - 10, false),
            ]
            .concat(),
        ),
        0,
        Some(jiff::Timestamp::now().as_millisecond() - 5_000),
    );
    std::thread::sleep(Duration::from_millis(50));
    let two = run();
    assert_eq!(two.status.code(), Some(1), "{}", stderr(&two));
    let rows = json_rows(&two);
    let last = rows.last().unwrap();
    // 2 records before, 3 after: nothing lost, nothing counted twice.
    assert_eq!(last["records"], 5, "{rows:?}");
    assert_eq!(last["attempts"], 3);
    assert_eq!(last["verdict"], "intermittent");
}

/// Faults finding 10: `tail` dropped malformed events without a word, while `verdict
/// --log-group` on the same group reported all four. `tail` counts them, on its status line
/// and in its summary, with their positions.
#[test]
fn tail_dropped_malformed_events_silently() {
    let moto = Moto::start();
    let now = jiff::Timestamp::now().as_second();
    let mut records = attempt(50001, now - 120, true);
    for bad in [
        "2 123456789012 eni-0e71f2697f24bffbf 10.0.1.10",
        "not a flow log at all",
        "2 123456789012 eni-0e71f2697f24bffbf 10.0.1.10 10.0.3.82 99999999 3306 6 3 180 1 2 ACCEPT OK",
        "2 123456789012 eni-0e71f2697f24bffbf 10.0.1.999 10.0.3.82 5000 3306 6 3 180 1 2 ACCEPT OK",
    ] {
        records.push(("eni-0e71f2697f24bffbf-all".into(), bad.into()));
    }
    put(
        &moto,
        GROUP,
        &streams_of(records),
        0,
        Some(now * 1000 - 60_000),
    );
    let mut args = tail_args("3s");
    args.extend(["--lookback", "10m"].map(str::to_owned));
    let out = vpcflow_env(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &moto.env(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains(", 4 malformed"),
        "the summary counts them: {err}"
    );
    assert!(err.contains("skipped 4 malformed"), "and lists them: {err}");
    assert!(err.contains(&format!("logs:{GROUP}")), "{err}");
    // The same count as verdict on the group.
    let verdict = vpcflow_env(
        &[
            "verdict",
            "--endpoints",
            &endpoints(),
            "--log-group",
            GROUP,
            "--since",
            "10m",
        ],
        &moto.env(),
    );
    assert!(
        stderr(&verdict).contains("skipped 4 malformed"),
        "{}",
        stderr(&verdict)
    );
}

/// Faults finding 3, for CloudWatch Logs: a stalled call is retried, then fails naming the
/// operation and the timeout.
#[test]
fn a_stalled_logs_endpoint_fails_naming_the_call() {
    let moto = Moto::start();
    put(&moto, GROUP, &scenario_streams(), 10, None);
    let proxy = Proxy::start(&moto.url, |r| {
        if r.amz_target().ends_with("FilterLogEvents") {
            Action::Stall
        } else {
            Action::Forward
        }
    });
    let out = vpcflow_env(
        &[
            "verdict",
            "--endpoints",
            &endpoints(),
            "--log-group",
            GROUP,
            "--timeout",
            "2",
            "--max-attempts",
            "2",
        ],
        &via(&moto, &proxy),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("FilterLogEvents got no answer within 2 s in 2 attempts"),
        "{err}"
    );
    assert!(proxy.requests("POST") >= 2, "retried");
}
