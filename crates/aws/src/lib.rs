//! AWS sources for vpcflow: S3 archives and CloudWatch Logs, on tokio and the AWS SDK.
//! Everything else in vpcflow is synchronous; this crate bridges: object bodies stream through
//! [`tokio_util::io::SyncIoBridge`] into the same decoder local files use, on blocking threads,
//! with bounded concurrency.
//!
//! # A tour
//! - [`AwsOptions`]: region, profile and endpoint URL on top of the standard credential chain.
//! - [`S3Url`], [`KeyInfo`], [`KeyFilter`]: where objects are and which to skip before fetching.
//! - [`s3::read`]: list, prune, fetch and decode, handing batches to a sink per
//!   object.
//! - [`ExportFormats`]: the format of CloudWatch Logs export objects, from the export task's
//!   log group (DescribeExportTasks, then DescribeFlowLogs).
//! - [`sqs::parse_body`] and [`sqs::Queue`]: S3 notifications from an SQS queue (direct, SNS,
//!   EventBridge), for following a bucket; objects are then read with [`s3::read_object`].
//! - [`LogsReader`]: FilterLogEvents over a log group's streams, rate-limited, with retries;
//!   [`Dedupe`] drops the events overlapping polls return twice.
//! - [`ec2::network_config`] and [`rds::discover`]: the security groups, network ACLs and
//!   ENIs `verdict --explain` evaluates, and the endpoint catalogue built from RDS.
//! - [`AwsError`]: every failed call, as a sentence naming the operation, the resource and
//!   what to do.
#![deny(missing_docs)]

pub mod config;
pub mod ec2;
mod error;
pub mod export;
pub mod key;
pub mod logs;
pub mod rds;
pub mod s3;
pub mod sqs;

pub use aws_config::SdkConfig;
pub use config::AwsOptions;
pub use error::AwsError;
pub use export::{ExportFormats, ExportKey};
pub use key::{KeyFilter, KeyInfo};
pub use logs::{Dedupe, Event, LiveTail, LogsOptions, LogsReader, LogsStats, RateLimiter};
pub use s3::{Progress, S3Object, S3Options, S3Summary, S3Url, SinkFactory};
