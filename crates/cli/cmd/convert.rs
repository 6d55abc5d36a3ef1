//! `vpcflow convert`: flow logs to Hive-partitioned Parquet.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow_array::RecordBatch;
use vpcflow_aws::{KeyInfo, S3Object};
use vpcflow_input::{Input, SourceReport, SourceSink, for_each_source};
use vpcflow_sink::{BatchWriter, ParquetOptions, PartitionedWriter};

use crate::flags::resolve::{ConvertJob, Inputs};
use crate::report::{self, EXIT_ERROR, EXIT_OK};
use crate::s3;

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

/// A file-name stem unique to a source: its base name (at most 64 bytes of it), plus a hash of
/// the whole name so two sources with similar names cannot collide. The hash (XXH3-64) has a
/// fixed definition: a re-run of the same conversion names its files the same.
fn stem(name: &str) -> String {
    let base = Path::new(name)
        .file_name()
        .map_or_else(|| name.to_owned(), |n| n.to_string_lossy().into_owned());
    let mut base = base
        .trim_end_matches(".gz")
        .trim_end_matches(".log")
        .trim_end_matches(".parquet");
    if base.len() > 64 {
        let mut end = 64;
        while !base.is_char_boundary(end) {
            end -= 1;
        }
        base = &base[..end];
    }
    format!(
        "{base}-{:016x}",
        xxhash_rust::xxh3::xxh3_64(name.as_bytes())
    )
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

pub fn run(job: ConvertJob) -> Result<u8> {
    let opts = &job.run;
    let root = prepare_out(&job.out)?;
    let started = Instant::now();
    let (reports, failed) = match &job.inputs {
        Inputs::S3(urls) => {
            let root2 = root.clone();
            let factory = Arc::new(move |o: &S3Object| -> Box<dyn SourceSink> {
                let region = KeyInfo::parse(&o.key).region;
                Box::new(ConvertSink(writer(&root2, &o.id(), region.as_deref())))
            });
            let summary = s3::run(urls, &job.aws, opts, &|_| false, factory)?;
            let failed = s3::report(&summary, started.elapsed());
            (summary.reports, failed)
        }
        Inputs::Local(inputs) => {
            let reports = for_each_source(inputs, opts, &|input: &Input| {
                Box::new(ConvertSink(writer(&root, &input.name(), None))) as Box<dyn SourceSink>
            })?;
            let failed = report::sources(&reports);
            (reports, failed)
        }
    };
    report::unknown_fields(&reports);
    let records: u64 = reports.iter().map(|r| r.records).sum();
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    eprintln!(
        "converted {records} records from {} inputs ({bytes} bytes) into {} in {:.2} s",
        reports.len(),
        root.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(if failed { EXIT_ERROR } else { EXIT_OK })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: part names hashed the source name with `DefaultHasher`, whose output may
    /// change with the toolchain, so a re-run convert could leave duplicate files; and a long
    /// base name made the file name too long. Pinned values computed independently with
    /// Python's `xxhash` (xxh3_64 of the source name).
    #[test]
    fn default_hasher_made_part_names_unstable_and_long_names_failed() {
        let name = "flows/AWSLogs/123456789012/vpcflowlogs/ap-northeast-1/2026/11/20/123456789012_vpcflowlogs_ap-northeast-1_fl-0abc_20261120T0905Z_6bd3b0f5.log.gz";
        assert_eq!(
            stem(name),
            "123456789012_vpcflowlogs_ap-northeast-1_fl-0abc_20261120T0905Z_6-217320bdd87d0bb1"
        );
        let long = format!("{}.log.gz", "a".repeat(240));
        assert_eq!(stem(&long), format!("{}-c2b694b1306430eb", "a".repeat(64)));
        assert!(stem(&format!("{}é.log", "b".repeat(63))).starts_with(&"b".repeat(63)));
    }
}
