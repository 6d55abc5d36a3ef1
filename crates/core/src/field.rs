//! The flow-log fields AWS defines, and how each one is typed.
//!
//! [`FIELDS`] is the registry: every field name AWS documents for VPC flow logs and for
//! Transit Gateway flow logs, with the version that introduced it and the [`Kind`] it decodes
//! to. [`lookup`] finds a field by name, accepting hyphens (`log-status`, as in the text format)
//! or underscores (`log_status`, as in Parquet delivery).

use arrow_schema::{DataType, TimeUnit};

/// How a field's text is decoded and which Arrow type holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// An unsigned integer that fits in 8 bits (`version`, `protocol`, `traffic-path`).
    UInt8,
    /// An unsigned integer that fits in 16 bits (`srcport`, `dstport`, `tcp-flags`).
    UInt16,
    /// An unsigned integer that fits in 64 bits (`packets`, `bytes`).
    UInt64,
    /// Unix seconds (`start`, `end`), held as `Timestamp(Second, "UTC")`.
    Timestamp,
    /// An IPv4 or IPv6 address, held as 16 bytes (IPv4 as `::ffff:a.b.c.d`).
    Ip,
    /// A repeated string (ids, enumerations): dictionary-encoded per batch.
    Dict,
    /// A free string, held as plain `Utf8`. Fields vpcflow does not know decode to this.
    Text,
}

impl Kind {
    /// The Arrow data type a column of this kind has.
    pub fn data_type(self) -> DataType {
        match self {
            Kind::UInt8 => DataType::UInt8,
            Kind::UInt16 => DataType::UInt16,
            Kind::UInt64 => DataType::UInt64,
            Kind::Timestamp => DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
            Kind::Ip => DataType::FixedSizeBinary(16),
            Kind::Dict => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            Kind::Text => DataType::Utf8,
        }
    }

    /// The largest value an integer kind admits, `None` for the others.
    pub fn max_value(self) -> Option<u64> {
        match self {
            Kind::UInt8 => Some(u8::MAX as u64),
            Kind::UInt16 => Some(u16::MAX as u64),
            Kind::UInt64 => Some(u64::MAX),
            Kind::Timestamp => Some(i64::MAX as u64),
            Kind::Ip | Kind::Dict | Kind::Text => None,
        }
    }
}

/// Which kind of flow log a field belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// VPC flow logs (ENI, subnet and VPC level) and Transit Gateway flow logs alike.
    Both,
    /// VPC flow logs only.
    Vpc,
    /// Transit Gateway flow logs only.
    TransitGateway,
}

/// One field AWS documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// The exact hyphenated name, as in `${name}`.
    pub name: &'static str,
    /// The flow-log version that introduced it.
    pub version: u8,
    /// How it is decoded.
    pub kind: Kind,
    /// VPC, Transit Gateway or both.
    pub family: Family,
}

const fn f(name: &'static str, version: u8, kind: Kind, family: Family) -> FieldDef {
    FieldDef {
        name,
        version,
        kind,
        family,
    }
}

use Family::{Both, TransitGateway as Tgw, Vpc};
use Kind::{Dict, Ip, Timestamp, UInt8, UInt16, UInt64};

/// Every field AWS documents, VPC fields first in AWS's table order, then the Transit Gateway
/// ones.
pub static FIELDS: &[FieldDef] = &[
    // v2: the default format.
    f("version", 2, UInt8, Both),
    f("account-id", 2, Dict, Both),
    f("interface-id", 2, Dict, Vpc),
    f("srcaddr", 2, Ip, Both),
    f("dstaddr", 2, Ip, Both),
    f("srcport", 2, UInt16, Both),
    f("dstport", 2, UInt16, Both),
    f("protocol", 2, UInt8, Both),
    f("packets", 2, UInt64, Both),
    f("bytes", 2, UInt64, Both),
    f("start", 2, Timestamp, Both),
    f("end", 2, Timestamp, Both),
    f("action", 2, Dict, Vpc),
    f("log-status", 2, Dict, Both),
    // v3
    f("vpc-id", 3, Dict, Vpc),
    f("subnet-id", 3, Dict, Vpc),
    f("instance-id", 3, Dict, Vpc),
    f("tcp-flags", 3, UInt16, Both),
    f("type", 3, Dict, Both),
    f("pkt-srcaddr", 3, Ip, Vpc),
    f("pkt-dstaddr", 3, Ip, Vpc),
    // v4
    f("region", 4, Dict, Both),
    f("az-id", 4, Dict, Vpc),
    f("sublocation-type", 4, Dict, Vpc),
    f("sublocation-id", 4, Dict, Vpc),
    // v5
    f("pkt-src-aws-service", 5, Dict, Both),
    f("pkt-dst-aws-service", 5, Dict, Both),
    f("flow-direction", 5, Dict, Both),
    f("traffic-path", 5, UInt8, Vpc),
    // v7: ECS
    f("ecs-cluster-arn", 7, Dict, Vpc),
    f("ecs-cluster-name", 7, Dict, Vpc),
    f("ecs-container-instance-arn", 7, Dict, Vpc),
    f("ecs-container-instance-id", 7, Dict, Vpc),
    f("ecs-container-id", 7, Dict, Vpc),
    f("ecs-second-container-id", 7, Dict, Vpc),
    f("ecs-service-name", 7, Dict, Vpc),
    f("ecs-task-definition-arn", 7, Dict, Vpc),
    f("ecs-task-arn", 7, Dict, Vpc),
    f("ecs-task-id", 7, Dict, Vpc),
    // v8
    f("reject-reason", 8, Dict, Vpc),
    // v9 and later. resource-id (v9) and encryption-status (v10, values 0-3) follow AWS's
    // pages; the v11 names (tags, interface-type, next-hop-*) were confirmed only from
    // third-party copies of the AWS table, so re-check them against flow-log-records when AWS
    // docs are at hand. Unknown names still decode, as text columns.
    f("resource-id", 9, Dict, Vpc),
    f("encryption-status", 10, UInt8, Vpc),
    f("instance-tag", 11, Dict, Vpc),
    f("instance-tag-2", 11, Dict, Vpc),
    f("interface-tag", 11, Dict, Vpc),
    f("interface-tag-2", 11, Dict, Vpc),
    f("asg-tag", 11, Dict, Vpc),
    f("asg-tag-2", 11, Dict, Vpc),
    f("interface-type", 11, Dict, Vpc),
    f("next-hop-interface-id", 11, Dict, Vpc),
    f("next-hop-subnet-id", 11, Dict, Vpc),
    f("next-hop-az-id", 11, Dict, Vpc),
    f("next-hop-vpc-id", 11, Dict, Vpc),
    f("next-hop-interface-type", 11, Dict, Vpc),
    // Transit Gateway flow logs (version 6).
    f("resource-type", 6, Dict, Tgw),
    f("tgw-id", 6, Dict, Tgw),
    f("tgw-attachment-id", 6, Dict, Tgw),
    f("tgw-src-vpc-account-id", 6, Dict, Tgw),
    f("tgw-dst-vpc-account-id", 6, Dict, Tgw),
    f("tgw-src-vpc-id", 6, Dict, Tgw),
    f("tgw-dst-vpc-id", 6, Dict, Tgw),
    f("tgw-src-subnet-id", 6, Dict, Tgw),
    f("tgw-dst-subnet-id", 6, Dict, Tgw),
    f("tgw-src-eni", 6, Dict, Tgw),
    f("tgw-dst-eni", 6, Dict, Tgw),
    f("tgw-src-az-id", 6, Dict, Tgw),
    f("tgw-dst-az-id", 6, Dict, Tgw),
    f("tgw-pair-attachment-id", 6, Dict, Tgw),
    f("packets-lost-no-route", 6, UInt64, Tgw),
    f("packets-lost-blackhole", 6, UInt64, Tgw),
    f("packets-lost-mtu-exceeded", 6, UInt64, Tgw),
    f("packets-lost-ttl-expired", 6, UInt64, Tgw),
];

/// Finds a field by name. Hyphens and underscores are interchangeable (`log_status` finds
/// `log-status`), and ASCII case is ignored.
pub fn lookup(name: &str) -> Option<&'static FieldDef> {
    lookup_bytes(name.as_bytes())
}

/// [`lookup`] on raw bytes, for header lines that are not yet known to be UTF-8.
pub fn lookup_bytes(name: &[u8]) -> Option<&'static FieldDef> {
    FIELDS
        .iter()
        .find(|def| same_name(def.name.as_bytes(), name))
}

fn same_name(canonical: &[u8], given: &[u8]) -> bool {
    canonical.len() == given.len()
        && canonical.iter().zip(given).all(|(&c, &g)| {
            let g = if g == b'_' {
                b'-'
            } else {
                g.to_ascii_lowercase()
            };
            c == g
        })
}

/// The names of the default (version 2) format, in order.
pub const DEFAULT_V2: &[&str] = &[
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
];

/// The default Transit Gateway flow-log format, in order.
pub const DEFAULT_TGW: &[&str] = &[
    "version",
    "resource-type",
    "account-id",
    "tgw-id",
    "tgw-attachment-id",
    "tgw-src-vpc-account-id",
    "tgw-dst-vpc-account-id",
    "tgw-src-vpc-id",
    "tgw-dst-vpc-id",
    "tgw-src-subnet-id",
    "tgw-dst-subnet-id",
    "tgw-src-eni",
    "tgw-dst-eni",
    "tgw-src-az-id",
    "tgw-dst-az-id",
    "tgw-pair-attachment-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "log-status",
    "type",
    "packets-lost-no-route",
    "packets-lost-blackhole",
    "packets-lost-mtu-exceeded",
    "packets-lost-ttl-expired",
    "tcp-flags",
    "region",
    "flow-direction",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_accepts_hyphens_underscores_and_case() {
        assert_eq!(lookup("log-status").map(|d| d.name), Some("log-status"));
        assert_eq!(lookup("log_status").map(|d| d.name), Some("log-status"));
        assert_eq!(lookup("LOG_STATUS").map(|d| d.name), Some("log-status"));
        assert_eq!(lookup("log status"), None);
        assert_eq!(lookup("logstatus"), None);
    }

    #[test]
    fn names_are_unique_and_defaults_are_known() {
        for (i, a) in FIELDS.iter().enumerate() {
            assert!(
                FIELDS[i + 1..].iter().all(|b| b.name != a.name),
                "{} twice",
                a.name
            );
        }
        for name in DEFAULT_V2.iter().chain(DEFAULT_TGW) {
            assert!(lookup(name).is_some(), "{name} unknown");
        }
    }
}
