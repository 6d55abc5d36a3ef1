//! `vpcflow query`: SQL over flow logs, on Apache DataFusion here or on a Ballista cluster
//! (feature `distributed`).

use anyhow::{Context, Result};
use vpcflow_core::LogFormat;
use vpcflow_datafusion::cluster::{Remote, remote_session};
use vpcflow_datafusion::session;

use crate::flags::QueryOutput;
use crate::flags::resolve::{Inputs, QueryJob};
use crate::report::EXIT_OK;
use crate::{aws, flows, output};

pub fn run(job: QueryJob) -> Result<u8> {
    let QueryJob { args, inputs, aws } = job;
    let fixed = args
        .log_format
        .as_deref()
        .map(LogFormat::parse)
        .transpose()
        .context("--log-format")?;
    if let (Some(out), Inputs::Local(local)) = (&args.out, &inputs) {
        output::refuse_input_as_output(out, local)?;
    }
    let rows = match args.output {
        QueryOutput::Table => output::Rows::Table,
        QueryOutput::Json => output::Rows::Json,
        QueryOutput::Csv => output::Rows::Csv,
        QueryOutput::Parquet => output::Rows::Parquet,
    };
    let mut writer = output::batch_writer(rows, args.out.as_deref(), args.force)?;
    let partitions = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let rt = aws::runtime(partitions)?;
    let batches = rt.block_on(async {
        let table = flows::table(&inputs, &aws, fixed.as_ref()).await?;
        let ctx = match &args.cluster {
            Some(url) => {
                let remote = Remote {
                    partitions,
                    shuffle: args.shuffle_codec.into(),
                };
                remote_session(url, table.with_plain_strings(), None, remote)
                    .await
                    .with_context(|| format!("cannot reach the cluster at {url}"))?
            }
            None => session(table, None, partitions, aws.connect.clone())?,
        };
        anyhow::Ok(ctx.sql(&args.sql).await?.collect().await?)
    })?;
    for b in &batches {
        writer.write(b)?;
    }
    writer.finish()?;
    Ok(EXIT_OK)
}
