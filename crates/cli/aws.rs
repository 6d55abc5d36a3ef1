//! The async runtime and SDK configuration every AWS-facing command shares.

use anyhow::{Context, Result};
use vpcflow_aws::{AwsError, AwsOptions, SdkConfig};

/// A tokio runtime for AWS work.
pub fn runtime(threads: usize) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs one AWS call to its end on a small runtime, with the SDK configuration of `connect`.
pub fn with_aws<T, F, Fut>(connect: &AwsOptions, call: F) -> Result<T>
where
    F: FnOnce(SdkConfig) -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    let rt = runtime(2)?;
    Ok(rt.block_on(async {
        let config = connect.load().await;
        call(config).await
    })?)
}
