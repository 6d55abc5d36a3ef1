use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::BatchWriter;

/// How Parquet files are written.
#[derive(Clone, Debug)]
pub struct ParquetOptions {
    /// Rows per row group.
    pub row_group_rows: usize,
    /// zstd level (1 is fast and still compresses flow logs about 8×).
    pub zstd_level: i32,
}

impl Default for ParquetOptions {
    fn default() -> ParquetOptions {
        ParquetOptions {
            row_group_rows: 1 << 20,
            zstd_level: 1,
        }
    }
}

/// Writes batches to one zstd-compressed Parquet file.
///
/// The file is written to a temporary file beside `path` and renamed into place by
/// [`BatchWriter::finish`], so a reader never sees half a file and an interrupted run leaves
/// none behind at `path`. The temporary file is created exclusively under a random name
/// (`O_EXCL`), so a link planted where it would go is never followed.
#[derive(Debug)]
pub struct ParquetWriter {
    path: PathBuf,
    opts: ParquetOptions,
    /// The temporary file (removed on drop unless persisted) and the writer into it.
    open: Option<(NamedTempFile, ArrowWriter<File>)>,
    schema: Option<arrow_schema::SchemaRef>,
}

impl ParquetWriter {
    /// A writer that will create `path`.
    pub fn new(path: &Path, opts: ParquetOptions) -> ParquetWriter {
        ParquetWriter {
            path: path.to_owned(),
            opts,
            open: None,
            schema: None,
        }
    }

    fn create(
        &self,
        schema: arrow_schema::SchemaRef,
    ) -> io::Result<(NamedTempFile, ArrowWriter<File>)> {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(
                ZstdLevel::try_new(self.opts.zstd_level).map_err(to_io)?,
            ))
            .set_max_row_group_row_count(Some(self.opts.row_group_rows))
            .build();
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = self
            .path
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let prefix = format!(".{name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // Readable as a file made by `File::create` is (0666 less the umask), not 0600.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let tmp = builder.tempfile_in(dir)?;
        let file = tmp.as_file().try_clone()?;
        let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(to_io)?;
        Ok((tmp, writer))
    }
}

fn to_io(e: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(e)
}

impl BatchWriter for ParquetWriter {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        if self.open.is_none() {
            self.open = Some(self.create(batch.schema())?);
            self.schema = Some(batch.schema());
        }
        let Some((_, writer)) = self.open.as_mut() else {
            return Err(io::Error::other("the Parquet writer was not created"));
        };
        if self.schema.as_ref() != Some(&batch.schema()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "inputs have different log formats; one Parquet file holds one format \
                 (convert them separately, or pass --log-format)",
            ));
        }
        writer.write(batch).map_err(to_io)
    }

    fn finish(&mut self) -> io::Result<()> {
        match self.open.take() {
            Some((tmp, writer)) => {
                writer.close().map_err(to_io)?;
                tmp.persist(&self.path).map_err(|e| e.error)?;
                Ok(())
            }
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array};
    use std::sync::Arc;

    /// Regression (faults #11): the writer wrote to `OUT.tmp-<pid>`, following a link planted
    /// there onto the link's target.
    #[test]
    #[cfg(unix)]
    fn a_link_planted_at_the_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let out = dir.path().join("out.parquet");
        for name in [
            format!("out.parquet.tmp-{}", std::process::id()),
            "out.parquet.tmp".to_owned(),
        ] {
            std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
        }
        let column: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3]));
        let batch = RecordBatch::try_from_iter([("n", column)]).unwrap();
        let mut w = ParquetWriter::new(&out, ParquetOptions::default());
        w.write(&batch).unwrap();
        w.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert!(
            !std::fs::symlink_metadata(&out)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(&std::fs::read(&out).unwrap()[..4], b"PAR1");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o044,
            0o044 & !umask(),
            "readable by others as File::create makes it"
        );
        // Nothing is left behind but the two planted links, the victim and the file.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    /// The process umask (read back by creating a file the ordinary way).
    #[cfg(unix)]
    fn umask() -> u32 {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("probe");
        File::create(&p).unwrap();
        !std::fs::metadata(&p).unwrap().permissions().mode() & 0o666
    }

    #[test]
    fn a_writer_dropped_unfinished_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let column: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        let batch = RecordBatch::try_from_iter([("n", column)]).unwrap();
        let mut w = ParquetWriter::new(&dir.path().join("x.parquet"), ParquetOptions::default());
        w.write(&batch).unwrap();
        drop(w);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
