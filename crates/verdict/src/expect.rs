//! Who should connect: an endpoint's `expected_clients`, and clients from outside the VPC.
//!
//! After a report is judged, [`mark`] flags every connected pair whose client the endpoint does
//! not expect (`unexpected`), and every pair whose client is outside the VPC's address space
//! (`public`; a public client that connected is unexpected too, whatever the catalogue says).
//! `docs/verdicts.md`, "Expected clients", is the specification.

use std::net::IpAddr;

use crate::catalogue::Catalogue;
use crate::report::Report;

/// One entry of `expected_clients`, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// The ENIs carrying this security group.
    Group(String),
    /// An address range (a single address is a /32 or /128).
    Range(Net),
}

impl Expected {
    /// `sg-…`, a CIDR or an address; `None` for anything else (a client's name).
    pub fn parse(spelled: &str) -> Option<Expected> {
        if spelled.starts_with("sg-") && spelled.len() > 3 {
            return Some(Expected::Group(spelled.to_owned()));
        }
        Net::parse(spelled).map(Expected::Range)
    }
}

/// An IPv4 or IPv6 range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// `10.0.8.0/24`, `2001:db8::/32`, or an address.
    pub fn parse(s: &str) -> Option<Net> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = s.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Net { addr, prefix })
    }

    /// Whether `ip` is in the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// The private, shared and local ranges: without a configuration, a client outside all of them
/// is public.
const PRIVATE: [&str; 10] = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "fc00::/7",
    "fe80::/10",
    "::1/128",
    "0.0.0.0/32",
];

/// What [`mark`] needs from the network configuration.
pub trait Network {
    /// The addresses of the ENIs carrying security group `id`, or `None` when the
    /// configuration is not known.
    fn group_addresses(&self, id: &str) -> Option<Vec<IpAddr>>;
    /// The VPC's address ranges (its subnets' CIDRs), or `None` when not known.
    fn vpc_ranges(&self) -> Option<Vec<Net>>;
}

/// No configuration: security groups resolve to nothing, and the VPC is the private ranges.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoNetwork;

impl Network for NoNetwork {
    fn group_addresses(&self, _: &str) -> Option<Vec<IpAddr>> {
        None
    }
    fn vpc_ranges(&self) -> Option<Vec<Net>> {
        None
    }
}

/// What [`mark`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Marked {
    /// Connected pairs whose client was not expected.
    pub unexpected: u64,
    /// Pairs whose client is outside the VPC.
    pub public: u64,
    /// Security groups named in `expected_clients` that could not be resolved (no
    /// configuration): a client they might cover is not flagged.
    pub unresolved_groups: Vec<String>,
    /// Security groups named in `expected_clients` that the configuration puts on no ENI: they
    /// match no client.
    pub empty_groups: Vec<String>,
}

/// Flags the report's pairs: `public` when the client is outside the VPC's ranges (the private
/// ranges without a configuration), `unexpected` when such a client, or one the endpoint's
/// `expected_clients` does not name, connected; an unexpected pair's reason begins by saying so.
pub fn mark(report: &mut Report, catalogue: &Catalogue, network: &dyn Network) -> Marked {
    let mut marked = Marked::default();
    let vpc = network
        .vpc_ranges()
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| PRIVATE.iter().filter_map(|p| Net::parse(p)).collect());
    for v in &mut report.verdicts {
        let client = v.client.to_canonical();
        v.public = !vpc.iter().any(|n| n.contains(client));
        let Some(e) = catalogue.endpoints.iter().find(|e| e.name == v.endpoint) else {
            continue;
        };
        // Whether some entry names the client, and whether an entry could not be resolved.
        let mut unknown = false;
        let named = e
            .expected_clients
            .iter()
            .any(|spelled| match Expected::parse(spelled) {
                Some(Expected::Range(n)) => n.contains(client),
                Some(Expected::Group(id)) => match network.group_addresses(&id) {
                    Some(addrs) => {
                        if addrs.is_empty() && !marked.empty_groups.contains(&id) {
                            marked.empty_groups.push(id);
                        }
                        addrs.iter().any(|a| a.to_canonical() == client)
                    }
                    None => {
                        unknown = true;
                        if !marked.unresolved_groups.contains(&id) {
                            marked.unresolved_groups.push(id);
                        }
                        false
                    }
                },
                None => catalogue
                    .clients
                    .iter()
                    .filter(|c| &c.name == spelled)
                    .any(|c| c.addresses.iter().any(|a| a.to_canonical() == client)),
            });
        // A client an unresolved group might cover is given the benefit of the doubt.
        let expected = e.expected_clients.is_empty() || named || unknown;
        v.unexpected = v.counts.connected > 0 && (v.public || !expected);
        if v.unexpected {
            // First, so a table that shortens the reason still shows it.
            v.reason = format!(
                "unexpected client {}: {}",
                if v.public {
                    "from outside the VPC"
                } else {
                    "(not in expected_clients)"
                },
                v.reason
            );
        }
        marked.unexpected += u64::from(v.unexpected);
        marked.public += u64::from(v.public);
    }
    report.flagged = true;
    marked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_hold_what_they_should() {
        let n = Net::parse("10.0.8.0/24").unwrap();
        assert!(n.contains("10.0.8.200".parse().unwrap()));
        assert!(!n.contains("10.0.9.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.0.8.1".parse().unwrap()));
        assert!(Net::parse("10.0.0.0/33").is_none());
        assert!(
            Net::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        let v6 = Net::parse("2001:db8::/32").unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!v6.contains("10.0.0.1".parse().unwrap()));
        assert_eq!(
            Expected::parse("sg-0abc"),
            Some(Expected::Group("sg-0abc".into()))
        );
        assert_eq!(Expected::parse("bastion"), None);
    }
}
