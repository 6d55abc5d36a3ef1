//! The rule evaluator: does a security group or a network ACL admit one flow?
//!
//! Security groups are stateful and allow-only: a flow is admitted when any rule of any group on
//! the ENI matches its protocol, port and peer, and the reply is then admitted whatever the
//! rules say. Network ACLs are stateless: numbered rules are evaluated lowest first, the first
//! match decides (allow or deny), no match is the `*` deny, and the reply is judged on its own.

use std::fmt;
use std::net::IpAddr;

use crate::config::{Index, IpPermission, NetworkAcl, NetworkAclEntry};

/// IANA protocol numbers the rules name.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// A protocol as a rule names it: `None` is every protocol (`-1`).
pub fn parse_protocol(s: &str) -> Result<Option<u8>, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "-1" | "all" => Ok(None),
        "tcp" => Ok(Some(proto::TCP)),
        "udp" => Ok(Some(proto::UDP)),
        "icmp" => Ok(Some(proto::ICMP)),
        "icmpv6" => Ok(Some(proto::ICMPV6)),
        n => n
            .parse::<u8>()
            .map(Some)
            .map_err(|_| format!("unknown protocol `{s}`")),
    }
}

/// A protocol's short name, for messages.
pub fn protocol_name(p: Option<u8>) -> String {
    match p {
        None => "all traffic".into(),
        Some(proto::TCP) => "tcp".into(),
        Some(proto::UDP) => "udp".into(),
        Some(proto::ICMP) => "icmp".into(),
        Some(proto::ICMPV6) => "icmpv6".into(),
        Some(n) => format!("protocol {n}"),
    }
}

/// An address range, IPv4 or IPv6: `10.0.0.0/16`, `2001:db8::/32`, or a bare address (a /32
/// or /128); IPv4-mapped IPv6 addresses count as IPv4. The verdict crate's, shared with
/// expected clients.
pub use vpcflow_verdict::expect::Net as Cidr;

/// What a flow asks for beyond its protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// TCP/UDP destination ports `from..=to` (one port for a request; a range for the replies
    /// to a client's ephemeral ports).
    Ports(u16, u16),
    /// An ICMP type and code.
    Icmp(u8, u8),
    /// A protocol without ports.
    Any,
}

impl Service {
    /// One destination port.
    pub fn port(p: u16) -> Service {
        Service::Ports(p, p)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Service::Ports(a, b) if a == b => write!(f, "{a}"),
            Service::Ports(a, b) => write!(f, "{a}-{b}"),
            Service::Icmp(t, c) => write!(f, "type {t} code {c}"),
            Service::Any => Ok(()),
        }
    }
}

/// A protocol and service together, as `tcp/3306` or `tcp 1024-65535`.
pub fn flow_name(protocol: u8, service: Service, sep: char) -> String {
    match service {
        Service::Any => protocol_name(Some(protocol)),
        s => format!("{}{sep}{s}", protocol_name(Some(protocol))),
    }
}

/// Whether a rule's `from..=to` (`-1`/absent: all) covers a service of a protocol.
fn covers(protocol: u8, from: Option<i32>, to: Option<i32>, service: Service) -> bool {
    let all = |v: Option<i32>| v.is_none_or(|v| v < 0);
    match service {
        Service::Ports(a, b) if protocol == proto::TCP || protocol == proto::UDP => {
            (all(from) && all(to))
                || (from.unwrap_or(0) <= i32::from(a) && i32::from(b) <= to.unwrap_or(65535))
        }
        // ICMP rules carry the type in from-port and the code in to-port.
        Service::Icmp(t, c) => {
            (all(from) || from == Some(i32::from(t))) && (all(to) || to == Some(i32::from(c)))
        }
        _ => true,
    }
}

/// Inbound or outbound, from the ENI's point of view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Traffic arriving at the ENI.
    Inbound,
    /// Traffic leaving the ENI.
    Outbound,
}

/// One flow as one ENI's security groups see it.
#[derive(Clone, Copy, Debug)]
pub struct SgQuery<'q> {
    /// Which rules apply.
    pub direction: Direction,
    /// The IANA protocol.
    pub protocol: u8,
    /// The port(s) or ICMP type.
    pub service: Service,
    /// The other end's address (the source inbound, the destination outbound).
    pub peer: IpAddr,
    /// The groups the other end's ENI carries, when it is known.
    pub peer_groups: &'q [&'q str],
}

/// How a rule matched the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// An IPv4 or IPv6 range.
    Cidr(String),
    /// A managed prefix list.
    PrefixList(String),
    /// A security group the peer's ENI carries; `self_reference` when it is the rule's own group.
    Group {
        /// `sg-…`.
        id: String,
        /// The rule's group references itself.
        self_reference: bool,
    },
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Cidr(c) | Peer::PrefixList(c) => f.write_str(c),
            Peer::Group { id, .. } => f.write_str(id),
        }
    }
}

/// A security-group rule that matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SgMatch {
    /// The group holding the rule.
    pub group_id: String,
    /// The peer the rule names.
    pub peer: Peer,
    /// The rule, spelled out: `tcp 3306 from sg-0client`.
    pub rule: String,
}

/// What one ENI's security groups say about a flow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SgDecision {
    /// The first rule that admits the flow; none: the flow is not admitted.
    pub admitted_by: Option<SgMatch>,
    /// Groups with a rule covering the service whose only peer is the group itself, which the
    /// peer's ENI is not in: the self-referencing trap.
    pub self_referencing: Vec<String>,
    /// Rules that cover the service but name other peers (`tcp 3306 from 10.9.0.0/16`).
    pub other_peers: Vec<String>,
    /// Prefix lists a covering rule names whose entries the configuration lacks.
    pub unknown_prefix_lists: Vec<String>,
    /// Groups on the ENI the configuration does not hold.
    pub unknown_groups: Vec<String>,
}

/// Evaluates the security groups `groups` (all on one ENI) for one flow.
pub fn evaluate_groups(index: &Index<'_>, groups: &[&str], q: &SgQuery<'_>) -> SgDecision {
    let mut d = SgDecision::default();
    for &id in groups {
        let Some(group) = index.group(id) else {
            d.unknown_groups.push(id.to_owned());
            continue;
        };
        let rules = match q.direction {
            Direction::Inbound => &group.ip_permissions,
            Direction::Outbound => &group.ip_permissions_egress,
        };
        for rule in rules {
            let Ok(protocol) = parse_protocol(&rule.ip_protocol) else {
                continue;
            };
            if protocol.is_some_and(|p| p != q.protocol)
                || !(protocol.is_none()
                    || covers(q.protocol, rule.from_port, rule.to_port, q.service))
            {
                continue;
            }
            match match_peer(index, id, rule, q) {
                Ok(peer) => {
                    if d.admitted_by.is_none() {
                        d.admitted_by = Some(SgMatch {
                            group_id: id.to_owned(),
                            rule: rule_text(rule, q.direction, &peer.to_string()),
                            peer,
                        });
                    }
                }
                Err(miss) => {
                    if miss.self_only {
                        if !d.self_referencing.iter().any(|g| g == id) {
                            d.self_referencing.push(id.to_owned());
                        }
                        continue;
                    }
                    for p in miss.peers {
                        let text = rule_text(rule, q.direction, &p);
                        if !d.other_peers.contains(&text) {
                            d.other_peers.push(text);
                        }
                    }
                    d.unknown_prefix_lists.extend(miss.unknown_prefix_lists);
                }
            }
        }
    }
    d
}

/// Why a covering rule did not match the peer.
struct Miss {
    self_only: bool,
    peers: Vec<String>,
    unknown_prefix_lists: Vec<String>,
}

fn match_peer(
    index: &Index<'_>,
    own: &str,
    rule: &IpPermission,
    q: &SgQuery<'_>,
) -> Result<Peer, Miss> {
    for r in &rule.ip_ranges {
        if Cidr::parse(&r.cidr_ip).is_some_and(|c| c.contains(q.peer)) {
            return Ok(Peer::Cidr(r.cidr_ip.clone()));
        }
    }
    for r in &rule.ipv6_ranges {
        if Cidr::parse(&r.cidr_ipv6).is_some_and(|c| c.contains(q.peer)) {
            return Ok(Peer::Cidr(r.cidr_ipv6.clone()));
        }
    }
    let mut unknown_prefix_lists = Vec::new();
    for p in &rule.prefix_list_ids {
        match index.prefix_list(&p.prefix_list_id) {
            Some(list) => {
                if list
                    .entries
                    .iter()
                    .any(|e| Cidr::parse(&e.cidr).is_some_and(|c| c.contains(q.peer)))
                {
                    return Ok(Peer::PrefixList(p.prefix_list_id.clone()));
                }
            }
            None => unknown_prefix_lists.push(p.prefix_list_id.clone()),
        }
    }
    for pair in &rule.user_id_group_pairs {
        if let Some(g) = &pair.group_id
            && q.peer_groups.contains(&g.as_str())
        {
            return Ok(Peer::Group {
                id: g.clone(),
                self_reference: g == own,
            });
        }
    }
    let group_ids: Vec<&str> = rule
        .user_id_group_pairs
        .iter()
        .filter_map(|p| p.group_id.as_deref())
        .collect();
    let self_only = rule.ip_ranges.is_empty()
        && rule.ipv6_ranges.is_empty()
        && rule.prefix_list_ids.is_empty()
        && !group_ids.is_empty()
        && group_ids.iter().all(|g| *g == own);
    let peers = rule
        .ip_ranges
        .iter()
        .map(|r| r.cidr_ip.clone())
        .chain(rule.ipv6_ranges.iter().map(|r| r.cidr_ipv6.clone()))
        .chain(
            rule.prefix_list_ids
                .iter()
                .map(|p| p.prefix_list_id.clone()),
        )
        .chain(group_ids.iter().map(|g| (*g).to_owned()))
        .collect();
    Err(Miss {
        self_only,
        peers,
        unknown_prefix_lists,
    })
}

/// A security-group rule spelled out: `tcp 3306 from sg-0abc`.
fn rule_text(rule: &IpPermission, direction: Direction, peer: &str) -> String {
    let protocol = parse_protocol(&rule.ip_protocol).ok().flatten();
    let ports = match (protocol, rule.from_port, rule.to_port) {
        (None, ..) => String::new(),
        (Some(proto::TCP | proto::UDP), Some(a), Some(b)) if a >= 0 && b >= 0 => {
            if a == b {
                format!(" {a}")
            } else {
                format!(" {a}-{b}")
            }
        }
        (Some(proto::TCP | proto::UDP), ..) => " (all ports)".into(),
        (Some(proto::ICMP | proto::ICMPV6), Some(t), _) if t >= 0 => format!(" type {t}"),
        _ => String::new(),
    };
    let way = match direction {
        Direction::Inbound => "from",
        Direction::Outbound => "to",
    };
    format!("{}{ports} {way} {peer}", protocol_name(protocol))
}

/// How a network ACL decides one part of a flow's port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AclSegment {
    /// First port of the part (0 for services without ports).
    pub from: u16,
    /// Last port of the part.
    pub to: u16,
    /// Allowed or denied.
    pub allow: bool,
    /// The deciding rule's number; `None` when no rule matched (the implicit `*` deny).
    pub rule: Option<i32>,
}

/// Evaluates a network ACL for traffic in one direction (`egress`: leaving the subnet) with
/// `peer` the address outside it, splitting a port range where rules split it. The segments
/// come back in port order and cover the whole range.
pub fn evaluate_acl(
    acl: &NetworkAcl,
    egress: bool,
    protocol: u8,
    peer: IpAddr,
    service: Service,
) -> Vec<AclSegment> {
    let (lo, hi) = match service {
        Service::Ports(a, b) => (a.min(b), a.max(b)),
        _ => (0, 0),
    };
    let mut rules: Vec<&NetworkAclEntry> =
        acl.entries.iter().filter(|e| e.egress == egress).collect();
    rules.sort_by_key(|e| e.rule_number);
    let mut undecided: Vec<(u16, u16)> = vec![(lo, hi)];
    let mut out: Vec<AclSegment> = Vec::new();
    for e in rules {
        if undecided.is_empty() {
            break;
        }
        let Ok(p) = parse_protocol(&e.protocol) else {
            continue;
        };
        if p.is_some_and(|p| p != protocol) {
            continue;
        }
        let range = e.cidr_block.as_deref().or(e.ipv6_cidr_block.as_deref());
        if !range
            .and_then(Cidr::parse)
            .is_some_and(|c| c.contains(peer))
        {
            continue;
        }
        let allow = e.rule_action.eq_ignore_ascii_case("allow");
        let (rf, rt) = match (p, service) {
            // Port ranges bind TCP and UDP rules only.
            (Some(proto::TCP | proto::UDP), Service::Ports(..)) => match e.port_range {
                Some(r) => (
                    r.from.unwrap_or(0).clamp(0, 65535) as u16,
                    r.to.unwrap_or(65535).clamp(0, 65535) as u16,
                ),
                None => (0, 65535),
            },
            (Some(proto::ICMP | proto::ICMPV6), Service::Icmp(t, c)) => {
                let tc = e.icmp_type_code.unwrap_or_default();
                let all = |v: Option<i32>| v.is_none_or(|v| v < 0);
                let hit = (all(tc.r#type) || tc.r#type == Some(i32::from(t)))
                    && (all(tc.code) || tc.code == Some(i32::from(c)));
                if hit { (0, 65535) } else { continue }
            }
            _ => (0, 65535),
        };
        let mut rest = Vec::new();
        for (a, b) in undecided {
            let (ia, ib) = (a.max(rf), b.min(rt));
            if ia > ib {
                rest.push((a, b));
                continue;
            }
            out.push(AclSegment {
                from: ia,
                to: ib,
                allow,
                rule: Some(e.rule_number),
            });
            if a < ia {
                rest.push((a, ia - 1));
            }
            if ib < b {
                rest.push((ib + 1, b));
            }
        }
        undecided = rest;
    }
    out.extend(undecided.into_iter().map(|(from, to)| AclSegment {
        from,
        to,
        allow: false,
        rule: None,
    }));
    out.sort_by_key(|s| s.from);
    out
}

/// Whether a network-ACL rule number is the `*` rule: 32767 for IPv4, 32768 for IPv6 (user
/// rules go up to 32766).
pub fn is_star_rule(n: i32) -> bool {
    n >= 32767
}

/// A network-ACL rule spelled out: `rule 100 denies tcp 1024-65535 to 10.0.1.0/24`.
pub fn acl_rule_text(acl: &NetworkAcl, number: Option<i32>, egress: bool) -> String {
    let Some(n) = number else {
        return "the `*` rule denies everything no numbered rule allows".into();
    };
    let Some(e) = acl
        .entries
        .iter()
        .find(|e| e.rule_number == n && e.egress == egress)
    else {
        return format!("rule {n}");
    };
    let protocol = parse_protocol(&e.protocol).ok().flatten();
    let ports = match (protocol, e.port_range) {
        (Some(proto::TCP | proto::UDP), Some(r)) => match (r.from, r.to) {
            (Some(a), Some(b)) if a == b => format!(" {a}"),
            (Some(a), Some(b)) => format!(" {a}-{b}"),
            _ => String::new(),
        },
        _ => String::new(),
    };
    let verb = if e.rule_action.eq_ignore_ascii_case("allow") {
        "allows"
    } else {
        "denies"
    };
    let way = if egress { "to" } else { "from" };
    let range = e
        .cidr_block
        .as_deref()
        .or(e.ipv6_cidr_block.as_deref())
        .unwrap_or("?");
    if is_star_rule(n) {
        return format!(
            "the `*` rule denies {} {way} {range}",
            protocol_name(protocol)
        );
    }
    format!(
        "rule {n} {verb} {}{ports} {way} {range}",
        protocol_name(protocol)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        Config, IcmpTypeCode, IpRange, Ipv6Range, NetworkAcl, NetworkAclEntry, PortRange,
        PrefixList, PrefixListEntry, PrefixListId, SecurityGroup, UserIdGroupPair,
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn perm(protocol: &str, from: i32, to: i32) -> IpPermission {
        IpPermission {
            ip_protocol: protocol.into(),
            from_port: Some(from),
            to_port: Some(to),
            ..IpPermission::default()
        }
    }

    fn cidr(mut p: IpPermission, c: &str) -> IpPermission {
        p.ip_ranges.push(IpRange { cidr_ip: c.into() });
        p
    }

    fn group_ref(mut p: IpPermission, g: &str) -> IpPermission {
        p.user_id_group_pairs.push(UserIdGroupPair {
            group_id: Some(g.into()),
            user_id: None,
        });
        p
    }

    fn group(id: &str, inbound: Vec<IpPermission>) -> SecurityGroup {
        SecurityGroup {
            group_id: id.into(),
            group_name: id.into(),
            ip_permissions: inbound,
            ..SecurityGroup::default()
        }
    }

    fn inbound(
        config: &Config,
        groups: &[&str],
        protocol: u8,
        service: Service,
        peer: &str,
        peer_groups: &[&str],
    ) -> SgDecision {
        let index = config.index();
        evaluate_groups(
            &index,
            groups,
            &SgQuery {
                direction: Direction::Inbound,
                protocol,
                service,
                peer: ip(peer),
                peer_groups,
            },
        )
    }

    #[test]
    fn cidrs_match_v4_v6_and_mapped_addresses() {
        let c = Cidr::parse("10.0.1.0/24").unwrap();
        assert!(c.contains(ip("10.0.1.255")));
        assert!(!c.contains(ip("10.0.2.0")));
        assert!(
            c.contains(ip("::ffff:10.0.1.7")),
            "IPv4-mapped counts as IPv4"
        );
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("203.0.113.9"))
        );
        assert!(
            !Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("2001:db8::1"))
        );
        assert!(
            Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains(ip("2001:db8:ffff::1"))
        );
        assert!(
            !Cidr::parse("2001:db8::/32")
                .unwrap()
                .contains(ip("2001:db9::1"))
        );
        assert!(Cidr::parse("10.0.1.10").unwrap().contains(ip("10.0.1.10")));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("nonsense"), None);
    }

    #[test]
    fn port_ranges_bound_sg_rules() {
        let config = Config {
            security_groups: vec![group(
                "sg-a",
                vec![cidr(perm("tcp", 3300, 3310), "10.0.0.0/16")],
            )],
            ..Config::default()
        };
        let hit = inbound(
            &config,
            &["sg-a"],
            proto::TCP,
            Service::port(3306),
            "10.0.1.10",
            &[],
        );
        assert_eq!(
            hit.admitted_by.unwrap().rule,
            "tcp 3300-3310 from 10.0.0.0/16"
        );
        let miss = inbound(
            &config,
            &["sg-a"],
            proto::TCP,
            Service::port(5432),
            "10.0.1.10",
            &[],
        );
        assert_eq!(miss.admitted_by, None);
        assert!(
            miss.other_peers.is_empty(),
            "a rule for other ports is no near miss"
        );
        let udp = inbound(
            &config,
            &["sg-a"],
            proto::UDP,
            Service::port(3306),
            "10.0.1.10",
            &[],
        );
        assert_eq!(udp.admitted_by, None, "a tcp rule does not admit udp");
        let outside = inbound(
            &config,
            &["sg-a"],
            proto::TCP,
            Service::port(3306),
            "10.1.0.1",
            &[],
        );
        assert_eq!(outside.admitted_by, None);
        assert_eq!(
            outside.other_peers,
            vec!["tcp 3300-3310 from 10.0.0.0/16".to_owned()]
        );
    }

    #[test]
    fn protocol_minus_one_admits_every_protocol_and_port() {
        let config = Config {
            security_groups: vec![group("sg-a", vec![cidr(perm("-1", -1, -1), "0.0.0.0/0")])],
            ..Config::default()
        };
        for (p, s) in [
            (proto::TCP, Service::port(1)),
            (proto::UDP, Service::port(65535)),
            (proto::ICMP, Service::Icmp(8, 0)),
            (47, Service::Any),
        ] {
            let d = inbound(&config, &["sg-a"], p, s, "198.51.100.1", &[]);
            assert_eq!(d.admitted_by.unwrap().rule, "all traffic from 0.0.0.0/0");
        }
    }

    #[test]
    fn icmp_rules_match_type_and_code() {
        let config = Config {
            security_groups: vec![group(
                "sg-a",
                vec![
                    cidr(perm("icmp", 8, -1), "10.0.0.0/8"),
                    cidr(perm("icmpv6", 128, 0), "::/0"),
                ],
            )],
            ..Config::default()
        };
        let echo = inbound(
            &config,
            &["sg-a"],
            proto::ICMP,
            Service::Icmp(8, 0),
            "10.2.3.4",
            &[],
        );
        assert!(echo.admitted_by.is_some(), "echo request, any code");
        let unreachable = inbound(
            &config,
            &["sg-a"],
            proto::ICMP,
            Service::Icmp(3, 4),
            "10.2.3.4",
            &[],
        );
        assert_eq!(unreachable.admitted_by, None);
        let v6 = inbound(
            &config,
            &["sg-a"],
            proto::ICMPV6,
            Service::Icmp(128, 0),
            "2001:db8::9",
            &[],
        );
        assert!(v6.admitted_by.is_some());
        let v6_code = inbound(
            &config,
            &["sg-a"],
            proto::ICMPV6,
            Service::Icmp(128, 1),
            "2001:db8::9",
            &[],
        );
        assert_eq!(v6_code.admitted_by, None);
    }

    #[test]
    fn ipv6_ranges_admit_ipv6_peers_only() {
        let mut p = perm("tcp", 5432, 5432);
        p.ipv6_ranges.push(Ipv6Range {
            cidr_ipv6: "2001:db8:1::/48".into(),
        });
        let config = Config {
            security_groups: vec![group("sg-a", vec![p])],
            ..Config::default()
        };
        assert!(
            inbound(
                &config,
                &["sg-a"],
                proto::TCP,
                Service::port(5432),
                "2001:db8:1::7",
                &[]
            )
            .admitted_by
            .is_some()
        );
        assert!(
            inbound(
                &config,
                &["sg-a"],
                proto::TCP,
                Service::port(5432),
                "10.0.0.1",
                &[]
            )
            .admitted_by
            .is_none()
        );
    }

    #[test]
    fn prefix_lists_admit_their_cidrs_and_unknown_ones_are_reported() {
        let mut p = perm("tcp", 3306, 3306);
        p.prefix_list_ids.push(PrefixListId {
            prefix_list_id: "pl-known".into(),
        });
        p.prefix_list_ids.push(PrefixListId {
            prefix_list_id: "pl-unknown".into(),
        });
        let config = Config {
            security_groups: vec![group("sg-a", vec![p])],
            prefix_lists: vec![PrefixList {
                prefix_list_id: "pl-known".into(),
                prefix_list_name: "office".into(),
                entries: vec![PrefixListEntry {
                    cidr: "192.0.2.0/24".into(),
                }],
            }],
            ..Config::default()
        };
        let hit = inbound(
            &config,
            &["sg-a"],
            proto::TCP,
            Service::port(3306),
            "192.0.2.44",
            &[],
        );
        assert_eq!(
            hit.admitted_by.unwrap().peer,
            Peer::PrefixList("pl-known".into())
        );
        let miss = inbound(
            &config,
            &["sg-a"],
            proto::TCP,
            Service::port(3306),
            "10.0.1.10",
            &[],
        );
        assert_eq!(miss.admitted_by, None);
        assert_eq!(miss.unknown_prefix_lists, vec!["pl-unknown".to_owned()]);
    }

    #[test]
    fn group_references_match_the_peers_groups_and_self_references_are_flagged() {
        let config = Config {
            security_groups: vec![
                group(
                    "sg-default",
                    vec![group_ref(perm("-1", -1, -1), "sg-default")],
                ),
                group(
                    "sg-db",
                    vec![group_ref(perm("tcp", 3306, 3306), "sg-client")],
                ),
            ],
            ..Config::default()
        };
        let from_client = inbound(
            &config,
            &["sg-db"],
            proto::TCP,
            Service::port(3306),
            "10.0.1.10",
            &["sg-client"],
        );
        assert_eq!(
            from_client.admitted_by.unwrap().peer,
            Peer::Group {
                id: "sg-client".into(),
                self_reference: false
            }
        );
        let not_member = inbound(
            &config,
            &["sg-default"],
            proto::TCP,
            Service::port(3306),
            "10.0.1.10",
            &["sg-client"],
        );
        assert_eq!(not_member.admitted_by, None);
        assert_eq!(not_member.self_referencing, vec!["sg-default".to_owned()]);
        let member = inbound(
            &config,
            &["sg-default"],
            proto::TCP,
            Service::port(3306),
            "10.0.1.10",
            &["sg-default"],
        );
        assert_eq!(
            member.admitted_by.unwrap().peer,
            Peer::Group {
                id: "sg-default".into(),
                self_reference: true
            }
        );
        let unknown_client = inbound(
            &config,
            &["sg-db"],
            proto::TCP,
            Service::port(3306),
            "10.0.1.10",
            &[],
        );
        assert_eq!(
            unknown_client.admitted_by, None,
            "no ENI, no group membership"
        );
    }

    #[test]
    fn any_group_on_the_eni_admits_and_missing_groups_are_reported() {
        let config = Config {
            security_groups: vec![
                group("sg-empty", vec![]),
                group("sg-open", vec![cidr(perm("tcp", 0, 65535), "10.0.0.0/8")]),
            ],
            ..Config::default()
        };
        let d = inbound(
            &config,
            &["sg-empty", "sg-gone", "sg-open"],
            proto::TCP,
            Service::port(3306),
            "10.0.1.10",
            &[],
        );
        assert_eq!(d.admitted_by.unwrap().group_id, "sg-open");
        assert_eq!(d.unknown_groups, vec!["sg-gone".to_owned()]);
    }

    fn entry(
        n: i32,
        protocol: &str,
        action: &str,
        egress: bool,
        c: &str,
        ports: Option<(i32, i32)>,
    ) -> NetworkAclEntry {
        NetworkAclEntry {
            rule_number: n,
            protocol: protocol.into(),
            rule_action: action.into(),
            egress,
            cidr_block: c.contains('.').then(|| c.to_owned()),
            ipv6_cidr_block: c.contains(':').then(|| c.to_owned()),
            port_range: ports.map(|(a, b)| PortRange {
                from: Some(a),
                to: Some(b),
            }),
            icmp_type_code: None,
        }
    }

    fn acl(entries: Vec<NetworkAclEntry>) -> NetworkAcl {
        NetworkAcl {
            network_acl_id: "acl-1".into(),
            entries,
            ..NetworkAcl::default()
        }
    }

    #[test]
    fn acl_rules_apply_lowest_number_first() {
        // Listed out of order on purpose: 90 (deny) must win over 100 (allow).
        let a = acl(vec![
            entry(100, "-1", "allow", false, "0.0.0.0/0", None),
            entry(90, "6", "deny", false, "10.0.1.0/24", Some((3306, 3306))),
            entry(32767, "-1", "deny", false, "0.0.0.0/0", None),
        ]);
        let from_client = evaluate_acl(&a, false, proto::TCP, ip("10.0.1.10"), Service::port(3306));
        assert_eq!(
            from_client,
            vec![AclSegment {
                from: 3306,
                to: 3306,
                allow: false,
                rule: Some(90)
            }]
        );
        assert_eq!(
            acl_rule_text(&a, Some(90), false),
            "rule 90 denies tcp 3306 from 10.0.1.0/24"
        );
        let other = evaluate_acl(&a, false, proto::TCP, ip("10.0.2.10"), Service::port(3306));
        assert!(other[0].allow && other[0].rule == Some(100));
        let egress = evaluate_acl(&a, true, proto::TCP, ip("10.0.2.10"), Service::port(3306));
        assert_eq!(egress[0].rule, None, "no egress rule: the implicit deny");
        assert!(!egress[0].allow);
    }

    #[test]
    fn the_star_rule_denies_what_nothing_allows() {
        let a = acl(vec![
            entry(100, "6", "allow", false, "10.0.0.0/16", Some((3306, 3306))),
            entry(32767, "-1", "deny", false, "0.0.0.0/0", None),
        ]);
        let d = evaluate_acl(&a, false, proto::TCP, ip("10.0.1.10"), Service::port(5432));
        assert_eq!(d[0].rule, Some(32767));
        assert!(!d[0].allow);
        assert_eq!(
            acl_rule_text(&a, Some(32767), false),
            "the `*` rule denies all traffic from 0.0.0.0/0"
        );
        let v6 = evaluate_acl(
            &a,
            false,
            proto::TCP,
            ip("2001:db8::1"),
            Service::port(3306),
        );
        assert_eq!(
            v6,
            vec![AclSegment {
                from: 3306,
                to: 3306,
                allow: false,
                rule: None
            }],
            "an IPv4 rule does not match IPv6"
        );
    }

    #[test]
    fn ephemeral_reply_ranges_are_split_by_rules() {
        // Outbound replies allowed only to 32768-65535, a deny for 1024-2048 first.
        let a = acl(vec![
            entry(50, "6", "deny", true, "10.0.1.0/24", Some((1024, 2048))),
            entry(100, "6", "allow", true, "10.0.0.0/16", Some((32768, 65535))),
            entry(32767, "-1", "deny", true, "0.0.0.0/0", None),
        ]);
        let d = evaluate_acl(
            &a,
            true,
            proto::TCP,
            ip("10.0.1.10"),
            Service::Ports(1024, 65535),
        );
        assert_eq!(
            d,
            vec![
                AclSegment {
                    from: 1024,
                    to: 2048,
                    allow: false,
                    rule: Some(50)
                },
                AclSegment {
                    from: 2049,
                    to: 32767,
                    allow: false,
                    rule: Some(32767)
                },
                AclSegment {
                    from: 32768,
                    to: 65535,
                    allow: true,
                    rule: Some(100)
                },
            ]
        );
        let linux = evaluate_acl(
            &a,
            true,
            proto::TCP,
            ip("10.0.1.10"),
            Service::Ports(32768, 60999),
        );
        assert!(
            linux.iter().all(|s| s.allow),
            "Linux's ephemeral range is admitted"
        );
    }

    #[test]
    fn icmp_acl_rules_match_type_and_code() {
        let mut ping = entry(100, "1", "allow", false, "0.0.0.0/0", None);
        ping.icmp_type_code = Some(IcmpTypeCode {
            code: Some(-1),
            r#type: Some(8),
        });
        let a = acl(vec![ping]);
        let echo = evaluate_acl(&a, false, proto::ICMP, ip("10.0.0.1"), Service::Icmp(8, 0));
        assert!(echo[0].allow);
        let other = evaluate_acl(&a, false, proto::ICMP, ip("10.0.0.1"), Service::Icmp(3, 1));
        assert_eq!(other[0].rule, None);
    }

    #[test]
    fn protocols_parse_by_name_and_number() {
        assert_eq!(parse_protocol("-1"), Ok(None));
        assert_eq!(parse_protocol("TCP"), Ok(Some(6)));
        assert_eq!(parse_protocol("17"), Ok(Some(17)));
        assert_eq!(parse_protocol("icmpv6"), Ok(Some(58)));
        assert!(parse_protocol("sctp-ish").is_err());
    }
}
