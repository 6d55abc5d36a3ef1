use std::fmt;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use arrow_array::RecordBatch;
use vpcflow_core::{Decoder, DecoderOptions, ErrorKind, MalformedLine, Reader};

use crate::open::{Compression, Input, Opened, open};
use crate::parquet_in;

/// What one source gave.
#[derive(Clone, Debug, Default)]
pub struct SourceReport {
    /// The source's name.
    pub name: String,
    /// How it was stored (`None` for Parquet, or when it could not be opened).
    pub compression: Option<Compression>,
    /// Records decoded.
    pub records: u64,
    /// Bytes decoded (after decompression).
    pub bytes: u64,
    /// Bytes read from storage (before decompression).
    pub raw_bytes: u64,
    /// Malformed lines skipped.
    pub malformed: u64,
    /// The first malformed lines, with positions.
    pub malformed_lines: Vec<MalformedLine>,
    /// Field names the source's format used that vpcflow does not know (read as text).
    pub unknown_fields: Vec<String>,
    /// Why the source was not read to its end (it could not be opened, or broke midway).
    /// Every record decoded before that was delivered.
    pub error: Option<String>,
}

/// An error that stops a whole run.
#[derive(Debug)]
pub enum RunError {
    /// A malformed line in strict mode, or another decode error.
    Decode(vpcflow_core::Error),
    /// The batch callback failed (writing the output, say).
    Output(io::Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Decode(e) => e.fmt(f),
            RunError::Output(e) => write!(f, "writing output failed: {e}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Display already shows the inner error; chain past it.
            RunError::Decode(e) => e.source(),
            RunError::Output(e) => Some(e),
        }
    }
}

/// How a run decodes its inputs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Options for each worker's decoder.
    pub decoder: DecoderOptions,
    /// Worker threads (at most one per input).
    pub threads: usize,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            decoder: DecoderOptions::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Decodes one opened source with `decoder`, calling `on_batch` with every batch.
///
/// A source that breaks midway (a truncated gzip stream) is not an error of the run: every
/// record before the break is delivered, and the report says where it broke. Strict-mode
/// malformed lines and callback failures are errors.
pub fn decode_source(
    opened: Opened,
    name: &str,
    decoder: &mut Decoder,
    on_batch: &mut dyn FnMut(RecordBatch) -> io::Result<()>,
) -> Result<SourceReport, RunError> {
    let before = decoder.stats();
    let mut report = SourceReport {
        name: name.to_owned(),
        ..SourceReport::default()
    };
    match opened {
        Opened::Text {
            reader,
            compression,
            raw_bytes,
        } => {
            report.compression = Some(compression);
            let mut reader = Reader::new(reader, &mut *decoder, name);
            let mut failure = None;
            for batch in reader.by_ref() {
                match batch {
                    Ok(batch) => {
                        if let Err(e) = on_batch(batch) {
                            failure = Some(RunError::Output(e));
                            break;
                        }
                    }
                    Err(e) => match e.kind() {
                        ErrorKind::Io { .. } => {
                            let raw = raw_bytes.load(Ordering::Relaxed);
                            report.error = Some(match compression {
                                Compression::Gzip => {
                                    format!("{e} (after {raw} compressed bytes)")
                                }
                                Compression::None => e.to_string(),
                            });
                        }
                        _ => {
                            failure = Some(RunError::Decode(e));
                            break;
                        }
                    },
                }
            }
            report.raw_bytes = raw_bytes.load(Ordering::Relaxed);
            if let Some(failure) = failure {
                return Err(failure);
            }
        }
        Opened::ParquetFile(file) => {
            if let Err(e) = parquet_in::decode(file, name, decoder, on_batch)? {
                report.error = Some(e);
            }
        }
        Opened::ParquetBytes(bytes) => {
            if let Err(e) = parquet_in::decode(bytes, name, decoder, on_batch)? {
                report.error = Some(e);
            }
        }
    }
    let after = decoder.stats();
    report.records = after.records - before.records;
    report.bytes = after.bytes - before.bytes;
    report.malformed = after.malformed - before.malformed;
    report.malformed_lines = decoder.take_malformed();
    report.unknown_fields = decoder
        .unknown_fields()
        .iter()
        .map(|f| f.to_string())
        .collect();
    if report.raw_bytes == 0 {
        report.raw_bytes = report.bytes;
    }
    Ok(report)
}

/// Receives one source's batches, then hears how the source ended.
pub trait SourceSink: Send {
    /// One batch of the source's records.
    fn batch(&mut self, batch: RecordBatch) -> io::Result<()>;
    /// The source was read to its end, or until it broke (`report.error` says so): every batch
    /// of it has been delivered.
    fn finish(self: Box<Self>, report: &SourceReport) -> io::Result<()>;
}

/// Hands every batch to a shared callback.
struct Forward<'a>(&'a (dyn Fn(RecordBatch) -> io::Result<()> + Sync));

impl SourceSink for Forward<'_> {
    fn batch(&mut self, batch: RecordBatch) -> io::Result<()> {
        (self.0)(batch)
    }
    fn finish(self: Box<Self>, _: &SourceReport) -> io::Result<()> {
        Ok(())
    }
}

/// Decodes `inputs` on up to `opts.threads` worker threads and calls `on_batch` with every
/// batch, from whichever thread decoded it. Returns one report per input, in input order.
///
/// Batches of one input arrive in order; batches of different inputs interleave.
pub fn for_each_batch(
    inputs: &[Input],
    opts: &RunOptions,
    on_batch: &(dyn Fn(RecordBatch) -> io::Result<()> + Sync),
) -> Result<Vec<SourceReport>, RunError> {
    for_each_source(inputs, opts, &|_| Box::new(Forward(on_batch)))
}

/// Like [`for_each_batch`], with a sink of its own per input, from `make`. A sink sees only its
/// source's batches, in order, and then the source's report.
pub fn for_each_source<'a>(
    inputs: &[Input],
    opts: &RunOptions,
    make: &(dyn Fn(&Input) -> Box<dyn SourceSink + 'a> + Sync),
) -> Result<Vec<SourceReport>, RunError> {
    let threads = opts.threads.clamp(1, inputs.len().max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let reports: Mutex<Vec<Option<SourceReport>>> = Mutex::new(vec![None; inputs.len()]);
    let first_error: Mutex<Option<RunError>> = Mutex::new(None);
    let work = || {
        let mut decoder = Decoder::new(opts.decoder.clone());
        while !stop.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(input) = inputs.get(i) else { break };
            let name = input.name();
            let mut sink = make(input);
            let result = match open(input) {
                Ok(opened) => decode_source(opened, &name, &mut decoder, &mut |b| sink.batch(b)),
                Err(e) => Ok(SourceReport {
                    name: name.clone(),
                    error: Some(format!("cannot open {name}: {e}")),
                    ..SourceReport::default()
                }),
            };
            let result = result.and_then(|report| {
                sink.finish(&report).map_err(RunError::Output)?;
                Ok(report)
            });
            match result {
                Ok(report) => {
                    if let Ok(mut reports) = reports.lock() {
                        reports[i] = Some(report);
                    }
                }
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    if let Ok(mut first) = first_error.lock() {
                        first.get_or_insert(e);
                    }
                    break;
                }
            }
        }
    };
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(reports
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect())
}
