//! Archive shapes that carry flow-log records inside something else, recognised by content and
//! unwrapped into plain record lines before the decoder sees them:
//!
//! - **CloudWatch Logs exports** (CreateExportTask, `PREFIX/TASK/STREAM/000000.gz`): one event per
//!   line, each line starting with the event's time, `2023-11-14T22:13:20.123Z `, and then the
//!   message. The time is dropped; a line without it (a continuation) passes as it is.
//! - **JSON documents**, back to back with or without whitespace between them (as Firehose
//!   concatenates records), each either
//!   - a CloudWatch Logs subscription payload, `{"messageType":"DATA_MESSAGE","logEvents":
//!     [{"id","timestamp","message"}, …], …}`: each event's `message` is a line; a
//!     `CONTROL_MESSAGE` (or any other type) is skipped whole; or
//!   - a record of flow logs delivered straight to Firehose, `{"message":"2 123456789012 …"}`.
//!
//! Anything else is plain text and passes through untouched. For the JSON shapes a "line" in
//! reports is the event's place in the object (first event of the first document = line 1).

use std::io::{self, BufRead, Read};

use serde::Deserialize;

/// The shape of a source's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Record lines.
    Plain,
    /// A CloudWatch Logs export object.
    CloudWatchExport,
    /// Subscription payloads or Firehose records (JSON documents).
    Json,
}

impl Shape {
    /// The shape of text that starts with `head` (a few hundred bytes are plenty).
    pub fn sniff(head: &[u8]) -> Shape {
        let trimmed = head.trim_ascii_start();
        if trimmed.first() == Some(&b'{') {
            Shape::Json
        } else if timestamp_prefix(head).is_some() {
            Shape::CloudWatchExport
        } else {
            Shape::Plain
        }
    }
}

/// The length of a leading `YYYY-MM-DDTHH:MM:SS[.fff]Z ` (the space included), if `line` has
/// one.
fn timestamp_prefix(line: &[u8]) -> Option<usize> {
    const PATTERN: &[u8] = b"dddd-dd-ddTdd:dd:dd";
    if line.len() < PATTERN.len() + 2 {
        return None;
    }
    for (i, &p) in PATTERN.iter().enumerate() {
        let ok = match p {
            b'd' => line[i].is_ascii_digit(),
            other => line[i] == other,
        };
        if !ok {
            return None;
        }
    }
    let mut at = PATTERN.len();
    if line[at] == b'.' {
        at += 1;
        while at < line.len() && line[at].is_ascii_digit() {
            at += 1;
        }
    }
    (line.get(at) == Some(&b'Z') && line.get(at + 1) == Some(&b' ')).then_some(at + 2)
}

/// Unwraps `inner` according to its shape, decided on its first bytes when they are first read
/// (so that an error reading them surfaces where the decoder reads, with its position).
pub(crate) struct Shaped {
    state: State,
    /// An error met after some lines of a chunk: given after those lines.
    pending: Option<io::Error>,
    /// Unwrapped lines not yet read.
    buf: Vec<u8>,
    pos: usize,
}

enum State {
    Unknown(Box<dyn BufRead + Send>),
    Plain(Box<dyn BufRead + Send>),
    Export(Box<dyn BufRead + Send>),
    Json(
        Box<
            serde_json::StreamDeserializer<
                'static,
                serde_json::de::IoRead<Box<dyn BufRead + Send>>,
                Document,
            >,
        >,
    ),
    Done,
}

/// One JSON document of either kind; other keys are ignored.
#[derive(Deserialize)]
struct Document {
    #[serde(rename = "messageType")]
    message_type: Option<String>,
    #[serde(rename = "logEvents", default)]
    log_events: Vec<Event>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Event {
    message: String,
}

/// Unwrapped text is produced about this much at a time.
const CHUNK: usize = 64 * 1024;

impl Shaped {
    pub(crate) fn new(inner: Box<dyn BufRead + Send>) -> Shaped {
        Shaped {
            state: State::Unknown(inner),
            pending: None,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Decides the shape on the first bytes.
    fn sniff(&mut self) -> io::Result<()> {
        let mut inner = match std::mem::replace(&mut self.state, State::Done) {
            State::Unknown(inner) => inner,
            decided => {
                self.state = decided;
                return Ok(());
            }
        };
        let shape = match inner.fill_buf() {
            Ok(head) => Shape::sniff(head),
            Err(e) => {
                self.state = State::Unknown(inner);
                return Err(e);
            }
        };
        self.state = match shape {
            Shape::Plain => State::Plain(inner),
            Shape::CloudWatchExport => State::Export(inner),
            Shape::Json => State::Json(Box::new(
                serde_json::Deserializer::from_reader(inner).into_iter::<Document>(),
            )),
        };
        Ok(())
    }

    /// Refills `buf` with the next unwrapped lines; leaves it empty at the end. An error comes
    /// after the lines before it.
    fn refill(&mut self) -> io::Result<()> {
        self.buf.clear();
        self.pos = 0;
        if let Some(e) = self.pending.take() {
            self.state = State::Done;
            return Err(e);
        }
        if let Err(e) = self.unwrap_chunk() {
            if self.buf.is_empty() {
                self.state = State::Done;
                return Err(e);
            }
            self.pending = Some(e);
        }
        Ok(())
    }

    /// Appends about a chunk of unwrapped lines to `buf`.
    fn unwrap_chunk(&mut self) -> io::Result<()> {
        match &mut self.state {
            State::Export(inner) => {
                let mut line = Vec::new();
                while self.buf.len() < CHUNK {
                    line.clear();
                    if inner.read_until(b'\n', &mut line)? == 0 {
                        break;
                    }
                    let skip = timestamp_prefix(&line).unwrap_or(0);
                    self.buf.extend_from_slice(&line[skip..]);
                    if !line.ends_with(b"\n") {
                        self.buf.push(b'\n');
                    }
                }
            }
            State::Json(documents) => {
                while self.buf.len() < CHUNK {
                    let Some(document) = documents.next() else {
                        break;
                    };
                    let document = document.map_err(|e| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "not a CloudWatch Logs subscription payload or a Firehose \
                                 flow-log record: {e}"
                            ),
                        )
                    })?;
                    match (document.message_type.as_deref(), document.message) {
                        (Some("DATA_MESSAGE"), _) => {
                            for event in document.log_events {
                                self.buf
                                    .extend_from_slice(event.message.trim_end().as_bytes());
                                self.buf.push(b'\n');
                            }
                        }
                        // CONTROL_MESSAGE, and any type to come: not flow logs.
                        (Some(_), _) => {}
                        (None, Some(message)) => {
                            self.buf.extend_from_slice(message.trim_end().as_bytes());
                            self.buf.push(b'\n');
                        }
                        (None, None) => {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "a JSON document with neither `messageType` nor `message`: not \
                                 a CloudWatch Logs subscription payload or a Firehose flow-log \
                                 record",
                            ));
                        }
                    }
                }
            }
            State::Unknown(_) | State::Plain(_) | State::Done => {}
        }
        Ok(())
    }
}

impl Read for Shaped {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        crate::pipe::read_buffered(self, out)
    }
}

impl BufRead for Shaped {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.sniff()?;
        let plain = matches!(self.state, State::Plain(_));
        if !plain && self.pos >= self.buf.len() {
            self.refill()?;
        }
        match &mut self.state {
            State::Plain(inner) => inner.fill_buf(),
            _ => Ok(&self.buf[self.pos..]),
        }
    }

    fn consume(&mut self, n: usize) {
        if let State::Plain(inner) = &mut self.state {
            inner.consume(n);
        } else {
            self.pos += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unwrap(text: &[u8]) -> io::Result<String> {
        let mut out = String::new();
        Shaped::new(Box::new(io::Cursor::new(text.to_vec()))).read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn shapes_are_told_apart_by_content() {
        assert_eq!(Shape::sniff(b"2 123456789012 eni-1 "), Shape::Plain);
        assert_eq!(Shape::sniff(b"version account-id"), Shape::Plain);
        assert_eq!(
            Shape::sniff(b"2023-11-14T22:13:20.123Z 2 1"),
            Shape::CloudWatchExport
        );
        assert_eq!(
            Shape::sniff(b"2023-11-14T22:13:20Z 2 1"),
            Shape::CloudWatchExport
        );
        assert_eq!(Shape::sniff(b"2023-11-14 22:13:20 2"), Shape::Plain);
        assert_eq!(Shape::sniff(b"  {\"messageType\""), Shape::Json);
    }

    #[test]
    fn plain_text_passes_through_untouched() {
        let text = b"version srcaddr\n2 10.0.0.1\n".repeat(5000);
        assert_eq!(unwrap(&text).unwrap().as_bytes(), &text[..]);
    }

    #[test]
    fn export_lines_lose_their_timestamps() {
        let text =
            b"2023-11-14T22:13:20.123Z 2 a REJECT OK\n2023-11-14T22:13:21.000Z 2 b ACCEPT OK";
        assert_eq!(unwrap(text).unwrap(), "2 a REJECT OK\n2 b ACCEPT OK\n");
    }

    #[test]
    fn concatenated_payloads_give_their_events_and_skip_control_messages() {
        let text = br#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}{"owner":"1","logGroup":"g","logStream":"s","messageType":"DATA_MESSAGE","logEvents":[{"id":"3195","timestamp":1432826855000,"message":"2 a"},{"id":7,"timestamp":2,"message":"2 b"}]}
{"message":"2 c"}{"message":"2 d"}"#;
        assert_eq!(unwrap(text).unwrap(), "2 a\n2 b\n2 c\n2 d\n");
    }

    #[test]
    fn a_broken_document_is_an_error_after_the_lines_before_it() {
        let mut shaped = Shaped::new(Box::new(io::Cursor::new(
            br#"{"message":"2 a"}{"message":"#.to_vec(),
        )));
        let mut line = String::new();
        shaped.read_line(&mut line).unwrap();
        assert_eq!(line, "2 a\n");
        let error = shaped.read_line(&mut line).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("not a CloudWatch Logs subscription"),
            "{error}"
        );
        assert!(unwrap(br#"{"other":1}"#).is_err());
    }
}
