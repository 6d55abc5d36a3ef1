//! From a verdict and the configuration to an [`Explanation`]: which component blocks the
//! flow, and the smallest fix.

use std::net::IpAddr;

use vpcflow_verdict::{
    Catalogue, Endpoint, Explanation, Hop, Outcome, PairVerdict, Report, Verdict, rfc3339,
};

use crate::config::{Config, Index, NetworkInterface};
use crate::rules::{
    Direction, Peer, Service, SgDecision, SgQuery, acl_rule_text, evaluate_acl, evaluate_groups,
    flow_name, proto,
};

/// The ports replies go to when the client's are unknown: the range AWS recommends network ACLs
/// admit for ephemeral ports.
pub const EPHEMERAL: (u16, u16) = (1024, 65535);

/// One hop of a connection attempt, in path order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// The client's security groups, outbound.
    ClientSg,
    /// The client subnet's network ACL, outbound.
    ClientAclOut,
    /// The endpoint subnet's network ACL, inbound.
    EndpointAclIn,
    /// The endpoint's security groups, inbound.
    EndpointSg,
    /// The endpoint subnet's network ACL, outbound (the reply).
    EndpointAclReply,
    /// The client subnet's network ACL, inbound (the reply).
    ClientAclReply,
}

impl Stage {
    /// The hop of the path this stage checks.
    fn hop(self) -> Hop {
        match self {
            Stage::ClientSg => Hop::ClientSg,
            Stage::ClientAclOut => Hop::ClientAclOut,
            Stage::EndpointAclIn => Hop::EndpointAclIn,
            Stage::EndpointSg => Hop::EndpointSg,
            Stage::EndpointAclReply => Hop::EndpointAclReply,
            Stage::ClientAclReply => Hop::ClientAclReply,
        }
    }

    /// The outcome a block at this stage shows in the logs.
    fn outcome(self) -> Outcome {
        match self {
            Stage::ClientSg | Stage::ClientAclOut => Outcome::BlockedEgress,
            Stage::EndpointAclIn | Stage::EndpointSg => Outcome::BlockedIngress,
            Stage::EndpointAclReply | Stage::ClientAclReply => Outcome::BlockedReturn,
        }
    }
}

/// A component that blocks the flow.
#[derive(Clone, Debug)]
struct Block {
    stage: Stage,
    component: String,
    detail: String,
    fix: String,
    self_reference: bool,
}

/// One side of the flow as the configuration knows it.
struct Side<'a> {
    ip: IpAddr,
    eni: Option<&'a NetworkInterface>,
}

impl Side<'_> {
    fn groups(&self) -> Vec<&str> {
        self.eni
            .map(NetworkInterface::group_ids)
            .unwrap_or_default()
    }

    fn subnet(&self) -> Option<&str> {
        self.eni.map(|e| e.subnet_id.as_str())
    }
}

/// Explains verdicts from one configuration.
#[derive(Debug)]
pub struct Explainer<'a> {
    index: Index<'a>,
}

/// Explains every verdict of a report that has something to explain; returns how many got an
/// explanation.
pub fn explain_report(config: &Config, catalogue: &Catalogue, report: &mut Report) -> usize {
    let explainer = Explainer::new(config);
    report.explained = true;
    let mut n = 0;
    for v in &mut report.verdicts {
        if let Some(e) = catalogue.endpoints.iter().find(|e| e.name == v.endpoint) {
            v.explanation = explainer.explain(e, v);
            n += usize::from(v.explanation.is_some());
        }
    }
    n
}

impl<'a> Explainer<'a> {
    /// An explainer over a configuration.
    pub fn new(config: &'a Config) -> Explainer<'a> {
        Explainer {
            index: config.index(),
        }
    }

    /// Explains one verdict: blocked and intermittent pairs always; allowed pairs only when the
    /// configuration contradicts them or admits them through a self-reference; unanswered pairs
    /// never (nothing was blocked).
    pub fn explain(&self, endpoint: &Endpoint, v: &PairVerdict) -> Option<Explanation> {
        if v.verdict == Verdict::Unanswered {
            return None;
        }
        let client_ip = v.client.to_canonical();
        let flow = format!(
            "{client_ip} → {} {}",
            endpoint.name,
            flow_name(proto::TCP, Service::port(v.port), '/')
        );
        if crate::bpa::all_blocks_by_vpc_control(v) {
            let inbound = crate::bpa::inbound(v.counts.dominant_block());
            let eni = if inbound {
                self.endpoint_eni(endpoint, &v.endpoint_enis, client_ip)
            } else {
                self.index.eni_with_address(client_ip, None)
            };
            let place = crate::bpa::Place {
                eni,
                inbound,
                flow: &flow,
            };
            return Some(crate::bpa::explain(
                self.index.config.block_public_access.as_ref(),
                v,
                &place,
            ));
        }
        let Some(eni) = self.endpoint_eni(endpoint, &v.endpoint_enis, client_ip) else {
            if v.verdict == Verdict::Allowed {
                return None;
            }
            let known = if endpoint.interface_ids.is_empty() {
                let a: Vec<String> = endpoint.addresses.iter().map(|a| a.to_string()).collect();
                format!("no ENI with address {}", a.join(" or "))
            } else {
                format!("no ENI {}", endpoint.interface_ids.join(" or "))
            };
            return Some(Explanation {
                detail: format!(
                    "the configuration has {known} for {}: is it from the same account and region as the logs, or was the instance replaced?",
                    endpoint.name
                ),
                ..Explanation::default()
            });
        };
        let endpoint_ip = eni
            .addresses()
            .into_iter()
            .find(|a| a.is_ipv4() == client_ip.is_ipv4())
            .or_else(|| endpoint.addresses.first().copied())
            .unwrap_or(client_ip);
        let server = Side {
            ip: endpoint_ip,
            eni: Some(eni),
        };
        let client = Side {
            ip: client_ip,
            eni: self
                .index
                .eni_with_address(client_ip, eni.vpc_id.as_deref()),
        };
        let replies = if v.client_ports.0 > 0 && v.client_ports.0 <= v.client_ports.1 {
            v.client_ports
        } else {
            EPHEMERAL
        };
        let (blocks, admitted_through_self) = self.blocks(&client, &server, v.port, replies);
        let observed = v.counts.dominant_block();
        let no_client_eni = if client.eni.is_none() {
            " (the client's address is on no ENI in the configuration, so only the endpoint's side was checked)"
        } else {
            ""
        };
        match (v.counts.blocked() > 0, blocks.first()) {
            (true, Some(_)) => {
                let primary = blocks
                    .iter()
                    .find(|b| Some(b.stage.outcome()) == observed)
                    .unwrap_or(&blocks[0]);
                let mut detail = primary.detail.clone();
                if let Some(o) = observed
                    && o != primary.stage.outcome()
                {
                    detail.push_str(&format!(
                        "; the logs show the attempts {}, so something else blocks there too",
                        o.as_str().replace('_', " ")
                    ));
                }
                if v.verdict == Verdict::Intermittent {
                    detail.push_str(
                        "; other attempts got through, so the rules or the path changed during the logs",
                    );
                }
                if v.counts.blocked_by_vpc > 0 {
                    detail.push_str(&format!(
                        "; {} of the blocked attempts were REJECTed by VPC Block Public Access (reject-reason BPA), not by this rule",
                        v.counts.blocked_by_vpc
                    ));
                }
                detail.push_str(no_client_eni);
                Some(Explanation {
                    blocked_by: Some(primary.component.clone()),
                    detail,
                    fix: Some(primary.fix.clone()),
                    self_reference: primary.self_reference,
                    contradiction: false,
                    hop: Some(primary.stage.hop()),
                })
            }
            (true, None) => {
                let at = rfc3339(v.last_seen);
                let latest_blocked = v.latest.is_some_and(|o| o.is_blocked());
                let (detail, contradiction) = if v.verdict == Verdict::Intermittent
                    && !latest_blocked
                {
                    (
                        format!(
                            "the configuration admits {flow} now; the {} blocked attempts came before a change to the rules{no_client_eni}",
                            v.counts.blocked()
                        ),
                        false,
                    )
                } else if v.verdict == Verdict::Intermittent {
                    (
                        format!(
                            "the configuration admits {flow} now, yet the latest attempts (until {at}) were blocked: the rules changed after them, or something outside this configuration blocks it at times{no_client_eni}"
                        ),
                        true,
                    )
                } else {
                    (
                        format!(
                            "contradiction: the configuration admits {flow}, yet the logs show {} blocked attempts{} until {at}: the rules changed since, the ENI logged is not {}, or a network ACL or route outside this configuration blocks it{no_client_eni}",
                            v.counts.blocked() - v.counts.blocked_by_vpc,
                            if v.counts.blocked_by_vpc > 0 {
                                " without a reject-reason"
                            } else {
                                ""
                            },
                            eni.network_interface_id
                        ),
                        true,
                    )
                };
                Some(Explanation {
                    blocked_by: None,
                    detail,
                    fix: None,
                    self_reference: admitted_through_self.is_some(),
                    contradiction,
                    hop: None,
                })
            }
            (false, Some(b)) => Some(Explanation {
                blocked_by: Some(b.component.clone()),
                detail: format!(
                    "contradiction: every attempt connected until {}, but the configuration blocks {flow} now: {}; the rules changed since",
                    rfc3339(v.last_seen),
                    b.detail
                ),
                fix: Some(b.fix.clone()),
                self_reference: b.self_reference,
                contradiction: true,
                hop: Some(b.stage.hop()),
            }),
            (false, None) => admitted_through_self.map(|g| Explanation {
                blocked_by: None,
                detail: format!(
                    "admitted through a self-reference: the client's ENI is in {g} too, whose rule names {g} itself, so every member of {g} reaches every other on what that rule allows (the self-referencing trap)"
                ),
                fix: Some(format!(
                    "give {} a group of its own admitting {} from the client's group, and take the client out of {g}",
                    endpoint.name,
                    flow_name(proto::TCP, Service::port(v.port), ' ')
                )),
                self_reference: true,
                contradiction: false,
                hop: None,
            }),
        }
    }

    /// The endpoint's ENI: the first that logged the pair's records (a REJECT first) and is
    /// in the configuration, else a catalogued interface id, else the ENI holding its address.
    fn endpoint_eni(
        &self,
        endpoint: &Endpoint,
        logged: &[String],
        client: IpAddr,
    ) -> Option<&'a NetworkInterface> {
        logged
            .iter()
            .filter(|id| endpoint.interface_ids.is_empty() || endpoint.interface_ids.contains(id))
            .find_map(|id| self.index.eni(id))
            .or_else(|| {
                endpoint
                    .interface_ids
                    .iter()
                    .find_map(|id| self.index.eni(id))
            })
            .or_else(|| {
                let mut addrs = endpoint.addresses.clone();
                // The address of the client's family first.
                addrs.sort_by_key(|a| a.is_ipv4() != client.is_ipv4());
                addrs
                    .iter()
                    .find_map(|a| self.index.eni_with_address(*a, None))
            })
    }

    /// Every check along the path that fails, in path order, and the group that admitted the
    /// request through a self-reference, if one did.
    fn blocks(
        &self,
        client: &Side<'_>,
        server: &Side<'_>,
        port: u16,
        replies: (u16, u16),
    ) -> (Vec<Block>, Option<String>) {
        let mut out = Vec::new();
        let client_groups = client.groups();
        let server_groups = server.groups();
        // Traffic between two ENIs of one subnet never crosses that subnet's network ACL; a
        // client with no known ENI is in the subnet when the subnet's range holds its address.
        let cross = match (client.subnet(), server.subnet()) {
            (Some(c), Some(s)) => c != s,
            (None, Some(s)) => !self
                .index
                .subnet(s)
                .is_some_and(|s| s.ranges().any(|c| c.contains(client.ip))),
            _ => true,
        };
        if client.eni.is_some() {
            let d = evaluate_groups(
                &self.index,
                &client_groups,
                &SgQuery {
                    direction: Direction::Outbound,
                    protocol: proto::TCP,
                    service: Service::port(port),
                    peer: server.ip,
                    peer_groups: &server_groups,
                },
            );
            if d.admitted_by.is_none() {
                out.push(self.sg_block(Stage::ClientSg, &client_groups, &d, client, server, port));
            }
            if cross {
                out.extend(self.acl_block(
                    Stage::ClientAclOut,
                    client,
                    server,
                    Service::port(port),
                ));
            }
        }
        if cross {
            out.extend(self.acl_block(Stage::EndpointAclIn, server, client, Service::port(port)));
        }
        let d = evaluate_groups(
            &self.index,
            &server_groups,
            &SgQuery {
                direction: Direction::Inbound,
                protocol: proto::TCP,
                service: Service::port(port),
                peer: client.ip,
                peer_groups: &client_groups,
            },
        );
        let through_self = match &d.admitted_by {
            Some(m) => match &m.peer {
                Peer::Group {
                    id,
                    self_reference: true,
                } => Some(id.clone()),
                _ => None,
            },
            None => {
                out.push(self.sg_block(
                    Stage::EndpointSg,
                    &server_groups,
                    &d,
                    server,
                    client,
                    port,
                ));
                None
            }
        };
        let reply = Service::Ports(replies.0, replies.1);
        if cross {
            out.extend(self.acl_block(Stage::EndpointAclReply, server, client, reply));
            if client.eni.is_some() {
                out.extend(self.acl_block(Stage::ClientAclReply, client, server, reply));
            }
        }
        (out, through_self)
    }

    /// A security-group block at `own` (the side whose groups failed) against `peer`.
    fn sg_block(
        &self,
        stage: Stage,
        groups: &[&str],
        d: &SgDecision,
        own: &Side<'_>,
        peer: &Side<'_>,
        port: u16,
    ) -> Block {
        let service = flow_name(proto::TCP, Service::port(port), '/');
        let named: Vec<String> = groups.iter().map(|g| self.group_label(g)).collect();
        let inbound = stage == Stage::EndpointSg;
        let (dir, way) = if inbound {
            ("inbound", "from")
        } else {
            ("outbound", "to")
        };
        let peer_groups = peer.groups();
        let peer_desc = match peer_groups.as_slice() {
            [] => peer.ip.to_string(),
            g => format!("{} / {}", peer.ip, g.join(", ")),
        };
        let has = if groups.len() == 1 { "has" } else { "have" };
        let mut detail = match groups {
            [] => format!(
                "{} carries no security group, so nothing is admitted {dir}",
                own.eni
                    .map_or("the ENI", |e| e.network_interface_id.as_str())
            ),
            _ => format!(
                "sg:{} {has} no {dir} rule for {service} {way} {peer_desc}",
                named.join(", ")
            ),
        };
        let self_reference = !d.self_referencing.is_empty();
        for g in &d.self_referencing {
            detail.push_str(&format!(
                "; {} admits only its own members (its rule references itself) and {} is not in it",
                self.group_label(g),
                if inbound {
                    "the client's ENI"
                } else {
                    "the endpoint's ENI"
                }
            ));
        }
        if !d.other_peers.is_empty() {
            detail.push_str(&format!(
                "; its rules for {service} name only: {}",
                d.other_peers.join(", ")
            ));
        }
        if !d.unknown_prefix_lists.is_empty() {
            detail.push_str(&format!(
                "; prefix lists {} are not in the configuration and were not counted",
                d.unknown_prefix_lists.join(", ")
            ));
        }
        if !d.unknown_groups.is_empty() {
            detail.push_str(&format!(
                "; groups {} are not in the configuration",
                d.unknown_groups.join(", ")
            ));
        }
        // Prefer a group of its own over the VPC's default group, and a group reference over an
        // address: clients come and go, their group stays (AWS's recommended pattern).
        let target = groups
            .iter()
            .find(|g| !self.is_default_group(g))
            .or(groups.first())
            .copied()
            .unwrap_or("a new security group");
        let source = peer_groups
            .iter()
            .find(|g| !self.is_default_group(g))
            .map(|g| (*g).to_owned())
            .unwrap_or_else(|| host_cidr(peer.ip));
        let rule = format!("tcp {port} {way} {source}");
        let precedent = if inbound {
            self.precedent(target, &source, port)
                .map(|m| format!(" (as {m} already does)"))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let mut fix = if self.is_default_group(target) {
            // The default group is shared by everything launched without a group: give the
            // database (or client) a group of its own, the pattern AWS recommends.
            format!(
                "give the {} a security group of its own with an {dir} rule {rule}{precedent}, in place of the VPC's default group {target}, which everything launched without a group shares; or add that rule to {target}",
                if inbound { "database" } else { "client" }
            )
        } else {
            format!("add an {dir} rule to {target}: {rule}{precedent}")
        };
        if self_reference {
            fix.push_str(&format!(
                "; do not add the {} to {target} instead: its self-referencing rule admits every member to every other",
                if inbound { "client" } else { "database" }
            ));
        }
        let component = match groups {
            [] => format!(
                "eni:{}",
                own.eni.map_or("?", |e| e.network_interface_id.as_str())
            ),
            _ => format!("sg:{}", groups.join(",")),
        };
        Block {
            stage,
            component,
            detail,
            fix,
            self_reference,
        }
    }

    /// A network-ACL block on `own`'s subnet for traffic exchanged with `peer`, if the ACL
    /// denies any of `service`.
    fn acl_block(
        &self,
        stage: Stage,
        own: &Side<'_>,
        peer: &Side<'_>,
        service: Service,
    ) -> Option<Block> {
        let subnet = own.subnet()?;
        let acl = self.index.acl_for_subnet(subnet)?;
        let egress = matches!(stage, Stage::ClientAclOut | Stage::EndpointAclReply);
        let segments = evaluate_acl(acl, egress, proto::TCP, peer.ip, service);
        let denied: Vec<_> = segments.iter().filter(|s| !s.allow).collect();
        // The lowest-numbered denying rule: an allow rule must come before it to take effect.
        let first = denied
            .iter()
            .min_by_key(|s| s.rule.unwrap_or(i32::MAX))
            .copied()?;
        let (dir, way) = if egress {
            ("outbound", "to")
        } else {
            ("inbound", "from")
        };
        let what = match stage {
            Stage::EndpointAclReply | Stage::ClientAclReply => "the reply",
            _ => "the request",
        };
        let ports: Vec<String> = denied
            .iter()
            .map(|s| {
                if s.from == s.to {
                    s.from.to_string()
                } else {
                    format!("{}-{}", s.from, s.to)
                }
            })
            .collect();
        let mut detail = format!(
            "nacl:{} {} on {subnet} ({what}, tcp {} {way} {})",
            acl.network_acl_id,
            acl_rule_text(acl, first.rule, egress),
            ports.join(", "),
            peer.ip
        );
        let mut others: Vec<Option<i32>> = denied
            .iter()
            .map(|s| s.rule)
            .filter(|r| *r != first.rule)
            .collect();
        others.sort_unstable();
        others.dedup();
        for rule in others {
            detail.push_str(&format!("; also {}", acl_rule_text(acl, rule, egress)));
        }
        // Admit the peer's whole subnet when it is known: addresses inside it change.
        let range = peer
            .subnet()
            .and_then(|s| self.index.subnet(s))
            .and_then(|s| {
                if peer.ip.is_ipv4() {
                    s.cidr_block.clone()
                } else {
                    s.ipv6_cidr_block_association_set
                        .first()
                        .map(|c| c.ipv6_cidr_block.clone())
                }
            })
            .unwrap_or_else(|| host_cidr(peer.ip));
        let fix_ports = match (stage, service) {
            (Stage::EndpointAclReply | Stage::ClientAclReply, _) => {
                format!("{}-{}", EPHEMERAL.0, EPHEMERAL.1)
            }
            (_, s) => s.to_string(),
        };
        let place = match first.rule {
            Some(n) if !crate::rules::is_star_rule(n) => format!(" numbered below {n}"),
            _ => String::new(),
        };
        Some(Block {
            stage,
            component: format!("nacl:{}", acl.network_acl_id),
            detail,
            fix: format!(
                "add an {dir} allow rule{place} to {}: tcp {fix_ports} {way} {range}",
                acl.network_acl_id
            ),
            self_reference: false,
        })
    }

    /// Another security group that already admits tcp/`port` from the group `source`: the
    /// pattern the fix copies.
    fn precedent(&self, target: &str, source: &str, port: u16) -> Option<String> {
        let peer_groups = [source];
        self.index
            .config
            .security_groups
            .iter()
            .filter(|g| g.group_id != target && g.group_id != source)
            .find(|g| {
                let d = evaluate_groups(
                    &self.index,
                    &[g.group_id.as_str()],
                    &SgQuery {
                        direction: Direction::Inbound,
                        protocol: proto::TCP,
                        service: Service::port(port),
                        peer: IpAddr::from([0, 0, 0, 0]),
                        peer_groups: &peer_groups,
                    },
                );
                d.admitted_by
                    .is_some_and(|m| matches!(m.peer, Peer::Group { ref id, .. } if id == source))
            })
            .map(|g| self.group_label(&g.group_id))
    }

    fn group_label(&self, id: &str) -> String {
        match self.index.group(id) {
            Some(g) if !g.group_name.is_empty() => format!("{id} ({})", g.group_name),
            _ => id.to_owned(),
        }
    }

    fn is_default_group(&self, id: &str) -> bool {
        self.index
            .group(id)
            .is_some_and(|g| g.group_name == "default")
    }
}

/// One address as a CIDR.
fn host_cidr(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(_) => format!("{ip}/32"),
        IpAddr::V6(_) => format!("{ip}/128"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{
        GroupIdentifier, IpPermission, IpRange, NetworkAcl, NetworkAclAssociation, NetworkAclEntry,
        PortRange, PrivateIpAddress, SecurityGroup, Subnet, UserIdGroupPair,
    };
    use vpcflow_verdict::{Confidence, Counts};

    fn eni(id: &str, subnet: &str, ip: &str, groups: &[&str]) -> NetworkInterface {
        NetworkInterface {
            network_interface_id: id.into(),
            subnet_id: subnet.into(),
            vpc_id: Some("vpc-1".into()),
            groups: groups
                .iter()
                .map(|g| GroupIdentifier {
                    group_id: (*g).into(),
                    group_name: format!("{g}-name"),
                })
                .collect(),
            private_ip_addresses: vec![PrivateIpAddress {
                private_ip_address: ip.into(),
            }],
            ..NetworkInterface::default()
        }
    }

    fn tcp_from_group(port: i32, group: &str) -> IpPermission {
        IpPermission {
            ip_protocol: "tcp".into(),
            from_port: Some(port),
            to_port: Some(port),
            user_id_group_pairs: vec![UserIdGroupPair {
                group_id: Some(group.into()),
                user_id: None,
            }],
            ..IpPermission::default()
        }
    }

    fn all_to_anywhere() -> IpPermission {
        IpPermission {
            ip_protocol: "-1".into(),
            ip_ranges: vec![IpRange {
                cidr_ip: "0.0.0.0/0".into(),
            }],
            ..IpPermission::default()
        }
    }

    fn group(id: &str, inbound: Vec<IpPermission>, outbound: Vec<IpPermission>) -> SecurityGroup {
        SecurityGroup {
            group_id: id.into(),
            group_name: format!("{id}-name"),
            ip_permissions: inbound,
            ip_permissions_egress: outbound,
            ..SecurityGroup::default()
        }
    }

    fn rule(
        n: i32,
        action: &str,
        egress: bool,
        cidr: &str,
        ports: Option<(i32, i32)>,
    ) -> NetworkAclEntry {
        NetworkAclEntry {
            rule_number: n,
            protocol: if ports.is_some() { "6" } else { "-1" }.into(),
            rule_action: action.into(),
            egress,
            cidr_block: Some(cidr.into()),
            port_range: ports.map(|(a, b)| PortRange {
                from: Some(a),
                to: Some(b),
            }),
            ..NetworkAclEntry::default()
        }
    }

    fn open_acl(id: &str, subnets: &[&str], default: bool) -> NetworkAcl {
        NetworkAcl {
            network_acl_id: id.into(),
            vpc_id: Some("vpc-1".into()),
            is_default: default,
            entries: vec![
                rule(100, "allow", false, "0.0.0.0/0", None),
                rule(100, "allow", true, "0.0.0.0/0", None),
                rule(32767, "deny", false, "0.0.0.0/0", None),
                rule(32767, "deny", true, "0.0.0.0/0", None),
            ],
            associations: subnets
                .iter()
                .map(|s| NetworkAclAssociation {
                    subnet_id: (*s).into(),
                })
                .collect(),
        }
    }

    /// A client in subnet-c (10.0.1.0/24, sg-client) and a database in subnet-d
    /// (10.0.3.0/24, sg-db admitting 3306 from sg-client), open ACLs.
    fn base() -> Config {
        Config {
            security_groups: vec![
                group(
                    "sg-db",
                    vec![tcp_from_group(3306, "sg-client")],
                    vec![all_to_anywhere()],
                ),
                group("sg-client", vec![], vec![all_to_anywhere()]),
            ],
            network_acls: vec![open_acl("acl-open", &["subnet-c", "subnet-d"], true)],
            network_interfaces: vec![
                eni("eni-c", "subnet-c", "10.0.1.10", &["sg-client"]),
                eni("eni-d", "subnet-d", "10.0.3.5", &["sg-db"]),
            ],
            subnets: vec![
                Subnet {
                    subnet_id: "subnet-c".into(),
                    vpc_id: Some("vpc-1".into()),
                    cidr_block: Some("10.0.1.0/24".into()),
                    ..Subnet::default()
                },
                Subnet {
                    subnet_id: "subnet-d".into(),
                    vpc_id: Some("vpc-1".into()),
                    cidr_block: Some("10.0.3.0/24".into()),
                    ..Subnet::default()
                },
            ],
            prefix_lists: vec![],
            block_public_access: None,
        }
    }

    fn endpoint() -> Endpoint {
        Endpoint {
            name: "db".into(),
            addresses: vec!["10.0.3.5".parse().unwrap()],
            port: 3306,
            interface_ids: vec!["eni-d".into()],
            engine: None,
            security_group_ids: vec![],
            cluster: None,
            expected_clients: vec![],
        }
    }

    fn pair(client: &str, counts: Counts) -> PairVerdict {
        PairVerdict {
            endpoint: "db".into(),
            client: client.parse().unwrap(),
            port: 3306,
            verdict: Verdict::from_counts(&counts),
            counts,
            records: 4,
            first_seen: 1_795_165_200,
            last_seen: 1_795_165_800,
            changed_at: None,
            latest: None,
            side: vpcflow_verdict::Side::Eni,
            confidence: Confidence::High,
            reason: String::new(),
            client_ports: (51234, 51240),
            endpoint_enis: vec![],
            reject_reasons: vec![],
            sampled: false,
            timeline: vec![],
            unexpected: false,
            public: false,
            explanation: None,
        }
    }

    fn counts(f: impl FnOnce(&mut Counts)) -> Counts {
        let mut c = Counts::default();
        f(&mut c);
        c.attempts = c.connected + c.blocked() + c.unanswered;
        c
    }

    fn explain(config: &Config, client: &str, c: Counts) -> Option<Explanation> {
        Explainer::new(config).explain(&endpoint(), &pair(client, c))
    }

    #[test]
    fn bpa_rejects_name_block_public_access_and_never_a_group() {
        use crate::config::{BlockPublicAccess, BlockPublicAccessExclusion};
        // sg-db admits nothing, yet the REJECTs carry reject-reason BPA: the group is not
        // blamed, and it is no contradiction either.
        let mut config = base();
        config.security_groups[0].ip_permissions.clear();
        let by_bpa = counts(|c| {
            c.blocked_ingress = 3;
            c.blocked_by_vpc = 3;
        });
        let e = explain(&config, "203.0.113.7", by_bpa).unwrap();
        assert_eq!(e.blocked_by.as_deref(), Some("bpa"));
        assert!(e.detail.contains("reject-reason BPA"), "{}", e.detail);
        assert!(!e.detail.contains("sg-db") && !e.contradiction);
        assert!(e.fix.as_deref().unwrap().contains(
            "--subnet-id subnet-d --internet-gateway-exclusion-mode allow-bidirectional"
        ));
        // With the account's setting: the mode is named, and an egress-only exclusion does not
        // admit a connection started from the internet.
        config.block_public_access = Some(BlockPublicAccess {
            options: crate::config::BlockPublicAccessOptions {
                internet_gateway_block_mode: "block-bidirectional".into(),
                state: Some("update-complete".into()),
            },
            exclusions: vec![BlockPublicAccessExclusion {
                exclusion_id: "exclusion-1".into(),
                internet_gateway_exclusion_mode: "allow-egress".into(),
                resource_arn: "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-d".into(),
                state: Some("create-complete".into()),
            }],
        });
        let e = explain(&config, "203.0.113.7", by_bpa).unwrap();
        assert_eq!(e.blocked_by.as_deref(), Some("bpa:block-bidirectional"));
        assert_eq!(
            e.detail,
            "VPC Block Public Access is in block-bidirectional mode in this region and the exclusion exclusion-1 (allow-egress) of subnet-d or vpc-1 admits only connections the VPC starts: it REJECTs 203.0.113.7 → db tcp/3306 at the VPC level (reject-reason BPA), before security groups and network ACLs are consulted, so no rule is to blame"
        );
        // A bidirectional exclusion admits it now: the setting changed after the REJECTs.
        config.block_public_access.as_mut().unwrap().exclusions[0]
            .internet_gateway_exclusion_mode = "allow-bidirectional".into();
        let e = explain(&config, "203.0.113.7", by_bpa).unwrap();
        assert_eq!(e.blocked_by, None);
        assert!(
            e.detail
                .contains("exclusion exclusion-1 (allow-bidirectional) of subnet-d admits it now")
        );
        assert!(!e.contradiction);
        // The same flows without the field keep the rule's explanation.
        let plain = counts(|c| c.blocked_ingress = 3);
        let e = explain(&config, "10.0.1.10", plain).unwrap();
        assert_eq!(e.blocked_by.as_deref(), Some("sg:sg-db"));
    }

    #[test]
    fn a_missing_inbound_rule_names_the_group_and_proposes_a_group_reference() {
        let mut config = base();
        config.security_groups[0].ip_permissions.clear();
        let e = explain(&config, "10.0.1.10", counts(|c| c.blocked_ingress = 2)).unwrap();
        assert_eq!(e.blocked_by.as_deref(), Some("sg:sg-db"));
        assert_eq!(
            e.detail,
            "sg:sg-db (sg-db-name) has no inbound rule for tcp/3306 from 10.0.1.10 / sg-client"
        );
        assert_eq!(
            e.fix.as_deref(),
            Some("add an inbound rule to sg-db: tcp 3306 from sg-client")
        );
        assert!(!e.contradiction && !e.self_reference);
    }

    #[test]
    fn the_fix_points_at_a_group_that_already_does_it() {
        let mut config = base();
        config.security_groups[0].ip_permissions.clear();
        config.security_groups.push(group(
            "sg-model",
            vec![tcp_from_group(3306, "sg-client")],
            vec![],
        ));
        let e = explain(&config, "10.0.1.10", counts(|c| c.blocked_ingress = 1)).unwrap();
        assert!(
            e.fix
                .unwrap()
                .ends_with("(as sg-model (sg-model-name) already does)")
        );
    }

    #[test]
    fn a_nacl_denying_the_reply_to_ephemeral_ports_is_named_with_its_rule() {
        let mut config = base();
        let mut strict = open_acl("acl-strict", &["subnet-d"], false);
        strict
            .entries
            .push(rule(90, "deny", true, "10.0.1.0/24", Some((1024, 65535))));
        config.network_acls[0]
            .associations
            .retain(|a| a.subnet_id != "subnet-d");
        config.network_acls.push(strict);
        let e = explain(&config, "10.0.1.10", counts(|c| c.blocked_return = 2)).unwrap();
        assert_eq!(e.blocked_by.as_deref(), Some("nacl:acl-strict"));
        assert_eq!(
            e.detail,
            "nacl:acl-strict rule 90 denies tcp 1024-65535 to 10.0.1.0/24 on subnet-d (the reply, tcp 51234-51240 to 10.0.1.10)"
        );
        assert_eq!(
            e.fix.as_deref(),
            Some(
                "add an outbound allow rule numbered below 90 to acl-strict: tcp 1024-65535 to 10.0.1.0/24"
            )
        );
    }

    #[test]
    fn a_client_group_without_egress_blocks_at_the_client() {
        let mut config = base();
        config.security_groups[1].ip_permissions_egress.clear();
        let e = explain(&config, "10.0.1.10", counts(|c| c.blocked_egress = 3)).unwrap();
        assert_eq!(e.blocked_by.as_deref(), Some("sg:sg-client"));
        assert!(
            e.detail
                .contains("no outbound rule for tcp/3306 to 10.0.3.5 / sg-db"),
            "{}",
            e.detail
        );
        assert_eq!(
            e.fix.as_deref(),
            Some("add an outbound rule to sg-client: tcp 3306 to sg-db")
        );
    }

    #[test]
    fn rules_that_admit_what_the_logs_rejected_are_a_contradiction() {
        let e = explain(&base(), "10.0.1.10", counts(|c| c.blocked_ingress = 2)).unwrap();
        assert!(e.contradiction);
        assert_eq!(e.blocked_by, None);
        assert!(
            e.detail
                .starts_with("contradiction: the configuration admits 10.0.1.10 → db tcp/3306"),
            "{}",
            e.detail
        );
        assert!(e.detail.contains("the ENI logged is not eni-d"));
    }

    #[test]
    fn intermittent_pairs_read_the_latest_outcome() {
        let c = counts(|c| {
            c.blocked_ingress = 2;
            c.connected = 3;
        });
        let mut p = pair("10.0.1.10", c);
        p.latest = Some(Outcome::Connected);
        let fixed = Explainer::new(&base()).explain(&endpoint(), &p).unwrap();
        assert!(!fixed.contradiction);
        assert!(
            fixed.detail.contains("came before a change to the rules"),
            "{}",
            fixed.detail
        );
        p.latest = Some(Outcome::BlockedIngress);
        let now_blocked = Explainer::new(&base()).explain(&endpoint(), &p).unwrap();
        assert!(now_blocked.contradiction, "{}", now_blocked.detail);
        assert!(
            now_blocked.detail.contains("the latest attempts"),
            "{}",
            now_blocked.detail
        );
    }

    #[test]
    fn rules_that_block_what_connected_are_a_contradiction_too() {
        let mut config = base();
        config.security_groups[0].ip_permissions.clear();
        let e = explain(&config, "10.0.1.10", counts(|c| c.connected = 2)).unwrap();
        assert!(e.contradiction);
        assert_eq!(e.blocked_by.as_deref(), Some("sg:sg-db"));
        assert!(e.detail.contains("the rules changed since"));
        assert_eq!(
            explain(&base(), "10.0.1.10", counts(|c| c.connected = 2)),
            None,
            "nothing to say"
        );
    }

    #[test]
    fn admission_through_a_self_reference_is_flagged() {
        let mut config = base();
        config.security_groups[0].ip_permissions = vec![IpPermission {
            ip_protocol: "-1".into(),
            user_id_group_pairs: vec![UserIdGroupPair {
                group_id: Some("sg-db".into()),
                user_id: None,
            }],
            ..IpPermission::default()
        }];
        config.network_interfaces[0].groups.push(GroupIdentifier {
            group_id: "sg-db".into(),
            group_name: String::new(),
        });
        let e = explain(&config, "10.0.1.10", counts(|c| c.connected = 1)).unwrap();
        assert!(e.self_reference && !e.contradiction);
        assert!(e.detail.contains("self-referencing trap"), "{}", e.detail);
    }

    #[test]
    fn one_subnet_means_no_nacl_on_the_way() {
        let mut config = base();
        config.network_interfaces[0].subnet_id = "subnet-d".into();
        config.network_acls[0]
            .entries
            .retain(|e| e.rule_number == 32767);
        assert_eq!(
            explain(&config, "10.0.1.10", counts(|c| c.connected = 2)),
            None
        );
        let other_subnet = {
            let mut c = config.clone();
            c.network_interfaces[0].subnet_id = "subnet-c".into();
            explain(&c, "10.0.1.10", counts(|c| c.connected = 2)).unwrap()
        };
        assert_eq!(
            other_subnet.blocked_by.as_deref(),
            Some("nacl:acl-open"),
            "across subnets the deny-all ACL applies"
        );
    }

    #[test]
    fn a_client_outside_the_configuration_gets_an_address_rule() {
        let mut config = base();
        config.security_groups[0].ip_permissions = vec![IpPermission {
            ip_protocol: "tcp".into(),
            from_port: Some(3306),
            to_port: Some(3306),
            ip_ranges: vec![IpRange {
                cidr_ip: "10.0.0.0/16".into(),
            }],
            ..IpPermission::default()
        }];
        let e = explain(&config, "192.0.2.7", counts(|c| c.blocked_ingress = 1)).unwrap();
        assert_eq!(e.blocked_by.as_deref(), Some("sg:sg-db"));
        assert!(
            e.detail.contains("name only: tcp 3306 from 10.0.0.0/16"),
            "{}",
            e.detail
        );
        assert!(e.detail.contains("only the endpoint's side was checked"));
        assert_eq!(
            e.fix.as_deref(),
            Some("add an inbound rule to sg-db: tcp 3306 from 192.0.2.7/32")
        );
    }

    #[test]
    fn an_endpoint_missing_from_the_configuration_is_said_plainly() {
        let mut config = base();
        config
            .network_interfaces
            .retain(|e| e.network_interface_id != "eni-d");
        let e = explain(&config, "10.0.1.10", counts(|c| c.blocked_ingress = 1)).unwrap();
        assert!(
            e.detail
                .starts_with("the configuration has no ENI eni-d for db"),
            "{}",
            e.detail
        );
        assert_eq!(e.blocked_by, None);
    }

    #[test]
    fn the_fix_goes_before_the_lowest_denying_acl_rule() {
        // Outbound from the database subnet: 50 denies the high ports, 100 allows the middle,
        // the `*` rule the rest. An allow rule must come before 50 to admit every reply port.
        let mut config = base();
        let mut strict = open_acl("acl-strict", &["subnet-d"], false);
        strict
            .entries
            .retain(|e| !e.egress || e.rule_number == 32767);
        strict
            .entries
            .push(rule(50, "deny", true, "0.0.0.0/0", Some((40000, 65535))));
        strict
            .entries
            .push(rule(100, "allow", true, "0.0.0.0/0", Some((2000, 39999))));
        config.network_acls[0]
            .associations
            .retain(|a| a.subnet_id != "subnet-d");
        config.network_acls.push(strict);
        let mut p = pair("10.0.1.10", counts(|c| c.blocked_return = 1));
        p.client_ports = (1024, 65535);
        let e = Explainer::new(&config).explain(&endpoint(), &p).unwrap();
        assert!(
            e.detail
                .starts_with("nacl:acl-strict rule 50 denies tcp 40000-65535 to 0.0.0.0/0"),
            "{}",
            e.detail
        );
        assert!(
            e.detail.contains("tcp 1024-1999, 40000-65535 to 10.0.1.10"),
            "{}",
            e.detail
        );
        assert!(
            e.detail
                .contains("; also the `*` rule denies all traffic to 0.0.0.0/0"),
            "{}",
            e.detail
        );
        assert!(e.fix.unwrap().contains("numbered below 50"));
    }

    #[test]
    fn the_ipv6_star_rule_is_the_star_rule() {
        let mut a = open_acl("acl-6", &[], false);
        a.entries = vec![NetworkAclEntry {
            rule_number: 32768,
            protocol: "-1".into(),
            rule_action: "deny".into(),
            egress: false,
            ipv6_cidr_block: Some("::/0".into()),
            ..NetworkAclEntry::default()
        }];
        let d = crate::rules::evaluate_acl(
            &a,
            false,
            proto::TCP,
            "2001:db8::1".parse().unwrap(),
            Service::port(5432),
        );
        assert_eq!(d[0].rule, Some(32768));
        assert_eq!(
            acl_rule_text(&a, Some(32768), false),
            "the `*` rule denies all traffic from ::/0"
        );
    }

    #[test]
    fn a_client_address_reused_in_another_vpc_is_not_taken_for_the_client() {
        let mut config = base();
        // Another VPC has an ENI with the client's address, in a group the database admits.
        let mut twin = eni("eni-twin", "subnet-x", "10.0.1.10", &["sg-client"]);
        twin.vpc_id = Some("vpc-2".into());
        config.network_interfaces.insert(0, twin);
        config.network_interfaces[1].groups[0].group_id = "sg-other".into();
        let e = explain(&config, "10.0.1.10", counts(|c| c.blocked_ingress = 1)).unwrap();
        assert_eq!(
            e.blocked_by.as_deref(),
            Some("sg:sg-db"),
            "the client in vpc-1 carries sg-other"
        );
        assert!(
            e.detail.contains("from 10.0.1.10 / sg-other"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn an_unknown_client_inside_the_endpoint_subnet_crosses_no_acl() {
        let mut config = base();
        config.network_acls[0]
            .entries
            .retain(|e| e.rule_number == 32767);
        config.security_groups[0].ip_permissions = vec![IpPermission {
            ip_protocol: "tcp".into(),
            from_port: Some(3306),
            to_port: Some(3306),
            ip_ranges: vec![IpRange {
                cidr_ip: "10.0.3.0/24".into(),
            }],
            ..IpPermission::default()
        }];
        assert_eq!(
            explain(&config, "10.0.3.77", counts(|c| c.connected = 1)),
            None,
            "same subnet: no ACL"
        );
        let outside = explain(&config, "10.0.9.9", counts(|c| c.blocked_ingress = 1)).unwrap();
        assert_eq!(outside.blocked_by.as_deref(), Some("nacl:acl-open"));
    }

    #[test]
    fn a_multi_az_endpoint_is_checked_on_the_eni_that_logged() {
        // The standby's ENI sits in a subnet whose ACL denies MySQL; after a failover the
        // REJECTs are logged there.
        let mut config = base();
        let mut standby = eni("eni-d2", "subnet-e", "10.0.5.5", &["sg-db"]);
        standby.vpc_id = Some("vpc-1".into());
        config.network_interfaces.push(standby);
        config.subnets.push(Subnet {
            subnet_id: "subnet-e".into(),
            vpc_id: Some("vpc-1".into()),
            cidr_block: Some("10.0.5.0/24".into()),
            ..Subnet::default()
        });
        let mut closed = open_acl("acl-closed", &["subnet-e"], false);
        closed.entries.retain(|e| e.rule_number == 32767);
        config.network_acls.push(closed);
        let mut e = endpoint();
        e.interface_ids.push("eni-d2".into());
        let mut p = pair("10.0.1.10", counts(|c| c.blocked_ingress = 1));
        assert_eq!(
            Explainer::new(&config).explain(&e, &p).unwrap().blocked_by,
            None,
            "the primary admits it"
        );
        p.endpoint_enis = vec!["eni-d2".into()];
        let x = Explainer::new(&config).explain(&e, &p).unwrap();
        assert_eq!(
            x.blocked_by.as_deref(),
            Some("nacl:acl-closed"),
            "{}",
            x.detail
        );
    }

    #[test]
    fn subnets_without_an_association_use_the_vpc_default_acl() {
        let mut config = base();
        config.network_acls[0].associations.clear();
        config.network_acls[0]
            .entries
            .retain(|e| e.egress || e.rule_number == 32767);
        let e = explain(&config, "10.0.1.10", counts(|c| c.blocked_ingress = 1)).unwrap();
        assert_eq!(e.blocked_by.as_deref(), Some("nacl:acl-open"));
        assert!(
            e.detail
                .contains("the `*` rule denies all traffic from 0.0.0.0/0 on subnet-d"),
            "{}",
            e.detail
        );
    }
}
