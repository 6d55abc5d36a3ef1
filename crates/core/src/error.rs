//! Errors, and the malformed-line reports the decoder keeps.
//!
//! [`Error`] is one pointer wide (`Box<ErrorKind>`), so `Result<T, Error>` stays small on the
//! hot path. [`ErrorKind`] is `#[non_exhaustive]` and callers match on it; positions are data
//! ([`Position`]), never baked into strings.

use std::fmt;
use std::sync::Arc;

/// Where in a source something happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    /// The source's name (a path, an S3 key, `<stdin>`), as given to the decoder.
    pub source: Arc<str>,
    /// The 1-based line number.
    pub line: u64,
    /// The byte offset of the line's first byte in the (decompressed) source.
    pub byte: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.line)
    }
}

/// Why a line could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// The line has a different number of fields than the format.
    FieldCount {
        /// Fields in the format.
        expected: usize,
        /// Fields on the line.
        found: usize,
    },
    /// A field that must be an unsigned integer is not one.
    BadInteger {
        /// The field's name.
        field: Arc<str>,
    },
    /// An integer field is larger than its type admits.
    IntegerOverflow {
        /// The field's name.
        field: Arc<str>,
    },
    /// A field that must be an IPv4 or IPv6 address is not one.
    BadAddress {
        /// The field's name.
        field: Arc<str>,
    },
    /// A text field is not valid UTF-8.
    BadUtf8 {
        /// The field's name.
        field: Arc<str>,
    },
    /// The line is longer than the decoder's limit; it was skipped unread.
    LineTooLong {
        /// The configured limit in bytes.
        limit: usize,
    },
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::FieldCount { expected, found } => {
                write!(f, "expected {expected} fields, found {found}")
            }
            Malformed::BadInteger { field } => {
                write!(f, "field `{field}` is not an unsigned integer or `-`")
            }
            Malformed::IntegerOverflow { field } => {
                write!(f, "field `{field}` is too large for its type")
            }
            Malformed::BadAddress { field } => {
                write!(f, "field `{field}` is not an IPv4 or IPv6 address or `-`")
            }
            Malformed::BadUtf8 { field } => write!(f, "field `{field}` is not valid UTF-8"),
            Malformed::LineTooLong { limit } => {
                write!(f, "line is longer than {limit} bytes; skipped")
            }
        }
    }
}

/// One malformed line: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MalformedLine {
    /// Where the line starts.
    pub position: Position,
    /// What was wrong with it.
    pub reason: Malformed,
}

impl fmt::Display for MalformedLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.position, self.reason)
    }
}

/// The kinds of error vpcflow's core reports.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A `--log-format` string could not be parsed.
    FormatSyntax {
        /// The format string as given.
        format: String,
        /// The byte offset where parsing stopped.
        offset: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// A format names a field vpcflow does not know, and unknown fields are refused (`--strict`).
    UnknownField {
        /// The unknown name.
        name: String,
    },
    /// A format names the same field twice.
    DuplicateField {
        /// The repeated name.
        name: String,
    },
    /// A format has no field at all.
    EmptyFormat,
    /// A malformed line, in strict mode.
    Malformed(MalformedLine),
    /// A header line that names other fields than the format in force, inside a part of a
    /// file decoded in parallel with the others (see [`crate::Decoder::begin_part`]): the parts
    /// after it would have been decoded with the wrong format.
    FormatChanged {
        /// Where the header line is (`byte` is exact; `line` counts within the part).
        position: Position,
    },
    /// Reading the source failed (a truncated gzip stream, a dropped connection). Everything
    /// decoded before `position` was delivered.
    Io {
        /// How far decoding got: the line being read when the error came.
        position: Position,
        /// Records decoded from this source before the error.
        records: u64,
        /// The underlying error.
        error: std::io::Error,
    },
}

/// An error from vpcflow's core.
#[derive(Debug)]
pub struct Error(Box<ErrorKind>);

impl Error {
    /// Wraps a kind.
    pub fn new(kind: ErrorKind) -> Error {
        Error(Box::new(kind))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// Unwraps into the kind.
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }

    /// Where in the input the error happened, for errors tied to a line.
    pub fn position(&self) -> Option<&Position> {
        match &*self.0 {
            ErrorKind::Malformed(line) => Some(&line.position),
            ErrorKind::Io { position, .. } | ErrorKind::FormatChanged { position } => {
                Some(position)
            }
            _ => None,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            ErrorKind::FormatSyntax {
                format,
                offset,
                expected,
            } => write!(
                f,
                "cannot parse log format at byte {offset}: expected {expected} in {format:?} \
                 (write fields as `${{field}}` separated by spaces, as AWS does)"
            ),
            ErrorKind::UnknownField { name } => write!(
                f,
                "unknown flow-log field `{name}` (run without --strict to read it as a text column)"
            ),
            ErrorKind::DuplicateField { name } => {
                write!(f, "the log format names field `{name}` twice")
            }
            ErrorKind::EmptyFormat => write!(f, "the log format names no field"),
            ErrorKind::Malformed(line) => {
                write!(
                    f,
                    "malformed line {line} (run without --strict to skip such lines)"
                )
            }
            ErrorKind::FormatChanged { position } => write!(
                f,
                "{}: the header line at byte {} changes the log format; a file whose format \
                 changes midway cannot be split across threads: run with --threads 1",
                position.source, position.byte
            ),
            ErrorKind::Io {
                position,
                records,
                error,
            } => write!(
                f,
                "reading {} failed at line {} (byte {} of the decompressed stream) after \
                 {records} records: {error}",
                position.source, position.line, position.byte
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.0 {
            ErrorKind::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A result with vpcflow's core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
