//! Reading flow logs from CloudWatch Logs: one log stream per ENI, one record per event.
//!
//! FilterLogEvents has a hard quota of 5 requests per second per account and Region, shared
//! with every other client. Every request here goes through one client-side [`RateLimiter`]
//! (`--max-rps`, default 5), and throttling is retried with exponential backoff and full jitter
//! by this module (the SDK's own retries are off for this client, so throttles can be counted).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::config::http::HttpResponse;
use aws_sdk_cloudwatchlogs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudwatchlogs::types::OrderBy;
use tokio::sync::{Mutex, mpsc};

use crate::error::AwsError;

/// One log event: one flow-log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// CloudWatch's event id (unique within the group), or a digest for live-tail events.
    pub id: String,
    /// The log stream (`eni-…-all`).
    pub stream: String,
    /// Event time, Unix milliseconds.
    pub timestamp: i64,
    /// The record.
    pub message: String,
    /// It came in a sampled live-tail update: the events around it were not all delivered.
    pub sampled: bool,
}

impl Event {
    /// An id from the event's content (stream, time, message), for events that carry none.
    /// The hash (XXH3-128) has a fixed definition: a checkpoint written by one build of
    /// vpcflow dedupes the same events in the next.
    pub fn digest(&self) -> String {
        let mut bytes = Vec::with_capacity(self.stream.len() + self.message.len() + 10);
        bytes.extend_from_slice(self.stream.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(&self.timestamp.to_le_bytes());
        bytes.extend_from_slice(self.message.as_bytes());
        format!(
            "d:{:032x}:{}",
            xxhash_rust::xxh3::xxh3_128(&bytes),
            self.timestamp
        )
    }
}

/// The most log groups one StartLiveTail session may follow (a service limit). `tail` follows
/// one group, so one session.
pub const MAX_GROUPS_PER_SESSION: usize = 10;

/// What a live-tail session pushed since the last [`LiveTail::drain`].
#[derive(Debug, Default)]
pub struct Pushed {
    /// The events, in the order they came (`sampled` set on those of sampled updates).
    pub events: Vec<Event>,
    /// Updates that were a sample: above 500 events per second AWS sends a sample of them.
    pub sampled_updates: u64,
    /// Updates received.
    pub updates: u64,
    /// Why the session ended, once it has (the server closed the stream, the 3-hour limit, an
    /// error). Nothing more comes after that.
    pub ended: Option<String>,
}

enum Message {
    Update { events: Vec<Event>, sampled: bool },
    Ended(String),
}

/// A StartLiveTail session: events pushed by the server as they are ingested.
#[derive(Debug)]
pub struct LiveTail {
    rx: mpsc::UnboundedReceiver<Message>,
    task: tokio::task::JoinHandle<()>,
    /// Wall-clock time (Unix ms) the session was last heard from: up to here it delivered.
    heard_ms: Arc<std::sync::atomic::AtomicI64>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Update { events, sampled } => write!(f, "Update({}, {sampled})", events.len()),
            Message::Ended(why) => write!(f, "Ended({why})"),
        }
    }
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl LiveTail {
    /// Starts a session on the reader's group (and ENI streams, and filter pattern). Fails where
    /// the server does not offer StartLiveTail, so callers can poll instead. The session has no
    /// read or operation timeout: it is meant to stay open (AWS ends it after 3 hours).
    pub async fn start(reader: &LogsReader) -> Result<LiveTail, AwsError> {
        LiveTail::start_groups(reader, std::slice::from_ref(&reader.opts.group)).await
    }

    async fn start_groups(reader: &LogsReader, groups: &[String]) -> Result<LiveTail, AwsError> {
        if groups.len() > MAX_GROUPS_PER_SESSION {
            return Err(AwsError::Failed {
                operation: "StartLiveTail",
                resource: groups.join(", "),
                message: format!(
                    "one live tail session follows at most {MAX_GROUPS_PER_SESSION} log groups"
                ),
                hint: None,
            });
        }
        let mut arns = Vec::with_capacity(groups.len());
        for group in groups {
            arns.push(reader.group_arn(group).await?);
        }
        let mut request = reader
            .client
            .start_live_tail()
            .set_log_group_identifiers(Some(arns))
            .set_log_event_filter_pattern(reader.opts.filter_pattern.clone());
        for eni in &reader.opts.enis {
            request = request.log_stream_name_prefixes(eni);
        }
        let open = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(reader.limits.connect)
            .disable_read_timeout()
            .disable_operation_attempt_timeout()
            .disable_operation_timeout()
            .build();
        let mut output = request
            .customize()
            .config_override(
                aws_sdk_cloudwatchlogs::config::Builder::default().timeout_config(open),
            )
            .send()
            .await
            .map_err(|e| AwsError::Failed {
                operation: "StartLiveTail",
                resource: format!("log group {}", groups.join(", ")),
                message: DisplayErrorContext(&e).to_string(),
                hint: None,
            })?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = reader.stats.clone();
        let heard_ms = Arc::new(std::sync::atomic::AtomicI64::new(now_ms()));
        let heard = heard_ms.clone();
        let task = tokio::spawn(async move {
            use aws_sdk_cloudwatchlogs::types::StartLiveTailResponseStream as S;
            let ended = loop {
                match output.response_stream.recv().await {
                    Ok(Some(S::SessionUpdate(update))) => {
                        heard.store(now_ms(), Ordering::Relaxed);
                        let sampled = update.session_metadata().is_some_and(|m| m.sampled());
                        let events: Vec<Event> = update
                            .session_results()
                            .iter()
                            .filter_map(|e| {
                                let mut event = Event {
                                    id: String::new(),
                                    stream: e.log_stream_name()?.to_owned(),
                                    timestamp: e.timestamp().unwrap_or(0),
                                    message: e.message()?.to_owned(),
                                    sampled,
                                };
                                event.id = event.digest();
                                Some(event)
                            })
                            .collect();
                        stats
                            .events
                            .fetch_add(events.len() as u64, Ordering::Relaxed);
                        stats
                            .live_events
                            .fetch_add(events.len() as u64, Ordering::Relaxed);
                        if tx.send(Message::Update { events, sampled }).is_err() {
                            return;
                        }
                    }
                    Ok(Some(_)) => heard.store(now_ms(), Ordering::Relaxed),
                    Ok(None) => break "the server closed the stream".to_owned(),
                    Err(e) => {
                        break match e.as_service_error().and_then(|s| s.meta().code()) {
                            Some(code) => format!(
                                "{code}: {}",
                                e.as_service_error()
                                    .and_then(|s| s.meta().message())
                                    .unwrap_or("")
                            ),
                            None => DisplayErrorContext(&e).to_string(),
                        };
                    }
                }
            };
            let _ = tx.send(Message::Ended(ended));
        });
        Ok(LiveTail { rx, task, heard_ms })
    }

    /// What the session pushed since the last call.
    pub fn drain(&mut self) -> Pushed {
        let mut out = Pushed::default();
        while let Ok(m) = self.rx.try_recv() {
            match m {
                Message::Update { events, sampled } => {
                    out.updates += 1;
                    out.sampled_updates += u64::from(sampled);
                    out.events.extend(events);
                }
                Message::Ended(why) => out.ended = Some(why),
            }
        }
        out
    }

    /// Wall-clock time (Unix ms) the session was last heard from: what happened before it was
    /// delivered; after it, a poll must fill in once the session has ended.
    pub fn heard_ms(&self) -> i64 {
        self.heard_ms.load(Ordering::Relaxed)
    }
}

impl Drop for LiveTail {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Spaces requests evenly so that at most `rps` start per second.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimiter {
    /// A limiter admitting `rps` requests per second.
    pub fn new(rps: f64) -> RateLimiter {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / rps.max(0.01)),
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for the next slot.
    pub async fn acquire(&self) {
        let wait = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// What to read.
#[derive(Clone, Debug)]
pub struct LogsOptions {
    /// The log group.
    pub group: String,
    /// Only the streams of these ENIs (stream names start with the ENI id).
    pub enis: Vec<String>,
    /// A CloudWatch Logs filter pattern, passed through.
    pub filter_pattern: Option<String>,
    /// Requests per second, all calls together.
    pub max_rps: f64,
    /// Streams read at once.
    pub concurrency: usize,
    /// Events per FilterLogEvents page (`None`: the service's default, up to 10,000).
    pub page_size: Option<i32>,
}

/// Request counters, for the summary.
#[derive(Debug, Default)]
pub struct LogsStats {
    /// Requests sent (retries included).
    pub requests: AtomicU64,
    /// Requests answered with ThrottlingException (and retried).
    pub throttled: AtomicU64,
    /// Other retried failures (5xx, timeouts).
    pub retried: AtomicU64,
    /// Events received.
    pub events: AtomicU64,
    /// Pages received.
    pub pages: AtomicU64,
    /// Of the events, those a live-tail session pushed.
    pub live_events: AtomicU64,
}

/// Tries per request when throttled (at least; `--max-attempts` may raise it).
const MAX_ATTEMPTS: u32 = 10;

/// A CloudWatch Logs reader.
#[derive(Debug, Clone)]
pub struct LogsReader {
    client: Client,
    opts: LogsOptions,
    /// Tries per call, and how long each may take.
    limits: crate::config::Limits,
    limiter: Arc<RateLimiter>,
    /// Counters.
    pub stats: Arc<LogsStats>,
}

fn jitter(max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mut x = nanos ^ 0x9e37_79b9_7f4a_7c15;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    max.mul_f64((x % 10_000) as f64 / 10_000.0)
}

impl LogsReader {
    /// A reader over `client`.
    pub fn new(client: Client, opts: LogsOptions) -> LogsReader {
        let limiter = Arc::new(RateLimiter::new(opts.max_rps));
        LogsReader {
            client,
            opts,
            limits: crate::config::Limits::default(),
            limiter,
            stats: Arc::default(),
        }
    }

    /// Connects with `aws` (the SDK's own retries are off: [`LogsReader`] retries, and counts
    /// throttles) and returns the SDK configuration too, for other services.
    pub async fn connect(
        aws: &crate::AwsOptions,
        opts: LogsOptions,
    ) -> (LogsReader, aws_config::SdkConfig) {
        let config = aws.load().await;
        let mut logs = aws_sdk_cloudwatchlogs::config::Builder::from(&config)
            .retry_config(aws_config::retry::RetryConfig::disabled());
        if aws.host_prefix_disabled().await {
            logs = logs.interceptor(crate::config::NoHostPrefix);
        }
        let logs = logs.build();
        let mut reader = LogsReader::new(Client::from_conf(logs), opts);
        reader.limits = aws.limits;
        (reader, config)
    }

    /// The ARN of log group `group` (without the `:*` DescribeLogGroups appends), as
    /// StartLiveTail wants it.
    async fn group_arn(&self, group: &str) -> Result<String, AwsError> {
        let groups = self
            .call("DescribeLogGroups", || {
                self.client
                    .describe_log_groups()
                    .log_group_name_prefix(group)
                    .send()
            })
            .await?;
        groups
            .log_groups()
            .iter()
            .find(|g| g.log_group_name() == Some(group))
            .and_then(|g| g.arn())
            .map(|a| a.trim_end_matches(":*").to_owned())
            .ok_or_else(|| AwsError::NotFound {
                operation: "DescribeLogGroups",
                what: format!("log group `{group}` not found"),
            })
    }

    /// Sends one request through the rate limiter, retrying throttling and server errors.
    async fn call<T, E, F, Fut>(&self, what: &'static str, mut send: F) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut attempt = 0;
        loop {
            self.limiter.acquire().await;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            let err = match send().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            attempt += 1;
            let code = err.code().unwrap_or("");
            let throttled = matches!(code, "ThrottlingException" | "LimitExceededException")
                || err
                    .raw_response()
                    .is_some_and(|r| r.status().as_u16() == 429);
            let server = err
                .raw_response()
                .is_some_and(|r| r.status().is_server_error())
                || matches!(code, "ServiceUnavailableException")
                || matches!(
                    err,
                    SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
                );
            if throttled {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            } else if server {
                self.stats.retried.fetch_add(1, Ordering::Relaxed);
            }
            // Throttling is normal for CloudWatch Logs: it gets at least MAX_ATTEMPTS tries.
            let limit = if throttled {
                self.limits.attempts.max(MAX_ATTEMPTS)
            } else {
                self.limits.attempts
            };
            if !(throttled || server) || attempt >= limit {
                let resource = format!("log group {}", self.opts.group);
                return Err(match code {
                    "ResourceNotFoundException" => AwsError::NotFound {
                        operation: what,
                        what: format!(
                            "{what}: log group `{}` does not exist (or a stream in it does not)",
                            self.opts.group
                        ),
                    },
                    "AccessDeniedException" => AwsError::AccessDenied {
                        operation: what,
                        resource,
                        needs: "logs:FilterLogEvents and logs:DescribeLogStreams",
                    },
                    _ if crate::error::timed_out(&err) => AwsError::TimedOut {
                        operation: what,
                        resource,
                        after: self.limits.attempt,
                        attempts: attempt,
                    },
                    _ => AwsError::Failed {
                        operation: what,
                        resource,
                        message: DisplayErrorContext(&err).to_string(),
                        hint: None,
                    },
                });
            }
            // Exponential backoff with full jitter: up to 200 ms, 400 ms, … capped at 10 s.
            let cap =
                Duration::from_millis(200 * (1 << attempt.min(6))).min(Duration::from_secs(10));
            // A server that says when to come back is believed (up to MAX_BACKOFF).
            let asked = err
                .raw_response()
                .and_then(|r| crate::config::retry_after(r.headers()));
            let wait = asked.unwrap_or_else(|| jitter(cap).max(Duration::from_millis(50)));
            tracing::debug!(code, attempt, ?wait, "{what}: retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// The streams to read, most recently written first, with their last event time (ms).
    pub async fn streams(&self) -> Result<Vec<(String, Option<i64>)>, AwsError> {
        let mut out = Vec::new();
        let prefixes: Vec<Option<&str>> = if self.opts.enis.is_empty() {
            vec![None]
        } else {
            self.opts.enis.iter().map(|e| Some(e.as_str())).collect()
        };
        for prefix in prefixes {
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .call("DescribeLogStreams", || {
                        let mut req = self
                            .client
                            .describe_log_streams()
                            .log_group_name(&self.opts.group)
                            .set_next_token(token.clone());
                        req = match prefix {
                            Some(p) => req.log_stream_name_prefix(p),
                            None => req.order_by(OrderBy::LastEventTime).descending(true),
                        };
                        req.send()
                    })
                    .await?;
                for s in page.log_streams() {
                    if let Some(name) = s.log_stream_name() {
                        out.push((name.to_owned(), s.last_event_timestamp()));
                    }
                }
                match page.next_token() {
                    Some(t) if token.as_deref() != Some(t) => token = Some(t.to_owned()),
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    /// Reads every event in `[start_ms, end_ms)` and sends it, page by page, to `tx`. Streams
    /// are read `concurrency` groups at a time; streams whose last event is before `start_ms`
    /// are skipped.
    pub async fn read_range(
        &self,
        start_ms: i64,
        end_ms: i64,
        tx: mpsc::Sender<Vec<Event>>,
    ) -> Result<(), AwsError> {
        let streams: Vec<String> = self
            .streams()
            .await?
            .into_iter()
            .filter(|(_, last)| last.is_none_or(|l| l >= start_ms))
            .map(|(name, _)| name)
            .collect();
        if streams.is_empty() {
            return Ok(());
        }
        // FilterLogEvents takes at most 100 stream names.
        let per_task = streams
            .len()
            .div_ceil(self.opts.concurrency.max(1))
            .clamp(1, 100);
        let mut tasks = tokio::task::JoinSet::new();
        for chunk in streams.chunks(per_task) {
            let reader = self.clone();
            let names = chunk.to_vec();
            let tx = tx.clone();
            tasks.spawn(async move { reader.filter(names, start_ms, end_ms, tx).await });
        }
        let mut first_error = None;
        while let Some(done) = tasks.join_next().await {
            let result = done
                .map_err(|e| AwsError::Failed {
                    operation: "FilterLogEvents",
                    resource: format!("log group {}", self.opts.group),
                    message: format!("the reading task failed: {e}"),
                    hint: None,
                })
                .and_then(|r| r);
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn filter(
        &self,
        streams: Vec<String>,
        start_ms: i64,
        end_ms: i64,
        tx: mpsc::Sender<Vec<Event>>,
    ) -> Result<(), AwsError> {
        let mut token: Option<String> = None;
        loop {
            let page = self
                .call("FilterLogEvents", || {
                    self.client
                        .filter_log_events()
                        .log_group_name(&self.opts.group)
                        .set_log_stream_names(Some(streams.clone()))
                        .start_time(start_ms)
                        .end_time(end_ms - 1)
                        .set_filter_pattern(self.opts.filter_pattern.clone())
                        .set_next_token(token.clone())
                        .set_limit(self.opts.page_size)
                        .send()
                })
                .await?;
            self.stats.pages.fetch_add(1, Ordering::Relaxed);
            let events: Vec<Event> = page
                .events()
                .iter()
                .filter_map(|e| {
                    Some(Event {
                        id: e.event_id()?.to_owned(),
                        stream: e.log_stream_name().unwrap_or("").to_owned(),
                        timestamp: e.timestamp().unwrap_or(0),
                        message: e.message()?.to_owned(),
                        sampled: false,
                    })
                })
                .collect();
            self.stats
                .events
                .fetch_add(events.len() as u64, Ordering::Relaxed);
            // A page may be empty while a token remains: keep paging until there is none.
            if !events.is_empty() && tx.send(events).await.is_err() {
                return Ok(());
            }
            match page.next_token() {
                Some(t) if token.as_deref() != Some(t) => token = Some(t.to_owned()),
                _ => return Ok(()),
            }
        }
    }
}

/// Event ids seen recently, to drop the duplicates that overlapping polls return. Ids older
/// than the poll window cannot come back, so they are forgotten: memory stays bounded by the
/// events of one window.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dedupe {
    seen: HashMap<String, i64>,
}

impl Dedupe {
    /// Whether the event is new (and remembers it).
    pub fn first_time(&mut self, e: &Event) -> bool {
        self.seen.insert(e.id.clone(), e.timestamp).is_none()
    }

    /// Whether an event with this id was seen (without remembering it).
    pub fn contains(&self, id: &str) -> bool {
        self.seen.contains_key(id)
    }

    /// Forgets events older than `before_ms`.
    pub fn forget_before(&mut self, before_ms: i64) {
        self.seen.retain(|_, t| *t >= before_ms);
    }

    /// Ids remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, t: i64) -> Event {
        Event {
            id: id.into(),
            stream: "s".into(),
            timestamp: t,
            message: String::new(),
            sampled: false,
        }
    }

    /// Regression: digests were made with `DefaultHasher`, whose output may change with the
    /// toolchain, so a resumed tail could count events twice. The value is pinned, and was
    /// computed independently with Python's `xxhash` (xxh3_128 over stream, NUL, the time as
    /// 8 little-endian bytes, and the message).
    #[test]
    fn default_hasher_made_live_tail_digests_unstable() {
        let e = Event {
            id: String::new(),
            stream: "eni-0e71f2697f24bffbf-all".into(),
            timestamp: 1_795_165_200_123,
            message: "2 123456789012 eni-0e71f2697f24bffbf 10.0.1.10 10.0.3.82 40000 3306 6 3 180 1795165200 1795165259 ACCEPT OK".into(),
            sampled: false,
        };
        assert_eq!(
            e.digest(),
            "d:c34f299fbfc33fcacb7eed5258992fad:1795165200123"
        );
    }

    #[test]
    fn dedupe_is_bounded_by_the_window() {
        let mut d = Dedupe::default();
        assert!(d.first_time(&event("a", 10)));
        assert!(!d.first_time(&event("a", 10)));
        assert!(d.first_time(&event("b", 20)));
        d.forget_before(15);
        assert_eq!(d.len(), 1);
        assert!(!d.first_time(&event("b", 20)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limiter_spaces_requests() {
        let limiter = RateLimiter::new(5.0);
        let start = tokio::time::Instant::now();
        for _ in 0..11 {
            limiter.acquire().await;
        }
        // 11 requests at 5/s: the last starts 2 s after the first.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1990) && elapsed < Duration::from_millis(2100),
            "{elapsed:?}"
        );
    }
}
