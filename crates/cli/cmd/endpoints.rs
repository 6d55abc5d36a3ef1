//! `vpcflow endpoints discover`: the catalogue of every RDS/Aurora instance, as TOML.

use std::io::Write;

use anyhow::{Context, Result};

use crate::flags::resolve::DiscoverJob;
use crate::report::EXIT_OK;
use crate::{catalogue, output};

pub fn run(job: DiscoverJob) -> Result<u8> {
    if let Some(out) = &job.out {
        output::check_out_path(&out.path, out.force)?;
    }
    let catalogue = catalogue::discover(&job.connect, job.page_size)?;
    let n = catalogue.endpoints.len();
    let text = format!(
        "# Written by `vpcflow endpoints discover` from RDS and EC2 ({n} instance{}).\n\n{}",
        if n == 1 { "" } else { "s" },
        catalogue.to_toml()
    );
    match &job.out {
        Some(out) => {
            let mut file = output::create_out(&out.path, out.force)?;
            file.write_all(text.as_bytes())?;
            file.flush()
                .with_context(|| format!("cannot write {}", out.path.display()))?;
            eprintln!("wrote {n} endpoints to {}", out.path.display());
        }
        None => {
            let mut stdout = output::stdout();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(EXIT_OK)
}
