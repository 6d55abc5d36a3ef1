//! What reading a source gave, and why a source or a run stopped: the types every module of
//! this crate (and every source elsewhere, such as S3) reports with.

use std::fmt;
use std::io;

use vpcflow_core::{LogFormat, MalformedLine};

use crate::open::Compression;

/// Why a source was not read to its end. Every record decoded before it was delivered.
#[derive(Debug)]
#[non_exhaustive]
pub enum SourceError {
    /// The source could not be opened.
    Open {
        /// The source's name.
        name: String,
        /// Why.
        error: io::Error,
    },
    /// The source broke midway: a truncated gzip stream, a dropped connection.
    Broken {
        /// The decoder's error: where it got to, and how many records it had decoded.
        error: vpcflow_core::Error,
        /// Compressed bytes read before the break (gzip sources).
        compressed: Option<u64>,
    },
    /// A Parquet file that cannot be read (or that made the Parquet reader fail).
    Parquet {
        /// The source's name.
        name: String,
        /// What the Parquet reader said.
        message: String,
    },
    /// A source whose fields or values vpcflow cannot read as flow logs.
    Format {
        /// The source's name.
        name: String,
        /// What is wrong, in a sentence.
        message: String,
    },
    /// A remote source (an S3 object, say) that could not be fetched.
    Remote(Box<dyn std::error::Error + Send + Sync>),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Open { name, error } => write!(f, "cannot open {name}: {error}"),
            SourceError::Broken {
                error,
                compressed: Some(raw),
            } => write!(f, "{error} (after {raw} compressed bytes)"),
            SourceError::Broken {
                error,
                compressed: None,
            } => error.fmt(f),
            SourceError::Parquet { name, message } => {
                write!(f, "cannot read Parquet file {name}: {message}")
            }
            SourceError::Format { name, message } => write!(f, "{name}: {message}"),
            SourceError::Remote(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SourceError::Open { error, .. } => Some(error),
            SourceError::Broken { error, .. } => error.source(),
            SourceError::Remote(e) => e.source(),
            SourceError::Parquet { .. } | SourceError::Format { .. } => None,
        }
    }
}

/// What one source gave.
#[derive(Debug, Default)]
pub struct SourceReport {
    /// The source's name.
    pub name: String,
    /// How it was stored (`None` for Parquet, or when it could not be opened).
    pub compression: Option<Compression>,
    /// Records decoded.
    pub records: u64,
    /// Bytes decoded (after decompression).
    pub bytes: u64,
    /// Bytes read from storage (before decompression).
    pub raw_bytes: u64,
    /// Lines read (records, headers, blank and malformed lines).
    pub lines: u64,
    /// Parts the source was split into for threads to share (0 or 1: read whole).
    pub parts: usize,
    /// Malformed lines skipped.
    pub malformed: u64,
    /// Records filter-first skipped undecoded ([`vpcflow_core::DecoderOptions::ports`]).
    pub filtered: u64,
    /// The first malformed lines, with positions.
    pub malformed_lines: Vec<MalformedLine>,
    /// Field names the source's format used that vpcflow does not know (read as text).
    pub unknown_fields: Vec<String>,
    /// The formats the source's records were decoded in (a header line can change it).
    pub formats: Vec<LogFormat>,
    /// Why the source was not read to its end (it could not be opened, or broke midway).
    pub error: Option<SourceError>,
}

impl SourceReport {
    /// A report of a source that failed before any record: `error` says why.
    pub fn failed(name: &str, error: SourceError) -> SourceReport {
        SourceReport {
            name: name.to_owned(),
            error: Some(error),
            ..SourceReport::default()
        }
    }
}

/// An error that stops a whole run.
#[derive(Debug)]
#[non_exhaustive]
pub enum RunError {
    /// A malformed line in strict mode, or another decode error.
    Decode(vpcflow_core::Error),
    /// The batch callback failed (writing the output, say).
    Output(io::Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Decode(e) => e.fmt(f),
            RunError::Output(e) => write!(f, "writing output failed: {e}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Display already shows the inner error; chain past it.
            RunError::Decode(e) => e.source(),
            RunError::Output(e) => e.source(),
        }
    }
}
