//! AWS configuration: the standard credential chain only (environment, profile, IMDS …), with
//! `--region`, `--profile` and `--endpoint-url` on top. Credentials are never logged.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Overrides from the command line.
#[derive(Clone, Debug, Default)]
pub struct AwsOptions {
    /// `--region`.
    pub region: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--endpoint-url` (an S3-compatible server, LocalStack, moto …).
    pub endpoint_url: Option<String>,
}

/// S3, EC2 and RDS calls: throttling (S3 503 SlowDown), 5xx and transient network errors are
/// retried by the SDK's standard retry mode, up to this many attempts, with exponential backoff
/// and full jitter starting at [`INITIAL_BACKOFF`]. CloudWatch Logs calls are not: the SDK's
/// retries are off for them, and [`crate::LogsReader`] retries throttling itself, so that it can
/// count throttles and share one rate limiter between every stream.
pub const MAX_ATTEMPTS: u32 = 8;
/// The first retry waits up to this long; each further retry doubles it (capped at 20 s).
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);

impl AwsOptions {
    /// Whether requests go to a custom endpoint (then S3 uses path-style addressing).
    pub fn custom_endpoint(&self) -> bool {
        self.endpoint_url.is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
    }

    /// Loads the shared SDK configuration.
    pub async fn load(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(INITIAL_BACKOFF),
        );
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &self.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        loader.load().await
    }
}
