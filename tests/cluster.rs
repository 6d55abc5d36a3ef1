//! `verdict --cluster` and `query --cluster` (feature `distributed`) on a real Ballista
//! cluster: a scheduler and two executors, child processes of the built binary on loopback
//! ports, planning for 8 target partitions so that the verdict's shuffle really happens.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use crate::common::{Moto, command, generate, stderr, stdout, testdata, vpcflow, vpcflow_env};
use crate::s3::{put_all, shuffled_objects, upload_dir};

/// A running cluster; its processes are killed when it is dropped.
struct Cluster {
    scheduler: Child,
    executors: Vec<Child>,
    /// `df://127.0.0.1:PORT`.
    url: String,
    _work: tempfile::TempDir,
}

/// Starts `cmd` and returns it with the first line it prints (its address).
fn started(mut cmd: std::process::Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("vpcflow starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("a first line");
    assert!(!line.is_empty(), "the process printed nothing and exited");
    (child, line)
}

impl Cluster {
    /// A scheduler and `executors` executors of 2 slots each; S3 at `env`'s endpoint.
    fn start(executors: usize, env: &[(&'static str, String)]) -> Cluster {
        let work = tempfile::tempdir().unwrap();
        let mut cmd = command();
        cmd.args([
            "cluster",
            "scheduler",
            "--bind",
            "127.0.0.1:0",
            "--executor-timeout",
            "6",
        ]);
        let (scheduler, line) = started(cmd);
        let addr = line
            .trim()
            .strip_prefix("scheduler listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let mut cluster = Cluster {
            scheduler,
            executors: Vec::new(),
            url: format!("df://{addr}"),
            _work: work,
        };
        for i in 0..executors {
            let dir = cluster._work.path().join(format!("executor-{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            let mut cmd = command();
            cmd.envs(env.iter().map(|(k, v)| (*k, v)));
            cmd.args(["cluster", "executor", "--scheduler", &addr, "--slots", "2"])
                .args(["--heartbeat", "1", "--work-dir"])
                .arg(&dir);
            let (child, line) = started(cmd);
            assert!(line.starts_with("executor serving on"), "{line}");
            cluster.executors.push(child);
        }
        cluster
    }

    /// `vpcflow args… --cluster URL` with `env`.
    fn run(&self, args: &[&str], env: &[(&'static str, String)]) -> std::process::Output {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--cluster", &self.url]);
        vpcflow_env(&all, env)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for c in self.executors.iter_mut().chain([&mut self.scheduler]) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const ENDPOINTS: &str = "rds-sg-patterns/endpoints.toml";

/// `verdict -o json` here and on the cluster: both outputs, and the exit codes.
fn both(cluster: &Cluster, args: &[&str], env: &[(&'static str, String)]) -> (String, String) {
    let mut all = vec!["verdict", "-o", "json"];
    all.extend_from_slice(args);
    let local = vpcflow_env(&all, env);
    all.extend_from_slice(&["--partitions", "8"]);
    let remote = cluster.run(&all, env);
    assert_eq!(
        remote.status.code(),
        local.status.code(),
        "{}",
        stderr(&remote)
    );
    assert!(!stdout(&local).is_empty(), "{}", stderr(&local));
    (stdout(&local), stdout(&remote))
}

#[test]
fn the_bundled_scenario_gives_identical_json_on_the_cluster_from_files_and_from_s3() {
    let moto = Moto::start();
    upload_dir(&moto, "flows", &testdata("rds-sg-patterns/s3"), "");
    let cluster = Cluster::start(2, &moto.env());
    let endpoints = testdata(ENDPOINTS).display().to_string();
    for dir in ["rds-sg-patterns/cloudwatch", "rds-sg-patterns/s3"] {
        let input = testdata(dir).display().to_string();
        let (local, remote) = both(&cluster, &["--endpoints", &endpoints, &input], &[]);
        assert_eq!(remote, local, "{dir}");
    }
    // The same archive from S3, read by the executors.
    let local = vpcflow(&[
        "verdict",
        "-o",
        "json",
        "--endpoints",
        &endpoints,
        testdata("rds-sg-patterns/s3").to_str().unwrap(),
    ]);
    let (from_s3, remote) = both(
        &cluster,
        &["--endpoints", &endpoints, "s3://flows/AWSLogs/"],
        &moto.env(),
    );
    assert_eq!(from_s3, stdout(&local));
    assert_eq!(remote, stdout(&local));
    // The shuffle compressed (the default is none) changes how bytes travel, not the answer.
    let input = testdata("rds-sg-patterns/s3").display().to_string();
    for codec in ["lz4", "zstd"] {
        let args = [
            "verdict",
            "-o",
            "json",
            "--partitions",
            "8",
            "--shuffle-codec",
            codec,
            "--endpoints",
            &endpoints,
            &input,
        ];
        let remote = cluster.run(&args, &[]);
        assert_eq!(
            stdout(&remote),
            stdout(&local),
            "{codec}: {}",
            stderr(&remote)
        );
    }
    // Without a cluster there is no shuffle to compress.
    let alone = vpcflow(&[
        "verdict",
        "--shuffle-codec",
        "lz4",
        "--endpoints",
        &endpoints,
        &input,
    ]);
    assert_eq!(alone.status.code(), Some(2));
    assert!(stderr(&alone).contains("--cluster"), "{}", stderr(&alone));
}

#[test]
fn fifty_shuffled_objects_in_s3_give_the_local_json_on_the_cluster() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let (mut objects, log, catalogue) = shuffled_objects(dir.path(), "40000", 56);
    objects.reverse();
    assert!(objects.len() >= 50);
    put_all(&moto, "shuffled", objects);
    let cluster = Cluster::start(2, &moto.env());
    let local = vpcflow(&["verdict", "--endpoints", &catalogue, "-o", "json", &log]);
    let reference = stdout(&local);
    assert!(reference.lines().count() > 100, "{}", stderr(&local));
    // NODATA on some endpoints' ENIs lowers their verdicts' confidence. A NODATA record has no
    // pair, so it sits in a shard of its own: the cluster's verdicts, judged shard by shard on
    // the executors, get their confidence from every shard's header, as these must show.
    for confidence in ["\"confidence\":\"medium\"", "\"confidence\":\"high\""] {
        assert!(reference.contains(confidence), "no {confidence} verdict");
    }
    let (from_s3, remote) = both(
        &cluster,
        &["--endpoints", &catalogue, "s3://shuffled/flows/"],
        &moto.env(),
    );
    assert_eq!(from_s3, reference);
    assert_eq!(remote, reference);
    // The objects as local files, in another order again.
    let files = tempfile::tempdir().unwrap();
    let c = crate::s3::client(&moto);
    let keys: Vec<String> = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let listed = c.list_objects_v2().bucket("shuffled").send().await.unwrap();
        let mut keys = Vec::new();
        for o in listed.contents() {
            let key = o.key().unwrap().to_owned();
            let body = c
                .get_object()
                .bucket("shuffled")
                .key(&key)
                .send()
                .await
                .unwrap();
            let bytes = body.body.collect().await.unwrap().into_bytes();
            std::fs::write(files.path().join(key.replace('/', "_")), bytes).unwrap();
            keys.push(key);
        }
        keys
    });
    assert!(keys.len() >= 50);
    let input = files.path().display().to_string();
    let (_, remote) = both(&cluster, &["--endpoints", &catalogue, &input], &[]);
    assert_eq!(remote, reference);
}

#[test]
fn query_on_the_cluster_gives_the_local_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = generate(dir.path(), "30000", &["--span", "7200"]);
    let cluster = Cluster::start(2, &[]);
    for sql in [
        "SELECT action, count(*) FROM flows WHERE action IS NOT NULL GROUP BY action ORDER BY action",
        r#"SELECT "interface-id", sum(bytes) FROM flows WHERE bytes IS NOT NULL GROUP BY 1 ORDER BY 1"#,
        "SELECT srcaddr, dstport, count(*) AS n FROM flows WHERE action = 'REJECT' \
         GROUP BY srcaddr, dstport ORDER BY n DESC, dstport, srcaddr LIMIT 10",
        "SELECT count(*), sum(packets) FROM flows \
         WHERE start >= to_timestamp(1700001800) AND start < to_timestamp(1700003600)",
    ] {
        let args = ["query", "--output", "csv", "--threads", "8", sql, &log];
        let local = vpcflow(&args);
        assert_eq!(local.status.code(), Some(0), "{}", stderr(&local));
        let remote = cluster.run(&args, &[]);
        assert_eq!(remote.status.code(), Some(0), "{}", stderr(&remote));
        assert!(stdout(&local).lines().count() > 1, "{sql}");
        assert_eq!(stdout(&remote), stdout(&local), "{sql}");
        let mut uncompressed = args.to_vec();
        uncompressed.extend(["--shuffle-codec", "none"]);
        let remote = cluster.run(&uncompressed, &[]);
        assert_eq!(
            stdout(&remote),
            stdout(&local),
            "{sql}: {}",
            stderr(&remote)
        );
    }
}

#[test]
fn query_reads_s3_prefixes_and_a_filter_on_start_prunes_their_keys() {
    let moto = Moto::start();
    upload_dir(&moto, "flows", &testdata("rds-sg-patterns/s3"), "");
    let cluster = Cluster::start(2, &moto.env());
    let local = vpcflow(&[
        "query",
        "--output",
        "csv",
        "SELECT count(*) FROM flows",
        testdata("rds-sg-patterns/s3").to_str().unwrap(),
    ]);
    assert_eq!(
        stdout(&local).lines().nth(1),
        Some("36"),
        "{}",
        stderr(&local)
    );
    let gets = || moto.requests("GET /flows/AWSLogs/").len();
    for on_cluster in [false, true] {
        let query = |sql: &str| {
            let args = ["query", "--output", "csv", sql, "s3://flows/AWSLogs/"];
            let out = if on_cluster {
                cluster.run(&args, &moto.env())
            } else {
                vpcflow_env(&args, &moto.env())
            };
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            stdout(&out)
        };
        let before = gets();
        assert_eq!(query("SELECT count(*) FROM flows"), stdout(&local));
        // The header sniff and the four objects.
        assert_eq!(gets() - before, 5, "cluster: {on_cluster}");
        let before = gets();
        let none = query("SELECT count(*) FROM flows WHERE start >= to_timestamp(1795300000)");
        assert_eq!(none.lines().nth(1), Some("0"));
        // Only the header sniff: every key's time lies before the filter.
        assert_eq!(gets() - before, 1, "cluster: {on_cluster}");
    }
}

#[test]
fn an_executor_killed_mid_job_leaves_the_other_to_finish_with_identical_output() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let (objects, log, catalogue) = shuffled_objects(dir.path(), "400000", 64);
    put_all(&moto, "big", objects);
    let local = vpcflow(&["verdict", "--endpoints", &catalogue, "-o", "json", &log]);
    let mut cluster = Cluster::start(2, &moto.env());
    let mut cmd = command();
    cmd.envs(moto.env())
        .args(["verdict", "-o", "json", "--endpoints", &catalogue])
        .args([
            "--partitions",
            "8",
            "--cluster",
            &cluster.url,
            "s3://big/flows/",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let job = cmd.spawn().unwrap();
    // Kill one executor once the job's first shuffle files exist on it.
    let work = cluster._work.path().join("executor-0");
    let mut seen = false;
    for _ in 0..600 {
        if crate::common::files_under(&work)
            .iter()
            .any(|f| f.to_string_lossy().ends_with(".arrow"))
        {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    cluster.executors[0].kill().unwrap();
    let out = job.wait_with_output().unwrap();
    assert!(seen, "executor 0 never wrote a shuffle file");
    assert_eq!(out.status.code(), local.status.code(), "{}", stderr(&out));
    assert_eq!(stdout(&out), stdout(&local));
}
