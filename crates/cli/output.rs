//! Where results go: stdout or a file, and the reports printed on stderr.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use vpcflow_sink::{
    BatchWriter, CsvWriter, JsonLinesWriter, OcsfWriter, ParquetOptions, ParquetWriter, TableWriter,
};

/// The forms `parse` and `query` write rows in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    Json,
    Csv,
    Table,
    Ocsf,
    Parquet,
}

/// The writer of `rows` to `out`, or stdout when `None` (Parquet needs a path). An existing
/// file is refused unless `force`.
pub fn batch_writer(
    rows: Rows,
    out: Option<&Path>,
    force: bool,
) -> Result<Box<dyn BatchWriter + Send>> {
    if rows == Rows::Parquet {
        let Some(path) = out else {
            bail!("--output parquet needs --out PATH");
        };
        check_out_path(path, force)?;
        return Ok(Box::new(ParquetWriter::new(
            path,
            ParquetOptions::default(),
        )));
    }
    let out: Box<dyn Write + Send> = match out {
        Some(path) => Box::new(create_out(path, force)?),
        None => stdout(),
    };
    Ok(match rows {
        Rows::Csv => Box::new(CsvWriter::new(out)),
        Rows::Table => Box::new(TableWriter::new(out)),
        Rows::Ocsf => Box::new(OcsfWriter::new(out)),
        Rows::Json | Rows::Parquet => Box::new(JsonLinesWriter::new(out)),
    })
}

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

/// Refuses an `--out` that is one of the inputs (the same file, by device and inode, whatever
/// the path): writing it would destroy what is being read.
pub fn refuse_input_as_output(out: &Path, inputs: &[vpcflow_input::Input]) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(target) = std::fs::metadata(out) else {
            return Ok(());
        };
        for input in inputs {
            if let vpcflow_input::Input::Path(p) = input
                && let Ok(m) = std::fs::metadata(p)
                && (m.dev(), m.ino()) == (target.dev(), target.ino())
            {
                bail!(
                    "--out {} is the input {}; writing it would destroy what is being read",
                    out.display(),
                    p.display()
                );
            }
        }
    }
    #[cfg(not(unix))]
    {
        let out = out.canonicalize().ok();
        for input in inputs {
            if let vpcflow_input::Input::Path(p) = input
                && out.is_some()
                && p.canonicalize().ok() == out
            {
                bail!(
                    "--out {} is the input {}; writing it would destroy what is being read",
                    out.as_ref()
                        .map_or_else(String::new, |o| o.display().to_string()),
                    p.display()
                );
            }
        }
    }
    Ok(())
}

/// The screen tables are drawn for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Screen {
    /// Characters per line: `COLUMNS`, else the terminal's width, else 100 (output piped or
    /// redirected).
    pub width: usize,
    /// Whether to colour: stdout is a terminal, `NO_COLOR` is unset or empty, `TERM` is not
    /// `dumb`.
    pub colour: bool,
}

/// The screen stdout goes to.
pub fn screen() -> Screen {
    use std::io::IsTerminal;
    let tty = io::stdout().is_terminal();
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c >= 20);
    let width = columns
        .or_else(|| {
            tty.then(|| terminal_size::terminal_size().map(|(w, _)| w.0 as usize))
                .flatten()
        })
        .unwrap_or(100);
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
    Screen {
        width,
        colour: tty && !no_color && !dumb,
    }
}
