//! Running a command over `s3://` inputs: list, prune, fetch and decode with the SDK, a progress
//! bar on stderr, and the run's summary.

use std::sync::Arc;

use anyhow::Result;
use vpcflow_aws::s3::read;
use vpcflow_aws::{ExportFormats, Progress, S3Object, S3Options, S3Summary, S3Url, SinkFactory};
use vpcflow_input::RunOptions;

use crate::aws::runtime;
use crate::flags::resolve::AwsJob;

/// Reads every object under `urls` not `done` already, handing batches to sinks from `sinks`.
pub fn run(
    urls: &[S3Url],
    aws: &AwsJob,
    run: &RunOptions,
    done: &(dyn Fn(&S3Object) -> bool + Sync),
    sinks: SinkFactory,
) -> Result<S3Summary> {
    let rt = runtime(run.threads)?;
    let progress = Arc::new(Progress::default());
    let bar = ProgressBar::start(progress.clone());
    let summary = rt.block_on(async {
        let config = aws.connect.load().await;
        let client = aws.connect.s3(&config);
        let opts = S3Options {
            filter: aws.filter.clone(),
            concurrency: aws.concurrency,
            decoder: run.decoder.clone(),
            exports: Some(Arc::new(ExportFormats::new(&config))),
        };
        read(&client, urls, &opts, done, sinks, progress.clone()).await
    });
    bar.stop();
    Ok(summary?)
}

/// An indicatif progress bar on stderr (drawn only when stderr is a terminal): objects
/// done/total, compressed bytes, records and MB/s.
struct ProgressBar {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressBar {
    fn start(progress: Arc<Progress>) -> ProgressBar {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr_with_hz(5),
            );
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} objects  {msg}")
            {
                bar.set_style(style);
            }
            let started = std::time::Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let bytes = progress.bytes.load(Ordering::Relaxed);
                bar.set_length(progress.objects_total.load(Ordering::Relaxed));
                bar.set_position(progress.objects_done.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "{:.1} MB  {} records  {:.1} MB/s",
                    bytes as f64 / 1e6,
                    progress.records.load(Ordering::Relaxed),
                    bytes as f64 / 1e6 / started.elapsed().as_secs_f64().max(1e-3)
                ));
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            bar.finish_and_clear();
        });
        ProgressBar {
            stop,
            thread: Some(thread),
        }
    }

    fn stop(mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a checkpoint of an S3 run depends on beyond its inputs: the record format given and
/// which accounts and flow logs are read (`extra` adds a command's own).
pub fn checkpoint_options(run: &RunOptions, aws: &AwsJob, extra: &str) -> String {
    format!(
        "{:?} {:?} {:?}{extra}",
        run.decoder
            .format
            .as_ref()
            .map(|f| f.names().collect::<Vec<_>>()),
        aws.filter.account,
        aws.filter.flow_log_id,
    )
}

/// Reports an S3 run on stderr; returns whether anything failed.
pub fn report(summary: &S3Summary, elapsed: std::time::Duration) -> bool {
    for e in &summary.listing_errors {
        eprintln!("error: {e}");
    }
    // As an empty local directory is: nothing to read is an error, not an empty answer.
    let empty = summary.listed == 0 && summary.listing_errors.is_empty();
    if empty {
        eprintln!(
            "error: no objects under the S3 prefix given (check the bucket, the prefix and \
             --region)"
        );
    }
    let failed = crate::report::sources(&summary.reports);
    let bytes: u64 = summary.reports.iter().map(|r| r.raw_bytes).sum();
    let records: u64 = summary.reports.iter().map(|r| r.records).sum();
    let malformed: u64 = summary.reports.iter().map(|r| r.malformed).sum();
    let skipped: u64 = summary.skipped.values().sum();
    let reasons: Vec<String> = summary
        .skipped
        .iter()
        .map(|(why, n)| format!("{n} {why}"))
        .collect();
    let secs = elapsed.as_secs_f64().max(1e-9);
    eprintln!(
        "S3: {} objects listed, {} skipped by key{}, {} already in the checkpoint, {} read ({} bytes, {} records, {} malformed; {:.1} MB/s, {:.1} objects/s), {} failed",
        summary.listed,
        skipped,
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        },
        summary.already_done,
        summary.fetched(),
        bytes,
        records,
        malformed,
        bytes as f64 / secs / 1e6,
        summary.fetched() as f64 / secs,
        summary.reports.iter().filter(|r| r.error.is_some()).count(),
    );
    failed || empty || !summary.listing_errors.is_empty()
}
