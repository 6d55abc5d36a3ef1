//! `vpcflow parse`: decode flow logs and write records or a summary.

use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow_array::RecordBatch;
use vpcflow_core::{DecoderOptions, LogFormat};
use vpcflow_input::{Input, RunOptions, SourceReport, for_each_batch};
use vpcflow_sink::{
    BatchWriter, CsvWriter, JsonLinesWriter, ParquetOptions, ParquetWriter, Summary, TableWriter,
};

use crate::args::{DecodeArgs, ParseArgs, ParseOutput};
use crate::output;

/// Builds the run options shared by every decoding command.
pub fn run_options(args: &DecodeArgs) -> Result<RunOptions> {
    let format = match &args.log_format {
        Some(text) => {
            let format = LogFormat::parse(text).context("bad --log-format")?;
            if args.strict {
                format.deny_unknown()?;
            }
            Some(format)
        }
        None => None,
    };
    if args.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let mut opts = RunOptions {
        decoder: DecoderOptions {
            batch_size: args.batch_size,
            strict: args.strict,
            format,
            ..DecoderOptions::default()
        },
        ..RunOptions::default()
    };
    if let Some(threads) = args.threads {
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        opts.threads = threads;
    }
    Ok(opts)
}

/// The inputs named on the command line; none means stdin.
pub fn inputs(args: &[String]) -> Vec<Input> {
    if args.is_empty() {
        vec![Input::Stdin]
    } else {
        args.iter().map(|a| Input::parse(a)).collect()
    }
}

/// Warns once per field name that no source's format should have named.
pub fn warn_unknown_fields(reports: &[SourceReport]) {
    let mut seen: Vec<&str> = Vec::new();
    for name in reports.iter().flat_map(|r| &r.unknown_fields) {
        if !seen.contains(&name.as_str()) {
            seen.push(name);
            tracing::warn!(
                "field `{name}` is not one vpcflow knows; it is read as a nullable text column"
            );
        }
    }
}

pub fn run(args: ParseArgs) -> Result<u8> {
    let opts = run_options(&args.decode)?;
    if let Some(format) = &opts.decoder.format {
        for name in format.unknown_fields() {
            tracing::warn!(
                "field `{name}` is not one vpcflow knows; it is read as a nullable text column"
            );
        }
    }
    let inputs = inputs(&args.inputs);
    let started = Instant::now();

    let writer: Option<Box<dyn BatchWriter + Send>> = match args.output {
        ParseOutput::Summary => None,
        ParseOutput::Parquet => {
            let Some(path) = &args.out else {
                bail!("--output parquet needs --out PATH");
            };
            output::check_out_path(path, args.force)?;
            Some(Box::new(ParquetWriter::new(
                path,
                ParquetOptions::default(),
            )))
        }
        format => {
            let out = match &args.out {
                Some(path) => Box::new(output::create_out(path, args.force)?),
                None => output::stdout(),
            };
            Some(match format {
                ParseOutput::Csv => Box::new(CsvWriter::new(out)),
                ParseOutput::Table => Box::new(TableWriter::new(out)),
                _ => Box::new(JsonLinesWriter::new(out)),
            })
        }
    };
    let writer = Mutex::new(writer);
    let summary = Mutex::new(Summary::default());
    let on_batch = |batch: RecordBatch| -> std::io::Result<()> {
        let mut local = Summary::default();
        local.add_batch(&batch);
        if let Ok(mut s) = summary.lock() {
            s.merge(&local);
        }
        if let Ok(mut w) = writer.lock()
            && let Some(w) = w.as_mut()
        {
            w.write(&batch)?;
        }
        Ok(())
    };
    let reports = for_each_batch(&inputs, &opts, &on_batch)?;
    if let Some(w) = writer.into_inner().ok().flatten().as_mut() {
        w.finish().context("cannot finish writing the output")?;
    }
    warn_unknown_fields(&reports);
    let failed = output::report_sources(&reports);
    if args.output == ParseOutput::Summary {
        let mut summary = summary.into_inner().unwrap_or_default();
        summary.malformed = reports.iter().map(|r| r.malformed).sum();
        summary.input_bytes = reports.iter().map(|r| r.bytes).sum();
        let mut out = std::io::stdout().lock();
        summary.write_to(&mut out, started.elapsed())?;
    }
    Ok(if failed { crate::EXIT_ERROR } else { 0 })
}
