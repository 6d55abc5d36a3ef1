//! The network configuration the explanation reads: security groups, network ACLs, network
//! interfaces, subnets, managed prefix lists and VPC Block Public Access.
//!
//! The types mirror the EC2 API's JSON (what `aws ec2 describe-… --output json` prints), so a
//! snapshot directory of those files deserialises straight into them, and the live path in
//! `vpcflow-aws` fills the same types from the SDK.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A security group (`describe-security-groups`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    /// `sg-…`.
    pub group_id: String,
    /// Its name (`default` for a VPC's default group).
    #[serde(default)]
    pub group_name: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Inbound rules.
    #[serde(default)]
    pub ip_permissions: Vec<IpPermission>,
    /// Outbound rules.
    #[serde(default)]
    pub ip_permissions_egress: Vec<IpPermission>,
}

/// One security-group rule: a protocol and port range, and the peers it admits.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpPermission {
    /// `tcp`, `udp`, `icmp`, `icmpv6`, `-1` (all) or a protocol number.
    pub ip_protocol: String,
    /// First port (tcp/udp), or the ICMP type; `-1` or absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_port: Option<i32>,
    /// Last port (tcp/udp), or the ICMP code; `-1` or absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_port: Option<i32>,
    /// IPv4 peers.
    #[serde(default)]
    pub ip_ranges: Vec<IpRange>,
    /// IPv6 peers.
    #[serde(default)]
    pub ipv6_ranges: Vec<Ipv6Range>,
    /// Prefix-list peers.
    #[serde(default)]
    pub prefix_list_ids: Vec<PrefixListId>,
    /// Security-group peers.
    #[serde(default)]
    pub user_id_group_pairs: Vec<UserIdGroupPair>,
}

/// An IPv4 CIDR peer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpRange {
    /// `10.0.1.0/24`.
    pub cidr_ip: String,
}

/// An IPv6 CIDR peer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipv6Range {
    /// `2001:db8::/64`.
    pub cidr_ipv6: String,
}

/// A prefix-list peer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrefixListId {
    /// `pl-…`.
    pub prefix_list_id: String,
}

/// A security-group peer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserIdGroupPair {
    /// `sg-…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The owning account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// A network ACL (`describe-network-acls`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAcl {
    /// `acl-…`.
    pub network_acl_id: String,
    /// Its VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Whether it is the VPC's default ACL (it then covers subnets with no explicit association).
    #[serde(default)]
    pub is_default: bool,
    /// Its rules, both directions.
    #[serde(default)]
    pub entries: Vec<NetworkAclEntry>,
    /// The subnets it is associated with.
    #[serde(default)]
    pub associations: Vec<NetworkAclAssociation>,
}

/// One numbered network-ACL rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAclEntry {
    /// Evaluated lowest first; 32767 is the `*` rule.
    pub rule_number: i32,
    /// A protocol number (`6`), or `-1` for all.
    pub protocol: String,
    /// `allow` or `deny`.
    pub rule_action: String,
    /// Outbound (true) or inbound (false).
    pub egress: bool,
    /// IPv4 peer range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_block: Option<String>,
    /// IPv6 peer range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_cidr_block: Option<String>,
    /// Destination ports (tcp/udp); absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port_range: Option<PortRange>,
    /// ICMP type and code (protocol 1 or 58); absent or `-1`: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_type_code: Option<IcmpTypeCode>,
}

/// A network-ACL port range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortRange {
    /// First port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<i32>,
    /// Last port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<i32>,
}

/// A network-ACL ICMP match.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IcmpTypeCode {
    /// The ICMP code; `-1`: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// The ICMP type; `-1`: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<i32>,
}

/// A subnet association of a network ACL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAclAssociation {
    /// `subnet-…`.
    pub subnet_id: String,
}

/// A network interface (`describe-network-interfaces`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    /// `eni-…`.
    pub network_interface_id: String,
    /// Its subnet.
    #[serde(default)]
    pub subnet_id: String,
    /// Its VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// `RDSNetworkInterface` for the ENIs RDS creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether an AWS service manages it (RDS ENIs are).
    #[serde(default)]
    pub requester_managed: bool,
    /// Its availability zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// The security groups it carries.
    #[serde(default)]
    pub groups: Vec<GroupIdentifier>,
    /// The primary private IPv4 address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    /// Every private IPv4 address.
    #[serde(default)]
    pub private_ip_addresses: Vec<PrivateIpAddress>,
    /// IPv6 addresses.
    #[serde(default)]
    pub ipv6_addresses: Vec<Ipv6Address>,
}

/// A security group an ENI carries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupIdentifier {
    /// `sg-…`.
    pub group_id: String,
    /// Its name.
    #[serde(default)]
    pub group_name: String,
}

/// A private IPv4 address of an ENI.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrivateIpAddress {
    /// The address.
    pub private_ip_address: String,
}

/// An IPv6 address of an ENI.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipv6Address {
    /// The address.
    pub ipv6_address: String,
}

/// A subnet (`describe-subnets`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subnet {
    /// `subnet-…`.
    pub subnet_id: String,
    /// Its VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Its IPv4 range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_block: Option<String>,
    /// Its IPv6 ranges.
    #[serde(default)]
    pub ipv6_cidr_block_association_set: Vec<SubnetIpv6Cidr>,
}

impl Subnet {
    /// Its address ranges, IPv4 and IPv6, those that parse.
    pub fn ranges(&self) -> impl Iterator<Item = crate::rules::Cidr> + '_ {
        self.cidr_block
            .iter()
            .chain(
                self.ipv6_cidr_block_association_set
                    .iter()
                    .map(|c| &c.ipv6_cidr_block),
            )
            .filter_map(|c| crate::rules::Cidr::parse(c))
    }
}

/// An IPv6 range of a subnet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetIpv6Cidr {
    /// `2001:db8:1::/64`.
    pub ipv6_cidr_block: String,
}

/// A managed prefix list with its entries (`describe-managed-prefix-lists` joined with
/// `get-managed-prefix-list-entries`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrefixList {
    /// `pl-…`.
    pub prefix_list_id: String,
    /// Its name.
    #[serde(default)]
    pub prefix_list_name: String,
    /// Its CIDRs.
    #[serde(default)]
    pub entries: Vec<PrefixListEntry>,
}

/// One CIDR of a prefix list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrefixListEntry {
    /// The range.
    pub cidr: String,
}

/// The account's VPC Block Public Access setting in one region
/// (`describe-vpc-block-public-access-options`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockPublicAccessOptions {
    /// `off`, `block-bidirectional` or `block-ingress`.
    #[serde(default)]
    pub internet_gateway_block_mode: String,
    /// `default-state`, `update-in-progress`, `update-complete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// A VPC or subnet exempted from Block Public Access
/// (`describe-vpc-block-public-access-exclusions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockPublicAccessExclusion {
    /// `exclusion-…`.
    #[serde(default)]
    pub exclusion_id: String,
    /// `allow-bidirectional` or `allow-egress`.
    #[serde(default)]
    pub internet_gateway_exclusion_mode: String,
    /// `arn:aws:ec2:REGION:ACCOUNT:vpc/vpc-…` or `…:subnet/subnet-…`.
    #[serde(default)]
    pub resource_arn: String,
    /// `create-complete`, `delete-in-progress`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

impl BlockPublicAccessExclusion {
    /// The VPC or subnet id the exclusion covers (the ARN's last path segment).
    pub fn resource_id(&self) -> &str {
        self.resource_arn
            .rsplit('/')
            .next()
            .unwrap_or(&self.resource_arn)
    }

    /// Whether it is in force: created or updated (not failed, not being deleted or disabled).
    pub fn active(&self) -> bool {
        self.state
            .as_deref()
            .is_none_or(|s| matches!(s, "create-complete" | "update-complete"))
    }
}

/// Block Public Access as it stands: the account's mode and the exclusions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockPublicAccess {
    /// The account-level setting.
    pub options: BlockPublicAccessOptions,
    /// The exclusions.
    pub exclusions: Vec<BlockPublicAccessExclusion>,
}

/// Everything the explanation reads, from one account and region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Security groups.
    pub security_groups: Vec<SecurityGroup>,
    /// Network ACLs.
    pub network_acls: Vec<NetworkAcl>,
    /// Network interfaces.
    pub network_interfaces: Vec<NetworkInterface>,
    /// Subnets.
    pub subnets: Vec<Subnet>,
    /// Managed prefix lists (only those rules reference are needed).
    pub prefix_lists: Vec<PrefixList>,
    /// VPC Block Public Access, when the snapshot or the account says (optional).
    pub block_public_access: Option<BlockPublicAccess>,
}

/// Why a configuration snapshot could not be read.
#[derive(Debug)]
pub struct SnapshotError(pub String);

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SnapshotError {}

/// The top-level shape of one snapshot file: any of the describe outputs.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnapshotFile {
    security_groups: Option<Vec<SecurityGroup>>,
    network_acls: Option<Vec<NetworkAcl>>,
    network_interfaces: Option<Vec<NetworkInterface>>,
    subnets: Option<Vec<Subnet>>,
    prefix_lists: Option<Vec<PrefixList>>,
    vpc_block_public_access_options: Option<BlockPublicAccessOptions>,
    vpc_block_public_access_exclusions: Option<Vec<BlockPublicAccessExclusion>>,
}

/// The four describe calls a snapshot needs, with the key each output has.
const REQUIRED: [(&str, &str); 4] = [
    ("SecurityGroups", "describe-security-groups"),
    ("NetworkAcls", "describe-network-acls"),
    ("NetworkInterfaces", "describe-network-interfaces"),
    ("Subnets", "describe-subnets"),
];

impl Config {
    /// Reads a snapshot directory: every `*.json` file in it is the output of one of
    /// `aws ec2 describe-security-groups`, `describe-network-acls`,
    /// `describe-network-interfaces` or `describe-subnets` (`--output json`), recognised by its
    /// top-level key, whatever the file is called. An optional file with a top-level
    /// `PrefixLists` (each with its `Entries`) supplies managed prefix lists; the outputs of
    /// `aws ec2 describe-vpc-block-public-access-options` and `…-exclusions`, VPC Block Public
    /// Access.
    pub fn from_dir(dir: &Path) -> Result<Config, SnapshotError> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            SnapshotError(format!(
                "cannot read the configuration snapshot directory {}: {e}",
                dir.display()
            ))
        })?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        let mut config = Config::default();
        let mut seen = [false; 4];
        for path in &paths {
            let text = std::fs::read_to_string(path)
                .map_err(|e| SnapshotError(format!("cannot read {}: {e}", path.display())))?;
            let file: SnapshotFile = serde_json::from_str(&text).map_err(|e| {
                SnapshotError(format!(
                    "{}:{}: not the JSON of an EC2 describe call: {e}",
                    path.display(),
                    e.line()
                ))
            })?;
            let mut any = false;
            if let Some(v) = file.security_groups {
                config.security_groups.extend(v);
                (seen[0], any) = (true, true);
            }
            if let Some(v) = file.network_acls {
                config.network_acls.extend(v);
                (seen[1], any) = (true, true);
            }
            if let Some(v) = file.network_interfaces {
                config.network_interfaces.extend(v);
                (seen[2], any) = (true, true);
            }
            if let Some(v) = file.subnets {
                config.subnets.extend(v);
                (seen[3], any) = (true, true);
            }
            if let Some(v) = file.prefix_lists {
                config.prefix_lists.extend(v);
                any = true;
            }
            if let Some(v) = file.vpc_block_public_access_options {
                config
                    .block_public_access
                    .get_or_insert_with(BlockPublicAccess::default)
                    .options = v;
                any = true;
            }
            if let Some(v) = file.vpc_block_public_access_exclusions {
                config
                    .block_public_access
                    .get_or_insert_with(BlockPublicAccess::default)
                    .exclusions
                    .extend(v);
                any = true;
            }
            if !any {
                return Err(SnapshotError(format!(
                    "{}: has none of the keys SecurityGroups, NetworkAcls, NetworkInterfaces, Subnets, PrefixLists, VpcBlockPublicAccessOptions or VpcBlockPublicAccessExclusions",
                    path.display()
                )));
            }
        }
        let missing: Vec<String> = REQUIRED
            .iter()
            .zip(seen)
            .filter(|(_, seen)| !seen)
            .map(|((key, cmd), _)| format!("{key} (aws ec2 {cmd} --output json)"))
            .collect();
        if !missing.is_empty() {
            return Err(SnapshotError(format!(
                "the configuration snapshot {} lacks {}",
                dir.display(),
                missing.join(", ")
            )));
        }
        Ok(config)
    }

    /// Writes the configuration as a snapshot directory [`Config::from_dir`] reads back.
    pub fn write_dir(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let write = |name: &str, key: &str, value: serde_json::Value| {
            let mut doc = serde_json::Map::new();
            doc.insert(key.to_owned(), value);
            let text = serde_json::to_string_pretty(&doc)?;
            std::fs::write(dir.join(name), text + "\n")
        };
        let json =
            |v: Result<serde_json::Value, serde_json::Error>| v.map_err(std::io::Error::other);
        write(
            "security-groups.json",
            "SecurityGroups",
            json(serde_json::to_value(&self.security_groups))?,
        )?;
        write(
            "network-acls.json",
            "NetworkAcls",
            json(serde_json::to_value(&self.network_acls))?,
        )?;
        write(
            "network-interfaces.json",
            "NetworkInterfaces",
            json(serde_json::to_value(&self.network_interfaces))?,
        )?;
        write(
            "subnets.json",
            "Subnets",
            json(serde_json::to_value(&self.subnets))?,
        )?;
        if !self.prefix_lists.is_empty() {
            write(
                "prefix-lists.json",
                "PrefixLists",
                json(serde_json::to_value(&self.prefix_lists))?,
            )?;
        }
        if let Some(bpa) = &self.block_public_access {
            write(
                "vpc-block-public-access-options.json",
                "VpcBlockPublicAccessOptions",
                json(serde_json::to_value(&bpa.options))?,
            )?;
            write(
                "vpc-block-public-access-exclusions.json",
                "VpcBlockPublicAccessExclusions",
                json(serde_json::to_value(&bpa.exclusions))?,
            )?;
        }
        Ok(())
    }

    /// Indexes the configuration for lookups.
    pub fn index(&self) -> Index<'_> {
        let mut eni_by_ip: HashMap<IpAddr, Vec<&NetworkInterface>> = HashMap::new();
        for eni in &self.network_interfaces {
            for ip in eni.addresses() {
                eni_by_ip.entry(ip).or_default().push(eni);
            }
        }
        Index {
            config: self,
            eni_by_ip,
        }
    }
}

impl NetworkInterface {
    /// Every address of the ENI, IPv4 and IPv6.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        let spelled = self
            .private_ip_address
            .iter()
            .chain(
                self.private_ip_addresses
                    .iter()
                    .map(|a| &a.private_ip_address),
            )
            .chain(self.ipv6_addresses.iter().map(|a| &a.ipv6_address));
        for s in spelled {
            if let Ok(ip) = s.parse::<IpAddr>()
                && !out.contains(&ip)
            {
                out.push(ip);
            }
        }
        out
    }

    /// The ids of the security groups it carries.
    pub fn group_ids(&self) -> Vec<&str> {
        self.groups.iter().map(|g| g.group_id.as_str()).collect()
    }
}

/// Lookups over a [`Config`].
#[derive(Debug)]
pub struct Index<'a> {
    /// The configuration.
    pub config: &'a Config,
    /// Private addresses repeat across VPCs: every ENI holding each.
    eni_by_ip: HashMap<IpAddr, Vec<&'a NetworkInterface>>,
}

impl<'a> Index<'a> {
    /// The ENI with this id.
    pub fn eni(&self, id: &str) -> Option<&'a NetworkInterface> {
        self.config
            .network_interfaces
            .iter()
            .find(|e| e.network_interface_id == id)
    }

    /// The ENI holding this address, preferring one in `vpc` (private ranges are reused across
    /// VPCs, so an address alone may name ENIs in several).
    pub fn eni_with_address(&self, ip: IpAddr, vpc: Option<&str>) -> Option<&'a NetworkInterface> {
        let all = self.eni_by_ip.get(&ip.to_canonical())?;
        all.iter()
            .find(|e| vpc.is_some() && e.vpc_id.as_deref() == vpc)
            .or_else(|| all.first())
            .copied()
    }

    /// The security group with this id.
    pub fn group(&self, id: &str) -> Option<&'a SecurityGroup> {
        self.config
            .security_groups
            .iter()
            .find(|g| g.group_id == id)
    }

    /// The subnet with this id.
    pub fn subnet(&self, id: &str) -> Option<&'a Subnet> {
        self.config.subnets.iter().find(|s| s.subnet_id == id)
    }

    /// The network ACL guarding a subnet: its explicit association, else its VPC's default ACL.
    pub fn acl_for_subnet(&self, subnet_id: &str) -> Option<&'a NetworkAcl> {
        let acls = &self.config.network_acls;
        acls.iter()
            .find(|a| a.associations.iter().any(|s| s.subnet_id == subnet_id))
            .or_else(|| {
                let vpc = self.subnet(subnet_id).and_then(|s| s.vpc_id.as_deref())?;
                acls.iter()
                    .find(|a| a.is_default && a.vpc_id.as_deref() == Some(vpc))
            })
    }

    /// A prefix list's CIDRs, when the configuration has them.
    pub fn prefix_list(&self, id: &str) -> Option<&'a PrefixList> {
        self.config
            .prefix_lists
            .iter()
            .find(|p| p.prefix_list_id == id)
    }
}
