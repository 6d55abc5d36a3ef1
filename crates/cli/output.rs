//! Where results go: stdout or a file, and the reports printed on stderr.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use vpcflow_input::SourceReport;

/// Opens `--out` for writing. An existing file is refused unless `force`; a directory, or a
/// path whose parent does not exist, is an error that says so.
pub fn create_out(path: &Path, force: bool) -> Result<BufWriter<File>> {
    check_out_path(path, force)?;
    let file = if force {
        File::create(path)
    } else {
        OpenOptions::new().write(true).create_new(true).open(path)
    }
    .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 16, file))
}

/// Checks an output path before anything is written to it.
pub fn check_out_path(path: &Path, force: bool) -> Result<()> {
    if path.as_os_str().is_empty() {
        bail!("--out is empty");
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if meta.is_dir() {
            bail!("--out {} is a directory; give a file path", path.display());
        }
        if !force {
            bail!(
                "{} exists; pass --force to overwrite it, or choose another --out",
                path.display()
            );
        }
        if meta.file_type().is_symlink() {
            bail!(
                "{} is a symbolic link; refusing to write through it",
                path.display()
            );
        }
    }
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
        && !parent.is_dir()
    {
        bail!(
            "the directory {} does not exist; create it first",
            parent.display()
        );
    }
    Ok(())
}

/// Stdout, buffered.
pub fn stdout() -> Box<dyn Write + Send> {
    Box::new(BufWriter::with_capacity(1 << 16, io::stdout()))
}

/// Prints what went wrong per source on stderr and returns whether any source failed.
pub fn report_sources(reports: &[SourceReport]) -> bool {
    let mut failed = false;
    for report in reports.iter().filter(|r| r.parts > 1) {
        tracing::info!(
            "{} was split into {} parts that threads decoded at once",
            report.name,
            report.parts
        );
    }
    let malformed: u64 = reports.iter().map(|r| r.malformed).sum();
    if malformed > 0 {
        eprintln!(
            "warning: skipped {malformed} malformed line{} (pass --strict to stop at the first):",
            if malformed == 1 { "" } else { "s" }
        );
        let mut shown = 0;
        for report in reports {
            for line in &report.malformed_lines {
                if shown < 20 {
                    eprintln!("  {line}");
                }
                shown += 1;
            }
        }
        if malformed > shown as u64 || shown > 20 {
            eprintln!("  … and {} more", malformed - shown.min(20) as u64);
        }
    }
    for report in reports {
        if let Some(error) = &report.error {
            failed = true;
            eprintln!(
                "error: {error} ({} records from {} were kept)",
                report.records, report.name
            );
        }
    }
    failed
}
