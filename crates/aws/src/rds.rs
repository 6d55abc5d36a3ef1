//! Endpoint discovery: the catalogue of databases, built from RDS DescribeDBInstances and
//! DescribeDBClusters and the network interfaces RDS creates for each instance (EC2
//! DescribeNetworkInterfaces, description `RDSNetworkInterface`). Which ENI is whose is decided
//! by [`match_instances`] (in `vpcflow-explain`, with no I/O).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_rds::error::DisplayErrorContext;
pub use vpcflow_explain::discover::{DbInstance, Discovery, RDS_ENI_DESCRIPTION, match_instances};

use crate::error::AwsError;

/// Discovers every DB instance (Aurora members included) the credentials can see, paging with
/// `page_size` records per RDS call (AWS allows 20–100).
pub async fn discover(config: &SdkConfig, page_size: i32) -> Result<Discovery, AwsError> {
    let rds = crate::config::rds_client(config);
    let mut instances = Vec::new();
    let mut pages = rds
        .describe_db_instances()
        .max_records(page_size)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| failed("DescribeDBInstances", "rds", DisplayErrorContext(&e)))?;
        for i in page.db_instances() {
            instances.push(DbInstance {
                id: i.db_instance_identifier().unwrap_or_default().to_owned(),
                address: i.endpoint().and_then(|e| e.address()).map(str::to_owned),
                port: i
                    .endpoint()
                    .and_then(|e| e.port())
                    .and_then(|p| u16::try_from(p).ok()),
                engine: i.engine().map(str::to_owned),
                security_groups: i
                    .vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
                    .collect(),
                subnets: i
                    .db_subnet_group()
                    .map(|g| {
                        g.subnets()
                            .iter()
                            .filter_map(|s| s.subnet_identifier().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                cluster: i.db_cluster_identifier().map(str::to_owned),
                availability_zone: i.availability_zone().map(str::to_owned),
            });
        }
    }
    // Aurora members may lack what their cluster has: its groups and port.
    let mut clusters: HashMap<String, (Vec<String>, Option<u16>)> = HashMap::new();
    let mut pages = rds
        .describe_db_clusters()
        .max_records(page_size)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page =
            page.map_err(|e| failed("DescribeDBClusters", "rds", DisplayErrorContext(&e)))?;
        for c in page.db_clusters() {
            let groups = c
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_owned))
                .collect();
            let port = c.port().and_then(|p| u16::try_from(p).ok());
            clusters.insert(
                c.db_cluster_identifier().unwrap_or_default().to_owned(),
                (groups, port),
            );
        }
    }
    for i in &mut instances {
        if let Some((groups, port)) = i.cluster.as_ref().and_then(|c| clusters.get(c)) {
            if i.security_groups.is_empty() {
                i.security_groups = groups.clone();
            }
            i.port = i.port.or(*port);
        }
    }

    let ec2 = crate::config::ec2_client(config);
    let mut enis = Vec::new();
    let mut pages = ec2
        .describe_network_interfaces()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("description")
                .values(RDS_ENI_DESCRIPTION)
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            failed(
                "DescribeNetworkInterfaces",
                "ec2",
                aws_sdk_ec2::error::DisplayErrorContext(&e),
            )
        })?;
        enis.extend(
            page.network_interfaces()
                .iter()
                .map(crate::ec2::network_interface),
        );
    }

    let mut resolved = HashMap::new();
    for i in &instances {
        if let Some(name) = &i.address {
            let lookup = tokio::net::lookup_host((name.as_str(), i.port.unwrap_or(0)));
            if let Ok(Ok(addrs)) = tokio::time::timeout(Duration::from_secs(3), lookup).await {
                let ips: Vec<IpAddr> = addrs.map(|a| a.ip().to_canonical()).collect();
                if !ips.is_empty() {
                    resolved.insert(name.clone(), ips);
                }
            }
        }
    }
    Ok(match_instances(&instances, &enis, &resolved))
}

fn failed(operation: &'static str, service: &str, e: impl std::fmt::Display) -> AwsError {
    AwsError::Failed {
        operation,
        resource: "RDS discovery".into(),
        message: e.to_string(),
        hint: Some(match service {
            "rds" => "discovery needs rds:DescribeDBInstances and rds:DescribeDBClusters",
            _ => "discovery needs ec2:DescribeNetworkInterfaces",
        }),
    }
}
