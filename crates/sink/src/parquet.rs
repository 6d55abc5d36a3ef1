use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

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
/// The file is written under a temporary name beside `path` and renamed into place by
/// [`BatchWriter::finish`], so a reader never sees half a file and an interrupted run leaves
/// none behind at `path`.
#[derive(Debug)]
pub struct ParquetWriter {
    path: PathBuf,
    tmp: PathBuf,
    opts: ParquetOptions,
    writer: Option<ArrowWriter<File>>,
    schema: Option<arrow_schema::SchemaRef>,
    done: bool,
}

impl ParquetWriter {
    /// A writer that will create `path`.
    pub fn new(path: &Path, opts: ParquetOptions) -> ParquetWriter {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp-{}", std::process::id()));
        ParquetWriter {
            path: path.to_owned(),
            tmp: PathBuf::from(tmp),
            opts,
            writer: None,
            schema: None,
            done: false,
        }
    }
}

fn to_io(e: parquet::errors::ParquetError) -> io::Error {
    io::Error::other(e)
}

impl BatchWriter for ParquetWriter {
    fn write(&mut self, batch: &RecordBatch) -> io::Result<()> {
        if self.writer.is_none() {
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(
                    ZstdLevel::try_new(self.opts.zstd_level).map_err(to_io)?,
                ))
                .set_max_row_group_row_count(Some(self.opts.row_group_rows))
                .build();
            let file = File::create(&self.tmp)?;
            self.writer =
                Some(ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(to_io)?);
            self.schema = Some(batch.schema());
        }
        let writer = self.writer.as_mut().expect("created above");
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
        if self.done {
            return Ok(());
        }
        self.done = true;
        match self.writer.take() {
            Some(writer) => {
                writer.close().map_err(to_io)?;
                std::fs::rename(&self.tmp, &self.path)
            }
            None => Ok(()),
        }
    }
}

impl Drop for ParquetWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
