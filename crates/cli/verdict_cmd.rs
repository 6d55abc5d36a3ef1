//! `vpcflow verdict`: blocked, allowed, intermittent or unanswered, per endpoint and client.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use arrow_array::RecordBatch;
use vpcflow_aws::S3Object;
use vpcflow_checkpoint::{CheckpointFile, Fingerprint};
use vpcflow_input::{SourceReport, SourceSink, for_each_batch};
use vpcflow_sink::{BatchWriter, CsvWriter, JsonLinesWriter, TableWriter};
use vpcflow_verdict::{Aggregator, MissingFields, Report, Worker};

use crate::args::{VerdictArgs, VerdictOutput};
use crate::{endpoints_cmd, output, parse_cmd, s3_run, time};

/// Exit code when some attempt was blocked.
pub const EXIT_BLOCKED: u8 = 1;

pub fn run(args: VerdictArgs) -> Result<u8> {
    crate::remove_spills_on_interrupt();
    let (since, until) = time::window(args.since.as_deref(), args.until.as_deref())?;
    let mut opts = parse_cmd::run_options(&args.decode)?;
    // Verdicts do not depend on record order: threads may share a large file.
    opts.split = true;
    let catalogue =
        endpoints_cmd::catalogue(args.endpoints.as_deref(), args.discover, &args.aws.connect)?;
    // The configuration is read before the logs, so a permission problem shows at once.
    let network = if args.explain || args.config_snapshot.is_some() {
        Some(endpoints_cmd::network_config(
            &args.aws.connect,
            args.config_snapshot.as_deref(),
        )?)
    } else {
        None
    };
    if args.checkpoint.is_some() && s3_run::s3_inputs(&args.inputs)?.is_none() {
        bail!("--checkpoint applies to s3:// inputs");
    }
    // A resumed run keeps the window it started with (`--since 2h` means the same hours).
    let mut checkpoint = match &args.checkpoint {
        Some(path) => {
            let fingerprint = Fingerprint::new("verdict")
                .with("catalogue", catalogue.to_toml())
                .with("inputs", args.inputs.join("\n"))
                .with(
                    "window",
                    format!("{:?} {:?}", args.since.as_deref(), args.until.as_deref()),
                )
                .with(
                    "options",
                    format!(
                        "{:?} {:?} {:?}",
                        args.decode.log_format, args.aws.account, args.aws.flow_log_id
                    ),
                );
            Some(CheckpointFile::open(path, fingerprint)?)
        }
        None => None,
    };
    let (since, until) = match checkpoint.as_ref().map(|c| &c.data.meta["window"]) {
        Some(serde_json::Value::Array(w)) if w.len() == 2 => (w[0].as_i64(), w[1].as_i64()),
        _ => (since, until),
    };
    let aggregator = Arc::new(
        Aggregator::new(catalogue, since, until)
            .with_memory_limit(args.memory_limit.0)
            .with_temp_dir(args.temp_dir.clone()),
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
    let missing: Arc<Mutex<Option<MissingFields>>> = Arc::default();
    let started = Instant::now();

    let failed = if let Some(group) = &args.log_group {
        if !args.inputs.is_empty() {
            bail!("--log-group reads the group; give no INPUT files with it");
        }
        crate::logs_run::verdict(
            group,
            &args.group,
            &args.decode,
            &args.aws,
            &aggregator,
            since,
            until,
        )?
    } else if let Some(urls) = s3_run::s3_inputs(&args.inputs)? {
        let shared = Arc::new(Shared {
            aggregator: aggregator.clone(),
            missing: missing.clone(),
            checkpoint: Mutex::new(checkpoint.take().map(|c| Saved {
                file: c,
                at: Instant::now(),
                took: Duration::ZERO,
            })),
            every: Duration::from_secs_f64(args.checkpoint_every.max(0.0)),
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
        let summary = s3_run::run(
            s3_run::S3Job {
                urls: &urls,
                aws: &args.aws,
                run: &opts,
                window: (since, until),
            },
            &done,
            factory,
        )?;
        shared.save(true)?;
        parse_cmd::warn_unknown_fields(&summary.reports);
        s3_run::report(&summary, started.elapsed())
    } else {
        let inputs = parse_cmd::inputs(&args.inputs)?;
        let on_batch = |batch: RecordBatch| -> std::io::Result<()> {
            if let Err(e) = aggregator.worker().add_batch(&batch)
                && let Ok(mut m) = missing.lock()
            {
                m.get_or_insert(e);
            }
            Ok(())
        };
        let reports = for_each_batch(&inputs, &opts, &on_batch)?;
        parse_cmd::warn_unknown_fields(&reports);
        output::report_sources(&reports)
    };
    if let Some(e) = missing.lock().ok().and_then(|mut m| m.take()) {
        return Err(e).context("cannot judge these records");
    }
    let mut report = aggregator.report()?;
    let (spilled, runs) = aggregator.spilled();
    if runs > 0 {
        eprintln!(
            "the verdict state outgrew --memory-limit and was spilled to disk {runs} time{} ({:.1} MB)",
            if runs == 1 { "" } else { "s" },
            spilled as f64 / 1e6
        );
    }
    if let Some(network) = &network {
        vpcflow_explain::explain_report(network, aggregator.catalogue(), &mut report);
    }
    write_report(&report, args.output)?;
    summarize(&report);
    Ok(if failed {
        crate::EXIT_ERROR
    } else if report.any_blocked() {
        EXIT_BLOCKED
    } else {
        0
    })
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
    missing: Arc<Mutex<Option<MissingFields>>>,
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

/// Writes the verdicts to stdout in the chosen form.
pub fn write_report(report: &Report, format: VerdictOutput) -> Result<()> {
    let out = output::stdout();
    let (batch, mut writer): (RecordBatch, Box<dyn BatchWriter>) = match format {
        VerdictOutput::Table => (report.to_table_batch(), Box::new(TableWriter::new(out))),
        VerdictOutput::Json => (report.to_batch(), Box::new(JsonLinesWriter::new(out))),
        VerdictOutput::Csv => (report.to_batch(), Box::new(CsvWriter::new(out))),
    };
    if batch.num_rows() > 0 || format == VerdictOutput::Table {
        writer.write(&batch)?;
    }
    writer.finish()?;
    if format == VerdictOutput::Table {
        write_explanations(report)?;
    }
    Ok(())
}

/// Under the table: one line per explained pair, and the fix.
fn write_explanations(report: &Report) -> Result<()> {
    let explained: Vec<_> = report
        .verdicts
        .iter()
        .filter_map(|v| v.explanation.as_ref().map(|e| (v, e)))
        .collect();
    if explained.is_empty() {
        return Ok(());
    }
    let mut out = output::stdout();
    writeln!(out, "\nWhy, from the security groups and network ACLs:")?;
    for (v, e) in explained {
        writeln!(
            out,
            "  {} {} ← {} tcp/{}: {}",
            v.verdict, v.endpoint, v.client, v.port, e.detail
        )?;
        if let Some(fix) = &e.fix {
            writeln!(out, "      fix: {fix}")?;
        }
    }
    out.flush()?;
    Ok(())
}

/// One line on stderr: what was read and what was left out.
fn summarize(report: &Report) {
    let s = &report.stats;
    eprintln!(
        "{} records: {} judged, {} touch no catalogued endpoint, {} not TCP, {} outside the time window; {} NODATA, {} SKIPDATA",
        s.records, s.matched, s.ignored, s.non_tcp, s.outside_window, s.nodata, s.skipdata
    );
    if !report.silent_endpoints.is_empty() {
        eprintln!(
            "no traffic seen for: {}",
            report.silent_endpoints.join(", ")
        );
    }
}
