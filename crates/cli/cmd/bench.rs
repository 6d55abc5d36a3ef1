//! `vpcflow bench`: records/s and MB/s per stage of the pipeline, on a generated or given file.
//!
//! Each stage runs the pipeline up to and including it over the whole input, single-threaded:
//! read, then read + inflate (gzip only), then + decode, then + aggregate. A stage's own cost is
//! the difference from the stage before.

use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use arrow_array::RecordBatch;
use vpcflow_core::Decoder;
use vpcflow_generate::{Generator, Options, named_format};
use vpcflow_input::{Input, RunOptions, decode_source, open};
use vpcflow_verdict::{Aggregator, Catalogue, SystemResolver};

use crate::flags::BenchArgs;
use crate::report::EXIT_OK;

struct Stage {
    name: &'static str,
    elapsed: Duration,
    bytes: u64,
    records: u64,
}

fn read_all(path: &Path) -> Result<u64> {
    let mut f = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

fn inflate_all(path: &Path) -> Result<u64> {
    let f = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let mut gz = flate2::bufread::MultiGzDecoder::new(f);
    Ok(std::io::copy(&mut gz, &mut std::io::sink())?)
}

pub fn run(args: BenchArgs, opts: RunOptions) -> Result<u8> {
    let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
    let (path, catalogue): (PathBuf, Option<Catalogue>) = match &args.file {
        Some(file) => {
            let catalogue = args
                .endpoints
                .as_deref()
                .map(|p| Catalogue::from_file(p, &SystemResolver))
                .transpose()?;
            (file.clone(), catalogue)
        }
        None => {
            let Some(format) = named_format(&args.format) else {
                bail!(
                    "--format is v2 or v5 for generated input, not `{}`",
                    args.format
                );
            };
            let mut generator = Generator::new(Options {
                records: args.records,
                format,
                header: true,
                ..Options::default()
            });
            let catalogue = Catalogue::from_toml(&generator.catalogue_toml(), "generated")?;
            let path = dir.path().join(if args.gzip {
                "bench.log.gz"
            } else {
                "bench.log"
            });
            let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
            if args.gzip {
                let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::new(1));
                generator.write_to(&mut gz)?;
                gz.finish()?.flush()?;
            } else {
                let mut file = file;
                generator.write_to(&mut file)?;
            }
            (path, Some(catalogue))
        }
    };
    let input = Input::Path(path.clone());
    let file_bytes = std::fs::metadata(&path)?.len();
    let mut stages = Vec::new();

    let t = Instant::now();
    read_all(&path)?;
    stages.push(Stage {
        name: "read",
        elapsed: t.elapsed(),
        bytes: file_bytes,
        records: 0,
    });

    let mut head = [0u8; 2];
    let gzip = std::fs::File::open(&path)?.read(&mut head)? == 2 && head == [0x1f, 0x8b];
    let mut text_bytes = file_bytes;
    if gzip {
        let t = Instant::now();
        text_bytes = inflate_all(&path)?;
        stages.push(Stage {
            name: "+ inflate",
            elapsed: t.elapsed(),
            bytes: text_bytes,
            records: 0,
        });
    }

    let decode = |on_batch: &mut dyn FnMut(RecordBatch) -> std::io::Result<()>| -> Result<u64> {
        let mut decoder = Decoder::new(opts.decoder.clone());
        let report = decode_source(open(&input)?, &input.name(), &mut decoder, on_batch)?;
        if let Some(e) = report.error {
            bail!("{e}");
        }
        Ok(report.records)
    };
    let t = Instant::now();
    let records = decode(&mut |_| Ok(()))?;
    stages.push(Stage {
        name: "+ decode",
        elapsed: t.elapsed(),
        bytes: text_bytes,
        records,
    });

    if let Some(catalogue) = catalogue {
        let aggregator = Aggregator::new(catalogue, None, None);
        let mut worker = aggregator.worker();
        let t = Instant::now();
        let records = decode(&mut |b| worker.add_batch(&b).map_err(std::io::Error::other))?;
        let verdicts = aggregator.report()?.verdicts.len();
        stages.push(Stage {
            name: "+ aggregate",
            elapsed: t.elapsed(),
            bytes: text_bytes,
            records,
        });
        tracing::info!(verdicts, "aggregated");
    }

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} ({} bytes{}, {} records), 1 thread",
        if args.file.is_some() {
            path.display().to_string()
        } else {
            format!("generated {} input", args.format)
        },
        file_bytes,
        if gzip {
            format!(", {text_bytes} decompressed")
        } else {
            String::new()
        },
        records
    )?;
    writeln!(
        out,
        "{:<12}{:>10}{:>12}{:>16}{:>16}",
        "stage", "seconds", "MB/s", "records/s", "stage only"
    )?;
    let mut before = Duration::ZERO;
    for s in &stages {
        let secs = s.elapsed.as_secs_f64().max(1e-9);
        let own = s.elapsed.saturating_sub(before).as_secs_f64().max(1e-9);
        writeln!(
            out,
            "{:<12}{:>10.4}{:>12.1}{:>16}{:>16}",
            s.name,
            secs,
            s.bytes as f64 / secs / 1e6,
            if s.records > 0 {
                format!("{:.0}", s.records as f64 / secs)
            } else {
                "-".into()
            },
            format!("{:.1} MB/s", s.bytes as f64 / own / 1e6),
        )?;
        before = s.elapsed;
    }
    Ok(EXIT_OK)
}
