//! CloudWatch Logs, shared by `verdict --log-group` and `tail`: connecting, the records'
//! format, decoding events, and reading a time range into the verdict engine.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arrow_array::RecordBatch;
use tokio::sync::mpsc;
use vpcflow_aws::{AwsOptions, Event, LogsOptions, LogsReader, SdkConfig};
use vpcflow_core::{Decoder, DecoderOptions, LogFormat};
use vpcflow_input::SourceReport;
use vpcflow_verdict::Aggregator;

use crate::flags::resolve::check_verdict_format;

/// A connected reader and the SDK configuration behind it.
pub async fn connect(connect: &AwsOptions, opts: &LogsOptions) -> (LogsReader, SdkConfig) {
    LogsReader::connect(connect, opts.clone()).await
}

/// The records' format: `--log-format` (already in `opts`), else the flow log's own (EC2
/// DescribeFlowLogs), else the default version 2 format with a warning. Log events carry no
/// header line. A format that lacks what verdicts need is an error.
pub async fn resolve_format(
    mut opts: DecoderOptions,
    config: &SdkConfig,
    group: &str,
) -> Result<DecoderOptions> {
    if opts.format.is_some() {
        return Ok(opts);
    }
    let format = match vpcflow_aws::ec2::flow_log_format(config, group).await {
        Ok(Some(text)) => {
            let f = LogFormat::parse(&text).with_context(|| {
                format!("the flow log of {group} has a format vpcflow cannot read")
            })?;
            check_verdict_format(&f, &format!("the format of {group}'s flow log ({text})"))?;
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
pub fn summary(reader: &LogsReader, elapsed: Duration, extra: &str) {
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

/// `verdict --log-group`: every event in `[since, until]` through the verdict engine. Returns
/// the group's report (its malformed events), for the run's summary.
pub async fn read_into(
    connect: &AwsOptions,
    opts: &LogsOptions,
    decoder: DecoderOptions,
    aggregator: &Aggregator,
    (since, until): (Option<i64>, Option<i64>),
) -> Result<SourceReport> {
    let started = Instant::now();
    let (reader, config) = self::connect(connect, opts).await;
    let decoder_opts = resolve_format(decoder, &config, &opts.group).await?;
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
    let name = format!("logs:{}", opts.group);
    let mut decoder = Decoder::new(decoder_opts);
    decoder.begin_source(&name);
    let mut worker = aggregator.worker();
    let mut missing = None;
    while let Some(events) = rx.recv().await {
        decode_events(&mut decoder, &events, &mut |b| {
            if let Err(e) = worker.add_batch(&b) {
                missing.get_or_insert(e);
            }
        })?;
    }
    read.await.context("the reading task failed")??;
    if let Some(e) = missing {
        return Err(e).context("cannot judge these records");
    }
    summary(&reader, started.elapsed(), "");
    Ok(SourceReport {
        name,
        records: decoder.stats().records,
        malformed: decoder.stats().malformed,
        malformed_lines: decoder.take_malformed(),
        ..SourceReport::default()
    })
}
