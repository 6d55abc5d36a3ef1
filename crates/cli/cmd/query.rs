//! `vpcflow query`: SQL over flow-log files, on Apache DataFusion (feature `distributed`).

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use vpcflow_core::LogFormat;
use vpcflow_datafusion::{FlowTable, session};
use vpcflow_input::{Input, Opened, open};

use crate::flags::{QueryArgs, QueryOutput};
use crate::output;
use crate::report::EXIT_OK;

pub fn run(args: QueryArgs) -> Result<u8> {
    let mut files: Vec<PathBuf> = Vec::new();
    for arg in &args.inputs {
        if arg == "-" || arg.starts_with("s3://") {
            bail!("query reads files and directories ({arg} is not one yet)");
        }
        for input in Input::expand(arg).with_context(|| format!("cannot read {arg}"))? {
            if let Input::Path(p) = input {
                files.push(p);
            }
        }
    }
    if files.is_empty() {
        bail!("no flow-log files in {}", args.inputs.join(" "));
    }
    let format = match &args.log_format {
        Some(f) => LogFormat::parse(f).context("--log-format")?,
        None => header_format(&files).unwrap_or_else(LogFormat::default_v2),
    };
    if let Some(out) = &args.out {
        let inputs: Vec<Input> = files.iter().cloned().map(Input::Path).collect();
        output::refuse_input_as_output(out, &inputs)?;
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(partitions)
        .enable_all()
        .build()?;
    let batches = rt.block_on(async {
        let ctx = session(FlowTable::new(files, format), None, partitions)?;
        ctx.sql(&args.sql).await?.collect().await
    })?;
    for b in &batches {
        writer.write(b)?;
    }
    writer.finish()?;
    Ok(EXIT_OK)
}

/// The format the first text file's header line names, if it has one.
fn header_format(files: &[PathBuf]) -> Option<LogFormat> {
    files
        .iter()
        .find_map(|f| match open(&Input::Path(f.clone())) {
            Ok(Opened::Text { mut reader, .. }) => {
                let mut line = Vec::new();
                reader.read_until(b'\n', &mut line).ok()?;
                Some(LogFormat::from_header(&line))
            }
            _ => None,
        })?
}
