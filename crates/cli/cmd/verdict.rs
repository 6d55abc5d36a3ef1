//! `vpcflow verdict`: blocked, allowed, intermittent or unanswered, per endpoint and client.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arrow_array::RecordBatch;
use vpcflow_aws::{S3Object, S3Url};
use vpcflow_checkpoint::{CheckpointFile, Fingerprint};
use vpcflow_input::{Input, RunOptions, SourceReport, SourceSink, for_each_batch};
use vpcflow_verdict::{Aggregator, Catalogue, MissingFields, Worker};

use crate::flags::VerdictOutput;
use crate::flags::resolve::{
    ExplainFrom, Inputs, VerdictJob, VerdictSource, Window, check_verdict_format,
};
use crate::report;
use crate::{aws, catalogue, logs, s3};

pub fn run(job: VerdictJob) -> Result<u8> {
    crate::remove_spills_on_interrupt();
    let catalogue = catalogue::load(&job.catalogue, &job.aws.connect)?;
    // The configuration is read before the logs, so a permission problem shows at once.
    let mut network = job
        .explain
        .as_ref()
        .map(|from| catalogue::network(from, &job.aws.connect))
        .transpose()?;
    // Expected clients named by security group need the configuration too (not to explain):
    // read it now, so a missing permission stops the run before the logs are read.
    let groups = match (&network, catalogue::names_groups(&catalogue)) {
        (None, true) => Some(catalogue::network(&ExplainFrom::Live, &job.aws.connect)?),
        _ => None,
    };
    let mut checkpoint = job
        .checkpoint
        .as_ref()
        .map(|(path, _)| open_checkpoint(path, &job, &catalogue))
        .transpose()?;
    // A resumed run keeps the window it started with (`--since 2h` means the same hours).
    let (since, until) = match checkpoint.as_ref().map(|c| &c.data.meta["window"]) {
        Some(serde_json::Value::Array(w)) if w.len() == 2 => (w[0].as_i64(), w[1].as_i64()),
        _ => (job.window.since, job.window.until),
    };
    let aggregator = Arc::new(
        Aggregator::new(catalogue, since, until)
            .with_memory_limit(job.memory.limit)
            .with_temp_dir(job.memory.temp_dir.clone()),
    );
    if let Some(c) = checkpoint.as_mut() {
        if !c.data.state.is_empty() {
            aggregator
                .read_state(&c.data.state[..])
                .context("the checkpoint's verdict state is unreadable; delete it to start over")?;
        }
        c.data.meta = serde_json::json!({ "window": [since, until] });
        tracing::info!(objects = c.data.sources.len(), "resuming from checkpoint");
    }
    // A cluster's verdicts, one judged shard of the pairs each (empty for a local run).
    #[cfg_attr(not(feature = "distributed"), allow(unused_mut))]
    let mut shards: Vec<arrow_array::BinaryArray> = Vec::new();
    let (failed, tally) = match &job.source {
        #[cfg(feature = "distributed")]
        VerdictSource::Inputs(inputs) if job.cluster.is_some() => {
            shards = on_cluster(&job, inputs, &aggregator, (since, until))?;
            (false, report::Tally::default())
        }
        VerdictSource::LogGroup(opts) => {
            let rt = aws::runtime(job.run.threads)?;
            let group = rt.block_on(logs::read_into(
                &job.aws.connect,
                opts,
                job.run.decoder.clone(),
                &aggregator,
                (since, until),
            ))?;
            let tally = report::Tally::of(std::slice::from_ref(&group));
            (report::sources(&[group]), tally)
        }
        VerdictSource::Inputs(Inputs::S3(urls)) => {
            let every = job.checkpoint.as_ref().map_or(Duration::ZERO, |c| c.1);
            let run = filter_first(&job, &aggregator);
            from_s3(&job, &run, urls, &aggregator, checkpoint, every)?
        }
        VerdictSource::Inputs(Inputs::Local(inputs)) => {
            from_files(&filter_first(&job, &aggregator), inputs, &aggregator)?
        }
    };
    let shards: Vec<&[u8]> = shards.iter().flat_map(|a| a.iter().flatten()).collect();
    let mut report = if shards.is_empty() {
        aggregator.report()?
    } else {
        aggregator
            .report_shards(&shards, job.run.threads)
            .context("the verdicts of a shard from the cluster are unusable")?
    };
    let (spilled, runs) = aggregator.spilled();
    if runs > 0 {
        eprintln!(
            "the verdict state outgrew --memory-limit and was spilled to disk {runs} time{} ({:.1} MB)",
            if runs == 1 { "" } else { "s" },
            spilled as f64 / 1e6
        );
    }
    if let (Some(network), Some(from)) = (network.as_mut(), job.explain.as_ref()) {
        catalogue::add_block_public_access(from, &job.aws.connect, network, &report);
    }
    if let Some(network) = &network {
        vpcflow_explain::explain_report(network, aggregator.catalogue(), &mut report);
    }
    catalogue::mark_expected(
        &mut report,
        aggregator.catalogue(),
        network.as_ref().or(groups.as_ref()),
    );
    match (&job.out, job.output) {
        (Some(out), VerdictOutput::Html) => {
            let meta = vpcflow_report::Meta {
                inputs: match &job.source {
                    VerdictSource::LogGroup(opts) => vec![format!("logs:{}", opts.group)],
                    VerdictSource::Inputs(_) => job.spelled_inputs.clone(),
                },
                window: (since, until),
                malformed: tally.malformed,
                unreadable: tally.unreadable,
            };
            report::write_html(&report, &meta, out)?;
        }
        (_, format) => report::write_verdicts(&report, format)?,
    }
    report::summarize(&report, tally.filtered);
    Ok(report::verdict_exit(failed, &report, job.fail_on))
}

/// `--cluster`: the verdicts of each shard of the pairs, folded, merged and judged by the
/// cluster's executors (`vpcflow_judged`); the report is then made here from them, the
/// shards' headers merged first so that each verdict's confidence sees every ENI's NODATA and
/// SKIPDATA ([`Aggregator::report_shards`]).
#[cfg(feature = "distributed")]
fn on_cluster(
    job: &VerdictJob,
    inputs: &Inputs,
    aggregator: &Aggregator,
    (since, until): (Option<i64>, Option<i64>),
) -> Result<Vec<arrow_array::BinaryArray>> {
    use vpcflow_datafusion::{JUDGED, VerdictUdaf, cluster::remote_session, shard_states};
    let Some((url, remote)) = &job.cluster else {
        return Ok(Vec::new());
    };
    let rt = aws::runtime(2)?;
    let states = rt.block_on(async {
        let table = crate::flows::table(inputs, &job.aws, job.run.decoder.format.as_ref()).await?;
        check_verdict_format(table.format(), "the inputs' format")?;
        let udaf = VerdictUdaf::new(aggregator.catalogue().clone(), since, until).judging();
        let ctx = remote_session(url, table.clone(), Some(udaf), *remote)
            .await
            .with_context(|| format!("cannot reach the cluster at {url}"))?;
        shard_states(&ctx, &table, JUDGED)
            .await
            .with_context(|| format!("the verdict query on the cluster at {url} failed"))
    })?;
    let bytes: usize = states.iter().map(|a| a.value_data().len()).sum();
    tracing::info!(
        %url,
        bytes,
        "verdicts from the cluster; malformed lines are in its executors' logs"
    );
    Ok(states)
}

/// What must not change between a run and its resumption.
fn open_checkpoint(path: &Path, job: &VerdictJob, catalogue: &Catalogue) -> Result<CheckpointFile> {
    let Window { spelled, .. } = &job.window;
    let fingerprint = Fingerprint::new("verdict")
        .with("catalogue", catalogue.to_toml())
        .with("inputs", job.spelled_inputs.join("\n"))
        .with("window", format!("{spelled:?}"))
        .with("options", s3::checkpoint_options(&job.run, &job.aws, ""))
        .with("check-all-lines", job.check_all_lines.to_string());
    Ok(CheckpointFile::open(path, fingerprint)?)
}

/// The run's decoding with filter-first on (unless `--check-all-lines`): lines of ports no
/// endpoint listens on are counted, not decoded.
fn filter_first(job: &VerdictJob, aggregator: &Aggregator) -> RunOptions {
    let mut run = job.run.clone();
    if !job.check_all_lines {
        run.decoder = run
            .decoder
            .filter_first(Arc::new(aggregator.plan().port_set()));
    }
    run
}

/// Local files and stdin: every batch straight into the aggregator.
fn from_files(
    run: &RunOptions,
    inputs: &[Input],
    aggregator: &Aggregator,
) -> Result<(bool, report::Tally)> {
    let missing: Mutex<Option<MissingFields>> = Mutex::default();
    let on_batch = |batch: RecordBatch| -> std::io::Result<()> {
        if let Err(e) = aggregator.worker().add_batch(&batch)
            && let Ok(mut m) = missing.lock()
        {
            m.get_or_insert(e);
        }
        Ok(())
    };
    let reports = for_each_batch(inputs, run, &on_batch)?;
    let mut worker = aggregator.worker();
    worker.skipped(reports.iter().map(|r| r.filtered).sum());
    worker.commit();
    if let Some(e) = missing.lock().ok().and_then(|mut m| m.take()) {
        return Err(e).context("cannot judge these records");
    }
    report::unknown_fields(&reports);
    check_formats(&reports)?;
    Ok((report::sources(&reports), report::Tally::of(&reports)))
}

/// A source whose header line named a format without the fields verdicts need is an error,
/// even when none of its lines decoded.
fn check_formats(reports: &[SourceReport]) -> Result<()> {
    for r in reports {
        for f in &r.formats {
            check_verdict_format(f, &format!("the format of {}", r.name))?;
        }
    }
    Ok(())
}

/// S3: one sink per object, committed when the object has been read to its end.
fn from_s3(
    job: &VerdictJob,
    run: &RunOptions,
    urls: &[S3Url],
    aggregator: &Arc<Aggregator>,
    checkpoint: Option<CheckpointFile>,
    every: Duration,
) -> Result<(bool, report::Tally)> {
    let started = Instant::now();
    let shared = Arc::new(Shared {
        aggregator: aggregator.clone(),
        missing: Mutex::default(),
        checkpoint: Mutex::new(checkpoint.map(|file| Saved {
            file,
            at: Instant::now(),
            took: Duration::ZERO,
        })),
        every,
    });
    let done = {
        let shared = shared.clone();
        move |o: &S3Object| {
            shared
                .checkpoint
                .lock()
                .ok()
                .and_then(|c| c.as_ref().map(|c| c.file.data.is_done(&o.id(), &o.etag)))
                .unwrap_or(false)
        }
    };
    let factory = {
        let shared = shared.clone();
        Arc::new(move |object: &S3Object| -> Box<dyn SourceSink> {
            Box::new(VerdictSink {
                worker: Worker::new(shared.aggregator.clone()),
                shared: shared.clone(),
                object: object.clone(),
            })
        })
    };
    let summary = s3::run(urls, &job.aws, run, &done, factory)?;
    shared.save(true)?;
    if let Some(e) = shared.missing.lock().ok().and_then(|mut m| m.take()) {
        return Err(e).context("cannot judge these records");
    }
    report::unknown_fields(&summary.reports);
    check_formats(&summary.reports)?;
    Ok((
        s3::report(&summary, started.elapsed()),
        report::Tally::of(&summary.reports),
    ))
}

/// The checkpoint of a run, and when it was last written.
struct Saved {
    file: CheckpointFile,
    at: Instant,
    took: Duration,
}

/// What every S3 object's sink shares.
struct Shared {
    aggregator: Arc<Aggregator>,
    missing: Mutex<Option<MissingFields>>,
    /// The checkpoint. Commits happen under this lock, so a saved checkpoint holds exactly the
    /// state of the objects it lists.
    checkpoint: Mutex<Option<Saved>>,
    every: Duration,
}

impl Shared {
    fn save(&self, force: bool) -> std::io::Result<()> {
        let Ok(mut guard) = self.checkpoint.lock() else {
            return Ok(());
        };
        let Some(saved) = guard.as_mut() else {
            return Ok(());
        };
        // A large state takes a while to write: never spend more than a tenth of the run on it.
        if force || saved.at.elapsed() >= self.every.max(saved.took * 10) {
            let began = Instant::now();
            let aggregator = &self.aggregator;
            saved
                .file
                .save(Some(&mut |w: &mut dyn Write| aggregator.write_state(w)))?;
            saved.at = Instant::now();
            saved.took = began.elapsed();
        }
        Ok(())
    }
}

struct VerdictSink {
    worker: Worker<Arc<Aggregator>>,
    shared: Arc<Shared>,
    object: S3Object,
}

impl SourceSink for VerdictSink {
    fn batch(&mut self, batch: RecordBatch) -> std::io::Result<()> {
        if let Err(e) = self.worker.fold(&batch)
            && let Ok(mut m) = self.shared.missing.lock()
        {
            m.get_or_insert(e);
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>, report: &SourceReport) -> std::io::Result<()> {
        // Counted in the worker, so they are committed (or left out) with the object's records.
        self.worker.skipped(report.filtered);
        {
            let Ok(mut guard) = self.shared.checkpoint.lock() else {
                return Err(std::io::Error::other("checkpoint lock poisoned"));
            };
            match guard.as_mut() {
                // With a checkpoint, an object that broke midway is left out whole: it is not
                // marked done, so a resumed run reads it again from its first byte.
                Some(_) if report.error.is_some() => return Ok(()),
                Some(saved) => {
                    self.worker.commit();
                    saved
                        .file
                        .data
                        .sources
                        .insert(self.object.id(), self.object.etag.clone());
                }
                None => self.worker.commit(),
            }
        }
        self.shared.save(false)
    }
}
