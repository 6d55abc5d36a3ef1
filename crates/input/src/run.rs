use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;
use vpcflow_core::{Decoder, DecoderOptions, ErrorKind, LogFormat, Reader};

use crate::open::{Compression, Input, Opened, open, open_pipelined};
use crate::parquet_in;
use crate::report::{RunError, SourceError, SourceReport};
use crate::split::{self, FileRange, Part};

/// How a run decodes its inputs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Options for each worker's decoder.
    pub decoder: DecoderOptions,
    /// Worker threads.
    pub threads: usize,
    /// Let [`for_each_batch`] split a large uncompressed file into parts that threads decode
    /// at once (never under `strict`, whose first error must be the file's first). A split
    /// file's batches arrive out of order: leave this off where order matters.
    pub split: bool,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            decoder: DecoderOptions::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            split: false,
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
    decode_part(opened, name, None, decoder, on_batch)
}

/// Decodes `range` of the uncompressed text file `path` (from [`crate::plan_ranges`]) as
/// [`decode_source`] does a whole source. `format` is the format in force at the file's start
/// (its header's, or a fixed one); byte positions are the file's, line numbers count from the
/// range's start.
pub fn decode_range(
    path: &Path,
    range: FileRange,
    format: LogFormat,
    decoder: &mut Decoder,
    on_batch: &mut dyn FnMut(RecordBatch) -> io::Result<()>,
) -> Result<SourceReport, RunError> {
    let name = path.display().to_string();
    let part = Part {
        start: range.start,
        end: range.end,
        format,
    };
    match split::open_part(path, &part) {
        Ok(reader) => {
            let opened = Opened::Text {
                reader,
                compression: Compression::None,
                raw_bytes: Arc::default(),
            };
            decode_part(opened, &name, Some(&part), decoder, on_batch)
        }
        Err(e) => Ok(cannot_open(&name, e)),
    }
}

/// [`decode_source`] for the whole source (`part: None`) or one part of it.
fn decode_part(
    opened: Opened,
    name: &str,
    part: Option<&Part>,
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
            if let Some(part) = part {
                reader
                    .decoder_mut()
                    .begin_part(name, part.start, part.format.clone());
            }
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
                            report.error = Some(SourceError::Broken {
                                error: e,
                                compressed: (compression == Compression::Gzip).then_some(raw),
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
    report.lines = after.lines - before.lines;
    report.malformed = after.malformed - before.malformed;
    report.filtered = after.filtered - before.filtered;
    report.malformed_lines = decoder.take_malformed();
    report.unknown_fields = decoder
        .unknown_fields()
        .iter()
        .map(|f| f.to_string())
        .collect();
    report.formats = decoder.take_source_formats();
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

/// Decodes `inputs` on up to `opts.threads` worker threads and calls `on_batch` with every
/// batch, from whichever thread decoded it. Returns one report per input, in input order.
///
/// Batches of one input arrive in order, unless `opts.split` let threads share a large file;
/// batches of different inputs interleave.
pub fn for_each_batch(
    inputs: &[Input],
    opts: &RunOptions,
    on_batch: &(dyn Fn(RecordBatch) -> io::Result<()> + Sync),
) -> Result<Vec<SourceReport>, RunError> {
    // The work: each input whole, or in parts.
    let mut work: Vec<(usize, Option<Part>)> = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let parts = match input {
            Input::Path(path) if opts.split && !opts.decoder.strict => split::plan(
                path,
                opts.threads,
                opts.decoder.format.as_ref(),
                opts.decoder.max_line_len,
            )
            .unwrap_or(None),
            _ => None,
        };
        match parts {
            Some(parts) => work.extend(parts.into_iter().map(|p| (i, Some(p)))),
            None => work.push((i, None)),
        }
    }
    // Cores left over when there are fewer inputs than threads inflate gzip ahead of decoding.
    let pipelined = opts.threads > work.len();
    let reports = run_work(work.len(), opts, &|k, decoder| {
        let (i, part) = &work[k];
        let input = &inputs[*i];
        let name = input.name();
        let mut forward = |b| on_batch(b);
        match part {
            None => match open_pipelined(input, pipelined) {
                Ok(opened) => decode_source(opened, &name, decoder, &mut forward),
                Err(e) => Ok(cannot_open(&name, e)),
            },
            Some(part) => {
                let Input::Path(path) = input else {
                    return Ok(cannot_open(&name, io::Error::other("not a file")));
                };
                match split::open_part(path, part) {
                    Ok(reader) => {
                        let opened = Opened::Text {
                            reader,
                            compression: Compression::None,
                            raw_bytes: Arc::default(),
                        };
                        decode_part(opened, &name, Some(part), decoder, &mut forward)
                    }
                    Err(e) => Ok(cannot_open(&name, e)),
                }
            }
        }
    })?;
    // One report per input: a split file's parts joined.
    let mut per_input: Vec<Vec<SourceReport>> = inputs.iter().map(|_| Vec::new()).collect();
    for ((i, _), report) in work.iter().zip(reports) {
        per_input[*i].extend(report);
    }
    Ok(per_input
        .into_iter()
        .zip(inputs)
        .map(|(mut parts, input)| {
            if parts.len() == 1 {
                parts.pop().unwrap_or_default()
            } else {
                split::join(&input.name(), parts, opts.decoder.max_reported)
            }
        })
        .collect())
}

fn cannot_open(name: &str, e: io::Error) -> SourceReport {
    SourceReport::failed(
        name,
        SourceError::Open {
            name: name.to_owned(),
            error: e,
        },
    )
}

/// Like [`for_each_batch`] without splitting, with a sink of its own per input, from `make`. A
/// sink sees only its source's batches, in order, and then the source's report.
pub fn for_each_source<'a>(
    inputs: &[Input],
    opts: &RunOptions,
    make: &(dyn Fn(&Input) -> Box<dyn SourceSink + 'a> + Sync),
) -> Result<Vec<SourceReport>, RunError> {
    let reports = run_work(inputs.len(), opts, &|i, decoder| {
        let input = &inputs[i];
        let name = input.name();
        let mut sink = make(input);
        let report = match open(input) {
            Ok(opened) => decode_source(opened, &name, decoder, &mut |b| sink.batch(b))?,
            Err(e) => cannot_open(&name, e),
        };
        sink.finish(&report).map_err(RunError::Output)?;
        Ok(report)
    })?;
    Ok(reports.into_iter().flatten().collect())
}

/// Runs work items `0..n` on up to `opts.threads` threads, each with its own decoder, in order
/// of index; the first error stops the run. Returns each item's report by index.
fn run_work(
    n: usize,
    opts: &RunOptions,
    item: &(dyn Fn(usize, &mut Decoder) -> Result<SourceReport, RunError> + Sync),
) -> Result<Vec<Option<SourceReport>>, RunError> {
    let threads = opts.threads.clamp(1, n.max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let reports: Mutex<Vec<Option<SourceReport>>> = Mutex::new((0..n).map(|_| None).collect());
    let first_error: Mutex<Option<RunError>> = Mutex::new(None);
    let work = || {
        let mut decoder = Decoder::new(opts.decoder.clone());
        while !stop.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            match item(i, &mut decoder) {
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
    Ok(reports.into_inner().unwrap_or_default())
}
