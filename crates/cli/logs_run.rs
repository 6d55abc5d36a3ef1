//! CloudWatch Logs inputs: `verdict --log-group` (a time range) and `tail` (live).

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use arrow_array::RecordBatch;
use tokio::sync::mpsc;
use vpcflow_aws::SdkConfig;
use vpcflow_aws::logs::LiveTail;
use vpcflow_aws::{Dedupe, Event, LogsOptions, LogsReader};
use vpcflow_checkpoint::{CheckpointFile, Fingerprint};
use vpcflow_core::{Decoder, DecoderOptions, LogFormat};
use vpcflow_sink::{BatchWriter, JsonLinesWriter};
use vpcflow_verdict::{Aggregator, Catalogue, Report};

use crate::args::{AwsArgs, DecodeArgs, LogGroupArgs, TailArgs, TailOutput};
use crate::{parse_cmd, s3_run, time};

/// A connected reader and the SDK configuration behind it.
pub async fn connect(
    aws: &AwsArgs,
    group: &str,
    g: &LogGroupArgs,
    concurrency: usize,
) -> (LogsReader, SdkConfig) {
    LogsReader::connect(
        &s3_run::aws_options(&aws.connect),
        LogsOptions {
            group: group.to_owned(),
            enis: g.eni.clone(),
            filter_pattern: g.filter_pattern.clone(),
            max_rps: g.max_rps,
            concurrency,
            page_size: g.page_size,
        },
    )
    .await
}

/// The records' format: `--log-format`, else the flow log's own (EC2 DescribeFlowLogs), else
/// the default version 2 format with a warning. Log events carry no header line.
pub async fn resolve_format(
    decode: &DecodeArgs,
    config: &SdkConfig,
    group: &str,
) -> Result<DecoderOptions> {
    let mut opts = parse_cmd::run_options(decode)?.decoder;
    if opts.format.is_some() {
        return Ok(opts);
    }
    let format = match vpcflow_aws::ec2::flow_log_format(config, group).await {
        Ok(Some(text)) => {
            let f = LogFormat::parse(&text).with_context(|| {
                format!("the flow log of {group} has a format vpcflow cannot read")
            })?;
            tracing::info!(format = %text, "format from EC2 DescribeFlowLogs");
            f
        }
        Ok(None) => {
            tracing::warn!(
                "no flow log delivers to log group {group} (EC2 DescribeFlowLogs); assuming the default version 2 format (pass --log-format otherwise)"
            );
            LogFormat::default_v2()
        }
        Err(e) => {
            tracing::warn!(
                "cannot look up the format of {group}'s flow log ({e}); assuming the default version 2 format (pass --log-format otherwise)"
            );
            LogFormat::default_v2()
        }
    };
    opts.format = Some(format);
    Ok(opts)
}

/// Decodes log events into batches.
pub fn decode_events(
    decoder: &mut Decoder,
    events: &[Event],
    on_batch: &mut dyn FnMut(RecordBatch),
) -> Result<()> {
    for e in events {
        decoder.decode_line(e.message.trim_end().as_bytes())?;
        if decoder.is_full()
            && let Some(batch) = decoder.flush()
        {
            on_batch(batch);
        }
    }
    if let Some(batch) = decoder.flush() {
        on_batch(batch);
    }
    Ok(())
}

/// Prints what the CloudWatch Logs reads cost.
fn log_summary(reader: &LogsReader, elapsed: Duration, extra: &str) {
    let s = &reader.stats;
    let events = s.events.load(Ordering::Relaxed);
    eprintln!(
        "CloudWatch Logs: {} events in {} pages, {} requests ({} throttled and retried, {} other retries); {:.0} events/s{extra}",
        events,
        s.pages.load(Ordering::Relaxed),
        s.requests.load(Ordering::Relaxed),
        s.throttled.load(Ordering::Relaxed),
        s.retried.load(Ordering::Relaxed),
        events as f64 / elapsed.as_secs_f64().max(1e-9),
    );
}

/// `verdict --log-group`: every event in [since, until) through the verdict engine.
pub fn verdict(
    group: &str,
    g: &LogGroupArgs,
    decode: &DecodeArgs,
    aws: &AwsArgs,
    aggregator: &Aggregator,
    since: Option<i64>,
    until: Option<i64>,
) -> Result<bool> {
    let threads = parse_cmd::run_options(decode)?.threads;
    let rt = s3_run::runtime(threads)?;
    let started = Instant::now();
    rt.block_on(async {
        let (reader, config) = connect(aws, group, g, aws.concurrency).await;
        let opts = resolve_format(decode, &config, group).await?;
        let start_ms = since.map_or(0, |s| s * 1000);
        let end_ms = until.map_or_else(
            || jiff::Timestamp::now().as_millisecond() + 1,
            |u| u * 1000 + 1,
        );
        let (tx, mut rx) = mpsc::channel::<Vec<Event>>(16);
        let read = {
            let reader = reader.clone();
            tokio::spawn(async move { reader.read_range(start_ms, end_ms, tx).await })
        };
        let mut decoder = Decoder::new(opts);
        decoder.begin_source(&format!("logs:{group}"));
        let mut worker = aggregator.worker();
        let mut missing = None;
        while let Some(events) = rx.recv().await {
            decode_events(&mut decoder, &events, &mut |b| {
                if let Err(e) = worker.add_batch(&b) {
                    missing.get_or_insert(e);
                }
            })?;
        }
        read.await
            .context("the reading task failed")?
            .map_err(anyhow::Error::msg)?;
        if let Some(e) = missing {
            return Err(e).context("cannot judge these records");
        }
        let report = vpcflow_input::SourceReport {
            name: format!("logs:{group}"),
            malformed: decoder.stats().malformed,
            malformed_lines: decoder.take_malformed(),
            ..Default::default()
        };
        let failed = crate::output::report_sources(&[report]);
        log_summary(&reader, started.elapsed(), "");
        Ok(failed)
    })
}

/// What a tail checkpoint keeps besides the verdict state.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct TailState {
    /// Events up to here (Unix ms) have been read.
    position_ms: i64,
    dedupe: Dedupe,
}

/// `vpcflow tail`.
pub fn tail(args: TailArgs) -> Result<u8> {
    let catalogue = crate::endpoints_cmd::catalogue(
        args.endpoints.as_deref(),
        args.discover,
        &args.aws.connect,
    )?;
    let lookback =
        Duration::from_secs((time::parse_time(&args.lookback, 0)?.unsigned_abs()).max(1));
    let duration = args
        .duration
        .as_deref()
        .map(|d| time::parse_time(d, 0).map(|s| Duration::from_secs(s.unsigned_abs())))
        .transpose()?;
    if args.poll_interval <= 0.0 {
        bail!("--poll-interval must be positive");
    }
    let threads = parse_cmd::run_options(&args.decode)?.threads;
    let rt = s3_run::runtime(threads)?;
    rt.block_on(tail_async(args, catalogue, lookback, duration))
}

async fn tail_async(
    args: TailArgs,
    catalogue: Catalogue,
    lookback: Duration,
    duration: Option<Duration>,
) -> Result<u8> {
    let started = Instant::now();
    let mut checkpoint = match &args.checkpoint {
        Some(path) => {
            let fingerprint = Fingerprint::new("tail")
                .with("catalogue", catalogue.to_toml())
                .with("log-group", &args.log_group)
                .with(
                    "options",
                    format!(
                        "{:?} {:?} {:?}",
                        args.decode.log_format, args.group.eni, args.group.filter_pattern
                    ),
                );
            Some(CheckpointFile::open(path, fingerprint)?)
        }
        None => None,
    };
    let aggregator = Aggregator::new(catalogue, None, None)
        .with_memory_limit(args.memory_limit.0)
        .with_temp_dir(args.temp_dir.clone());
    let mut state = TailState::default();
    if let Some(c) = &checkpoint
        && !c.data.meta.is_null()
    {
        state = serde_json::from_value(c.data.meta.clone())
            .context("the tail checkpoint is unreadable; delete it to start over")?;
        aggregator.read_state(&c.data.state[..]).context(
            "the tail checkpoint's verdict state is unreadable; delete it to start over",
        )?;
        tracing::info!(
            position_ms = state.position_ms,
            "resuming the tail from its checkpoint"
        );
    }
    let lookback_ms = lookback.as_millis() as i64;
    let now_ms = || jiff::Timestamp::now().as_millisecond();
    if state.position_ms == 0 {
        state.position_ms = now_ms();
    }
    let (reader, config) = connect(
        &args.aws,
        &args.log_group,
        &args.group,
        args.aws.concurrency,
    )
    .await;
    let opts = resolve_format(&args.decode, &config, &args.log_group).await?;
    let mut decoder = Decoder::new(opts);
    decoder.begin_source(&format!("logs:{}", args.log_group));

    let live = if args.no_live_tail {
        None
    } else {
        match LiveTail::start(&reader).await {
            Ok(live) => Some(live),
            Err(e) => {
                eprintln!(
                    "mode: polling FilterLogEvents every {}s (StartLiveTail unavailable: {e})",
                    args.poll_interval
                );
                None
            }
        }
    };
    let mut live = live;
    if live.is_some() {
        eprintln!(
            "mode: StartLiveTail (after reading the last {}s with FilterLogEvents)",
            lookback.as_secs()
        );
    }

    let mut previous: HashMap<(String, String), String> = HashMap::new();
    let mut json = JsonLinesWriter::new(std::io::stdout());
    let mut duplicates = 0u64;
    let redraw = args.output == TailOutput::Table && std::io::stdout().is_terminal();
    let mut first = true;
    loop {
        // 1. Read: an overlapping window by polling (the first round also with live tail).
        let poll_end = now_ms();
        let mut events = Vec::new();
        if live.is_none() || first {
            // Every window reaches back --lookback before the last position: events arrive
            // late, and a restarted tail must not miss what came in while it was down. The
            // dedupe set drops what an earlier window already counted.
            let window_start = state.position_ms - lookback_ms;
            let (tx, mut rx) = mpsc::channel::<Vec<Event>>(16);
            let read = {
                let reader = reader.clone();
                tokio::spawn(async move { reader.read_range(window_start, poll_end, tx).await })
            };
            while let Some(page) = rx.recv().await {
                events.extend(page);
            }
            read.await
                .context("the reading task failed")?
                .map_err(anyhow::Error::msg)?;
            state.dedupe.forget_before(window_start);
        }
        if let Some(l) = live.as_mut() {
            events.extend(l.drain());
            // Live-tail events have no event id: dedupe every event by its content instead.
            for e in &mut events {
                e.id = e.digest();
            }
        }
        first = false;
        let before = events.len();
        events.retain(|e| state.dedupe.first_time(e));
        duplicates += (before - events.len()) as u64;
        let mut worker = aggregator.worker();
        let mut missing = None;
        decode_events(&mut decoder, &events, &mut |b| {
            if let Err(e) = worker.add_batch(&b) {
                missing.get_or_insert(e);
            }
        })?;
        if let Some(e) = missing {
            return Err(e).context("cannot judge these records");
        }
        state.position_ms = poll_end;

        // 2. Show what changed.
        let report = aggregator.report()?;
        match args.output {
            TailOutput::Json => {
                emit_changes(&report, &mut previous, &mut json)?;
            }
            TailOutput::Table if redraw => {
                let mut out = std::io::stdout().lock();
                write!(out, "\x1b[H\x1b[2J")?;
                drop(out);
                crate::verdict_cmd::write_report(&report, crate::args::VerdictOutput::Table)?;
                eprintln!(
                    "{} | {} events, {} duplicates dropped | {}",
                    jiff::Timestamp::now().strftime("%H:%M:%S"),
                    reader.stats.events.load(Ordering::Relaxed),
                    duplicates,
                    if live.is_some() {
                        "live tail"
                    } else {
                        "polling"
                    }
                );
            }
            TailOutput::Table => {}
        }

        // 3. Checkpoint.
        if let Some(c) = checkpoint.as_mut() {
            c.data.meta = serde_json::to_value(&state)?;
            c.save(Some(&mut |w: &mut dyn Write| aggregator.write_state(w)))
                .with_context(|| format!("cannot write checkpoint {}", c.path().display()))?;
        }

        // 4. Wait, or stop.
        let left = duration.map(|d| d.saturating_sub(started.elapsed()));
        if left.is_some_and(|l| l.is_zero()) {
            break;
        }
        // Sleep to the next poll, or to the end (then poll once more and stop).
        let nap = Duration::from_secs_f64(args.poll_interval).min(left.unwrap_or(Duration::MAX));
        tokio::select! {
            _ = tokio::time::sleep(nap) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    let report = aggregator.report()?;
    if args.output == TailOutput::Table && !redraw {
        crate::verdict_cmd::write_report(&report, crate::args::VerdictOutput::Table)?;
    }
    json.finish()?;
    log_summary(
        &reader,
        started.elapsed(),
        &format!(", {duplicates} duplicates dropped"),
    );
    Ok(if report.any_blocked() {
        crate::verdict_cmd::EXIT_BLOCKED
    } else {
        0
    })
}

/// Writes a JSON line for every pair whose verdict is new or changed since the last call.
fn emit_changes(
    report: &Report,
    previous: &mut HashMap<(String, String), String>,
    out: &mut JsonLinesWriter<std::io::Stdout>,
) -> Result<()> {
    let mut rows = Vec::new();
    for (i, v) in report.verdicts.iter().enumerate() {
        let key = (v.endpoint.clone(), v.client.to_string());
        let now = v.verdict.as_str().to_owned();
        if previous.get(&key) != Some(&now) {
            rows.push(i);
            previous.insert(key, now);
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
