//! What `verdict` and `tail` judge against: the endpoint catalogue (a file, or discovered from
//! RDS) and, for `--explain`, the network configuration (a snapshot, or EC2).

use anyhow::{Result, bail};
use vpcflow_aws::AwsOptions;
use vpcflow_explain::Config;
use vpcflow_verdict::{Catalogue, SystemResolver};

use crate::aws::with_aws;
use crate::flags::resolve::{CatalogueFrom, ExplainFrom};

/// The catalogue: read from `--endpoints` (DNS names resolved by the system), or discovered.
pub fn load(from: &CatalogueFrom, connect: &AwsOptions) -> Result<Catalogue> {
    match from {
        CatalogueFrom::File(path) => Ok(Catalogue::from_file(path, &SystemResolver)?),
        CatalogueFrom::Discover(page_size) => discover(connect, *page_size),
    }
}

/// The catalogue of every RDS instance the credentials can see; what cannot be placed is
/// printed as a warning.
pub fn discover(connect: &AwsOptions, page_size: i32) -> Result<Catalogue> {
    let found = with_aws(connect, |config| async move {
        vpcflow_aws::rds::discover(&config, page_size).await
    })?;
    for warning in &found.warnings {
        eprintln!("warning: {warning}");
    }
    if found.catalogue.endpoints.is_empty() {
        bail!(
            "discovery found no RDS instance it could place{}; check --region and --profile, or write the catalogue by hand (see docs/verdicts.md)",
            if found.warnings.is_empty() {
                ""
            } else {
                " (see the warnings above)"
            }
        );
    }
    Ok(found.catalogue)
}

/// Adds VPC Block Public Access to a live configuration when the report needs it (some REJECT
/// carried `reject-reason` `BPA`); where it cannot be read, says so and goes on without.
pub fn add_block_public_access(
    from: &ExplainFrom,
    connect: &AwsOptions,
    network: &mut Config,
    report: &vpcflow_verdict::Report,
) {
    let needed = report.verdicts.iter().any(|v| v.counts.blocked_by_vpc > 0);
    if *from != ExplainFrom::Live || !needed || network.block_public_access.is_some() {
        return;
    }
    match with_aws(connect, |config| async move {
        vpcflow_aws::ec2::block_public_access(&config).await
    }) {
        Ok(bpa) => network.block_public_access = Some(bpa),
        Err(e) => eprintln!(
            "warning: cannot read VPC Block Public Access, so its REJECTs are explained without the mode: {e:#}"
        ),
    }
}

/// The network configuration `verdict --explain` evaluates.
pub fn network(from: &ExplainFrom, connect: &AwsOptions) -> Result<Config> {
    match from {
        ExplainFrom::Snapshot(dir) => Ok(Config::from_dir(dir)?),
        ExplainFrom::Live => with_aws(connect, |config| async move {
            vpcflow_aws::ec2::network_config(&config).await
        }),
    }
}

/// The network configuration as expected clients see it: security groups resolve to the
/// addresses of the ENIs that carry them, and the VPC is its subnets' ranges.
pub struct ConfigNetwork<'a>(pub &'a Config);

impl vpcflow_verdict::expect::Network for ConfigNetwork<'_> {
    fn group_addresses(&self, id: &str) -> Option<Vec<std::net::IpAddr>> {
        Some(
            self.0
                .network_interfaces
                .iter()
                .filter(|e| e.group_ids().contains(&id))
                .flat_map(|e| e.addresses())
                .collect(),
        )
    }

    fn vpc_ranges(&self) -> Option<Vec<vpcflow_verdict::expect::Net>> {
        Some(
            self.0
                .subnets
                .iter()
                .flat_map(vpcflow_explain::Subnet::ranges)
                .collect(),
        )
    }
}

/// Whether `expected_clients` name security groups, which need the network configuration.
pub fn names_groups(catalogue: &Catalogue) -> bool {
    catalogue
        .endpoints
        .iter()
        .any(|e| e.expected_clients.iter().any(|c| c.starts_with("sg-")))
}

/// Flags unexpected and public clients in `report`, resolving security groups through
/// `network` (without one, pairs a group might cover are not flagged, with a warning).
pub fn mark_expected(
    report: &mut vpcflow_verdict::Report,
    catalogue: &Catalogue,
    network: Option<&Config>,
) -> vpcflow_verdict::expect::Marked {
    let marked = match network {
        Some(config) => vpcflow_verdict::expect::mark(report, catalogue, &ConfigNetwork(config)),
        None => {
            vpcflow_verdict::expect::mark(report, catalogue, &vpcflow_verdict::expect::NoNetwork)
        }
    };
    for id in &marked.empty_groups {
        eprintln!(
            "warning: expected client {id} is on no ENI of the configuration: it matches no client"
        );
    }
    for id in &marked.unresolved_groups {
        eprintln!(
            "warning: expected client {id} cannot be resolved without the network configuration; clients it might cover are not flagged"
        );
    }
    marked
}
