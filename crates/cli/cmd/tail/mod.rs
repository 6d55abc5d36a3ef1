//! `vpcflow tail`: follow a CloudWatch Logs group and keep the verdicts up to date.

mod sqs;

use std::collections::{BTreeSet, HashMap};
use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use vpcflow_aws::logs::LiveTail;
use vpcflow_aws::{Dedupe, Event, LogsReader};
use vpcflow_checkpoint::{CheckpointFile, Fingerprint};
use vpcflow_core::Decoder;
use vpcflow_input::SourceReport;
use vpcflow_sink::{BatchWriter, JsonLinesWriter};
use vpcflow_verdict::{Aggregator, Catalogue, Confidence, Report};

use crate::flags::TailOutput;
use crate::flags::VerdictOutput;
use crate::flags::resolve::TailJob;
use crate::{aws, catalogue, logs, report};

/// What a tail checkpoint keeps besides the verdict state.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Position {
    /// Events up to here (Unix ms) have been read.
    position_ms: i64,
    dedupe: Dedupe,
    /// What `dedupe` remembers events by (absent in checkpoints of older versions).
    #[serde(default)]
    dedupe_by: Option<DedupeBy>,
    /// Pairs some of whose records came from a sampled live-tail update.
    #[serde(default)]
    sampled_pairs: BTreeSet<(String, String)>,
    /// Sampled live-tail updates received.
    #[serde(default)]
    sampled_updates: u64,
}

/// How a tail tells events it has already counted.
#[derive(serde::Serialize, serde::Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum DedupeBy {
    /// CloudWatch's event id (polling only).
    EventId,
    /// A digest of the content: live-tail events carry no id, and one event may come both
    /// pushed and polled.
    Digest,
}

/// The first wait before starting a live session again after one ended early; it doubles while
/// sessions keep ending within [`SHORT_SESSION`], up to [`RECONNECT_MAX`].
const RECONNECT_MIN: Duration = Duration::from_secs(5);
const RECONNECT_MAX: Duration = Duration::from_secs(300);
/// A live session silent this long (no update, not even an empty one) is taken as ended.
const LIVE_SILENCE: Duration = Duration::from_secs(60);
/// A session that lasted longer than this ended normally (the 3-hour limit): start the next one
/// at once.
const SHORT_SESSION: Duration = Duration::from_secs(60);

pub fn run(job: TailJob) -> Result<u8> {
    let catalogue = catalogue::load(&job.catalogue, &job.aws.connect)?;
    if catalogue::names_groups(&catalogue) {
        eprintln!(
            "warning: tail does not resolve security groups in expected_clients; clients they might cover are not flagged"
        );
    }
    if job.sqs_queue.is_some() {
        return sqs::run(job, catalogue);
    }
    let rt = aws::runtime(job.run.threads)?;
    rt.block_on(async {
        let mut tail = Tail::start(job, catalogue).await?;
        tail.follow().await?;
        tail.finish()
    })
}

/// A running tail: what it reads with, what it has counted, and where it shows it.
struct Tail {
    job: TailJob,
    started: Instant,
    aggregator: Aggregator,
    checkpoint: Option<CheckpointFile>,
    position: Position,
    reader: LogsReader,
    decoder: Decoder,
    live: Option<LiveTail>,
    /// When the live session started, and how long to wait before the next one.
    session_started: Instant,
    backoff: Duration,
    /// When to try StartLiveTail again, after a session ended.
    reconnect_at: Option<Instant>,
    /// Why the tail polls although live tail was asked for.
    live_note: Option<String>,
    /// Decodes the records of sampled updates again, to find the pairs they touch.
    sampled_decoder: Decoder,
    /// The checkpoint's dedupe set remembers event ids (an older vpcflow's): events polled
    /// again are also checked by their id until they fall out of it.
    legacy_ids: bool,
    /// The verdict each pair last showed, for `--output json`.
    shown: HashMap<(String, String), String>,
    json: JsonLinesWriter<std::io::Stdout>,
    duplicates: u64,
    /// The newest event counted (Unix ms), for "last event … ago".
    last_event_ms: Option<i64>,
    /// Redraw a table in place (a terminal).
    redraw: bool,
}

impl Tail {
    /// Connects, resumes from the checkpoint if there is one, and starts a live session where
    /// the server offers it.
    async fn start(job: TailJob, catalogue: Catalogue) -> Result<Tail> {
        let checkpoint = match &job.checkpoint {
            Some(path) => {
                let fingerprint = Fingerprint::new("tail")
                    .with("catalogue", catalogue.to_toml())
                    .with("log-group", &job.logs.group)
                    .with(
                        "options",
                        format!(
                            "{:?} {:?} {:?}",
                            job.run
                                .decoder
                                .format
                                .as_ref()
                                .map(|f| f.names().collect::<Vec<_>>()),
                            job.logs.enis,
                            job.logs.filter_pattern
                        ),
                    );
                Some(CheckpointFile::open(path, fingerprint)?)
            }
            None => None,
        };
        let (aggregator, mut position) = resume::<Position>(&job, catalogue, checkpoint.as_ref())?;
        if checkpoint.as_ref().is_some_and(|c| !c.data.meta.is_null()) {
            tracing::info!(
                position_ms = position.position_ms,
                "resuming the tail from its checkpoint"
            );
        }
        if position.position_ms == 0 {
            position.position_ms = now_ms();
        }
        let dedupe_by = if job.live {
            DedupeBy::Digest
        } else {
            DedupeBy::EventId
        };
        let legacy_ids = job.live && position.dedupe_by.is_none() && !position.dedupe.is_empty();
        match position.dedupe_by {
            Some(by) if by != dedupe_by => anyhow::bail!(
                "the tail checkpoint was written {}: resume it the same way, or delete it to start over",
                if by == DedupeBy::EventId {
                    "by a polling tail (--no-live-tail)"
                } else {
                    "by a live tail (without --no-live-tail)"
                }
            ),
            _ => position.dedupe_by = Some(dedupe_by),
        }
        let (reader, config) = logs::connect(&job.aws.connect, &job.logs).await;
        let opts = logs::resolve_format(job.run.decoder.clone(), &config, &job.logs.group).await?;
        let mut decoder = Decoder::new(opts.clone());
        decoder.begin_source(&format!("logs:{}", job.logs.group));
        let sampled_decoder = Decoder::new(opts);
        let mut live_note = None;
        let live = if job.live {
            match LiveTail::start(&reader).await {
                Ok(live) => {
                    eprintln!(
                        "mode: StartLiveTail (after reading the last {}s with FilterLogEvents)",
                        job.lookback.as_secs()
                    );
                    Some(live)
                }
                Err(e) => {
                    eprintln!(
                        "mode: polling FilterLogEvents every {:.1?} (StartLiveTail unavailable: {e})",
                        job.poll_interval
                    );
                    live_note = Some("StartLiveTail unavailable".to_owned());
                    None
                }
            }
        } else {
            None
        };
        let redraw = job.output == TailOutput::Table && std::io::stdout().is_terminal();
        Ok(Tail {
            job,
            started: Instant::now(),
            aggregator,
            checkpoint,
            position,
            reader,
            decoder,
            live,
            session_started: Instant::now(),
            backoff: RECONNECT_MIN / 2,
            reconnect_at: None,
            live_note,
            sampled_decoder,
            legacy_ids,
            shown: HashMap::new(),
            json: JsonLinesWriter::new(std::io::stdout()),
            duplicates: 0,
            last_event_ms: None,
            redraw,
        })
    }

    /// Reads, shows and checkpoints, round after round, until `--duration` or Ctrl-C.
    async fn follow(&mut self) -> Result<()> {
        let mut first = true;
        loop {
            self.read_window(first).await?;
            first = false;
            self.show()?;
            self.checkpoint()?;
            let left = self
                .job
                .duration
                .map(|d| d.saturating_sub(self.started.elapsed()));
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(());
            }
            // Sleep to the next poll, or to the end (then poll once more and stop).
            let nap = self.job.poll_interval.min(left.unwrap_or(Duration::MAX));
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                _ = tokio::signal::ctrl_c() => return Ok(()),
            }
        }
    }

    /// One round of reading: an overlapping window by polling (the first round also with live
    /// tail, and every round while no session is up), then what live tail pushed; events
    /// already counted are dropped.
    async fn read_window(&mut self, first: bool) -> Result<()> {
        let polling = self.live.is_none() || first;
        self.maybe_reconnect().await;
        let poll_end = now_ms();
        let lookback = self.job.lookback.as_millis() as i64;
        let mut events = Vec::new();
        if polling {
            // Every window reaches back --lookback before the last position: events arrive
            // late, and a restarted tail must not miss what came in while it was down. The
            // dedupe set drops what an earlier window already counted.
            let window_start = self.position.position_ms - lookback;
            let (tx, mut rx) = mpsc::channel::<Vec<Event>>(16);
            let read = {
                let reader = self.reader.clone();
                tokio::spawn(async move { reader.read_range(window_start, poll_end, tx).await })
            };
            while let Some(page) = rx.recv().await {
                events.extend(page);
            }
            read.await.context("the reading task failed")??;
            self.position.dedupe.forget_before(window_start);
        }
        // Where the next window starts: here, unless a live session ended, which delivered only
        // up to when it was last heard from.
        let mut next_position = poll_end;
        if let Some(l) = self.live.as_mut() {
            let pushed = l.drain();
            events.extend(pushed.events);
            self.position.sampled_updates += pushed.sampled_updates;
            let heard = l.heard_ms();
            let silent = now_ms().saturating_sub(heard);
            if let Some(why) = pushed.ended {
                next_position = heard.min(poll_end);
                self.session_ended(why);
            } else if silent > LIVE_SILENCE.as_millis() as i64 {
                // A stream a NAT or an idle timeout dropped says nothing; take silence this long
                // for the end of the session, and poll from when it was last heard from.
                next_position = heard.min(poll_end);
                self.session_ended(format!("no update for {} s", silent / 1000));
            } else {
                // What a later poll could return again must stay remembered: it reaches back
                // --lookback before the position, or before the session was last heard from.
                self.position
                    .dedupe
                    .forget_before(heard.min(self.position.position_ms) - lookback);
            }
        }
        let before = events.len();
        if self.legacy_ids {
            let dedupe = &self.position.dedupe;
            events.retain(|e| !dedupe.contains(&e.id));
        }
        if self.job.live {
            // Live-tail events have no event id, and one event may come both pushed and
            // polled: dedupe every event by its content instead.
            for e in &mut events {
                e.id = e.digest();
            }
        }
        events.retain(|e| self.position.dedupe.first_time(e));
        self.duplicates += (before - events.len()) as u64;
        if let Some(newest) = events.iter().map(|e| e.timestamp).max() {
            self.last_event_ms = Some(self.last_event_ms.map_or(newest, |t| t.max(newest)));
        }
        let mut worker = self.aggregator.worker();
        let mut missing = None;
        logs::decode_events(&mut self.decoder, &events, &mut |b| {
            if let Err(e) = worker.add_batch(&b) {
                missing.get_or_insert(e);
            }
        })?;
        if let Some(e) = missing {
            return Err(e).context("cannot judge these records");
        }
        let sampled: Vec<Event> = events.into_iter().filter(|e| e.sampled).collect();
        if !sampled.is_empty() {
            // A fresh aggregator each round: only the pairs this round's sample touched.
            let found = Aggregator::new(self.aggregator.catalogue().clone(), None, None);
            let mut worker = found.worker();
            logs::decode_events(&mut self.sampled_decoder, &sampled, &mut |b| {
                let _ = worker.add_batch(&b);
            })?;
            drop(worker);
            for v in found.report()?.verdicts {
                self.position
                    .sampled_pairs
                    .insert((v.endpoint, v.client.to_string()));
            }
        }
        self.position.position_ms = next_position;
        Ok(())
    }

    /// A live session ended: poll from now on, and start another one after a while (at once
    /// when it lasted long, as after AWS's 3-hour limit).
    fn session_ended(&mut self, why: String) {
        self.live = None;
        self.backoff = if self.session_started.elapsed() >= SHORT_SESSION {
            Duration::ZERO
        } else {
            (self.backoff * 2).clamp(RECONNECT_MIN, RECONNECT_MAX)
        };
        self.reconnect_at = Some(Instant::now() + self.backoff);
        eprintln!(
            "mode: polling FilterLogEvents every {:.1?} (the live tail session ended: {why}; StartLiveTail again in {} s)",
            self.job.poll_interval,
            self.backoff.as_secs()
        );
        self.live_note = Some(format!("live session ended: {why}"));
    }

    /// Starts a live session again when one ended and the wait is over.
    async fn maybe_reconnect(&mut self) {
        if !self.job.live
            || self.live.is_some()
            || self.reconnect_at.is_none_or(|t| Instant::now() < t)
        {
            return;
        }
        match LiveTail::start(&self.reader).await {
            Ok(live) => {
                eprintln!(
                    "mode: StartLiveTail again (this round's poll fills in since the last session)"
                );
                self.live = Some(live);
                self.session_started = Instant::now();
                self.reconnect_at = None;
                self.live_note = None;
            }
            Err(e) => {
                self.backoff = (self.backoff * 2).clamp(RECONNECT_MIN, RECONNECT_MAX);
                self.reconnect_at = Some(Instant::now() + self.backoff);
                self.live_note = Some(format!("StartLiveTail failed: {e}"));
            }
        }
    }

    /// The status line: time, events and their rate, duplicates, malformed events, mode, and
    /// how long ago the newest event happened.
    fn status(&self) -> String {
        status_line(&Status {
            now_ms: now_ms(),
            elapsed: self.started.elapsed(),
            events: self.reader.stats.events.load(Ordering::Relaxed),
            duplicates: self.duplicates,
            malformed: self.decoder.stats().malformed,
            live: self.live.is_some(),
            sampled_updates: self.position.sampled_updates,
            live_note: self.live_note.clone(),
            last_event_ms: self.last_event_ms,
        })
    }

    /// The report, with the pairs sampled updates touched marked as such.
    fn report(&self) -> Result<Report> {
        let mut report = live_report(&self.aggregator)?;
        mark_sampled(&mut report, &self.position.sampled_pairs);
        Ok(report)
    }

    /// Shows what changed: the table redrawn, or a JSON line per changed verdict.
    fn show(&mut self) -> Result<()> {
        let report = self.report()?;
        match self.job.output {
            TailOutput::Json => emit_changes(&report, &mut self.shown, &mut self.json)?,
            TailOutput::Table if self.redraw => {
                let mut out = std::io::stdout().lock();
                write!(out, "\x1b[H\x1b[2J")?;
                drop(out);
                report::write_verdicts(&report, VerdictOutput::Table)?;
                eprintln!("{}", self.status());
            }
            TailOutput::Table => {}
        }
        Ok(())
    }

    /// Writes the checkpoint, if there is one.
    fn checkpoint(&mut self) -> Result<()> {
        if let Some(c) = self.checkpoint.as_mut() {
            c.data.meta = serde_json::to_value(&self.position)?;
            let aggregator = &self.aggregator;
            c.save(Some(&mut |w: &mut dyn Write| aggregator.write_state(w)))
                .with_context(|| format!("cannot write checkpoint {}", c.path().display()))?;
        }
        Ok(())
    }

    /// The final table (when it was not redrawn), the malformed events, the summary; the
    /// exit code.
    fn finish(mut self) -> Result<u8> {
        let report = self.report()?;
        if self.job.output == TailOutput::Table && !self.redraw {
            report::write_verdicts(&report, VerdictOutput::Table)?;
        }
        self.json.finish()?;
        let group = SourceReport {
            name: format!("logs:{}", self.job.logs.group),
            records: self.decoder.stats().records,
            malformed: self.decoder.stats().malformed,
            malformed_lines: self.decoder.take_malformed(),
            ..SourceReport::default()
        };
        report::sources(&[group]);
        logs::summary(
            &self.reader,
            self.started.elapsed(),
            &format!(
                ", {} pushed by live tail, {} duplicates dropped, {} malformed, {} sampled live-tail updates",
                self.reader.stats.live_events.load(Ordering::Relaxed),
                self.duplicates,
                self.decoder.stats().malformed,
                self.position.sampled_updates
            ),
        );
        Ok(report::verdict_exit(false, &report, Default::default()))
    }
}

/// A tail's aggregator, with the verdict state and the position (`P`) of `checkpoint` read back
/// when it has them.
fn resume<P: serde::de::DeserializeOwned + Default>(
    job: &TailJob,
    catalogue: Catalogue,
    checkpoint: Option<&CheckpointFile>,
) -> Result<(Aggregator, P)> {
    let aggregator = Aggregator::new(catalogue, None, None)
        .with_memory_limit(job.memory.limit)
        .with_temp_dir(job.memory.temp_dir.clone());
    let mut position = P::default();
    if let Some(c) = checkpoint
        && !c.data.meta.is_null()
    {
        position = serde_json::from_value(c.data.meta.clone())
            .context("the tail checkpoint is unreadable; delete it to start over")?;
        aggregator.read_state(&c.data.state[..]).context(
            "the tail checkpoint's verdict state is unreadable; delete it to start over",
        )?;
    }
    Ok((aggregator, position))
}

/// The verdicts so far, with expected clients marked. A tail reads no network configuration:
/// clients that expected security groups might cover are not flagged (said once, at the start).
fn live_report(aggregator: &Aggregator) -> Result<Report> {
    let mut report = aggregator.report()?;
    vpcflow_verdict::expect::mark(
        &mut report,
        aggregator.catalogue(),
        &vpcflow_verdict::expect::NoNetwork,
    );
    Ok(report)
}

/// What `tail`'s status line shows.
struct Status {
    now_ms: i64,
    elapsed: std::time::Duration,
    events: u64,
    duplicates: u64,
    malformed: u64,
    live: bool,
    sampled_updates: u64,
    /// Why the tail polls although live tail was asked for.
    live_note: Option<String>,
    last_event_ms: Option<i64>,
}

/// Marks the pairs some of whose records came from sampled live-tail updates: `sampled`, and
/// confidence `low` (their counts are a sample, not every attempt).
fn mark_sampled(report: &mut Report, pairs: &BTreeSet<(String, String)>) {
    if pairs.is_empty() {
        return;
    }
    for v in &mut report.verdicts {
        if pairs.contains(&(v.endpoint.clone(), v.client.to_string())) {
            v.sampled = true;
            v.confidence = Confidence::Low;
        }
    }
}

/// `09:22:14 | 48 events (0.8/s), 96 duplicates dropped, 0 malformed | polling | last event 42 s ago`.
fn status_line(s: &Status) -> String {
    let clock = jiff::Timestamp::from_millisecond(s.now_ms)
        .map(|t| t.strftime("%H:%M:%S").to_string())
        .unwrap_or_default();
    let rate = s.events as f64 / s.elapsed.as_secs_f64().max(1.0);
    let last = match s.last_event_ms {
        None => "no event yet".to_owned(),
        Some(t) => {
            let ago = (s.now_ms - t).max(0) / 1000;
            match ago {
                0..=119 => format!("last event {ago} s ago"),
                120..=7199 => format!("last event {} min ago", ago / 60),
                _ => format!("last event {} h ago", ago / 3600),
            }
        }
    };
    let sampled = if s.sampled_updates > 0 {
        format!(", {} sampled updates", s.sampled_updates)
    } else {
        String::new()
    };
    let mode = match (&s.live_note, s.live) {
        (_, true) => "live tail".to_owned(),
        (Some(why), false) => format!("polling ({why})"),
        (None, false) => "polling".to_owned(),
    };
    format!(
        "{clock} | {} events ({rate:.1}/s), {} duplicates dropped, {} malformed{sampled} | {mode} | {last}",
        s.events, s.duplicates, s.malformed,
    )
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Writes a JSON line for every pair whose verdict is new or changed since the last call.
fn emit_changes(
    report: &Report,
    shown: &mut HashMap<(String, String), String>,
    out: &mut JsonLinesWriter<std::io::Stdout>,
) -> Result<()> {
    let mut rows = Vec::new();
    for (i, v) in report.verdicts.iter().enumerate() {
        let key = (v.endpoint.clone(), v.client.to_string());
        let now = v.verdict.as_str().to_owned();
        if shown.get(&key) != Some(&now) {
            rows.push(i);
            shown.insert(key, now);
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let changed = Report {
        verdicts: rows
            .into_iter()
            .map(|i| report.verdicts[i].clone())
            .collect(),
        ..Report::default()
    };
    out.write(&changed.to_batch())?;
    out.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_says_mode_rate_and_how_old_the_newest_event_is() {
        let base = Status {
            now_ms: 1_795_166_534_000, // 09:22:14Z
            elapsed: std::time::Duration::from_secs(60),
            events: 48,
            duplicates: 96,
            malformed: 2,
            live: false,
            sampled_updates: 0,
            live_note: None,
            last_event_ms: Some(1_795_166_492_000),
        };
        assert_eq!(
            status_line(&base),
            "09:22:14 | 48 events (0.8/s), 96 duplicates dropped, 2 malformed | polling | last event 42 s ago"
        );
        let live = Status {
            live: true,
            last_event_ms: None,
            ..base
        };
        assert!(status_line(&live).ends_with("| live tail | no event yet"));
        let stale = Status {
            last_event_ms: Some(1_795_166_534_000 - 3 * 3600 * 1000),
            ..live
        };
        assert!(status_line(&stale).ends_with("last event 3 h ago"));
        let ended = Status {
            live: false,
            sampled_updates: 3,
            live_note: Some("live session ended: the server closed the stream".into()),
            ..stale
        };
        assert!(
            status_line(&ended).contains(
                "2 malformed, 3 sampled updates | polling (live session ended: the server closed the stream) |"
            ),
            "{}",
            status_line(&ended)
        );
    }

    #[test]
    fn sampled_updates_lower_the_pairs_confidence() {
        let catalogue = Catalogue::from_toml(
            "[[endpoint]]\nname = \"db\"\naddress = \"10.0.3.82\"\nport = 3306\ninterface_id = \"eni-1\"\n",
            "test",
        )
        .unwrap();
        let agg = Aggregator::new(catalogue, None, None);
        let mut decoder = Decoder::new(vpcflow_core::DecoderOptions::default());
        let mut worker = agg.worker();
        let lines = [
            "2 123456789012 eni-1 10.0.1.10 10.0.3.82 40000 3306 6 3 180 1795165200 1795165259 ACCEPT OK",
            "2 123456789012 eni-1 10.0.3.82 10.0.1.10 3306 40000 6 3 180 1795165200 1795165259 ACCEPT OK",
            "2 123456789012 eni-1 10.0.1.11 10.0.3.82 40001 3306 6 3 180 1795165200 1795165259 ACCEPT OK",
            "2 123456789012 eni-1 10.0.3.82 10.0.1.11 3306 40001 6 3 180 1795165200 1795165259 ACCEPT OK",
        ];
        for l in lines {
            decoder.decode_line(l.as_bytes()).unwrap();
        }
        worker.add_batch(&decoder.flush().unwrap()).unwrap();
        drop(worker);
        let mut report = agg.report().unwrap();
        assert!(
            report
                .verdicts
                .iter()
                .all(|v| v.confidence == Confidence::High)
        );
        let pairs = BTreeSet::from([("db".to_owned(), "10.0.1.11".to_owned())]);
        mark_sampled(&mut report, &pairs);
        let by_client = |c: &str| {
            report
                .verdicts
                .iter()
                .find(|v| v.client.to_string() == c)
                .unwrap()
        };
        assert!(by_client("10.0.1.11").sampled);
        assert_eq!(by_client("10.0.1.11").confidence, Confidence::Low);
        assert!(!by_client("10.0.1.10").sampled);
        assert_eq!(by_client("10.0.1.10").confidence, Confidence::High);
        let json = report.to_batch();
        assert!(
            json.schema().index_of("sampled").is_ok(),
            "JSON carries sampled"
        );
    }
}
