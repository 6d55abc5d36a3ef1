//! `vpcflow endpoints discover`, and what `verdict --discover` and `verdict --explain` fetch
//! from the account: the endpoint catalogue and the network configuration.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use vpcflow_aws::SdkConfig;
use vpcflow_explain::Config;
use vpcflow_verdict::Catalogue;

use crate::args::{ConnectArgs, DiscoverArgs, EndpointsCommand};
use crate::{output, s3_run};

pub fn run(command: EndpointsCommand) -> Result<u8> {
    match command {
        EndpointsCommand::Discover(args) => discover_cmd(args),
    }
}

fn discover_cmd(args: DiscoverArgs) -> Result<u8> {
    if let Some(path) = &args.out {
        output::check_out_path(path, args.force)?;
    }
    let catalogue = discover(&args.aws, args.page_size)?;
    let text = format!(
        "# Written by `vpcflow endpoints discover` from RDS and EC2 ({} instance{}).\n\n{}",
        catalogue.endpoints.len(),
        if catalogue.endpoints.len() == 1 {
            ""
        } else {
            "s"
        },
        catalogue.to_toml()
    );
    match &args.out {
        Some(path) => {
            let mut out = output::create_out(path, args.force)?;
            out.write_all(text.as_bytes())?;
            out.flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote {} endpoints to {}",
                catalogue.endpoints.len(),
                path.display()
            );
        }
        None => {
            let mut out = output::stdout();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(0)
}

/// The catalogue of `verdict` and `tail`: read from `--endpoints`, or discovered.
pub fn catalogue(path: Option<&Path>, discover: bool, connect: &ConnectArgs) -> Result<Catalogue> {
    match path {
        Some(path) => Ok(Catalogue::from_file(path)?),
        None if discover => self::discover(connect, 100),
        None => {
            bail!("give the catalogue with --endpoints FILE, or --discover to build it from RDS")
        }
    }
}

/// The catalogue of every RDS instance the credentials can see; what cannot be placed is
/// printed as a warning.
pub fn discover(connect: &ConnectArgs, page_size: i32) -> Result<Catalogue> {
    let found = with_aws(connect, |config| async move {
        vpcflow_aws::rds::discover(&config, page_size.max(1)).await
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

/// The network configuration `verdict --explain` evaluates: from a snapshot directory, or live
/// from EC2.
pub fn network_config(connect: &ConnectArgs, snapshot: Option<&Path>) -> Result<Config> {
    if let Some(dir) = snapshot {
        return Ok(Config::from_dir(dir)?);
    }
    with_aws(connect, |config| async move {
        vpcflow_aws::ec2::network_config(&config).await
    })
}

/// Runs one AWS call to its end on a small runtime, with the SDK configuration of the command
/// line.
fn with_aws<T, F, Fut>(connect: &ConnectArgs, call: F) -> Result<T>
where
    F: FnOnce(SdkConfig) -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let rt = s3_run::runtime(2)?;
    rt.block_on(async {
        let config = s3_run::aws_options(connect).load().await;
        call(config).await
    })
    .map_err(anyhow::Error::msg)
}
