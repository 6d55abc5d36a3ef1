//! VPC flow-log records as OCSF 1.1.0 Network Activity events (class 4001), one JSON object per
//! line, following AWS's published mapping (the one Amazon Security Lake's VPC flow logs source
//! version 2 uses; `docs/formats.md`, "OCSF", has the table).
//!
//! Every field AWS maps goes where AWS puts it; everything else (sub-location, ECS fields,
//! `reject-reason`, fields vpcflow does not know) goes under `unmapped` with its name spelled
//! with underscores. Missing values (`-`) are left out rather than written as `"-"`, which OCSF's
//! address and port types do not admit. Records of a Transit Gateway flow log are refused: AWS
//! publishes no OCSF mapping for them.

use std::io::{self, Write};
use std::sync::{Arc, LazyLock};

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use serde_json::{Map, Value as Json, json};
use vpcflow_core::render::{ColumnReader, Value};

use crate::{BatchWriter, finish_buffered, flush_if_large};

/// The fields the mapping places besides the default format's; any other column goes under
/// `unmapped`.
const MAPPED: [&str; 13] = [
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
];

/// Whether the mapping places `name` (every field of the default format is placed).
fn mapped(name: &str) -> bool {
    vpcflow_core::field::DEFAULT_V2.contains(&name) || MAPPED.contains(&name)
}

/// Writes OCSF Network Activity events, one per line.
#[derive(Debug)]
pub struct OcsfWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> OcsfWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W) -> OcsfWriter<W> {
        OcsfWriter {
            out,
            buf: Vec::with_capacity(1 << 17),
        }
    }
}

/// One row's values by field name.
struct Row<'a> {
    names: &'a [String],
    columns: &'a [ColumnReader<'a>],
    row: usize,
}

impl<'a> Row<'a> {
    fn get(&self, name: &str) -> Option<Value<'a>> {
        let i = self.names.iter().position(|n| n == name)?;
        match self.columns[i].value(self.row) {
            Value::Null => None,
            Value::Str("-") => None,
            v => Some(v),
        }
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(|v| v.to_string())
    }

    fn int(&self, name: &str) -> Option<i128> {
        match self.get(name)? {
            Value::Int(v) => Some(v),
            _ => None,
        }
    }
}

/// Unix seconds as OCSF milliseconds, when they fit.
fn millis(secs: i128) -> Option<i64> {
    i64::try_from(secs).ok()?.checked_mul(1000)
}

fn rfc3339(secs: i128) -> Option<String> {
    jiff::Timestamp::from_second(i64::try_from(secs).ok()?)
        .ok()
        .map(|t| t.to_string())
}

/// The event of one record.
fn event(r: &Row<'_>) -> Json {
    let mut e = Map::new();
    let (activity, action, disposition) = match r.text("action").as_deref() {
        Some("ACCEPT") => ((6, "Traffic"), (1, "Allowed"), Some((1, "Allowed"))),
        Some("REJECT") => ((5, "Refuse"), (2, "Denied"), Some((2, "Blocked"))),
        _ => ((0, "Unknown"), (0, "Unknown"), None),
    };
    e.insert("activity_id".into(), json!(activity.0));
    e.insert("activity_name".into(), json!(activity.1));
    e.insert("action_id".into(), json!(action.0));
    e.insert("action".into(), json!(action.1));
    if let Some((id, name)) = disposition {
        e.insert("disposition_id".into(), json!(id));
        e.insert("disposition".into(), json!(name));
    }
    e.insert("category_uid".into(), json!(4));
    e.insert("category_name".into(), json!("Network Activity"));
    e.insert("class_uid".into(), json!(4001));
    e.insert("class_name".into(), json!("Network Activity"));
    e.insert("type_uid".into(), json!(400100 + activity.0));
    e.insert(
        "type_name".into(),
        json!(format!("Network Activity: {}", activity.1)),
    );
    e.insert("severity_id".into(), json!(1));
    e.insert("severity".into(), json!("Informational"));
    if let Some(status) = r.text("log-status") {
        e.insert("status_code".into(), json!(status));
    }

    let mut product = Map::new();
    product.insert("name".into(), json!("Amazon VPC"));
    product.insert("vendor_name".into(), json!("AWS"));
    product.insert("feature".into(), json!({"name": "Flowlogs"}));
    if let Some(v) = r.text("version") {
        product.insert("version".into(), json!(v));
    }
    e.insert(
        "metadata".into(),
        json!({
            "product": product,
            "profiles": ["cloud", "security_control", "datetime"],
            "version": "1.1.0",
        }),
    );

    let mut cloud = Map::new();
    cloud.insert("provider".into(), json!("AWS"));
    if let Some(a) = r.text("account-id") {
        cloud.insert("account".into(), json!({ "uid": a }));
    }
    if let Some(region) = r.text("region") {
        cloud.insert("region".into(), json!(region));
    }
    if let Some(zone) = r.text("az-id") {
        cloud.insert("zone".into(), json!(zone));
    }
    e.insert("cloud".into(), Json::Object(cloud));

    // Endpoints: the packet-level address when it differs, the other in intermediate_ips.
    let mut observables = Vec::new();
    let endpoint = |addr: &str,
                    pkt: &str,
                    port: &str,
                    svc: &str,
                    side: &str,
                    obs: &mut Vec<Json>| {
        let mut ep = Map::new();
        let (a, p) = (r.text(addr), r.text(pkt));
        match (&a, &p) {
            (Some(a), Some(p)) if a != p => {
                ep.insert("ip".into(), json!(p));
                ep.insert("intermediate_ips".into(), json!([a]));
                obs.push(json!({"name": format!("{side}.ip"), "type": "IP Address", "type_id": 2, "value": p}));
                obs.push(json!({"name": format!("{side}.intermediate_ips[]"), "type": "IP Address", "type_id": 2, "value": a}));
            }
            (Some(a), _) | (None, Some(a)) => {
                ep.insert("ip".into(), json!(a));
                obs.push(json!({"name": format!("{side}.ip"), "type": "IP Address", "type_id": 2, "value": a}));
            }
            (None, None) => {}
        }
        if let Some(port) = r.int(port) {
            ep.insert("port".into(), json!(port));
        }
        if let Some(s) = r.text(svc) {
            ep.insert("svc_name".into(), json!(s));
        }
        ep
    };
    let mut src = endpoint(
        "srcaddr",
        "pkt-srcaddr",
        "srcport",
        "pkt-src-aws-service",
        "src_endpoint",
        &mut observables,
    );
    let mut dst = endpoint(
        "dstaddr",
        "pkt-dstaddr",
        "dstport",
        "pkt-dst-aws-service",
        "dst_endpoint",
        &mut observables,
    );

    // The ENI, VPC, subnet and instance go with the side the ENI is on: the destination of
    // ingress traffic, the source of egress traffic.
    let direction = r.text("flow-direction");
    let ids = [
        ("interface-id", "interface_uid"),
        ("vpc-id", "vpc_uid"),
        ("subnet-id", "subnet_uid"),
        ("instance-id", "instance_uid"),
    ];
    let mut unmapped = Map::new();
    let eni_side = match direction.as_deref() {
        Some("ingress") => Some(&mut dst),
        Some("egress") => Some(&mut src),
        _ => None,
    };
    match eni_side {
        Some(side) => {
            for (field, key) in ids {
                if let Some(v) = r.text(field) {
                    side.insert(key.into(), json!(v));
                }
            }
        }
        None => {
            // Without flow-direction AWS's mapping does not say which side the ENI is on; a
            // record without addresses (NODATA, SKIPDATA) has only the ENI to name both ends.
            for (field, _) in ids {
                if let Some(v) = r.text(field)
                    && !(src.is_empty() && dst.is_empty() && field == "interface-id")
                {
                    unmapped.insert(field.replace('-', "_"), json!(v));
                }
            }
            if src.is_empty()
                && dst.is_empty()
                && let Some(eni) = r.text("interface-id")
            {
                src.insert("interface_uid".into(), json!(eni));
                dst.insert("interface_uid".into(), json!(eni));
            }
        }
    }
    if let Some(i) = dst
        .get("instance_uid")
        .or_else(|| src.get("instance_uid"))
        .cloned()
    {
        let side = if dst.contains_key("instance_uid") {
            "dst_endpoint"
        } else {
            "src_endpoint"
        };
        observables.push(json!({"name": format!("{side}.instance_uid"), "type": "Resource UID", "type_id": 10, "value": i}));
    }
    e.insert("src_endpoint".into(), Json::Object(src));
    e.insert("dst_endpoint".into(), Json::Object(dst));

    let mut conn = Map::new();
    let (direction_id, direction_name) = match direction.as_deref() {
        Some("ingress") => (1, "Inbound"),
        Some("egress") => (2, "Outbound"),
        _ => (0, "Unknown"),
    };
    conn.insert("direction_id".into(), json!(direction_id));
    conn.insert("direction".into(), json!(direction_name));
    if let Some(p) = r.int("protocol") {
        conn.insert("protocol_num".into(), json!(p));
    }
    if let Some(t) = r.int("tcp-flags") {
        conn.insert("tcp_flags".into(), json!(t));
    }
    if let Some(v) = r.text("type") {
        conn.insert("protocol_ver".into(), json!(v));
    }
    if r.names.iter().any(|n| n == "traffic-path") {
        const BOUNDARIES: [&str; 8] = [
            "Same VPC",
            "Internet/VPC Gateway",
            "Virtual Private Gateway",
            "Intra-region VPC",
            "Inter-region VPC",
            "Local Gateway",
            "Gateway VPC",
            "Internet Gateway",
        ];
        match r.int("traffic-path") {
            Some(p @ 1..=8) => {
                conn.insert("boundary_id".into(), json!(p + 3));
                conn.insert("boundary".into(), json!(BOUNDARIES[p as usize - 1]));
            }
            other => {
                conn.insert("boundary_id".into(), json!(99));
                conn.insert(
                    "boundary".into(),
                    json!(other.map_or_else(|| "-".to_owned(), |p| p.to_string())),
                );
            }
        }
    }
    e.insert("connection_info".into(), Json::Object(conn));

    let mut traffic = Map::new();
    if let Some(b) = r.int("bytes") {
        traffic.insert("bytes".into(), json!(b));
    }
    if let Some(p) = r.int("packets") {
        traffic.insert("packets".into(), json!(p));
    }
    if !traffic.is_empty() {
        e.insert("traffic".into(), Json::Object(traffic));
    }

    let (start, end) = (r.int("start"), r.int("end"));
    if let Some(t) = start.or(end)
        && let Some(ms) = millis(t)
    {
        e.insert("time".into(), json!(ms));
        if let Some(dt) = rfc3339(t) {
            e.insert("time_dt".into(), json!(dt));
        }
    } else {
        // OCSF requires a time; a record without one (or with one past year 292 million) gets 0.
        e.insert("time".into(), json!(0));
    }
    if let Some(s) = start
        && let Some(ms) = millis(s)
    {
        e.insert("start_time".into(), json!(ms));
        if let Some(dt) = rfc3339(s) {
            e.insert("start_time_dt".into(), json!(dt));
        }
    }
    if let Some(t) = end
        && let Some(ms) = millis(t)
    {
        e.insert("end_time".into(), json!(ms));
        if let Some(dt) = rfc3339(t) {
            e.insert("end_time_dt".into(), json!(dt));
        }
    }
    if !observables.is_empty() {
        e.insert("observables".into(), Json::Array(observables));
    }

    for (i, name) in r.names.iter().enumerate() {
        if mapped(name) {
            continue;
        }
        let v = match r.columns[i].value(r.row) {
            Value::Null => json!("-"),
            Value::Int(v) => json!(v),
            Value::Bool(b) => json!(b),
            other => json!(other.to_string()),
        };
        unmapped.insert(name.replace('-', "_"), v);
    }
    if !unmapped.is_empty() {
        e.insert("unmapped".into(), Json::Object(unmapped));
    }
    Json::Object(e)
}

/// Refuses the records of a Transit Gateway flow log, which AWS's mapping does not cover.
fn check_vpc(names: &[String]) -> io::Result<()> {
    if names.iter().any(|n| n.starts_with("tgw-")) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "these are Transit Gateway flow-log records; AWS publishes an OCSF mapping for VPC flow logs only, so OCSF output refuses them (use --output json)",
        ));
    }
    Ok(())
}

/// Calls `each` with the event of every record of `batch`.
fn for_each_event(
    batch: &RecordBatch,
    mut each: impl FnMut(Json) -> io::Result<()>,
) -> io::Result<()> {
    let schema = batch.schema();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    check_vpc(&names)?;
    let columns: Vec<ColumnReader<'_>> = batch.columns().iter().map(ColumnReader::new).collect();
    for row in 0..batch.num_rows() {
        let r = Row {
            names: &names,
            columns: &columns,
            row,
        };
        each(event(&r))?;
    }
    Ok(())
}

impl<W: Write> BatchWriter for OcsfWriter<W> {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        let (buf, out) = (&mut self.buf, &mut self.out);
        for_each_event(batch, |e| {
            serde_json::to_writer(&mut *buf, &e)?;
            buf.push(b'\n');
            flush_if_large(buf, out)
        })
    }

    fn finish(&mut self) -> io::Result<()> {
        finish_buffered(&mut self.buf, &mut self.out)
    }
}

/// The records of `batch` as OCSF events in [`SCHEMA`], for Parquet: the same events
/// [`OcsfWriter`] writes as JSON, each attribute in its column (and `unmapped` values as text).
pub fn ocsf_batch(batch: &RecordBatch) -> io::Result<RecordBatch> {
    let mut events = Vec::with_capacity(batch.num_rows());
    for_each_event(batch, |e| {
        events.push(e);
        Ok(())
    })?;
    // Strict: an attribute `event` writes that SCHEMA lacks is an error, never silently dropped.
    let mut decoder = arrow_json::ReaderBuilder::new(SCHEMA.clone())
        .with_coerce_primitive(true)
        .with_strict_mode(true)
        .with_batch_size(events.len().max(1))
        .build_decoder()
        .map_err(io::Error::other)?;
    decoder.serialize(&events).map_err(io::Error::other)?;
    Ok(decoder
        .flush()
        .map_err(io::Error::other)?
        .unwrap_or_else(|| RecordBatch::new_empty(SCHEMA.clone())))
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, true)
}
fn int(name: &str) -> Field {
    Field::new(name, DataType::Int32, true)
}
fn long(name: &str) -> Field {
    Field::new(name, DataType::Int64, true)
}
fn datetime(name: &str) -> Field {
    Field::new(
        name,
        DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
        true,
    )
}
fn object(name: &str, fields: Vec<Field>) -> Field {
    Field::new(name, DataType::Struct(Fields::from(fields)), true)
}
fn list(name: &str, item: DataType) -> Field {
    Field::new_list(name, Field::new_list_field(item, true), true)
}

fn endpoint(name: &str) -> Field {
    object(
        name,
        vec![
            utf8("ip"),
            int("port"),
            utf8("svc_name"),
            list("intermediate_ips", DataType::Utf8),
            utf8("interface_uid"),
            utf8("vpc_uid"),
            utf8("subnet_uid"),
            utf8("instance_uid"),
        ],
    )
}

/// The schema of OCSF events as Arrow. Types follow OCSF: integers are `int` (Int32) or `long`
/// (Int64); times are `timestamp_t` (milliseconds, Int64) beside their `_dt` siblings (UTC
/// timestamps); `unmapped` is a map of strings, as Security Lake's tables declare it.
pub static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        int("activity_id"),
        utf8("activity_name"),
        int("action_id"),
        utf8("action"),
        int("category_uid"),
        utf8("category_name"),
        int("class_uid"),
        utf8("class_name"),
        int("disposition_id"),
        utf8("disposition"),
        long("type_uid"),
        utf8("type_name"),
        int("severity_id"),
        utf8("severity"),
        utf8("status_code"),
        object(
            "metadata",
            vec![
                object(
                    "product",
                    vec![
                        utf8("name"),
                        utf8("vendor_name"),
                        object("feature", vec![utf8("name")]),
                        utf8("version"),
                    ],
                ),
                list("profiles", DataType::Utf8),
                utf8("version"),
            ],
        ),
        object(
            "cloud",
            vec![
                utf8("provider"),
                object("account", vec![utf8("uid")]),
                utf8("region"),
                utf8("zone"),
            ],
        ),
        endpoint("src_endpoint"),
        endpoint("dst_endpoint"),
        object(
            "connection_info",
            vec![
                int("direction_id"),
                utf8("direction"),
                int("protocol_num"),
                int("tcp_flags"),
                utf8("protocol_ver"),
                int("boundary_id"),
                utf8("boundary"),
            ],
        ),
        object("traffic", vec![long("bytes"), long("packets")]),
        long("time"),
        datetime("time_dt"),
        long("start_time"),
        datetime("start_time_dt"),
        long("end_time"),
        datetime("end_time_dt"),
        list(
            "observables",
            DataType::Struct(Fields::from(vec![
                utf8("name"),
                utf8("type"),
                int("type_id"),
                utf8("value"),
            ])),
        ),
        Field::new_map(
            "unmapped",
            "key_value",
            Field::new("key", DataType::Utf8, false),
            utf8("value"),
            false,
            true,
        ),
    ]))
});

#[cfg(test)]
mod tests {
    use super::*;
    use vpcflow_core::{Decoder, DecoderOptions};

    fn events(line: &str) -> Vec<Json> {
        let mut d = Decoder::new(DecoderOptions::default());
        d.begin_source("t");
        d.decode_line(line.as_bytes()).unwrap();
        let mut out = Vec::new();
        let mut w = OcsfWriter::new(&mut out);
        w.write(&d.flush().unwrap()).unwrap();
        w.finish().unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Review finding: `start × 1000` of a start past i64::MAX / 1000 panicked in json!.
    #[test]
    fn a_start_too_large_for_milliseconds_is_left_out_not_a_panic() {
        let e = &events(
            "2 123456789012 eni-1 10.0.1.10 10.0.3.82 40000 3306 6 3 180 20000000000000000 20000000000000059 ACCEPT OK",
        )[0];
        assert_eq!(e["time"], 0);
        assert!(e.get("start_time").is_none() && e.get("end_time").is_none());
        assert_eq!(e["activity_id"], 6);
    }
}
