//! Placing RDS instances on network interfaces: the pure half of `endpoints discover`.
//!
//! RDS does not say which ENI is an instance's. When the instance's endpoint name resolves to
//! an address an RDS ENI holds (a private instance's name resolves to its private address from
//! anywhere), that ENI is its. Otherwise an ENI belongs to the one instance whose VPC security
//! groups it carries, exactly, in a subnet of its DB subnet group (a Multi-AZ standby is found
//! this way too), or, of several that fit (an Aurora cluster's members), to the only one in the
//! ENI's availability zone. ENIs several instances could still own are not guessed at: the
//! instance is left out with a warning. A public address (a publicly accessible instance
//! resolved from outside) is never used: flow logs record private ones.
//!
//! `vpcflow-aws` fetches the instances and ENIs; this module decides, with no I/O.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use vpcflow_verdict::{Catalogue, Endpoint};

use crate::config::NetworkInterface;

/// The description RDS gives the network interfaces it creates.
pub const RDS_ENI_DESCRIPTION: &str = "RDSNetworkInterface";

/// One DB instance as discovery needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DbInstance {
    /// DBInstanceIdentifier.
    pub id: String,
    /// The endpoint's DNS name.
    pub address: Option<String>,
    /// The endpoint's port.
    pub port: Option<u16>,
    /// `mysql`, `postgres`, `aurora-mysql` …
    pub engine: Option<String>,
    /// VPC security group ids.
    pub security_groups: Vec<String>,
    /// The subnets of its DB subnet group (empty: unknown).
    pub subnets: Vec<String>,
    /// The Aurora cluster it belongs to.
    pub cluster: Option<String>,
    /// Its availability zone (settles which of several fitting ENIs is its).
    pub availability_zone: Option<String>,
}

/// What discovery found.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// One endpoint per instance that could be placed.
    pub catalogue: Catalogue,
    /// What could not be settled, one sentence each.
    pub warnings: Vec<String>,
}

fn eni_id<'a>(e: &&'a NetworkInterface) -> &'a str {
    e.network_interface_id.as_str()
}

/// Places each instance on its ENIs (see the module docs); `resolved` maps endpoint DNS names
/// to the addresses they resolve to.
pub fn match_instances(
    instances: &[DbInstance],
    enis: &[NetworkInterface],
    resolved: &HashMap<String, Vec<IpAddr>>,
) -> Discovery {
    let rds_enis: Vec<&NetworkInterface> = enis
        .iter()
        .filter(|e| {
            e.description
                .as_deref()
                .is_some_and(|d| d.starts_with(RDS_ENI_DESCRIPTION))
        })
        .collect();
    let set = |v: &[String]| -> BTreeSet<String> { v.iter().cloned().collect() };
    // Candidates by signature: same groups, in one of the instance's subnets.
    let candidates: Vec<Vec<&NetworkInterface>> = instances
        .iter()
        .map(|i| {
            let groups = set(&i.security_groups);
            rds_enis
                .iter()
                .copied()
                .filter(|e| {
                    let eni_groups: BTreeSet<String> =
                        e.groups.iter().map(|g| g.group_id.clone()).collect();
                    eni_groups == groups
                        && (i.subnets.is_empty() || i.subnets.contains(&e.subnet_id))
                })
                .collect()
        })
        .collect();
    // An endpoint name that resolves to an address an RDS ENI holds settles whose ENI that is.
    let private = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00,
    };
    let mut claimed: HashMap<&str, usize> = HashMap::new();
    for (n, i) in instances.iter().enumerate() {
        if let Some(ips) = i.address.as_ref().and_then(|a| resolved.get(a)) {
            for e in &rds_enis {
                if e.addresses().iter().any(|a| ips.contains(a)) {
                    claimed.insert(e.network_interface_id.as_str(), n);
                }
            }
        }
    }
    // The other ENIs go to the one instance whose signature they fit; when several fit (an
    // Aurora cluster's members share groups and subnets), to the one in the ENI's availability
    // zone if only one is; otherwise they are not guessed.
    let mut fits: HashMap<&str, Vec<usize>> = HashMap::new();
    for (n, fitting) in candidates.iter().enumerate() {
        for e in fitting {
            if !claimed.contains_key(e.network_interface_id.as_str()) {
                fits.entry(e.network_interface_id.as_str())
                    .or_default()
                    .push(n);
            }
        }
    }
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for e in &rds_enis {
        let Some(fit) = fits.get(eni_id(e)) else {
            continue;
        };
        let same_az: Vec<usize> = fit
            .iter()
            .copied()
            .filter(|&n| {
                e.availability_zone.is_some()
                    && instances[n].availability_zone == e.availability_zone
            })
            .collect();
        match (fit.as_slice(), same_az.as_slice()) {
            ([only], _) | (_, [only]) => {
                owner.insert(eni_id(e), *only);
            }
            _ => {}
        }
    }
    let mut out = Discovery::default();
    for (n, i) in instances.iter().enumerate() {
        let Some(port) = i.port else {
            out.warnings.push(format!(
                "{}: left out, RDS reports no endpoint port (is it still being created?)",
                i.id
            ));
            continue;
        };
        // By name first (the primary), then the unclaimed ENIs only it fits (a Multi-AZ
        // standby).
        let mut mine: Vec<&NetworkInterface> = rds_enis
            .iter()
            .copied()
            .filter(|e| claimed.get(eni_id(e)) == Some(&n))
            .collect();
        let mut ambiguous = 0;
        for &e in &candidates[n] {
            if claimed.contains_key(eni_id(&e)) {
                continue;
            }
            match owner.get(eni_id(&e)) {
                Some(&o) if o == n => mine.push(e),
                Some(_) => {}
                None => ambiguous += 1,
            }
        }
        let mut addresses: Vec<IpAddr> = Vec::new();
        for e in &mine {
            for a in e.addresses() {
                if !addresses.contains(&a) {
                    addresses.push(a);
                }
            }
        }
        if addresses.is_empty() {
            // A private address the name resolves to, on no ENI we were shown; a public one
            // (a publicly accessible instance seen from outside) is not what flow logs record.
            let dns = i.address.as_ref().and_then(|a| resolved.get(a));
            addresses.extend(dns.into_iter().flatten().filter(|ip| private(ip)));
        }
        if addresses.is_empty() {
            out.warnings.push(if ambiguous > 0 {
                format!(
                    "{}: left out, {ambiguous} RDS network interfaces carry the same security groups in the same subnets as other instances, and its endpoint name {} does not resolve here to one of them; run discover where it resolves (inside the VPC), or add it by hand",
                    i.id,
                    i.address.as_deref().unwrap_or("(none)")
                )
            } else {
                format!(
                    "{}: left out, no {RDS_ENI_DESCRIPTION} network interface carries its security groups ({}) in its subnets, and its endpoint name does not resolve here to a private address",
                    i.id,
                    i.security_groups.join(", ")
                )
            });
            continue;
        }
        out.catalogue.endpoints.push(Endpoint {
            name: i.id.clone(),
            addresses,
            port,
            interface_ids: mine
                .iter()
                .map(|e| e.network_interface_id.clone())
                .collect(),
            engine: i.engine.clone(),
            security_group_ids: i.security_groups.clone(),
            cluster: i.cluster.clone(),
            expected_clients: Vec::new(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GroupIdentifier, PrivateIpAddress};

    fn eni(
        id: &str,
        subnet: &str,
        groups: &[&str],
        ip: &str,
        description: &str,
    ) -> NetworkInterface {
        NetworkInterface {
            network_interface_id: id.into(),
            subnet_id: subnet.into(),
            description: Some(description.into()),
            groups: groups
                .iter()
                .map(|g| GroupIdentifier {
                    group_id: (*g).into(),
                    group_name: String::new(),
                })
                .collect(),
            private_ip_address: Some(ip.into()),
            private_ip_addresses: vec![PrivateIpAddress {
                private_ip_address: ip.into(),
            }],
            ..NetworkInterface::default()
        }
    }

    fn instance(id: &str, groups: &[&str], subnets: &[&str]) -> DbInstance {
        DbInstance {
            id: id.into(),
            address: Some(format!("{id}.xxxx.ap-northeast-1.rds.amazonaws.com")),
            port: Some(3306),
            engine: Some("mysql".into()),
            security_groups: groups.iter().map(|g| (*g).into()).collect(),
            subnets: subnets.iter().map(|s| (*s).into()).collect(),
            cluster: None,
            availability_zone: None,
        }
    }

    #[test]
    fn instances_are_placed_on_the_rds_enis_with_their_groups_and_subnets() {
        let enis = vec![
            eni(
                "eni-1",
                "subnet-a",
                &["sg-1"],
                "10.0.3.213",
                RDS_ENI_DESCRIPTION,
            ),
            eni(
                "eni-2",
                "subnet-a",
                &["sg-2"],
                "10.0.3.205",
                RDS_ENI_DESCRIPTION,
            ),
            eni(
                "eni-2b",
                "subnet-b",
                &["sg-2"],
                "10.0.3.17",
                RDS_ENI_DESCRIPTION,
            ),
            eni(
                "eni-x",
                "subnet-a",
                &["sg-1"],
                "10.0.3.9",
                "an EC2 instance",
            ),
            eni(
                "eni-far",
                "subnet-z",
                &["sg-1"],
                "10.0.9.9",
                RDS_ENI_DESCRIPTION,
            ),
        ];
        let found = match_instances(
            &[
                instance("db1", &["sg-1"], &["subnet-a", "subnet-b"]),
                instance("db2", &["sg-2"], &["subnet-a", "subnet-b"]),
            ],
            &enis,
            &HashMap::new(),
        );
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        let e = &found.catalogue.endpoints;
        assert_eq!(e[0].name, "db1");
        assert_eq!(
            e[0].interface_ids,
            vec!["eni-1".to_owned()],
            "not the EC2 ENI, not another subnet's"
        );
        assert_eq!(
            e[0].addresses,
            vec!["10.0.3.213".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            e[1].interface_ids,
            vec!["eni-2".to_owned(), "eni-2b".to_owned()],
            "Multi-AZ: both ENIs"
        );
        assert_eq!(e[1].security_group_ids, vec!["sg-2".to_owned()]);
    }

    #[test]
    fn shared_signatures_are_settled_by_dns_or_not_guessed() {
        let enis = vec![
            eni(
                "eni-1",
                "subnet-a",
                &["sg-1"],
                "10.0.3.1",
                RDS_ENI_DESCRIPTION,
            ),
            eni(
                "eni-2",
                "subnet-a",
                &["sg-1"],
                "10.0.3.2",
                RDS_ENI_DESCRIPTION,
            ),
        ];
        let instances = [
            instance("db1", &["sg-1"], &["subnet-a"]),
            instance("db2", &["sg-1"], &["subnet-a"]),
        ];
        let guessless = match_instances(&instances, &enis, &HashMap::new());
        assert!(guessless.catalogue.endpoints.is_empty());
        assert_eq!(guessless.warnings.len(), 2);
        assert!(guessless.warnings[0].contains("db1"));

        let mut dns = HashMap::new();
        dns.insert(
            instances[1].address.clone().unwrap(),
            vec!["10.0.3.1".parse().unwrap()],
        );
        let settled = match_instances(&instances, &enis, &dns);
        assert_eq!(settled.catalogue.endpoints.len(), 1);
        assert_eq!(settled.catalogue.endpoints[0].name, "db2");
        assert_eq!(
            settled.catalogue.endpoints[0].interface_ids,
            vec!["eni-1".to_owned()]
        );
    }

    #[test]
    fn a_name_claims_the_primary_and_the_standby_follows_the_signature() {
        let enis = vec![
            eni(
                "eni-p",
                "subnet-a",
                &["sg-1"],
                "10.0.3.1",
                RDS_ENI_DESCRIPTION,
            ),
            eni(
                "eni-s",
                "subnet-b",
                &["sg-1"],
                "10.0.4.1",
                RDS_ENI_DESCRIPTION,
            ),
            eni(
                "eni-o",
                "subnet-a",
                &["sg-1"],
                "10.0.3.2",
                RDS_ENI_DESCRIPTION,
            ),
        ];
        let instances = [
            instance("multi", &["sg-1"], &["subnet-a", "subnet-b"]),
            instance("other", &["sg-1"], &["subnet-a"]),
        ];
        let mut dns = HashMap::new();
        dns.insert(
            instances[0].address.clone().unwrap(),
            vec!["10.0.3.1".parse().unwrap()],
        );
        dns.insert(
            instances[1].address.clone().unwrap(),
            vec!["10.0.3.2".parse().unwrap()],
        );
        let found = match_instances(&instances, &enis, &dns);
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        let e = &found.catalogue.endpoints;
        assert_eq!(
            e[0].interface_ids,
            vec!["eni-p".to_owned(), "eni-s".to_owned()],
            "standby: only `multi` fits subnet-b"
        );
        assert_eq!(e[1].interface_ids, vec!["eni-o".to_owned()]);
    }

    #[test]
    fn aurora_members_sharing_groups_are_told_apart_by_zone() {
        let mut a = eni(
            "eni-a",
            "subnet-a",
            &["sg-1"],
            "10.0.3.1",
            RDS_ENI_DESCRIPTION,
        );
        a.availability_zone = Some("ap-northeast-1a".into());
        let mut c = eni(
            "eni-c",
            "subnet-c",
            &["sg-1"],
            "10.0.5.1",
            RDS_ENI_DESCRIPTION,
        );
        c.availability_zone = Some("ap-northeast-1c".into());
        let mut writer = instance("aurora-1", &["sg-1"], &["subnet-a", "subnet-c"]);
        writer.availability_zone = Some("ap-northeast-1a".into());
        let mut reader = instance("aurora-2", &["sg-1"], &["subnet-a", "subnet-c"]);
        reader.availability_zone = Some("ap-northeast-1c".into());
        let found = match_instances(
            &[writer.clone(), reader],
            &[a.clone(), c.clone()],
            &HashMap::new(),
        );
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        assert_eq!(
            found.catalogue.endpoints[0].interface_ids,
            vec!["eni-a".to_owned()]
        );
        assert_eq!(
            found.catalogue.endpoints[1].interface_ids,
            vec!["eni-c".to_owned()]
        );
        // Two members in one zone: not guessed.
        let mut twin = writer.clone();
        twin.id = "aurora-3".into();
        let found = match_instances(&[writer, twin], &[a], &HashMap::new());
        assert!(found.catalogue.endpoints.is_empty());
        assert_eq!(found.warnings.len(), 2);
    }

    #[test]
    fn a_public_address_is_never_the_endpoint() {
        let enis = vec![eni(
            "eni-1",
            "subnet-a",
            &["sg-1"],
            "10.0.3.1",
            RDS_ENI_DESCRIPTION,
        )];
        let public = instance("public", &["sg-1"], &["subnet-a"]);
        let mut dns = HashMap::new();
        dns.insert(
            public.address.clone().unwrap(),
            vec!["54.1.2.3".parse().unwrap()],
        );
        let found = match_instances(std::slice::from_ref(&public), &enis, &dns);
        assert_eq!(
            found.catalogue.endpoints[0].addresses,
            vec!["10.0.3.1".parse::<IpAddr>().unwrap()]
        );
        let lonely = match_instances(&[public], &[], &dns);
        assert!(
            lonely.catalogue.endpoints.is_empty(),
            "the public address is not used"
        );
    }

    #[test]
    fn an_instance_with_no_eni_and_no_dns_is_reported() {
        let found = match_instances(&[instance("lonely", &["sg-9"], &[])], &[], &HashMap::new());
        assert!(found.catalogue.endpoints.is_empty());
        assert!(
            found.warnings[0].starts_with("lonely: left out"),
            "{:?}",
            found.warnings
        );
    }
}
