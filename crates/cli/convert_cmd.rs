//! `vpcflow convert`: flow logs to Hive-partitioned Parquet.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow_array::RecordBatch;
use vpcflow_aws::{KeyInfo, S3Object};
use vpcflow_input::{Input, SourceReport, SourceSink, for_each_source};
use vpcflow_sink::{BatchWriter, ParquetOptions, PartitionedWriter};

use crate::args::ConvertArgs;
use crate::{output, parse_cmd, s3_run, time};

/// Rows per row group: large enough to compress well, small enough to bound memory per open
/// partition file.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// One source's partitioned writer.
struct ConvertSink(PartitionedWriter);

impl SourceSink for ConvertSink {
    fn batch(&mut self, batch: RecordBatch) -> std::io::Result<()> {
        self.0.write(&batch)
    }
    fn finish(mut self: Box<Self>, _: &SourceReport) -> std::io::Result<()> {
        self.0.finish()
    }
}

/// A file-name stem unique to a source: its name, made path-safe, plus a hash so two sources
/// with similar names cannot collide.
fn stem(name: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    let base = Path::new(name)
        .file_name()
        .map_or_else(|| name.to_owned(), |n| n.to_string_lossy().into_owned());
    let base = base
        .trim_end_matches(".gz")
        .trim_end_matches(".log")
        .trim_end_matches(".parquet");
    format!("{base}-{:016x}", h.finish())
}

fn writer(root: &Path, name: &str, region: Option<&str>) -> PartitionedWriter {
    PartitionedWriter::new(
        root,
        &stem(name),
        region,
        ParquetOptions {
            row_group_rows: ROW_GROUP_ROWS,
            ..ParquetOptions::default()
        },
    )
}

fn prepare_out(out: &Path) -> Result<PathBuf> {
    if out.exists() && !out.is_dir() {
        bail!("--out {} exists and is not a directory", out.display());
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    out.canonicalize()
        .with_context(|| format!("cannot resolve {}", out.display()))
}

pub fn run(args: ConvertArgs) -> Result<u8> {
    let opts = parse_cmd::run_options(&args.decode)?;
    let root = prepare_out(&args.out)?;
    let started = Instant::now();
    let (reports, failed) = if let Some(urls) = s3_run::s3_inputs(&args.inputs)? {
        let (since, until) =
            time::window(args.window.since.as_deref(), args.window.until.as_deref())?;
        let root2 = root.clone();
        let factory = Arc::new(move |o: &S3Object| -> Box<dyn SourceSink> {
            let region = KeyInfo::parse(&o.key).region;
            Box::new(ConvertSink(writer(&root2, &o.id(), region.as_deref())))
        });
        let summary = s3_run::run(
            s3_run::S3Job {
                urls: &urls,
                aws: &args.aws,
                run: &opts,
                window: (since, until),
            },
            &|_| false,
            factory,
        )?;
        let failed = s3_run::report(&summary, started.elapsed());
        (summary.reports, failed)
    } else {
        let inputs: Vec<Input> = parse_cmd::inputs(&args.inputs)?;
        if inputs.contains(&Input::Stdin) {
            bail!("convert reads files and S3 objects, not stdin");
        }
        let reports = for_each_source(&inputs, &opts, &|input: &Input| {
            Box::new(ConvertSink(writer(&root, &input.name(), None))) as Box<dyn SourceSink>
        })?;
        let failed = output::report_sources(&reports);
        (reports, failed)
    };
    parse_cmd::warn_unknown_fields(&reports);
    let records: u64 = reports.iter().map(|r| r.records).sum();
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    eprintln!(
        "converted {records} records from {} inputs ({bytes} bytes) into {} in {:.2} s",
        reports.len(),
        root.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(if failed { crate::EXIT_ERROR } else { 0 })
}
