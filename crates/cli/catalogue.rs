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
