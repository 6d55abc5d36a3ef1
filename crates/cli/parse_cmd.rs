//! `vpcflow parse`: decode flow logs and write records or a summary.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow_array::RecordBatch;
use vpcflow_core::{DecoderOptions, LogFormat};
use vpcflow_input::{Input, RunOptions, SourceReport, SourceSink, for_each_batch};
use vpcflow_sink::{
    BatchWriter, CsvWriter, JsonLinesWriter, ParquetOptions, ParquetWriter, Summary, TableWriter,
};

use crate::args::{DecodeArgs, ParseArgs, ParseOutput};
use crate::{output, s3_run, time};

/// Hands an S3 object's batches to a shared callback.
struct CallbackSink(Arc<dyn Fn(RecordBatch) -> std::io::Result<()> + Send + Sync>);

impl SourceSink for CallbackSink {
    fn batch(&mut self, batch: RecordBatch) -> std::io::Result<()> {
        (self.0)(batch)
    }
    fn finish(self: Box<Self>, _: &SourceReport) -> std::io::Result<()> {
        Ok(())
    }
}

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

/// The inputs named on the command line, directories expanded; none means stdin.
pub fn inputs(args: &[String]) -> Result<Vec<Input>> {
    if args.is_empty() {
        return Ok(vec![Input::Stdin]);
    }
    let mut out = Vec::new();
    for arg in args {
        out.extend(Input::expand(arg).with_context(|| format!("cannot read {arg}"))?);
    }
    if out.is_empty() {
        bail!("no input files found in {}", args.join(" "));
    }
    Ok(out)
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
    let mut opts = run_options(&args.decode)?;
    // Counting does not care about order: threads may share a large file.
    opts.split = args.output == ParseOutput::Summary;
    if let Some(format) = &opts.decoder.format {
        for name in format.unknown_fields() {
            tracing::warn!(
                "field `{name}` is not one vpcflow knows; it is read as a nullable text column"
            );
        }
    }
    let started = Instant::now();
    let mut s3_failed = false;

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
    let writer = Arc::new(Mutex::new(writer));
    let summary = Arc::new(Mutex::new(Summary::default()));
    let (w, sm) = (writer.clone(), summary.clone());
    let on_batch = move |batch: RecordBatch| -> std::io::Result<()> {
        let (writer, summary) = (&w, &sm);
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
    let reports = match s3_run::s3_inputs(&args.inputs)? {
        Some(urls) => {
            let (since, until) =
                time::window(args.window.since.as_deref(), args.window.until.as_deref())?;
            let shared: Arc<dyn Fn(RecordBatch) -> std::io::Result<()> + Send + Sync> =
                Arc::new(on_batch);
            let factory = Arc::new(move |_: &_| -> Box<dyn SourceSink> {
                Box::new(CallbackSink(shared.clone()))
            });
            let summary = s3_run::run(
                s3_run::S3Job {
                    urls: &urls,
                    aws: &args.aws,
                    run: &opts,
                    window: (since, until),
                },
                &|_| false,
                factory,
            )?;
            s3_failed = s3_run::report(&summary, started.elapsed());
            summary.reports
        }
        None => {
            let inputs = inputs(&args.inputs)?;
            for_each_batch(&inputs, &opts, &on_batch)?
        }
    };
    if let Ok(mut w) = writer.lock()
        && let Some(w) = w.as_mut()
    {
        w.finish().context("cannot finish writing the output")?;
    }
    warn_unknown_fields(&reports);
    let failed = s3_failed || output::report_sources(&reports);
    if args.output == ParseOutput::Summary {
        let mut summary = summary.lock().map(|s| *s).unwrap_or_default();
        summary.malformed = reports.iter().map(|r| r.malformed).sum();
        summary.input_bytes = reports.iter().map(|r| r.bytes).sum();
        let mut out = std::io::stdout().lock();
        summary.write_to(&mut out, started.elapsed())?;
    }
    Ok(if failed { crate::EXIT_ERROR } else { 0 })
}
