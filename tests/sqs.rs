//! `tail --sqs-queue`: following a bucket through S3 notifications, against moto's S3 sending
//! real `ObjectCreated` notifications to moto's SQS (set up with boto3, which moto brings).

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{
    Moto, command, path_str as path, python, stderr, stdout, testdata, vpcflow_env,
};

/// boto3 against `moto`, with `script` after the clients `s3` and `sqs` are made.
fn boto(moto: &Moto, script: &str) -> String {
    python(&format!(
        r#"
import boto3, gzip, json, pathlib
kw = dict(endpoint_url={url:?}, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
s3 = boto3.client("s3", **kw)
sqs = boto3.client("sqs", **kw)
{script}
"#,
        url = moto.url
    ))
}

fn scenario_objects() -> Vec<std::path::PathBuf> {
    let mut files = crate::common::files_under(&testdata("rds-sg-patterns/s3"));
    files.sort();
    files
}

fn key_of(file: &std::path::Path) -> String {
    let root = testdata("rds-sg-patterns/s3");
    file.strip_prefix(root)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn upload(moto: &Moto, files: &[std::path::PathBuf]) {
    let list: Vec<(String, String)> = files
        .iter()
        .map(|f| (key_of(f), path(f).to_owned()))
        .collect();
    boto(
        moto,
        &format!(
            "for key, file in {}:\n    s3.put_object(Bucket='flows', Key=key, Body=open(file, 'rb').read())",
            serde_json::to_string(&list).unwrap()
        ),
    );
}

fn tail_args<'a>(queue: &'a str, checkpoint: &'a str, duration: &'a str) -> Vec<&'a str> {
    vec![
        "tail",
        "--sqs-queue",
        queue,
        "--endpoints",
        "testdata/rds-sg-patterns/endpoints.toml",
        "--checkpoint",
        checkpoint,
        "--duration",
        duration,
        "--sqs-visibility",
        "3",
    ]
}

/// Objects uploaded while the tail runs are counted; the tail is killed with -9 while it reads
/// a large object, resumed, and sent duplicate notifications (wrapped by SNS and shaped as
/// EventBridge's). At the end every object is counted exactly once, the verdicts equal a batch
/// `verdict` over the bucket, and the queue is empty. A notification for a key that is gone,
/// and a message that is no notification, are reported and deleted.
#[test]
fn a_bucket_followed_through_sqs_counts_each_object_once_across_a_kill() {
    let moto = Moto::start();
    let env = moto.env();
    let queue = boto(
        &moto,
        r#"
s3.create_bucket(Bucket="flows")
url = sqs.create_queue(QueueName="notes")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
s3.put_bucket_notification_configuration(Bucket="flows", NotificationConfiguration={
    "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
print(url)
"#,
    );
    let queue = queue.trim().to_owned();
    let objects = scenario_objects();
    assert_eq!(objects.len(), 4);
    upload(&moto, &objects[..2]);
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = dir.path().join("tail.ckpt");
    let ck = path(&checkpoint).to_owned();

    // First run: killed with -9 once it has committed something and is reading on.
    let mut child = command()
        .args(tail_args(&queue, &ck, "120s"))
        .current_dir(crate::common::root())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !checkpoint.exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        checkpoint.exists(),
        "the first run never wrote its checkpoint"
    );
    // Then a large object (the 09:10 object's records 20,000 times over) that takes a while to read.
    boto(
        &moto,
        &format!(
            r#"
text = gzip.decompress(open({first:?}, "rb").read()).decode()
header, *lines = text.splitlines()
body = header + "\n" + "\n".join(lines * 20000) + "\n"
s3.put_object(Bucket="flows", Key="AWSLogs/123456789012/vpcflowlogs/ap-northeast-1/2026/11/20/big.log.gz", Body=gzip.compress(body.encode()))
"#,
            first = path(&objects[3])
        ),
    );
    upload(&moto, &objects[2..]);
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();

    // Duplicate notifications of an object already uploaded: SNS-wrapped and EventBridge's.
    let (k0, k1) = (key_of(&objects[0]), key_of(&objects[1]));
    boto(
        &moto,
        &format!(
            r#"
url = {queue:?}
e0 = s3.head_object(Bucket="flows", Key={k0:?})["ETag"].strip('"')
e1 = s3.head_object(Bucket="flows", Key={k1:?})["ETag"].strip('"')
event = {{"Records": [{{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
    "s3": {{"bucket": {{"name": "flows"}}, "object": {{"key": {k0:?}, "size": 1, "eTag": e0}}}}}}]}}
sqs.send_message(QueueUrl=url, MessageBody=json.dumps({{"Type": "Notification", "Message": json.dumps(event)}}))
sqs.send_message(QueueUrl=url, MessageBody=json.dumps({{"detail-type": "Object Created", "source": "aws.s3",
    "detail": {{"bucket": {{"name": "flows"}}, "object": {{"key": {k1:?}, "size": 1, "etag": e1}}}}}}))
# A notification for a key that is gone, and a message that is no notification at all.
gone = {{"Records": [{{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
    "s3": {{"bucket": {{"name": "flows"}}, "object": {{"key": "AWSLogs/gone.log.gz", "size": 1, "eTag": "0f"}}}}}}]}}
sqs.send_message(QueueUrl=url, MessageBody=json.dumps(gone))
sqs.send_message(QueueUrl=url, MessageBody="hello")
"#
        ),
    );

    // Resumed: reads what is left, drops the duplicates, and ends.
    let cmd = tail_args(&queue, &ck, "20s");
    let mut with_columns = env.clone();
    with_columns.push(("COLUMNS", "200".into()));
    let resumed = vpcflow_env(&cmd, &with_columns);
    let err = stderr(&resumed);
    assert_eq!(resumed.status.code(), Some(1), "{err}");

    // A batch verdict over the bucket: the same table.
    let batch = vpcflow_env(
        &[
            "verdict",
            "--endpoints",
            "testdata/rds-sg-patterns/endpoints.toml",
            "s3://flows/AWSLogs/",
        ],
        &with_columns,
    );
    assert_eq!(batch.status.code(), Some(1), "{}", stderr(&batch));
    assert_eq!(stdout(&resumed), stdout(&batch), "{err}");

    // Every object counted once: 5 objects, and exactly the records the bucket holds.
    let parsed = vpcflow_env(&["parse", "-o", "summary", "s3://flows/AWSLogs/"], &env);
    let records: u64 = stdout(&parsed)
        .lines()
        .find_map(|l| l.strip_prefix("records"))
        .map(|v| v.trim().replace(',', "").parse().unwrap())
        .unwrap_or_else(|| panic!("{}", stdout(&parsed)));
    assert!(records > 50_000, "{records}");
    assert!(
        err.contains(&format!("SQS: 5 objects counted ({records} records)")),
        "{err}"
    );
    let duplicates: u64 = err
        .split(" duplicate notifications")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(duplicates >= 2, "{err}");
    assert!(
        err.contains("warning: s3://flows/AWSLogs/gone.log.gz: not counted"),
        "{err}"
    );
    assert!(err.contains("not JSON"), "{err}");
    assert!(
        err.contains(", 1 unreadable objects (deleted), 0 left on the queue"),
        "{err}"
    );

    // Nothing is left on the queue.
    let left = boto(
        &moto,
        &format!(
            r#"
a = sqs.get_queue_attributes(QueueUrl={queue:?}, AttributeNames=["All"])["Attributes"]
print(a["ApproximateNumberOfMessages"], a["ApproximateNumberOfMessagesNotVisible"])
"#
        ),
    );
    assert_eq!(left.trim(), "0 0", "{err}");
}
