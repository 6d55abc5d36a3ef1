//! EC2 look-ups: the record format of the flow log that delivers to a log group.

use aws_config::SdkConfig;
use aws_sdk_ec2::error::DisplayErrorContext;
use aws_sdk_ec2::types::Filter;

/// The `LogFormat` of the flow log delivering to CloudWatch Logs group `group`, from EC2
/// DescribeFlowLogs. `Ok(None)` when no flow log names the group.
pub async fn flow_log_format(config: &SdkConfig, group: &str) -> Result<Option<String>, String> {
    let ec2 = aws_sdk_ec2::Client::new(config);
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
        let page =
            page.map_err(|e| format!("DescribeFlowLogs failed: {}", DisplayErrorContext(&e)))?;
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
