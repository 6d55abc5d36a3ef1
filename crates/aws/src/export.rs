//! CloudWatch Logs export objects on S3: which log group an object came from, and so the format
//! of the flow log behind it.
//!
//! CreateExportTask writes `PREFIX/TASK-ID/LOG-STREAM/000000.gz` (more parts `000001.gz`, … for
//! a long stream). The lines carry no header, so without `--log-format` the format is looked up:
//! DescribeExportTasks(TASK-ID) names the log group, and DescribeFlowLogs gives the format of the
//! flow log delivering to it, as for `--log-group`. A lookup that fails (no such task, access
//! denied) falls back to the default version 2 format with one warning per task.

use std::collections::HashMap;

use aws_config::SdkConfig;
use aws_sdk_cloudwatchlogs::error::DisplayErrorContext;
use tokio::sync::Mutex;
use vpcflow_core::{DecoderOptions, LogFormat};

/// What the key of an export object says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportKey<'a> {
    /// The export task's id (a UUID).
    pub task_id: &'a str,
    /// The log stream the object holds (for flow logs, the ENI: `eni-…-all`).
    pub stream: &'a str,
}

impl<'a> ExportKey<'a> {
    /// Reads `…/TASK-ID/STREAM/NNNNNN.gz`, where TASK-ID is a UUID; anything else is `None`.
    pub fn parse(key: &'a str) -> Option<ExportKey<'a>> {
        let mut parts = key.rsplit('/');
        let file = parts.next()?;
        let stream = parts.next()?;
        let task_id = parts.next()?;
        let part = file.strip_suffix(".gz")?;
        let numbered = part.len() == 6 && part.bytes().all(|b| b.is_ascii_digit());
        (numbered && !stream.is_empty() && is_uuid(task_id))
            .then_some(ExportKey { task_id, stream })
    }
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The formats of export objects, looked up once per task.
#[derive(Debug)]
pub struct ExportFormats {
    config: SdkConfig,
    logs: aws_sdk_cloudwatchlogs::Client,
    /// Task id → the format found (`None`: the default).
    cache: Mutex<HashMap<String, Option<LogFormat>>>,
}

impl ExportFormats {
    /// Looks formats up with `config` (the standard chain, the endpoint given included).
    pub fn new(config: &SdkConfig) -> ExportFormats {
        ExportFormats {
            config: config.clone(),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
            cache: Mutex::default(),
        }
    }

    /// The decoder options for the object at `key`: `base` itself unless it has no format and
    /// the key is an export object's, whose flow log's format is then filled in.
    pub async fn decoder_for(&self, key: &str, base: &DecoderOptions) -> DecoderOptions {
        let mut opts = base.clone();
        if opts.format.is_some() {
            return opts;
        }
        let Some(export) = ExportKey::parse(key) else {
            return opts;
        };
        let mut cache = self.cache.lock().await;
        if let Some(found) = cache.get(export.task_id) {
            opts.format = found.clone();
            return opts;
        }
        let found = match self.lookup(export.task_id).await {
            Ok((group, format)) => {
                tracing::info!(
                    task = export.task_id,
                    group = %group,
                    format = %format.names().collect::<Vec<_>>().join(" "),
                    "export task's format from DescribeExportTasks and DescribeFlowLogs"
                );
                Some(format)
            }
            Err(why) => {
                tracing::warn!(
                    "cannot tell the format of CloudWatch Logs export task {} (stream {}): {why}; assuming the default version 2 format (pass --log-format otherwise)",
                    export.task_id,
                    export.stream
                );
                None
            }
        };
        cache.insert(export.task_id.to_owned(), found.clone());
        opts.format = found;
        opts
    }

    /// The task's log group and its flow log's format, or why not.
    async fn lookup(&self, task_id: &str) -> Result<(String, LogFormat), String> {
        let tasks = self
            .logs
            .describe_export_tasks()
            .task_id(task_id)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "DescribeExportTasks failed ({}; reading the format needs logs:DescribeExportTasks)",
                    DisplayErrorContext(&e)
                )
            })?;
        let group = tasks
            .export_tasks()
            .iter()
            .find(|t| t.task_id() == Some(task_id))
            .and_then(|t| t.log_group_name())
            .ok_or("DescribeExportTasks does not know the task (export tasks are kept for a limited time)")?
            .to_owned();
        let text = crate::ec2::flow_log_format(&self.config, &group)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no flow log delivers to its log group {group}"))?;
        let format = LogFormat::parse(&text).map_err(|e| {
            format!("the flow log of {group} has a format vpcflow cannot read: {e}")
        })?;
        Ok((group, format))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_keys() {
        let key = "exports/flows/2f3c9a7e-1d2b-4c5d-9e8f-0a1b2c3d4e5f/eni-0a1b2c3d-all/000001.gz";
        assert_eq!(
            ExportKey::parse(key),
            Some(ExportKey {
                task_id: "2f3c9a7e-1d2b-4c5d-9e8f-0a1b2c3d4e5f",
                stream: "eni-0a1b2c3d-all"
            })
        );
        // At the top of the bucket (no prefix) too.
        assert!(ExportKey::parse("2f3c9a7e-1d2b-4c5d-9e8f-0a1b2c3d4e5f/s/000000.gz").is_some());
        for other in [
            "AWSLogs/1/vpcflowlogs/us-east-1/2026/11/20/x.log.gz",
            "exports/not-a-task/eni-1-all/000000.gz",
            "exports/2f3c9a7e-1d2b-4c5d-9e8f-0a1b2c3d4e5f/eni-1-all/part.gz",
            "exports/2f3c9a7e-1d2b-4c5d-9e8f-0a1b2c3d4e5f/eni-1-all/000000",
            "2f3c9a7e-1d2b-4c5d-9e8f-0a1b2c3d4e5f/000000.gz",
            "exports/aws-logs-write-test",
        ] {
            assert_eq!(ExportKey::parse(other), None, "{other}");
        }
    }
}
