//! What `verdict --cluster` and `query` share to run on DataFusion (feature `distributed`):
//! their inputs as one [`FlowTable`] (local files as they are, S3 prefixes listed and pruned by
//! key as the local run prunes them), and the format of its columns.

use std::io::{BufRead, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};
use vpcflow_aws::s3::{first_bytes, list};
use vpcflow_core::LogFormat;
use vpcflow_datafusion::{FlowSource, FlowTable};
use vpcflow_input::{Input, Opened, open_reader};

use crate::flags::resolve::{AwsJob, Inputs};

/// Bytes of an object fetched to find its header line.
const SNIFF: u64 = 64 << 10;

/// The table of `inputs` with the columns of `fixed`, else of the first text source's header
/// line (its first 64 KiB are read), else of the default version 2 format. S3 keys `aws.filter` prunes (window, account, region,
/// flow log) are left out, as the local run leaves them out. Local paths are made absolute, for
/// the executors of a cluster.
pub async fn table(inputs: &Inputs, aws: &AwsJob, fixed: Option<&LogFormat>) -> Result<FlowTable> {
    let (sources, format) = match inputs {
        Inputs::Local(inputs) => {
            let mut files = Vec::new();
            for input in inputs {
                match input {
                    // Absolute: the processes that read it run elsewhere.
                    Input::Path(p) => files.push(
                        std::fs::canonicalize(p)
                            .with_context(|| format!("cannot read {}", p.display()))?,
                    ),
                    Input::Stdin => {
                        bail!("a DataFusion run reads files and s3:// prefixes, not stdin")
                    }
                }
            }
            let format = match fixed {
                Some(f) => f.clone(),
                None => files
                    .iter()
                    .find_map(|f| sniff(head_of(f).ok()?))
                    .flatten()
                    .unwrap_or_else(LogFormat::default_v2),
            };
            (
                files.into_iter().map(FlowSource::File).collect::<Vec<_>>(),
                format,
            )
        }
        Inputs::S3(urls) => {
            let config = aws.connect.load().await;
            let client = aws.connect.s3(&config);
            let mut objects = Vec::new();
            for url in urls {
                let listed = list(&client, url)
                    .await
                    .with_context(|| format!("cannot list s3://{}/{}", url.bucket, url.prefix))?;
                objects.extend(
                    listed
                        .into_iter()
                        .filter(|o| aws.filter.skip_reason(&o.key).is_none()),
                );
            }
            let format = match (fixed, objects.first()) {
                (Some(f), _) => f.clone(),
                (None, Some(first)) => sniff(first_bytes(&client, first, SNIFF).await?)
                    .flatten()
                    .unwrap_or_else(LogFormat::default_v2),
                (None, None) => LogFormat::default_v2(),
            };
            (objects.into_iter().map(FlowSource::S3).collect(), format)
        }
    };
    if sources.is_empty() {
        bail!("no flow-log files or objects in the inputs");
    }
    Ok(FlowTable::new(sources, format))
}

/// The first [`SNIFF`] bytes of the file `path`.
fn head_of(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    std::fs::File::open(path)?
        .take(SNIFF)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// What the first bytes of a source say of its columns: `None` when it is not text (Parquet),
/// else the format its header line names, if it has one.
fn sniff(head: Vec<u8>) -> Option<Option<LogFormat>> {
    match open_reader(Box::new(std::io::Cursor::new(head)), None).ok()? {
        Opened::Text { mut reader, .. } => {
            let mut line = Vec::new();
            reader.read_until(b'\n', &mut line).ok()?;
            Some(LogFormat::from_header(&line))
        }
        _ => None,
    }
}
