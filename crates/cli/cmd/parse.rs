//! `vpcflow parse`: decode flow logs and write records or a summary.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use arrow_array::RecordBatch;
use vpcflow_input::{SourceReport, SourceSink, for_each_batch};
use vpcflow_sink::{BatchWriter, Summary};

use crate::flags::ParseOutput;
use crate::flags::resolve::{Inputs, ParseJob};
use crate::report::{self, EXIT_ERROR, EXIT_OK};
use crate::{output, s3};

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

pub fn run(job: ParseJob) -> Result<u8> {
    let opts = &job.run;
    let started = Instant::now();
    let mut s3_failed = false;
    if let (Some(out), Inputs::Local(inputs)) = (&job.out, &job.inputs) {
        output::refuse_input_as_output(&out.path, inputs)?;
    }

    let rows = match job.output {
        ParseOutput::Summary => None,
        ParseOutput::Json => Some(output::Rows::Json),
        ParseOutput::Csv => Some(output::Rows::Csv),
        ParseOutput::Table => Some(output::Rows::Table),
        ParseOutput::Ocsf => Some(output::Rows::Ocsf),
        ParseOutput::Parquet => Some(output::Rows::Parquet),
    };
    let writer: Option<Box<dyn BatchWriter + Send>> = rows
        .map(|rows| {
            let out = job.out.as_ref();
            output::batch_writer(
                rows,
                out.map(|o| o.path.as_path()),
                out.is_some_and(|o| o.force),
            )
        })
        .transpose()?;
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
    let reports = match &job.inputs {
        Inputs::S3(urls) => {
            let shared: Arc<dyn Fn(RecordBatch) -> std::io::Result<()> + Send + Sync> =
                Arc::new(on_batch);
            let factory = Arc::new(move |_: &_| -> Box<dyn SourceSink> {
                Box::new(CallbackSink(shared.clone()))
            });
            let summary = s3::run(urls, &job.aws, opts, &|_| false, factory)?;
            s3_failed = s3::report(&summary, started.elapsed());
            summary.reports
        }
        Inputs::Local(inputs) => for_each_batch(inputs, opts, &on_batch)?,
    };
    if let Ok(mut w) = writer.lock()
        && let Some(w) = w.as_mut()
    {
        w.finish().context("cannot finish writing the output")?;
    }
    report::unknown_fields(&reports);
    let failed = s3_failed || report::sources(&reports);
    if job.output == ParseOutput::Summary {
        let mut summary = summary.lock().map(|s| *s).unwrap_or_default();
        summary.malformed = reports.iter().map(|r| r.malformed).sum();
        summary.input_bytes = reports.iter().map(|r| r.bytes).sum();
        let mut out = std::io::stdout().lock();
        summary.write_to(&mut out, started.elapsed())?;
    }
    Ok(if failed { EXIT_ERROR } else { EXIT_OK })
}
