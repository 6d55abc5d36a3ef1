//! Explains blocked flows from the network configuration: which security group or network ACL
//! blocks a client–endpoint pair, the smallest rule that would admit it, and where the
//! configuration contradicts the logs.
//!
//! # A tour
//! - [`Config`]: security groups, network ACLs, ENIs, subnets and prefix lists, in the shape of
//!   the EC2 API's JSON; [`Config::from_dir`] reads a snapshot of `aws ec2 describe-…` output.
//! - [`rules`]: the evaluator. Security groups are stateful and allow-only; network ACLs are
//!   stateless, numbered, first match wins, with the `*` deny last.
//! - [`Explainer`] and [`explain_report`]: per verdict, every check along the path (client
//!   groups out, client subnet's ACL out, endpoint subnet's ACL in, endpoint groups in, and both
//!   ACLs for the reply to the client's ephemeral ports), turned into a
//!   [`vpcflow_verdict::Explanation`]. A pair whose REJECTs all carry a `reject-reason` is
//!   explained by the VPC-level control instead (Block Public Access: its mode and exclusions),
//!   never by a rule.
//! - [`discover`]: which RDS instance owns which network interface, for `endpoints discover`.
//!
//! No I/O beyond reading a snapshot directory: the live configuration is fetched by
//! `vpcflow-aws` into the same types.
#![deny(missing_docs)]

mod bpa;
mod config;
pub mod discover;
mod explain;
pub mod rules;

pub use config::{
    BlockPublicAccess, BlockPublicAccessExclusion, BlockPublicAccessOptions, Config,
    GroupIdentifier, IcmpTypeCode, Index, IpPermission, IpRange, Ipv6Address, Ipv6Range,
    NetworkAcl, NetworkAclAssociation, NetworkAclEntry, NetworkInterface, PortRange, PrefixList,
    PrefixListEntry, PrefixListId, PrivateIpAddress, SecurityGroup, SnapshotError, Subnet,
    SubnetIpv6Cidr, UserIdGroupPair,
};
pub use explain::{EPHEMERAL, Explainer, explain_report};
