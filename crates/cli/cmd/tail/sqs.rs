//! `vpcflow tail --sqs-queue URL`: follow a bucket through its S3 notifications.
//!
//! Each round long-polls up to 10 messages, reads the new objects they name (bounded by
//! `--concurrency`, their visibility extended while they are read), folds each object whole
//! into the verdicts, writes the checkpoint (the state and every object counted, by ETag), and
//! only then deletes the messages. A crash before the checkpoint leaves the messages on the
//! queue, to be read again; a crash after it leaves messages whose objects the checkpoint
//! already lists, which are then only deleted. Either way each object counts once.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arrow_array::RecordBatch;
use tokio::task::JoinSet;
use vpcflow_aws::sqs::{Body, Message, Notice, Queue, parse_body, sequencer_cmp};
use vpcflow_aws::{AwsError, Progress, S3Object, SinkFactory};
use vpcflow_checkpoint::{CheckpointFile, Fingerprint};
use vpcflow_input::{SourceError, SourceReport, SourceSink};
use vpcflow_sink::{BatchWriter, JsonLinesWriter};
use vpcflow_verdict::{Aggregator, Catalogue, Worker};

use crate::flags::resolve::TailJob;
use crate::flags::{TailOutput, VerdictOutput};
use crate::{aws, report};

/// What the checkpoint keeps besides the state and the objects (`sources`: id → ETag).
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct Position {
    /// The newest sequencer counted per object id.
    sequencers: BTreeMap<String, String>,
    /// Objects and records counted since the checkpoint began.
    objects: u64,
    records: u64,
}

/// What this run did.
#[derive(Default)]
struct Counts {
    messages: u64,
    duplicates: u64,
    ignored: u64,
    unreadable: u64,
    kept: u64,
}

pub fn run(job: TailJob, catalogue: Catalogue) -> Result<u8> {
    let rt = aws::runtime(job.run.threads)?;
    rt.block_on(follow(job, catalogue))
}

fn open_checkpoint(
    job: &TailJob,
    catalogue: &Catalogue,
    url: &str,
) -> Result<Option<CheckpointFile>> {
    let Some(path) = &job.checkpoint else {
        return Ok(None);
    };
    let fingerprint = Fingerprint::new("tail-sqs")
        .with("catalogue", catalogue.to_toml())
        .with("queue", url)
        .with(
            "options",
            format!(
                "{:?}",
                job.run
                    .decoder
                    .format
                    .as_ref()
                    .map(|f| f.names().collect::<Vec<_>>())
            ),
        );
    Ok(Some(CheckpointFile::open(path, fingerprint)?))
}

async fn follow(job: TailJob, catalogue: Catalogue) -> Result<u8> {
    let url = job.sqs_queue.clone().context("--sqs-queue")?;
    let mut checkpoint = open_checkpoint(&job, &catalogue, &url)?;
    let (aggregator, mut position) =
        super::resume::<Position>(&job, catalogue, checkpoint.as_ref())?;
    let aggregator = Arc::new(aggregator);
    // Objects counted (id → ETag): the checkpoint's sources, or this run's without one.
    let mut uncheckpointed = BTreeMap::new();
    let config = job.aws.connect.load().await;
    let s3 = job.aws.connect.s3(&config);
    let exports = Arc::new(vpcflow_aws::ExportFormats::new(&config));
    let queue = Queue::new(job.aws.connect.sqs(&config), &url);
    eprintln!("mode: receiving S3 notifications from {url}");
    let started = Instant::now();
    let deadline = job.duration.map(|d| started + d);
    let redraw = job.output == TailOutput::Table && std::io::stdout().is_terminal();
    let mut json = JsonLinesWriter::new(std::io::stdout());
    let mut shown = std::collections::HashMap::new();
    let mut counts = Counts::default();
    let mut reports: Vec<SourceReport> = Vec::new();
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            break;
        }
        let wait = left.map_or(20, |l| l.as_secs().min(20) as i32);
        let messages = tokio::select! {
            m = queue.receive(wait, job.sqs_visibility) => m?,
            _ = tokio::signal::ctrl_c() => break,
        };
        if messages.is_empty() {
            continue;
        }
        counts.messages += messages.len() as u64;
        let counted = checkpoint
            .as_mut()
            .map_or(&mut uncheckpointed, |c| &mut c.data.sources);
        let todo = plan(&messages, counted, &position, &mut counts);
        let results = read(&job, (&s3, &exports), &queue, &messages, &todo, &aggregator).await?;
        // Which messages may go: those none of whose objects must be read again.
        let mut keep = vec![false; messages.len()];
        for ((i, notice), r) in todo.iter().zip(&results) {
            match &r.error {
                None => {
                    let id = notice.object.id();
                    counted.insert(id.clone(), notice.object.etag.clone());
                    if let Some(s) = &notice.sequencer {
                        position.sequencers.insert(id, s.clone());
                    }
                    position.objects += 1;
                    position.records += r.records;
                }
                Some(SourceError::Remote(e)) if retryable(e.as_ref()) => {
                    eprintln!(
                        "warning: {e}; its notification stays on the queue to be tried again"
                    );
                    keep[*i] = true;
                    counts.kept += 1;
                }
                Some(e) => {
                    eprintln!(
                        "warning: s3://{}: not counted ({e}); its notification is deleted",
                        notice.object.id()
                    );
                    counts.unreadable += 1;
                }
            }
        }
        // Failures were said above; the summary at the end lists malformed lines, so only
        // counted objects that had some are kept for it.
        reports.extend(
            results
                .into_iter()
                .filter(|r| r.error.is_none() && r.malformed > 0),
        );
        if let Some(c) = checkpoint.as_mut() {
            c.data.meta = serde_json::to_value(&position)?;
            let agg = &aggregator;
            c.save(Some(&mut |w: &mut dyn Write| agg.write_state(w)))
                .with_context(|| format!("cannot write checkpoint {}", c.path().display()))?;
        }
        let done: Vec<&Message> = messages
            .iter()
            .zip(&keep)
            .filter(|(_, k)| !**k)
            .map(|(m, _)| m)
            .collect();
        let refused = queue.delete(&done).await?;
        if refused > 0 {
            eprintln!(
                "warning: SQS did not delete {refused} messages; they will be received again and dropped as duplicates"
            );
        }
        let verdicts = super::live_report(&aggregator)?;
        match job.output {
            TailOutput::Json => super::emit_changes(&verdicts, &mut shown, &mut json)?,
            TailOutput::Table if redraw => {
                print!("\x1b[H\x1b[2J");
                report::write_verdicts(&verdicts, VerdictOutput::Table)?;
                eprintln!("{}", status(&position, &counts));
            }
            TailOutput::Table => {}
        }
    }
    let verdicts = super::live_report(&aggregator)?;
    if job.output == TailOutput::Table && !redraw {
        report::write_verdicts(&verdicts, VerdictOutput::Table)?;
    }
    json.finish()?;
    report::sources(&reports);
    eprintln!("{}", status(&position, &counts));
    Ok(report::verdict_exit(false, &verdicts, Default::default()))
}

/// A failure to fetch that may pass (a timeout, a 5xx after the SDK's retries, a permission
/// that may yet be granted): the object is tried again when its message comes back.
fn retryable(e: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    matches!(
        e.downcast_ref::<AwsError>(),
        Some(AwsError::TimedOut { .. } | AwsError::Failed { .. } | AwsError::AccessDenied { .. })
    )
}

fn status(p: &Position, c: &Counts) -> String {
    format!(
        "SQS: {} objects counted ({} records) since the checkpoint began; this run: {} messages, {} duplicate notifications, {} ignored, {} unreadable objects (deleted), {} left on the queue to retry",
        p.objects, p.records, c.messages, c.duplicates, c.ignored, c.unreadable, c.kept
    )
}

/// What a round of messages asks to read: (message index, object) for every object not counted
/// yet.
fn plan(
    messages: &[Message],
    counted: &BTreeMap<String, String>,
    position: &Position,
    counts: &mut Counts,
) -> Vec<(usize, Notice)> {
    let mut todo: Vec<(usize, Notice)> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        match parse_body(&m.body) {
            Err(why) => {
                eprintln!("warning: SQS message {}: {why}; deleted", m.id);
                counts.ignored += 1;
            }
            Ok(Body::Ignored(why)) => {
                tracing::info!(message = %m.id, why, "ignored");
                counts.ignored += 1;
            }
            Ok(Body::Created(notices)) => {
                for n in notices {
                    let id = n.object.id();
                    let seen = counted.get(&id) == Some(&n.object.etag)
                        || todo.iter().any(|(_, t)| t.object == n.object)
                        || match (&n.sequencer, position.sequencers.get(&id)) {
                            (Some(new), Some(old)) => {
                                sequencer_cmp(new, old) != std::cmp::Ordering::Greater
                            }
                            _ => false,
                        };
                    if seen {
                        counts.duplicates += 1;
                    } else {
                        todo.push((i, n));
                    }
                }
            }
        }
    }
    todo
}

/// Reads `todo`'s objects, at most `--concurrency` at once, keeping `messages` hidden while it
/// does. Each object's records are folded in whole or not at all.
async fn read(
    job: &TailJob,
    (s3, exports): (&aws_sdk_s3::Client, &Arc<vpcflow_aws::ExportFormats>),
    queue: &Queue,
    messages: &[Message],
    todo: &[(usize, Notice)],
    aggregator: &Arc<Aggregator>,
) -> Result<Vec<SourceReport>> {
    let keeper = {
        let (queue, messages, visibility) = (queue.clone(), messages.to_vec(), job.sqs_visibility);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(visibility as u64 * 500)).await;
                if let Err(e) = queue.extend(&messages, visibility).await {
                    eprintln!("warning: {e}");
                }
            }
        })
    };
    let missing = Arc::new(Mutex::new(None));
    let factory: SinkFactory = {
        let (aggregator, missing) = (aggregator.clone(), missing.clone());
        Arc::new(move |_: &S3Object| -> Box<dyn SourceSink> {
            Box::new(Whole {
                worker: Worker::new(aggregator.clone()),
                missing: missing.clone(),
            })
        })
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(job.aws.concurrency.max(1)));
    let progress = Arc::new(Progress::default());
    let mut tasks = JoinSet::new();
    for (n, (_, notice)) in todo.iter().enumerate() {
        let (s3, object, factory, progress, permits) = (
            s3.clone(),
            notice.object.clone(),
            factory.clone(),
            progress.clone(),
            permits.clone(),
        );
        let (base, exports) = (job.run.decoder.clone(), exports.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let decoder = exports.decoder_for(&object.key, &base).await;
            let r = vpcflow_aws::s3::read_object(&s3, &object, decoder, factory, &progress).await;
            (n, r)
        });
    }
    let mut results: Vec<Option<SourceReport>> = (0..todo.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (n, r) = joined.context("a read task failed")?;
        results[n] = Some(r?);
    }
    keeper.abort();
    if let Some(e) = missing.lock().ok().and_then(|mut m| m.take()) {
        return Err(e).context("cannot judge these records");
    }
    Ok(results.into_iter().flatten().collect())
}

/// Folds one object's records, and commits them only when the object was read to its end.
struct Whole {
    worker: Worker<Arc<Aggregator>>,
    missing: Arc<Mutex<Option<vpcflow_verdict::MissingFields>>>,
}

impl SourceSink for Whole {
    fn batch(&mut self, batch: RecordBatch) -> std::io::Result<()> {
        if let Err(e) = self.worker.fold(&batch)
            && let Ok(mut m) = self.missing.lock()
        {
            m.get_or_insert(e);
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, report: &SourceReport) -> std::io::Result<()> {
        if report.error.is_none() {
            self.worker.commit();
        }
        Ok(())
    }
}
