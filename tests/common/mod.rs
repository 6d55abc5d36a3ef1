//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A path under `testdata/`.
pub fn testdata(rel: &str) -> PathBuf {
    root().join("testdata").join(rel)
}

/// Runs `vpcflow` with `args`, from the repository root, with no AWS configuration leaking in.
pub fn vpcflow(args: &[&str]) -> Output {
    vpcflow_in(&root(), args)
}

/// Runs `vpcflow` with `args` in `dir`.
pub fn vpcflow_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("vpcflow runs")
}

/// Stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("stdout is UTF-8")
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).expect("stderr is UTF-8")
}

/// A moto server (PyPI `moto[server]`) on a free loopback port, killed on drop. Tests of AWS
/// code paths talk to it with static test credentials. A missing moto fails the test: it is
/// never skipped.
#[derive(Debug)]
pub struct Moto {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// moto's request log (one line per request).
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Moto {
    /// Starts moto and waits until it answers.
    pub fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("a temp dir");
        let log = dir.path().join("moto.log");
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::fs::File::create(dir.path().join("moto.out")).expect("log file"))
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto_server ({e}); install it with pip install 'moto[server]' \
                     (scripts/install-test-deps.sh does)"
                )
            });
        let url = format!("http://127.0.0.1:{port}");
        let mut moto = Moto {
            child,
            url,
            log,
            _dir: dir,
        };
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto_server exited at start: {status}");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("moto_server did not listen on port {port}");
    }

    /// The environment a vpcflow process needs to talk to this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/nonexistent".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
        ]
    }

    /// An EC2 client for setting up this server's state.
    pub fn ec2(&self) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::from_conf(
            aws_sdk_ec2::config::Builder::new()
                .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
                .region(aws_sdk_ec2::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_ec2::config::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .endpoint_url(&self.url)
                .build(),
        )
    }

    /// An RDS client for setting up this server's state.
    pub fn rds(&self) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::from_conf(
            aws_sdk_rds::config::Builder::new()
                .behavior_version(aws_sdk_rds::config::BehaviorVersion::latest())
                .region(aws_sdk_rds::config::Region::new("us-east-1"))
                .credentials_provider(aws_sdk_rds::config::Credentials::new(
                    "testing", "testing", None, None, "test",
                ))
                .endpoint_url(&self.url)
                .build(),
        )
    }

    /// Request log lines that match `needle`.
    pub fn requests(&self, needle: &str) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `vpcflow` with `args` and extra environment.
pub fn vpcflow_env(args: &[&str], env: &[(&'static str, String)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vpcflow"))
        .args(args)
        .current_dir(root())
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()
        .expect("vpcflow runs")
}

/// A value of `parse --output summary`: the text after `name` on its line.
pub fn summary_value(out: &Output, name: &str) -> String {
    let text = stdout(out);
    text.lines()
        .find_map(|l| l.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no `{name}` in {text}"))
        .trim()
        .to_owned()
}

/// A loopback HTTP proxy in front of moto that answers some CloudWatch Logs FilterLogEvents
/// requests with `ThrottlingException` (moto never throttles) and forwards everything else.
#[derive(Debug)]
pub struct ThrottleProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Requests answered with ThrottlingException so far.
    pub throttled: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl ThrottleProxy {
    /// Throttles the first `first_n` FilterLogEvents requests, then every third.
    pub fn start(upstream: &str, first_n: usize) -> ThrottleProxy {
        use std::io::{BufRead, BufReader, Read, Write};
        use std::sync::atomic::{AtomicUsize, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let throttled = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = std::sync::Arc::new(AtomicUsize::new(0));
        let t = throttled.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (upstream, t, seen) = (upstream.clone(), t.clone(), seen.clone());
                std::thread::spawn(move || -> std::io::Result<()> {
                    let mut client = BufReader::new(stream.try_clone()?);
                    let mut head = Vec::new();
                    let mut length = 0usize;
                    let mut filter = false;
                    loop {
                        let mut line = String::new();
                        if client.read_line(&mut line)? == 0 {
                            return Ok(());
                        }
                        let lower = line.to_ascii_lowercase();
                        if let Some(v) = lower.strip_prefix("content-length:") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                        if lower.starts_with("x-amz-target:") && lower.contains("filterlogevents") {
                            filter = true;
                        }
                        let end = line == "\r\n";
                        if !lower.starts_with("connection:") {
                            head.extend_from_slice(line.as_bytes());
                        }
                        if end {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    client.read_exact(&mut body)?;
                    let mut out = stream;
                    if filter {
                        let n = seen.fetch_add(1, Ordering::SeqCst);
                        if n < first_n || n % 3 == 2 {
                            t.fetch_add(1, Ordering::SeqCst);
                            let msg =
                                br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#;
                            write!(
                                out,
                                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-ErrorType: ThrottlingException\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                                msg.len()
                            )?;
                            return out.write_all(msg);
                        }
                    }
                    // Forward, asking the upstream to close so its reply ends at EOF.
                    let mut up = std::net::TcpStream::connect(&upstream)?;
                    let head_end = head.len() - 2;
                    up.write_all(&head[..head_end])?;
                    up.write_all(b"Connection: close\r\n\r\n")?;
                    up.write_all(&body)?;
                    let mut reply = Vec::new();
                    up.read_to_end(&mut reply)?;
                    out.write_all(&reply)
                });
            }
        });
        ThrottleProxy { url, throttled }
    }
}

/// The sources a checkpoint file lists as finished (`vpcflow-checkpoint` format 2: a header
/// line, a JSON line, the state). Empty when the file is missing or being replaced.
pub fn checkpoint_sources(path: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let mut lines = bytes.split(|&b| b == b'\n');
    assert_eq!(
        lines.next(),
        Some(&b"vpcflow-checkpoint 2"[..]),
        "a checkpoint header"
    );
    let head: serde_json::Value = lines
        .next()
        .and_then(|l| serde_json::from_slice(l).ok())
        .unwrap_or_default();
    head["sources"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}
