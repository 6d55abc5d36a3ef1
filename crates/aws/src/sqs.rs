//! Following a bucket: S3 `ObjectCreated` notifications received from an SQS queue.
//!
//! [`parse_body`] reads the three shapes a notification reaches a queue in: S3's event JSON sent
//! straight to the queue, the same wrapped in an SNS envelope (`"Type": "Notification"`), and
//! EventBridge's `"Object Created"` event. [`Queue`] long-polls, deletes and extends messages.

use aws_sdk_sqs::Client;

use crate::S3Object;
use crate::error::{AwsError, classify};

/// One new object a notification names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The object (its ETag quoted, as S3 returns it).
    pub object: S3Object,
    /// S3's `sequencer` for the key, when the notification has one.
    pub sequencer: Option<String>,
}

/// What a message says.
#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    /// New objects.
    Created(Vec<Notice>),
    /// Nothing to read: S3's test event, or another kind of event (why, in words).
    Ignored(String),
}

/// Orders two sequencers of one key, as S3 documents: the shorter is left-padded with zeros,
/// then the two compare as text.
pub fn sequencer_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let width = a.len().max(b.len());
    format!("{a:0>width$}").cmp(&format!("{b:0>width$}"))
}

/// Undoes the URL encoding of keys in S3 event notifications (`+` is a space).
fn decode_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn quoted(etag: &str) -> String {
    format!("\"{}\"", etag.trim_matches('"'))
}

fn text<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

fn size(v: &serde_json::Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0)
}

/// Reads a message body. An error says why it is not a notification vpcflow knows.
pub fn parse_body(body: &str) -> Result<Body, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    // SNS: the notification is the envelope's Message, as text.
    if v.get("Type").and_then(|t| t.as_str()) == Some("Notification")
        && let Some(inner) = v.get("Message").and_then(|m| m.as_str())
    {
        return parse_body(inner);
    }
    if v.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        return Ok(Body::Ignored("S3's test event".into()));
    }
    // EventBridge.
    if let Some(kind) = v.get("detail-type").and_then(|d| d.as_str()) {
        if kind != "Object Created" {
            return Ok(Body::Ignored(format!("an EventBridge {kind:?} event")));
        }
        let d = &v["detail"];
        let (Some(bucket), Some(key)) = (text(d, &["bucket", "name"]), text(d, &["object", "key"]))
        else {
            return Err("an EventBridge Object Created event without bucket and key".into());
        };
        return Ok(Body::Created(vec![Notice {
            object: S3Object {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                etag: quoted(text(d, &["object", "etag"]).unwrap_or_default()),
                size: size(&d["object"]["size"]),
            },
            sequencer: text(d, &["object", "sequencer"]).map(str::to_owned),
        }]));
    }
    let Some(records) = v.get("Records").and_then(|r| r.as_array()) else {
        return Err("neither an S3 event, an SNS notification nor an EventBridge event".into());
    };
    let mut notices = Vec::new();
    let mut other = None;
    for r in records {
        let name = text(r, &["eventName"]).unwrap_or_default();
        if !name.starts_with("ObjectCreated:") {
            other = Some(name.to_owned());
            continue;
        }
        let (Some(bucket), Some(key)) = (
            text(r, &["s3", "bucket", "name"]),
            text(r, &["s3", "object", "key"]),
        ) else {
            return Err("an S3 event record without bucket and key".into());
        };
        notices.push(Notice {
            object: S3Object {
                bucket: bucket.to_owned(),
                key: decode_key(key),
                etag: quoted(text(r, &["s3", "object", "eTag"]).unwrap_or_default()),
                size: size(&r["s3"]["object"]["size"]),
            },
            sequencer: text(r, &["s3", "object", "sequencer"]).map(str::to_owned),
        });
    }
    Ok(match (notices.is_empty(), other) {
        (true, Some(name)) => Body::Ignored(format!("an S3 {name} event")),
        (true, None) => Body::Ignored("an S3 event with no records".into()),
        (false, _) => Body::Created(notices),
    })
}

/// A received message.
#[derive(Clone, Debug)]
pub struct Message {
    /// The message id.
    pub id: String,
    /// What deletes it or extends its visibility.
    pub receipt: String,
    /// Its body.
    pub body: String,
}

/// An SQS queue, by URL.
#[derive(Clone, Debug)]
pub struct Queue {
    client: Client,
    url: String,
}

impl Queue {
    /// The queue at `url`.
    pub fn new(client: Client, url: &str) -> Queue {
        Queue {
            client,
            url: url.to_owned(),
        }
    }

    fn failed<E, R>(
        &self,
        operation: &'static str,
        e: &aws_sdk_sqs::error::SdkError<E, R>,
    ) -> AwsError
    where
        E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let c = classify(e);
        match c.code {
            Some("AccessDenied") | Some("AccessDeniedException") => AwsError::AccessDenied {
                operation,
                resource: self.url.clone(),
                needs: match operation {
                    "ReceiveMessage" => "sqs:ReceiveMessage",
                    "DeleteMessageBatch" => "sqs:DeleteMessage",
                    _ => "sqs:ChangeMessageVisibility",
                },
            },
            Some("AWS.SimpleQueueService.NonExistentQueue") | Some("QueueDoesNotExist") => {
                AwsError::NotFound {
                    operation,
                    what: format!("{}: no such queue", self.url),
                }
            }
            _ => c.other(operation, self.url.clone(), None, 1),
        }
    }

    /// Up to 10 messages, waiting up to `wait` seconds for one (long polling), hidden from
    /// other receivers for `visibility` seconds.
    pub async fn receive(&self, wait: i32, visibility: i32) -> Result<Vec<Message>, AwsError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait)
            .visibility_timeout(visibility)
            .send()
            .await
            .map_err(|e| self.failed("ReceiveMessage", &e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(Message {
                    id: m.message_id()?.to_owned(),
                    receipt: m.receipt_handle()?.to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    /// Deletes messages, ten per call. Returns how many SQS would not delete.
    pub async fn delete(&self, messages: &[&Message]) -> Result<usize, AwsError> {
        let mut failed = 0;
        for chunk in messages.chunks(10) {
            let mut call = self.client.delete_message_batch().queue_url(&self.url);
            for (i, m) in chunk.iter().enumerate() {
                call = call.entries(
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&m.receipt)
                        .build()
                        .map_err(|e| AwsError::Failed {
                            operation: "DeleteMessageBatch",
                            resource: self.url.clone(),
                            message: e.to_string(),
                            hint: None,
                        })?,
                );
            }
            let out = call
                .send()
                .await
                .map_err(|e| self.failed("DeleteMessageBatch", &e))?;
            failed += out.failed().len();
        }
        Ok(failed)
    }

    /// Keeps `messages` hidden for `visibility` more seconds (while their objects are read).
    pub async fn extend(&self, messages: &[Message], visibility: i32) -> Result<(), AwsError> {
        for m in messages {
            self.client
                .change_message_visibility()
                .queue_url(&self.url)
                .receipt_handle(&m.receipt)
                .visibility_timeout(visibility)
                .send()
                .await
                .map_err(|e| self.failed("ChangeMessageVisibility", &e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S3_EVENT: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"flows"},"object":{"key":"AWSLogs/1/vpcflowlogs/us-east-1/2026/11/20/a+b%3Dc.log.gz","size":532,"eTag":"0123abcd","sequencer":"0066A1B2C3"}}}]}"#;

    fn created(body: &str) -> Vec<Notice> {
        match parse_body(body).unwrap() {
            Body::Created(n) => n,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_three_shapes_name_the_same_object() {
        let direct = created(S3_EVENT);
        assert_eq!(direct.len(), 1);
        let o = &direct[0].object;
        assert_eq!(o.bucket, "flows");
        assert_eq!(
            o.key,
            "AWSLogs/1/vpcflowlogs/us-east-1/2026/11/20/a b=c.log.gz"
        );
        assert_eq!(o.etag, "\"0123abcd\"");
        assert_eq!(o.size, 532);
        assert_eq!(direct[0].sequencer.as_deref(), Some("0066A1B2C3"));
        let sns =
            serde_json::json!({"Type": "Notification", "MessageId": "m", "Message": S3_EVENT});
        assert_eq!(created(&sns.to_string()), direct);
        let eb = serde_json::json!({
            "version": "0", "detail-type": "Object Created", "source": "aws.s3",
            "detail": {"bucket": {"name": "flows"}, "object": {
                "key": "AWSLogs/1/vpcflowlogs/us-east-1/2026/11/20/a b=c.log.gz",
                "size": 532, "etag": "0123abcd", "sequencer": "0066A1B2C3"}}});
        assert_eq!(created(&eb.to_string()), direct);
    }

    #[test]
    fn test_events_and_other_kinds_are_ignored_and_junk_is_an_error() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"t","Bucket":"flows"}"#;
        assert!(matches!(parse_body(test), Ok(Body::Ignored(_))));
        let removed = S3_EVENT.replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert_eq!(
            parse_body(&removed),
            Ok(Body::Ignored("an S3 ObjectRemoved:Delete event".into()))
        );
        let eb = r#"{"detail-type":"Object Deleted","detail":{}}"#;
        assert!(matches!(parse_body(eb), Ok(Body::Ignored(_))));
        assert!(parse_body("not json").unwrap_err().starts_with("not JSON"));
        assert!(parse_body("{}").is_err());
        assert!(parse_body(r#"{"Records":[{"eventName":"ObjectCreated:Put"}]}"#).is_err());
        assert_eq!(decode_key("a%"), "a%");
        assert_eq!(decode_key("%zz%41"), "%zzA");
        // A multi-byte character after '%' is kept, never cut.
        assert_eq!(decode_key("%\u{e9}%C3%A9"), "%\u{e9}\u{e9}");
    }

    #[test]
    fn sequencers_compare_after_left_padding() {
        use std::cmp::Ordering::*;
        assert_eq!(sequencer_cmp("0A", "A"), Equal);
        assert_eq!(sequencer_cmp("FF", "100"), Less);
        assert_eq!(sequencer_cmp("0066A1B2C4", "0066A1B2C3"), Greater);
    }
}
