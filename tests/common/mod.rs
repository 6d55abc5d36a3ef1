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

/// The `vpcflow` binary as a command, sealed from the machine's AWS setup: no inherited `AWS_*`
/// variables, no config or credential files, the instance metadata service disabled and an
/// explicit region, so no test can reach past loopback (moto's tests add its endpoint and
/// static credentials on top).
pub fn command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpcflow"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(key);
        }
    }
    // Tables are as wide as COLUMNS says: a test sets it, or gets the width of a pipe (100).
    cmd.env_remove("COLUMNS");
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
    cmd
}

/// Runs `vpcflow` with `args` in `dir`.
pub fn vpcflow_in(dir: &Path, args: &[&str]) -> Output {
    command()
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
    command()
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

/// One HTTP request as a loopback [`Proxy`] saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path and query.
    pub target: String,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `X-Amz-Target` operation of a JSON-protocol call (`Logs_20140328.FilterLogEvents`).
    pub fn amz_target(&self) -> &str {
        self.header("x-amz-target").unwrap_or("")
    }
}

/// What a [`Proxy`] does with a request.
pub enum Action {
    /// Pass it to the upstream and the answer back.
    Forward,
    /// Pass it on; when the answer is back, run this before handing it over (to change the
    /// upstream's state between the two, race-free).
    ForwardThen(Box<dyn FnOnce() + Send>),
    /// Answer with this raw HTTP response instead.
    Respond(Vec<u8>),
    /// Read the request and never answer (a stalled server).
    Stall,
    /// Pass it on, but cut the answer after this many bytes of its body and reset the
    /// connection (a transfer that breaks midway).
    CutBodyAfter(usize),
}

/// A raw HTTP response with a JSON body and extra headers.
pub fn http_response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A loopback HTTP proxy in front of a server (moto) that lets a test decide, per request, to
/// forward it, answer it, stall, or break the answer midway. One request per connection.
#[derive(Debug)]
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Every request seen, as `METHOD target`.
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Proxy {
    /// Starts the proxy; `hook` decides what happens to each request.
    pub fn start(
        upstream: &str,
        hook: impl Fn(&Request) -> Action + Send + Sync + 'static,
    ) -> Proxy {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let hook = std::sync::Arc::new(hook);
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (upstream, hook, log) = (upstream.clone(), hook.clone(), log.clone());
                std::thread::spawn(move || -> std::io::Result<()> {
                    let mut client = BufReader::new(stream.try_clone()?);
                    let mut line = String::new();
                    if client.read_line(&mut line)? == 0 {
                        return Ok(());
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or("").to_owned();
                    let target = parts.next().unwrap_or("").to_owned();
                    let mut head = line.clone().into_bytes();
                    let mut headers = Vec::new();
                    loop {
                        let mut h = String::new();
                        if client.read_line(&mut h)? == 0 || h == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = h.split_once(':') {
                            let k = k.trim().to_ascii_lowercase();
                            if k != "connection" {
                                head.extend_from_slice(h.as_bytes());
                            }
                            headers.push((k, v.trim().to_owned()));
                        }
                    }
                    let length: usize = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    client.read_exact(&mut body)?;
                    let request = Request {
                        method,
                        target,
                        headers,
                        body,
                    };
                    if let Ok(mut l) = log.lock() {
                        l.push(format!("{} {}", request.method, request.target));
                    }
                    let mut out = stream;
                    let forward =
                        |then: Option<Box<dyn FnOnce() + Send>>| -> std::io::Result<Vec<u8>> {
                            let mut up = std::net::TcpStream::connect(&upstream)?;
                            up.write_all(&head)?;
                            up.write_all(b"Connection: close\r\n\r\n")?;
                            up.write_all(&request.body)?;
                            let mut reply = Vec::new();
                            up.read_to_end(&mut reply)?;
                            if let Some(then) = then {
                                then();
                            }
                            Ok(reply)
                        };
                    match hook(&request) {
                        Action::Forward => out.write_all(&forward(None)?),
                        Action::ForwardThen(then) => out.write_all(&forward(Some(then))?),
                        Action::Respond(raw) => out.write_all(&raw),
                        Action::Stall => {
                            // Hold the connection open, answering nothing, until the client
                            // gives up and closes it.
                            let mut sink = [0u8; 1];
                            while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
                            Ok(())
                        }
                        Action::CutBodyAfter(n) => {
                            let reply = forward(None)?;
                            let body_at = reply
                                .windows(4)
                                .position(|w| w == b"\r\n\r\n")
                                .map_or(0, |i| i + 4);
                            out.write_all(&reply[..(body_at + n).min(reply.len())])?;
                            out.flush()?;
                            // Close at once: the rest of the body never comes.
                            out.shutdown(std::net::Shutdown::Both)
                        }
                    }
                });
            }
        });
        Proxy { url, seen }
    }

    /// Requests seen whose `METHOD target` contains `needle`.
    pub fn requests(&self, needle: &str) -> usize {
        self.seen
            .lock()
            .map(|l| l.iter().filter(|r| r.contains(needle)).count())
            .unwrap_or(0)
    }
}

/// The environment of `moto.env()`, with AWS requests sent to `proxy` instead.
pub fn via(moto: &Moto, proxy: &Proxy) -> Vec<(&'static str, String)> {
    let mut env = moto.env();
    env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
    env.push(("AWS_ENDPOINT_URL", proxy.url.clone()));
    env
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

/// Runs a Python script (pyarrow and duckdb come from scripts/install-test-deps.sh) and returns
/// its stdout; a failing script fails the test.
pub fn python(script: &str) -> String {
    let out = Command::new("python3")
        .args(["-c", script])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed (pyarrow and duckdb come from scripts/install-test-deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("python's stdout is UTF-8")
}

/// Every file below `dir`, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("a directory") {
        let p = e.expect("an entry").path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// A path as the `&str` an argument list takes.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// `bytes` gzipped (one member).
pub fn gz<B: AsRef<[u8]> + ?Sized>(bytes: &B) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes.as_ref()).expect("gzip into memory");
    e.finish().expect("gzip into memory")
}

/// Generates a flow log (header line first) and its catalogue in `dir`; returns (log,
/// catalogue).
pub fn generate(dir: &Path, records: &str, extra: &[&str]) -> (String, String) {
    let log = dir.join("f.log").display().to_string();
    let catalogue = dir.join("c.toml").display().to_string();
    let mut args = vec![
        "generate",
        "--records",
        records,
        "--header",
        "--catalogue",
        &catalogue,
        "--out",
        &log,
    ];
    args.extend_from_slice(extra);
    let out = vpcflow(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    (log, catalogue)
}
