//! Reading flow-log archives from S3: list (paginated), prune by key, fetch with bounded
//! concurrency, and decode each object as it streams in, never whole in memory.

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
pub use aws_sdk_s3::Client;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::io::SyncIoBridge;
use vpcflow_core::{Decoder, DecoderOptions};
use vpcflow_input::{RunError, SourceError, SourceReport, SourceSink, decode_source, open_reader};

use crate::error::{AwsError, classify};
use crate::export::ExportFormats;
use crate::key::KeyFilter;

/// An `s3://bucket/prefix` location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    /// The bucket.
    pub bucket: String,
    /// The key prefix (may be empty).
    pub prefix: String,
}

impl S3Url {
    /// Parses `s3://bucket[/prefix]`.
    pub fn parse(text: &str) -> Option<S3Url> {
        let rest = text.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| S3Url {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

/// One object to read.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct S3Object {
    /// The bucket.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The ETag, as S3 returns it (quoted).
    pub etag: String,
    /// Its size in bytes.
    pub size: u64,
}

impl S3Object {
    /// `bucket/key`: how reports and checkpoints name it.
    pub fn id(&self) -> String {
        format!("{}/{}", self.bucket, self.key)
    }
}

/// Makes a sink per object. Its `finish` means the object was read to its end, or until its
/// data broke (the report says so): every batch of it has been delivered.
pub type SinkFactory = Arc<dyn Fn(&S3Object) -> Box<dyn SourceSink> + Send + Sync>;

/// How to read.
#[derive(Clone, Debug)]
pub struct S3Options {
    /// Which objects.
    pub filter: KeyFilter,
    /// Objects fetched and decoded at once.
    pub concurrency: usize,
    /// Decoder options for every object.
    pub decoder: DecoderOptions,
    /// Looks up the format of CloudWatch Logs export objects when `decoder` has none.
    pub exports: Option<Arc<ExportFormats>>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct S3Summary {
    /// Objects listed under the prefixes.
    pub listed: u64,
    /// Objects skipped by key, per reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Objects a checkpoint says are done.
    pub already_done: u64,
    /// One report per object fetched (or that failed to be fetched), in key order.
    pub reports: Vec<SourceReport>,
    /// Listing failures (a missing bucket, access denied): the prefix was not read.
    pub listing_errors: Vec<AwsError>,
}

impl S3Summary {
    /// Objects read, whole or in part.
    pub fn fetched(&self) -> u64 {
        self.reports
            .iter()
            .filter(|r| r.error.is_none() || r.raw_bytes > 0)
            .count() as u64
    }
}

/// Lists every object under `url`, page by page.
pub async fn list(client: &Client, url: &S3Url) -> Result<Vec<S3Object>, AwsError> {
    let mut pages = client
        .list_objects_v2()
        .bucket(&url.bucket)
        .prefix(&url.prefix)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            let c = classify(&e);
            let resource = format!("s3://{}/{}", url.bucket, url.prefix);
            match c.code {
                Some("NoSuchBucket") => AwsError::NoSuchBucket {
                    bucket: url.bucket.clone(),
                },
                Some("AccessDenied") => AwsError::AccessDenied {
                    operation: "ListObjectsV2",
                    resource,
                    needs: "s3:ListBucket",
                },
                _ => c.other(
                    "ListObjectsV2",
                    resource,
                    attempt_timeout(client),
                    attempts(client),
                ),
            }
        })?;
        for o in page.contents() {
            if let Some(key) = o.key() {
                out.push(S3Object {
                    bucket: url.bucket.clone(),
                    key: key.to_owned(),
                    etag: o.e_tag().unwrap_or("").to_owned(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                });
            }
        }
    }
    Ok(out)
}

/// Lists, prunes, and reads every object under `urls`, `opts.concurrency` at a time, handing
/// each object's batches to a sink from `sinks`. `done` says which objects a checkpoint has.
///
/// Errors of single objects (deleted, access denied, corrupt) are reported per object and the
/// run goes on; only a strict-mode malformed line or a failing sink stops it.
pub async fn read(
    client: &Client,
    urls: &[S3Url],
    opts: &S3Options,
    done: &(dyn Fn(&S3Object) -> bool + Sync),
    sinks: SinkFactory,
    progress: Arc<Progress>,
) -> Result<S3Summary, RunError> {
    let mut summary = S3Summary::default();
    let mut todo = Vec::new();
    for url in urls {
        let objects = match list(client, url).await {
            Ok(objects) => objects,
            Err(e) => {
                summary.listing_errors.push(e);
                continue;
            }
        };
        for o in objects {
            summary.listed += 1;
            if let Some(reason) = opts.filter.skip_reason(&o.key) {
                *summary.skipped.entry(reason).or_default() += 1;
            } else if done(&o) {
                summary.already_done += 1;
            } else {
                todo.push(o);
            }
        }
    }
    progress
        .objects_total
        .store(todo.len() as u64, Ordering::Relaxed);
    tracing::info!(
        listed = summary.listed,
        to_read = todo.len(),
        "listed S3 objects"
    );
    let permits = Arc::new(Semaphore::new(opts.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for object in todo {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| RunError::Output(io::Error::other(e)))?;
        let client = client.clone();
        let sinks = sinks.clone();
        let base = opts.decoder.clone();
        let exports = opts.exports.clone();
        let progress = progress.clone();
        tasks.spawn(async move {
            let decoder = match &exports {
                Some(exports) => exports.decoder_for(&object.key, &base).await,
                None => base,
            };
            let result = read_object(&client, &object, decoder, sinks, &progress).await;
            progress.objects_done.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            result
        });
        // Stop early if something fatal already happened.
        while let Some(finished) = tasks.try_join_next() {
            summary.reports.push(joined(finished)??);
        }
    }
    while let Some(finished) = tasks.join_next().await {
        summary.reports.push(joined(finished)??);
    }
    summary.reports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(summary)
}

fn joined(
    r: Result<Result<SourceReport, RunError>, tokio::task::JoinError>,
) -> Result<Result<SourceReport, RunError>, RunError> {
    r.map_err(|e| RunError::Output(io::Error::other(e)))
}

/// The attempt timeout `client` runs with.
fn attempt_timeout(client: &Client) -> Option<std::time::Duration> {
    client
        .config()
        .timeout_config()
        .and_then(|t| t.operation_attempt_timeout())
}

/// The attempts per call `client` makes.
fn attempts(client: &Client) -> u32 {
    client
        .config()
        .retry_config()
        .map_or(1, |r| r.max_attempts())
}

/// Counters a progress display reads while a run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    /// Objects to read.
    pub objects_total: AtomicU64,
    /// Objects finished.
    pub objects_done: AtomicU64,
    /// Compressed bytes fetched.
    pub bytes: AtomicU64,
    /// Records decoded.
    pub records: AtomicU64,
}

/// What a failed GetObject of `resource` (`s3://bucket/key`) tells the user.
fn get_object_failed<R: std::fmt::Debug>(
    client: &Client,
    e: &aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::get_object::GetObjectError, R>,
    resource: String,
) -> AwsError {
    let c = classify(e);
    match c.code {
        Some("NoSuchKey") => AwsError::NotFound {
            operation: "GetObject",
            what: format!("{resource}: NoSuchKey (deleted after it was listed)"),
        },
        Some("AccessDenied") => AwsError::AccessDenied {
            operation: "GetObject",
            resource,
            needs: "s3:GetObject",
        },
        Some("PreconditionFailed") => AwsError::Replaced { resource },
        _ => c.other(
            "GetObject",
            resource,
            attempt_timeout(client),
            attempts(client),
        ),
    }
}

/// The first `n` bytes of an object (fewer if it is shorter), for sniffing its header line.
pub async fn first_bytes(client: &Client, object: &S3Object, n: u64) -> Result<Vec<u8>, AwsError> {
    let resource = format!("s3://{}", object.id());
    let response = client
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .range(format!("bytes=0-{}", n.saturating_sub(1)))
        .send()
        .await
        .map_err(|e| get_object_failed(client, &e, resource.clone()))?;
    let body = response
        .body
        .collect()
        .await
        .map_err(|e| AwsError::Failed {
            operation: "GetObject",
            resource,
            message: e.to_string(),
            hint: None,
        })?;
    Ok(body.into_bytes().to_vec())
}

/// Fetches and decodes one object (its ETag must still match), handing its batches to a sink
/// from `sinks`. A failure to fetch or decode is in the report, not an error; an error is the
/// sink's.
pub async fn read_object(
    client: &Client,
    object: &S3Object,
    decoder: DecoderOptions,
    sinks: SinkFactory,
    progress: &Arc<Progress>,
) -> Result<SourceReport, RunError> {
    let id = object.id();
    // Reports, positions and errors name the object as a user would: s3://bucket/key.
    let name = format!("s3://{id}");
    let failed =
        |error: AwsError| SourceReport::failed(&name, SourceError::Remote(Box::new(error)));
    let response = client
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .if_match(&object.etag)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => return Ok(failed(get_object_failed(client, &e, name.clone()))),
    };
    let body = SyncIoBridge::new(response.body.into_async_read());
    let object = object.clone();
    let progress = progress.clone();
    let task = tokio::task::spawn_blocking(move || -> Result<SourceReport, RunError> {
        let mut sink = sinks(&object);
        let opened = match open_reader(Box::new(body), None) {
            Ok(o) => o,
            Err(error) => {
                return Ok(SourceReport::failed(
                    &name,
                    SourceError::Open {
                        name: name.clone(),
                        error,
                    },
                ));
            }
        };
        let mut decoder = Decoder::new(decoder);
        let mut on_batch = |batch: RecordBatch| {
            progress
                .records
                .fetch_add(batch.num_rows() as u64, Ordering::Relaxed);
            sink.batch(batch)
        };
        let report = decode_source(opened, &name, &mut decoder, &mut on_batch)?;
        progress
            .bytes
            .fetch_add(report.raw_bytes, Ordering::Relaxed);
        sink.finish(&report).map_err(RunError::Output)?;
        Ok(report)
    });
    task.await
        .map_err(|e| RunError::Output(io::Error::other(e)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            S3Url::parse("s3://b/AWSLogs/1/"),
            Some(S3Url {
                bucket: "b".into(),
                prefix: "AWSLogs/1/".into()
            })
        );
        assert_eq!(
            S3Url::parse("s3://b"),
            Some(S3Url {
                bucket: "b".into(),
                prefix: String::new()
            })
        );
        assert_eq!(S3Url::parse("s3:///x"), None);
        assert_eq!(S3Url::parse("/tmp/x"), None);
    }
}
