//! AWS configuration: the standard credential chain only (environment, profile, IMDS …), with
//! `--region`, `--profile`, `--endpoint-url` and the timeouts on top. Credentials are never
//! logged.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason,
};

/// Overrides from the command line.
#[derive(Clone, Debug, Default)]
pub struct AwsOptions {
    /// `--region`.
    pub region: Option<String>,
    /// `--profile`.
    pub profile: Option<String>,
    /// `--endpoint-url` (an S3-compatible server, LocalStack, moto …).
    pub endpoint_url: Option<String>,
    /// How long calls may take, and how often they are tried.
    pub limits: Limits,
}

/// Timeouts and attempts of every AWS call. A server that accepts a connection and never
/// answers costs one attempt timeout per attempt, and then the call fails naming itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// `--connect-timeout`: to open a connection.
    pub connect: Duration,
    /// `--timeout`: one attempt, from sending the request to the start of the answer. An
    /// object body that stops arriving midway also fails after this long.
    pub attempt: Duration,
    /// `--operation-timeout`: one call, over all its attempts and the waits between them.
    pub operation: Duration,
    /// `--max-attempts`: tries per call (the first one included).
    pub attempts: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connect: Duration::from_secs(5),
            attempt: Duration::from_secs(30),
            operation: Duration::from_secs(300),
            attempts: MAX_ATTEMPTS,
        }
    }
}

/// S3, EC2 and RDS calls: throttling (S3 503 SlowDown), 5xx, transient network errors and
/// timeouts are retried by the SDK's standard retry mode, up to [`Limits::attempts`] attempts
/// (this many by default), with exponential backoff and full jitter starting at
/// [`INITIAL_BACKOFF`], or after the delay a `Retry-After` header asks for. CloudWatch Logs
/// calls are not: the SDK's retries are off for them, and [`crate::LogsReader`] retries itself,
/// so that it can count throttles and share one rate limiter between every stream.
pub const MAX_ATTEMPTS: u32 = 8;
/// The first retry waits up to this long; each further retry doubles it (capped at
/// [`MAX_BACKOFF`]).
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait between two attempts, a `Retry-After` included.
pub const MAX_BACKOFF: Duration = Duration::from_secs(20);

impl AwsOptions {
    /// Whether requests go to a custom endpoint (then S3 uses path-style addressing).
    pub fn custom_endpoint(&self) -> bool {
        self.endpoint_url.is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
    }

    /// Loads the shared SDK configuration.
    pub async fn load(&self) -> SdkConfig {
        let limits = self.limits;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(limits.attempts)
                    .with_initial_backoff(INITIAL_BACKOFF)
                    .with_max_backoff(MAX_BACKOFF),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(limits.connect)
                    .read_timeout(limits.attempt)
                    .operation_attempt_timeout(limits.attempt)
                    .operation_timeout(limits.operation)
                    .build(),
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

    /// An SQS client (`Retry-After` honoured).
    pub fn sqs(&self, config: &SdkConfig) -> aws_sdk_sqs::Client {
        let sqs = aws_sdk_sqs::config::Builder::from(config)
            .retry_classifier(RetryAfter)
            .build();
        aws_sdk_sqs::Client::from_conf(sqs)
    }

    /// An S3 client (path-style addressing at a custom endpoint, `Retry-After` honoured).
    pub fn s3(&self, config: &SdkConfig) -> aws_sdk_s3::Client {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(self.custom_endpoint())
            .retry_classifier(RetryAfter)
            .build();
        aws_sdk_s3::Client::from_conf(s3)
    }
}

impl AwsOptions {
    /// Whether operations' modelled host prefixes are left off the endpoint:
    /// `AWS_DISABLE_HOST_PREFIX_INJECTION=true`, else `disable_host_prefix_injection = true` in
    /// the profile, the switch botocore and the other AWS SDKs read. Emulators and custom
    /// endpoints serve StartLiveTail on their own host, not on `stream-HOST`.
    pub async fn host_prefix_disabled(&self) -> bool {
        if let Some(v) = std::env::var_os("AWS_DISABLE_HOST_PREFIX_INJECTION") {
            return v.to_string_lossy().trim().eq_ignore_ascii_case("true");
        }
        let profiles = aws_config::profile::load(
            &aws_types::os_shim_internal::Fs::real(),
            &aws_types::os_shim_internal::Env::real(),
            &aws_runtime::env_config::file::EnvConfigFiles::default(),
            self.profile.clone().map(std::borrow::Cow::Owned),
        )
        .await;
        profiles.ok().is_some_and(|p| {
            p.get("disable_host_prefix_injection")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        })
    }
}

/// Leaves an operation's modelled host prefix (StartLiveTail's `stream-`) off the endpoint, for
/// [`AwsOptions::host_prefix_disabled`]. The Rust SDK has no switch for it: the operation's own
/// interceptor stores the prefix before execution, and this one, running later (before
/// serialization, before any attempt applies the endpoint), unsets it.
#[derive(Debug)]
pub(crate) struct NoHostPrefix;

impl aws_smithy_runtime_api::client::interceptors::Intercept for NoHostPrefix {
    fn name(&self) -> &'static str {
        "NoHostPrefix"
    }

    fn modify_before_serialization(
        &self,
        _: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextMut<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        cfg.interceptor_state()
            .unset::<aws_smithy_runtime_api::client::endpoint::EndpointPrefix>();
        Ok(())
    }
}

/// An EC2 client (`Retry-After` honoured).
pub(crate) fn ec2_client(config: &SdkConfig) -> aws_sdk_ec2::Client {
    let ec2 = aws_sdk_ec2::config::Builder::from(config)
        .retry_classifier(RetryAfter)
        .build();
    aws_sdk_ec2::Client::from_conf(ec2)
}

/// An RDS client (`Retry-After` honoured).
pub(crate) fn rds_client(config: &SdkConfig) -> aws_sdk_rds::Client {
    let rds = aws_sdk_rds::config::Builder::from(config)
        .retry_classifier(RetryAfter)
        .build();
    aws_sdk_rds::Client::from_conf(rds)
}

/// The delay a `Retry-After: SECONDS` header asks for (an HTTP date is not honoured: AWS and
/// S3-compatible servers send seconds), at most [`MAX_BACKOFF`].
pub(crate) fn retry_after(headers: &aws_smithy_runtime_api::http::Headers) -> Option<Duration> {
    let secs: f64 = headers.get("retry-after")?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs).min(MAX_BACKOFF))
}

/// Attaches a server's `Retry-After` to a retry the SDK's own classifiers already decided on.
#[derive(Debug)]
struct RetryAfter;

impl ClassifyRetry for RetryAfter {
    fn classify_retry(&self, _: &InterceptorContext) -> RetryAction {
        RetryAction::NoActionIndicated
    }

    fn classify_retry_v2(&self, ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        let RetryAction::RetryIndicated(RetryReason::RetryableError { kind, .. }) = previous else {
            return RetryAction::NoActionIndicated;
        };
        match ctx.response().and_then(|r| retry_after(r.headers())) {
            Some(delay) => RetryAction::retryable_error_with_explicit_delay(*kind, delay),
            None => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "Retry-After"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}
