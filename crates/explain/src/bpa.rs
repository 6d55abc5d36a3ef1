//! Explaining REJECTs that carry a `reject-reason`: VPC Block Public Access, a VPC-level control
//! that refuses traffic through the internet gateway before any security group or network ACL
//! is consulted. Such attempts are never blamed on a rule, and never make a contradiction.

use vpcflow_verdict::{Explanation, Hop, Outcome, PairVerdict};

use crate::config::{BlockPublicAccess, NetworkInterface};

/// Where the blocked traffic meets Block Public Access: the VPC and subnet whose internet
/// gateway path it takes, and whether the connection is started from outside.
pub(crate) struct Place<'a> {
    /// The ENI on the blocked side (the endpoint's for inbound and return blocks, the
    /// client's for outbound ones), if the configuration has it.
    pub eni: Option<&'a NetworkInterface>,
    /// The connection is started from the internet (the endpoint is the VPC's side).
    pub inbound: bool,
    /// `10.0.1.10 → db tcp/3306`.
    pub flow: &'a str,
}

/// Whether an exclusion mode admits a connection started from outside (`inbound`) or from the
/// VPC.
fn exclusion_admits(mode: &str, inbound: bool) -> bool {
    match mode {
        "allow-bidirectional" => true,
        "allow-egress" => !inbound,
        _ => false,
    }
}

/// The explanation of a pair whose blocked attempts were all REJECTed with `reject-reason`
/// `BPA`.
pub(crate) fn explain(
    bpa: Option<&BlockPublicAccess>,
    v: &PairVerdict,
    place: &Place<'_>,
) -> Explanation {
    let flow = place.flow;
    let (subnet, vpc) = place.eni.map_or((None, None), |e| {
        (Some(e.subnet_id.as_str()), e.vpc_id.as_deref())
    });
    let target = match (subnet, vpc) {
        (Some(s), _) => format!("--subnet-id {s}"),
        (None, Some(vpc)) => format!("--vpc-id {vpc}"),
        (None, None) => "--subnet-id SUBNET".to_owned(),
    };
    let needed = if place.inbound {
        "allow-bidirectional"
    } else {
        "allow-egress"
    };
    let fix = format!(
        "exclude the {} from Block Public Access: aws ec2 create-vpc-block-public-access-exclusion {target} --internet-gateway-exclusion-mode {needed}; or reach it over a private path (VPN, Direct Connect, peering, a transit gateway) instead of the internet gateway",
        if subnet.is_some() || vpc.is_none() {
            "subnet"
        } else {
            "VPC"
        }
    );
    // Without the account's mode (no options file, or none returned) there is nothing to weigh
    // the exclusions against.
    let Some(bpa) = bpa.filter(|b| !b.options.internet_gateway_block_mode.is_empty()) else {
        return Explanation {
            blocked_by: Some("bpa".to_owned()),
            hop: Some(Hop::VpcControl),
            detail: format!(
                "the REJECTs of {flow} carry reject-reason BPA: VPC Block Public Access refuses it at the VPC level, before security groups and network ACLs are consulted, so no rule is to blame; the configuration has no Block Public Access settings to say which mode and exclusion (aws ec2 describe-vpc-block-public-access-options and describe-vpc-block-public-access-exclusions)"
            ),
            fix: Some(fix),
            ..Explanation::default()
        };
    };
    let mode = bpa.options.internet_gateway_block_mode.as_str();
    let covering: Vec<_> = bpa
        .exclusions
        .iter()
        .filter(|x| x.active() && (Some(x.resource_id()) == subnet || Some(x.resource_id()) == vpc))
        .collect();
    let admitting = covering
        .iter()
        .find(|x| exclusion_admits(&x.internet_gateway_exclusion_mode, place.inbound));
    let at = vpcflow_verdict::rfc3339(v.last_seen);
    if mode == "off" || admitting.is_some() {
        let now = match admitting {
            Some(x) => format!(
                "exclusion {} ({}) of {} admits it now",
                x.exclusion_id,
                x.internet_gateway_exclusion_mode,
                x.resource_id()
            ),
            None => "Block Public Access is off now".to_owned(),
        };
        return Explanation {
            blocked_by: None,
            detail: format!(
                "the REJECTs of {flow} until {at} carry reject-reason BPA (VPC Block Public Access), and {now}: the setting changed after them"
            ),
            ..Explanation::default()
        };
    }
    let scope = match (subnet, vpc) {
        (Some(s), Some(vpc)) => format!("{s} or {vpc}"),
        (Some(s), None) => s.to_owned(),
        (None, Some(vpc)) => vpc.to_owned(),
        (None, None) => "the blocked side (its ENI is not in the configuration)".to_owned(),
    };
    let exclusions = if covering.is_empty() {
        format!("no exclusion covers {scope}")
    } else {
        let names: Vec<String> = covering
            .iter()
            .map(|x| format!("{} ({})", x.exclusion_id, x.internet_gateway_exclusion_mode))
            .collect();
        format!(
            "the exclusion {} of {scope} admits only connections the VPC starts",
            names.join(", ")
        )
    };
    Explanation {
        blocked_by: Some(format!("bpa:{mode}")),
        hop: Some(Hop::VpcControl),
        detail: format!(
            "VPC Block Public Access is in {mode} mode in this region and {exclusions}: it REJECTs {flow} at the VPC level (reject-reason BPA), before security groups and network ACLs are consulted, so no rule is to blame"
        ),
        fix: Some(fix),
        ..Explanation::default()
    }
}

/// Whether every blocked attempt of the pair was REJECTed by a VPC-level control.
pub(crate) fn all_blocks_by_vpc_control(v: &PairVerdict) -> bool {
    v.counts.blocked() > 0 && v.counts.blocked_by_vpc == v.counts.blocked()
}

/// Whether a blocked attempt of this outcome was started from outside the VPC side being
/// blocked: inbound and return blocks are the endpoint's side, outbound ones the client's.
pub(crate) fn inbound(o: Option<Outcome>) -> bool {
    o != Some(Outcome::BlockedEgress)
}
