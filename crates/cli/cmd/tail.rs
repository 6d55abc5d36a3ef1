//! `vpcflow tail`: follow a CloudWatch Logs group and keep the verdicts up to date.

use std::collections::HashMap;
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
use vpcflow_verdict::{Aggregator, Catalogue, Report};

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
}

pub fn run(job: TailJob) -> Result<u8> {
    let catalogue = catalogue::load(&job.catalogue, &job.aws.connect)?;
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
        let aggregator = Aggregator::new(catalogue, None, None)
            .with_memory_limit(job.memory.limit)
            .with_temp_dir(job.memory.temp_dir.clone());
        let mut position = Position::default();
        if let Some(c) = &checkpoint
            && !c.data.meta.is_null()
        {
            position = serde_json::from_value(c.data.meta.clone())
                .context("the tail checkpoint is unreadable; delete it to start over")?;
            aggregator.read_state(&c.data.state[..]).context(
                "the tail checkpoint's verdict state is unreadable; delete it to start over",
            )?;
            tracing::info!(
                position_ms = position.position_ms,
                "resuming the tail from its checkpoint"
            );
        }
        if position.position_ms == 0 {
            position.position_ms = now_ms();
        }
        let (reader, config) = logs::connect(&job.aws.connect, &job.logs).await;
        let opts = logs::resolve_format(job.run.decoder.clone(), &config, &job.logs.group).await?;
        let mut decoder = Decoder::new(opts);
        decoder.begin_source(&format!("logs:{}", job.logs.group));
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
    /// tail), then what live tail pushed; events already counted are dropped.
    async fn read_window(&mut self, first: bool) -> Result<()> {
        let poll_end = now_ms();
        let mut events = Vec::new();
        if self.live.is_none() || first {
            // Every window reaches back --lookback before the last position: events arrive
            // late, and a restarted tail must not miss what came in while it was down. The
            // dedupe set drops what an earlier window already counted.
            let window_start = self.position.position_ms - self.job.lookback.as_millis() as i64;
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
        if let Some(l) = self.live.as_mut() {
            events.extend(l.drain());
            // Live-tail events have no event id: dedupe every event by its content instead.
            for e in &mut events {
                e.id = e.digest();
            }
        }
        let before = events.len();
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
        self.position.position_ms = poll_end;
        Ok(())
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
            last_event_ms: self.last_event_ms,
        })
    }

    /// Shows what changed: the table redrawn, or a JSON line per changed verdict.
    fn show(&mut self) -> Result<()> {
        let report = self.aggregator.report()?;
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
        let report = self.aggregator.report()?;
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
                ", {} duplicates dropped, {} malformed",
                self.duplicates,
                self.decoder.stats().malformed
            ),
        );
        Ok(report::verdict_exit(false, &report))
    }
}

/// What `tail`'s status line shows.
struct Status {
    now_ms: i64,
    elapsed: std::time::Duration,
    events: u64,
    duplicates: u64,
    malformed: u64,
    live: bool,
    last_event_ms: Option<i64>,
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
    format!(
        "{clock} | {} events ({rate:.1}/s), {} duplicates dropped, {} malformed | {} | {last}",
        s.events,
        s.duplicates,
        s.malformed,
        if s.live { "live tail" } else { "polling" },
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
    }
}
