//! `vpcflow convert`: flow logs to Hive-partitioned Parquet (flow records, or OCSF events in
//! Security Lake's layout), and the Athena table over them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow_array::RecordBatch;
use vpcflow_aws::{KeyInfo, S3Object};
use vpcflow_checkpoint::{CheckpointFile, Fingerprint};
use vpcflow_input::{Input, SourceReport, SourceSink, for_each_source};
use vpcflow_sink::{
    BatchWriter, Layout, OCSF_SCHEMA, ParquetOptions, PartitionValues, PartitionedWriter, Table,
};

use crate::flags::resolve::{ConvertJob, Inputs};
use crate::report::{self, EXIT_ERROR, EXIT_OK};
use crate::s3;

/// Rows per row group: large enough to compress well, small enough to bound memory per open
/// partition file.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// One source's partitioned writer. A source that cannot be written (a name the file system
/// refuses, a full disk) is reported, and the run goes on with the others.
struct ConvertSink {
    writer: PartitionedWriter,
    name: String,
    error: Option<std::io::Error>,
    failures: Failures,
    /// With `--checkpoint`: where to record this S3 object (id, ETag) once it is written whole.
    commit: Option<Commit>,
}

/// The checkpoint, and the id and ETag of the object to record in it.
type Commit = (Arc<Mutex<Saved>>, String, String);

/// A conversion's checkpoint and when it was last written. It is written at most every
/// [`SAVE_EVERY`] and at the end, not once per object (each write syncs the file): a crash
/// loses at most those seconds of commits, and a resumed run converts those objects again
/// under the same part names.
struct Saved {
    file: CheckpointFile,
    at: Instant,
}

/// How often a conversion's checkpoint is written (as `verdict --checkpoint`'s by default).
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Sources that could not be written, with why.
type Failures = Arc<Mutex<Vec<(String, u64)>>>;

impl ConvertSink {
    fn boxed(
        writer: PartitionedWriter,
        name: String,
        failures: &Failures,
        commit: Option<Commit>,
    ) -> Box<dyn SourceSink> {
        Box::new(ConvertSink {
            writer,
            name,
            error: None,
            failures: failures.clone(),
            commit,
        })
    }
}

impl SourceSink for ConvertSink {
    fn batch(&mut self, batch: RecordBatch) -> std::io::Result<()> {
        if self.error.is_none()
            && let Err(e) = self.writer.write(&batch)
        {
            self.error = Some(e);
        }
        Ok(())
    }
    fn finish(mut self: Box<Self>, report: &SourceReport) -> std::io::Result<()> {
        let result = match self.error.take() {
            Some(e) => Err(e),
            None => self.writer.finish(),
        };
        match result {
            Err(e) => {
                if let Ok(mut failures) = self.failures.lock() {
                    failures.push((
                        format!(
                            "cannot write the records of {}: {e} (its unfinished files were \
                             removed)",
                            self.name
                        ),
                        report.records,
                    ));
                }
            }
            // Whole, and every part file in place: a resumed run may skip it.
            Ok(()) if report.error.is_none() => {
                if let Some((checkpoint, id, etag)) = self.commit.take() {
                    let mut c = checkpoint
                        .lock()
                        .map_err(|_| std::io::Error::other("checkpoint lock poisoned"))?;
                    c.file.data.sources.insert(id, etag);
                    if c.at.elapsed() >= SAVE_EVERY {
                        c.file.save(None)?;
                        c.at = Instant::now();
                    }
                }
            }
            Ok(()) => {}
        }
        Ok(())
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

fn writer(root: &Path, name: &str, region: Option<&str>, layout: Layout) -> PartitionedWriter {
    PartitionedWriter::new(
        root,
        &stem(name),
        region,
        ParquetOptions {
            row_group_rows: ROW_GROUP_ROWS,
            ..ParquetOptions::default()
        },
    )
    .with_layout(layout)
}

/// Prints the Athena table for the files under `--out` (or, without any, for `--log-format`'s
/// fields, or OCSF's schema).
fn print_athena_ddl(job: &ConvertJob, table: &str, location: &str) -> Result<()> {
    let (values, found) = match &job.out {
        Some(out) if out.is_dir() => {
            PartitionValues::scan(out, job.layout).map_err(anyhow::Error::msg)?
        }
        _ => (PartitionValues::default(), None),
    };
    let schema = match job.layout {
        Layout::SecurityLake => OCSF_SCHEMA.clone(),
        Layout::Flows => found.unwrap_or_else(|| {
            job.run
                .decoder
                .format
                .clone()
                .unwrap_or_else(vpcflow_core::LogFormat::default_v2)
                .schema()
                .clone()
        }),
    };
    let ddl = vpcflow_sink::create_table(
        &schema,
        job.layout,
        &Table {
            name: table,
            location,
        },
        &values,
    )?;
    print!("{ddl}");
    Ok(())
}

/// A conversion's checkpoint belongs to its inputs, its output directory and its options.
fn open_checkpoint(path: &Path, job: &ConvertJob, root: &Path) -> Result<CheckpointFile> {
    let fingerprint = Fingerprint::new("convert")
        .with("inputs", job.spelled_inputs.join("\n"))
        .with("out", root.to_string_lossy().as_bytes())
        .with(
            "options",
            s3::checkpoint_options(
                &job.run,
                &job.aws,
                &format!(
                    " {:?} {:?}{}",
                    job.aws.filter.since,
                    job.aws.filter.until,
                    // Flows keep the fingerprint of checkpoints written before --format.
                    if job.layout == Layout::SecurityLake {
                        " ocsf"
                    } else {
                        ""
                    }
                ),
            ),
        );
    Ok(CheckpointFile::open(path, fingerprint)?)
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
    if job.spelled_inputs.is_empty() {
        let (table, location) = job.athena.as_ref().context("nothing to convert")?;
        print_athena_ddl(&job, table, location)?;
        return Ok(EXIT_OK);
    }
    let code = convert(&job)?;
    if let Some((table, location)) = &job.athena {
        print_athena_ddl(&job, table, location)?;
    }
    Ok(code)
}

fn convert(job: &ConvertJob) -> Result<u8> {
    let opts = &job.run;
    let out = job.out.as_deref().context("--out is required")?;
    let root = prepare_out(out)?;
    let layout = job.layout;
    let started = Instant::now();
    let failures = Failures::default();
    let (reports, failed) = match &job.inputs {
        Inputs::S3(urls) => {
            let checkpoint = job
                .checkpoint
                .as_ref()
                .map(|path| open_checkpoint(path, job, &root))
                .transpose()?
                .map(|file| {
                    Arc::new(Mutex::new(Saved {
                        file,
                        at: Instant::now(),
                    }))
                });
            let at_end = checkpoint.clone();
            let root2 = root.clone();
            let failures = failures.clone();
            let commit_to = checkpoint.clone();
            let factory = Arc::new(move |o: &S3Object| -> Box<dyn SourceSink> {
                let region = KeyInfo::parse(&o.key).region;
                let w = writer(&root2, &o.id(), region.as_deref(), layout);
                let commit = commit_to
                    .as_ref()
                    .map(|c| (c.clone(), o.id(), o.etag.clone()));
                ConvertSink::boxed(w, format!("s3://{}", o.id()), &failures, commit)
            });
            let done = move |o: &S3Object| {
                checkpoint.as_ref().is_some_and(|c| {
                    c.lock()
                        .map(|c| c.file.data.is_done(&o.id(), &o.etag))
                        .unwrap_or(false)
                })
            };
            // Written even when the run stopped early: what was committed stays committed.
            let summary = s3::run(urls, &job.aws, opts, &done, factory);
            if let Some(c) = at_end
                && let Ok(mut c) = c.lock()
            {
                c.file.save(None).context("cannot write the checkpoint")?;
            }
            let summary = summary?;
            let failed = s3::report(&summary, started.elapsed());
            (summary.reports, failed)
        }
        Inputs::Local(inputs) => {
            let reports = for_each_source(inputs, opts, &|input: &Input| {
                ConvertSink::boxed(
                    writer(&root, &input.name(), None, layout),
                    input.name(),
                    &failures,
                    None,
                )
            })?;
            let failed = report::sources(&reports);
            (reports, failed)
        }
    };
    report::unknown_fields(&reports);
    let failures = failures.lock().map(|f| f.clone()).unwrap_or_default();
    let unwritten: u64 = failures.iter().map(|(_, n)| n).sum();
    let records = reports.iter().map(|r| r.records).sum::<u64>() - unwritten;
    let bytes: u64 = reports.iter().map(|r| r.bytes).sum();
    eprintln!(
        "converted {records} records from {} inputs ({bytes} bytes) into {} in {:.2} s{}",
        reports.len() - failures.len(),
        root.display(),
        started.elapsed().as_secs_f64(),
        if failures.is_empty() {
            String::new()
        } else {
            format!(
                "; {unwritten} records of {} inputs could not be written",
                failures.len()
            )
        }
    );
    for (failure, _) in &failures {
        eprintln!("error: {failure}");
    }
    Ok(if failed || !failures.is_empty() {
        EXIT_ERROR
    } else {
        EXIT_OK
    })
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
