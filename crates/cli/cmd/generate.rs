//! `vpcflow generate`: deterministic synthetic flow logs.

use std::io::Write;

use anyhow::{Context, Result};
use vpcflow_core::LogFormat;
use vpcflow_generate::{Generator, Options, named_format};

use crate::flags::GenerateArgs;
use crate::output;
use crate::report::EXIT_OK;

pub fn run(args: GenerateArgs) -> Result<u8> {
    let format = match named_format(&args.format) {
        Some(format) => format,
        None => LogFormat::parse(&args.format).context("bad --format")?,
    };
    let mut generator = Generator::new(Options {
        records: args.records,
        format,
        header: args.header,
        reject_share: args.reject_share,
        endpoints: args.endpoints,
        clients: args.clients,
        seed: args.seed,
        span: args.span,
        db_share: args.db_share,
        enis: args.enis,
        ..Options::default()
    });
    if let Some(path) = &args.catalogue {
        let mut out = output::create_out(path, args.force)?;
        out.write_all(generator.catalogue_toml().as_bytes())?;
        out.flush()?;
    }
    let out: Box<dyn Write + Send> = match &args.out {
        Some(path) => Box::new(output::create_out(path, args.force)?),
        None => output::stdout(),
    };
    let stats = if args.gzip {
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::new(6));
        let stats = generator.write_to(&mut gz)?;
        gz.finish()?.flush()?;
        stats
    } else {
        let mut out = out;
        generator.write_to(&mut out)?
    };
    tracing::info!(
        records = stats.records,
        reject = stats.reject,
        bytes = stats.bytes,
        "generated"
    );
    Ok(EXIT_OK)
}
