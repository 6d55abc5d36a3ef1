//! EC2 look-ups: the record format of the flow log that delivers to a log group, and the
//! network configuration (security groups, network ACLs, ENIs, subnets, prefix lists) that
//! `verdict --explain` evaluates.

use std::fmt::Display;

use aws_config::SdkConfig;

use crate::error::AwsError;
use aws_sdk_ec2::error::DisplayErrorContext;
use aws_sdk_ec2::types::{self as ec2, Filter};
use vpcflow_explain::{
    BlockPublicAccess, BlockPublicAccessExclusion, BlockPublicAccessOptions, Config,
    GroupIdentifier, IcmpTypeCode, IpPermission, IpRange, Ipv6Address, Ipv6Range, NetworkAcl,
    NetworkAclAssociation, NetworkAclEntry, NetworkInterface, PortRange, PrefixList,
    PrefixListEntry, PrefixListId, PrivateIpAddress, SecurityGroup, Subnet, SubnetIpv6Cidr,
    UserIdGroupPair,
};

/// The `LogFormat` of the flow log delivering to CloudWatch Logs group `group`, from EC2
/// DescribeFlowLogs. `Ok(None)` when no flow log names the group.
pub async fn flow_log_format(config: &SdkConfig, group: &str) -> Result<Option<String>, AwsError> {
    let ec2 = crate::config::ec2_client(config);
    let mut pages = ec2
        .describe_flow_logs()
        .filter(
            Filter::builder()
                .name("log-group-name")
                .values(group)
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::Failed {
            operation: "DescribeFlowLogs",
            resource: format!("the flow log of log group {group}"),
            message: DisplayErrorContext(&e).to_string(),
            hint: Some("reading the format needs ec2:DescribeFlowLogs; or pass --log-format"),
        })?;
        for flow_log in page.flow_logs() {
            if flow_log.log_group_name() == Some(group)
                && let Some(format) = flow_log.log_format()
            {
                return Ok(Some(format.to_owned()));
            }
        }
    }
    Ok(None)
}

/// The network configuration `verdict --explain` reads, live: DescribeSecurityGroups,
/// DescribeNetworkAcls, DescribeNetworkInterfaces and DescribeSubnets (every page), then the
/// entries of each managed prefix list a security-group rule names
/// (GetManagedPrefixListEntries). A prefix list that cannot be read is left out with a warning;
/// the explanation then says its entries were not counted.
pub async fn network_config(config: &SdkConfig) -> Result<Config, AwsError> {
    let ec2 = crate::config::ec2_client(config);
    let mut out = Config::default();

    let mut pages = ec2.describe_security_groups().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failed("DescribeSecurityGroups", DisplayErrorContext(&e)))?;
        out.security_groups
            .extend(page.security_groups().iter().map(security_group));
    }
    let mut pages = ec2.describe_network_acls().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failed("DescribeNetworkAcls", DisplayErrorContext(&e)))?;
        out.network_acls
            .extend(page.network_acls().iter().map(network_acl));
    }
    let mut pages = ec2.describe_network_interfaces().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| failed("DescribeNetworkInterfaces", DisplayErrorContext(&e)))?;
        out.network_interfaces
            .extend(page.network_interfaces().iter().map(network_interface));
    }
    let mut pages = ec2.describe_subnets().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failed("DescribeSubnets", DisplayErrorContext(&e)))?;
        out.subnets.extend(page.subnets().iter().map(subnet));
    }

    let mut lists: Vec<String> = out
        .security_groups
        .iter()
        .flat_map(|g| g.ip_permissions.iter().chain(&g.ip_permissions_egress))
        .flat_map(|p| p.prefix_list_ids.iter().map(|p| p.prefix_list_id.clone()))
        .collect();
    lists.sort_unstable();
    lists.dedup();
    'lists: for id in lists {
        let mut entries = Vec::new();
        let mut pages = ec2
            .get_managed_prefix_list_entries()
            .prefix_list_id(&id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => entries.extend(
                    page.entries()
                        .iter()
                        .filter_map(|e| e.cidr().map(|c| PrefixListEntry { cidr: c.to_owned() })),
                ),
                Err(e) => {
                    tracing::warn!(
                        prefix_list = %id,
                        "cannot read the prefix list's entries: {}",
                        DisplayErrorContext(&e)
                    );
                    continue 'lists;
                }
            }
        }
        out.prefix_lists.push(PrefixList {
            prefix_list_id: id,
            prefix_list_name: String::new(),
            entries,
        });
    }
    Ok(out)
}

/// VPC Block Public Access: DescribeVpcBlockPublicAccessOptions and every page of
/// DescribeVpcBlockPublicAccessExclusions. Asked only when some REJECT carried `reject-reason`
/// `BPA`, and not retried: where it cannot be read, the explanation goes without the mode.
pub async fn block_public_access(config: &SdkConfig) -> Result<BlockPublicAccess, AwsError> {
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(config)
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .build(),
    );
    let options = ec2
        .describe_vpc_block_public_access_options()
        .send()
        .await
        .map_err(|e| {
            failed(
                "DescribeVpcBlockPublicAccessOptions",
                DisplayErrorContext(&e),
            )
        })?;
    let mut bpa = BlockPublicAccess::default();
    if let Some(o) = options.vpc_block_public_access_options() {
        bpa.options = BlockPublicAccessOptions {
            internet_gateway_block_mode: o
                .internet_gateway_block_mode()
                .map_or_else(String::new, |m| m.as_str().to_owned()),
            state: o.state().map(|s| s.as_str().to_owned()),
        };
    }
    let mut token: Option<String> = None;
    loop {
        let page = ec2
            .describe_vpc_block_public_access_exclusions()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                failed(
                    "DescribeVpcBlockPublicAccessExclusions",
                    DisplayErrorContext(&e),
                )
            })?;
        bpa.exclusions
            .extend(page.vpc_block_public_access_exclusions().iter().map(|x| {
                BlockPublicAccessExclusion {
                    exclusion_id: owned(x.exclusion_id()),
                    internet_gateway_exclusion_mode: x
                        .internet_gateway_exclusion_mode()
                        .map_or_else(String::new, |m| m.as_str().to_owned()),
                    resource_arn: owned(x.resource_arn()),
                    state: x.state().map(|s| s.as_str().to_owned()),
                }
            }));
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(bpa),
        }
    }
}

fn failed(operation: &'static str, e: impl Display) -> AwsError {
    AwsError::Failed {
        operation,
        resource: "the network configuration".into(),
        message: e.to_string(),
        hint: Some("explaining needs the ec2:Describe* permissions; or pass --config-snapshot DIR"),
    }
}

fn owned(s: Option<&str>) -> String {
    s.unwrap_or_default().to_owned()
}

fn security_group(g: &ec2::SecurityGroup) -> SecurityGroup {
    SecurityGroup {
        group_id: owned(g.group_id()),
        group_name: owned(g.group_name()),
        description: g.description().map(str::to_owned),
        vpc_id: g.vpc_id().map(str::to_owned),
        ip_permissions: g.ip_permissions().iter().map(permission).collect(),
        ip_permissions_egress: g.ip_permissions_egress().iter().map(permission).collect(),
    }
}

fn permission(p: &ec2::IpPermission) -> IpPermission {
    IpPermission {
        ip_protocol: owned(p.ip_protocol()),
        from_port: p.from_port(),
        to_port: p.to_port(),
        ip_ranges: p
            .ip_ranges()
            .iter()
            .map(|r| IpRange {
                cidr_ip: owned(r.cidr_ip()),
            })
            .collect(),
        ipv6_ranges: p
            .ipv6_ranges()
            .iter()
            .map(|r| Ipv6Range {
                cidr_ipv6: owned(r.cidr_ipv6()),
            })
            .collect(),
        prefix_list_ids: p
            .prefix_list_ids()
            .iter()
            .map(|r| PrefixListId {
                prefix_list_id: owned(r.prefix_list_id()),
            })
            .collect(),
        user_id_group_pairs: p
            .user_id_group_pairs()
            .iter()
            .map(|r| UserIdGroupPair {
                group_id: r.group_id().map(str::to_owned),
                user_id: r.user_id().map(str::to_owned),
            })
            .collect(),
    }
}

fn network_acl(a: &ec2::NetworkAcl) -> NetworkAcl {
    NetworkAcl {
        network_acl_id: owned(a.network_acl_id()),
        vpc_id: a.vpc_id().map(str::to_owned),
        is_default: a.is_default().unwrap_or(false),
        entries: a
            .entries()
            .iter()
            .map(|e| NetworkAclEntry {
                rule_number: e.rule_number().unwrap_or(32767),
                protocol: owned(e.protocol()),
                rule_action: e.rule_action().map_or("deny", |r| r.as_str()).to_owned(),
                egress: e.egress().unwrap_or(false),
                cidr_block: e.cidr_block().map(str::to_owned),
                ipv6_cidr_block: e.ipv6_cidr_block().map(str::to_owned),
                port_range: e.port_range().map(|r| PortRange {
                    from: r.from(),
                    to: r.to(),
                }),
                icmp_type_code: e.icmp_type_code().map(|c| IcmpTypeCode {
                    code: c.code(),
                    r#type: c.r#type(),
                }),
            })
            .collect(),
        associations: a
            .associations()
            .iter()
            .filter_map(|s| {
                s.subnet_id().map(|id| NetworkAclAssociation {
                    subnet_id: id.to_owned(),
                })
            })
            .collect(),
    }
}

pub(crate) fn network_interface(n: &ec2::NetworkInterface) -> NetworkInterface {
    NetworkInterface {
        network_interface_id: owned(n.network_interface_id()),
        subnet_id: owned(n.subnet_id()),
        vpc_id: n.vpc_id().map(str::to_owned),
        description: n.description().map(str::to_owned),
        requester_managed: n.requester_managed().unwrap_or(false),
        availability_zone: n.availability_zone().map(str::to_owned),
        groups: n
            .groups()
            .iter()
            .map(|g| GroupIdentifier {
                group_id: owned(g.group_id()),
                group_name: owned(g.group_name()),
            })
            .collect(),
        private_ip_address: n.private_ip_address().map(str::to_owned),
        private_ip_addresses: n
            .private_ip_addresses()
            .iter()
            .filter_map(|a| {
                a.private_ip_address().map(|ip| PrivateIpAddress {
                    private_ip_address: ip.to_owned(),
                })
            })
            .collect(),
        ipv6_addresses: n
            .ipv6_addresses()
            .iter()
            .filter_map(|a| {
                a.ipv6_address().map(|ip| Ipv6Address {
                    ipv6_address: ip.to_owned(),
                })
            })
            .collect(),
    }
}

fn subnet(s: &ec2::Subnet) -> Subnet {
    Subnet {
        subnet_id: owned(s.subnet_id()),
        vpc_id: s.vpc_id().map(str::to_owned),
        cidr_block: s.cidr_block().map(str::to_owned),
        ipv6_cidr_block_association_set: s
            .ipv6_cidr_block_association_set()
            .iter()
            .filter_map(|c| {
                c.ipv6_cidr_block().map(|b| SubnetIpv6Cidr {
                    ipv6_cidr_block: b.to_owned(),
                })
            })
            .collect(),
    }
}
