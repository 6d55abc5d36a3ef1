//! What went wrong talking to AWS, in words a user can act on.
//!
//! Every AWS call of this crate fails with an [`AwsError`]: which operation, on what, and what
//! to do about it. Messages are built here and nowhere else, so a caller never wraps one
//! sentence in another.

use std::fmt;
use std::time::Duration;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A failed AWS call.
#[derive(Debug)]
#[non_exhaustive]
pub enum AwsError {
    /// The bucket does not exist.
    NoSuchBucket {
        /// The bucket.
        bucket: String,
    },
    /// The credentials may not do this.
    AccessDenied {
        /// The operation (`ListObjectsV2`, `GetObject`, …).
        operation: &'static str,
        /// What it was called on (`s3://bucket/key`, a log group).
        resource: String,
        /// The permission it needs (`s3:GetObject`).
        needs: &'static str,
    },
    /// What the call names does not exist (an S3 key deleted after it was listed, a log group).
    NotFound {
        /// The operation.
        operation: &'static str,
        /// What is missing, and why that may be, in words (`s3://b/k: NoSuchKey (deleted after
        /// it was listed)`).
        what: String,
    },
    /// An S3 object was replaced after it was listed: its ETag changed.
    Replaced {
        /// `s3://bucket/key`.
        resource: String,
    },
    /// No answer within the timeout, after every retry.
    TimedOut {
        /// The operation.
        operation: &'static str,
        /// What it was called on.
        resource: String,
        /// The timeout of each attempt.
        after: Duration,
        /// Attempts made.
        attempts: u32,
    },
    /// Any other failure, as the SDK describes it.
    Failed {
        /// The operation.
        operation: &'static str,
        /// What it was called on.
        resource: String,
        /// The SDK's description, with its causes.
        message: String,
        /// A hint at what to do, if there is one.
        hint: Option<&'static str>,
    },
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AwsError::NoSuchBucket { bucket } => {
                write!(f, "s3://{bucket}: the bucket does not exist")
            }
            AwsError::AccessDenied {
                operation,
                resource,
                needs,
            } => write!(
                f,
                "{resource}: {operation} was denied (the credentials need {needs})"
            ),
            AwsError::NotFound { what, .. } => f.write_str(what),
            AwsError::Replaced { resource } => write!(
                f,
                "{resource}: replaced after it was listed (its ETag changed); run again to read \
                 the new object"
            ),
            AwsError::TimedOut {
                operation,
                resource,
                after,
                attempts,
            } => write!(
                f,
                "{resource}: {operation} got no answer within {} in {attempts} attempts; the \
                 endpoint is unreachable or stalled (raise --timeout if it is only slow)",
                seconds(*after)
            ),
            AwsError::Failed {
                operation,
                resource,
                message,
                hint,
            } => {
                write!(f, "{resource}: {operation} failed: {message}")?;
                if let Some(hint) = hint {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for AwsError {}

/// `1.5 s`, `30 s`: a timeout as a user wrote it.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

/// The pieces of an SDK error the classification needs.
pub(crate) struct Classified<'a> {
    /// The service's error code, if it gave one.
    pub code: Option<&'a str>,
    /// The SDK's description with its causes.
    pub message: String,
    /// Whether the call ran out of time (an attempt or the whole operation).
    pub timed_out: bool,
}

impl Classified<'_> {
    /// The error for a failure with no more specific meaning: a timeout, or the SDK's words.
    /// `attempt` and `attempts` are the limits the call ran under.
    pub fn other(
        self,
        operation: &'static str,
        resource: String,
        attempt: Option<Duration>,
        attempts: u32,
    ) -> AwsError {
        match attempt {
            Some(after) if self.timed_out => AwsError::TimedOut {
                operation,
                resource,
                after,
                attempts,
            },
            _ => AwsError::Failed {
                operation,
                resource,
                message: self.message,
                hint: None,
            },
        }
    }
}

/// Whether a call ran out of time: the attempt or operation timeout, or the HTTP client's read
/// or connect timeout (which fires first when it is set to the same value).
pub(crate) fn timed_out<E, R>(e: &SdkError<E, R>) -> bool {
    match e {
        SdkError::TimeoutError(_) => true,
        SdkError::DispatchFailure(d) => d.is_timeout(),
        _ => false,
    }
}

/// Reads what an SDK error says.
pub(crate) fn classify<E, R>(e: &SdkError<E, R>) -> Classified<'_>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    let code = match e {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    };
    Classified {
        code,
        message: aws_smithy_types::error::display::DisplayErrorContext(e).to_string(),
        timed_out: timed_out(e),
    }
}
