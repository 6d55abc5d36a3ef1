use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use flate2::bufread::MultiGzDecoder;

/// Read buffer size for files and decompressed streams.
pub(crate) const BUF_SIZE: usize = 256 * 1024;

/// A gzip object up to this size (compressed) is read whole and inflated with libdeflate …
pub const WHOLE_GZIP_MAX: usize = 16 << 20;
/// … when it inflates to at most this many bytes; anything larger, or broken, streams through
/// zlib-rs (which reports how far a broken object got). Both bounds keep a run's memory within
/// its 256 MiB target with a few objects in flight.
pub const WHOLE_GZIP_OUT_MAX: usize = 64 << 20;

/// A local input: a file, or standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file.
    Path(PathBuf),
}

impl Input {
    /// `-` is stdin; anything else is a path.
    pub fn parse(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }

    /// `-` is stdin; a directory becomes the files below it (hidden ones skipped), sorted;
    /// anything else is a path. Symbolic links below a directory are followed, to files and to
    /// directories (each directory is walked once, so a link loop ends); a link that leads
    /// nowhere is kept as an input, so that opening it fails with its name rather than being
    /// skipped without a word.
    pub fn expand(arg: &str) -> io::Result<Vec<Input>> {
        let input = Input::parse(arg);
        match &input {
            Input::Path(p) if p.is_dir() => {
                let mut files = Vec::new();
                let mut seen = std::collections::HashSet::new();
                walk(p, &mut files, &mut seen)?;
                files.sort();
                Ok(files.into_iter().map(Input::Path).collect())
            }
            _ => Ok(vec![input]),
        }
    }

    /// The name used in reports: the path as given, or `<stdin>`.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".to_owned(),
            Input::Path(p) => p.display().to_string(),
        }
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

fn walk(
    dir: &std::path::Path,
    out: &mut Vec<PathBuf>,
    seen: &mut std::collections::HashSet<PathBuf>,
) -> io::Result<()> {
    if !seen.insert(dir.canonicalize()?) {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let mut kind = entry.file_type()?;
        if kind.is_symlink() {
            match std::fs::metadata(entry.path()) {
                Ok(target) => kind = target.file_type(),
                Err(_) => {
                    out.push(entry.path());
                    continue;
                }
            }
        }
        if kind.is_dir() {
            walk(&entry.path(), out, seen)?;
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// How an input's bytes are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip, one member or many.
    Gzip,
}

/// An opened input, ready to decode.
pub enum Opened {
    /// Flow-log text (maybe decompressed on the fly).
    Text {
        /// The text.
        reader: Box<dyn BufRead + Send>,
        /// How it was stored.
        compression: Compression,
        /// Compressed bytes read so far, for reporting how far a broken stream got.
        raw_bytes: Arc<AtomicU64>,
    },
    /// A Parquet file on disk.
    ParquetFile(File),
    /// A Parquet file read whole into memory (from stdin).
    ParquetBytes(Bytes),
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Opened::Text { compression, .. } => write!(f, "Opened::Text({compression:?})"),
            Opened::ParquetFile(_) | Opened::ParquetBytes(_) => write!(f, "Opened::Parquet"),
        }
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input and sniffs what it holds: gzip by its magic bytes, Parquet by `PAR1`,
/// otherwise text.
pub fn open(input: &Input) -> io::Result<Opened> {
    open_pipelined(input, false)
}

/// Opens any byte stream the way [`open`] opens a file. `reopen` names a file Parquet can be
/// read from without loading it into memory.
pub fn open_reader(raw: Box<dyn Read + Send>, reopen: Option<Input>) -> io::Result<Opened> {
    open_reader_with(raw, reopen, false, true)
}

/// [`open`], with gzip inflated on a thread of its own ahead of the decoder when `pipelined`
/// (for a spare core: one compressed file then uses two).
pub fn open_pipelined(input: &Input, pipelined: bool) -> io::Result<Opened> {
    let raw: Box<dyn Read + Send> = match input {
        Input::Stdin => Box::new(io::stdin()),
        Input::Path(path) => Box::new(File::open(path)?),
    };
    // Stdin may be a live stream: never wait for its end.
    let whole = matches!(input, Input::Path(_));
    open_reader_with(raw, whole.then(|| input.clone()), pipelined, whole)
}

/// `whole`: a small gzip object may be read to its end before decoding starts (files and S3
/// objects, not stdin).
fn open_reader_with(
    mut raw: Box<dyn Read + Send>,
    reopen: Option<Input>,
    pipelined: bool,
    whole: bool,
) -> io::Result<Opened> {
    let head = read_head(&mut raw)?;
    if head.starts_with(b"PAR1") {
        return match reopen {
            Some(Input::Path(path)) => Ok(Opened::ParquetFile(File::open(path)?)),
            _ => {
                let mut all = head;
                raw.read_to_end(&mut all)?;
                Ok(Opened::ParquetBytes(Bytes::from(all)))
            }
        };
    }
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    let raw_bytes = Arc::new(AtomicU64::new(0));
    let mut head = head;
    let mut text = None;
    if gzip && whole {
        // Read up to the bound; an object that ends within it is inflated whole. One too large,
        // or not inflatable whole, streams: what was read, then the rest.
        (&mut raw)
            .take((WHOLE_GZIP_MAX - head.len()) as u64 + 1)
            .read_to_end(&mut head)?;
        if head.len() <= WHOLE_GZIP_MAX {
            text = vpcflow_inflate::gunzip(&head, WHOLE_GZIP_OUT_MAX);
        }
    }
    let (reader, compression): (Box<dyn BufRead + Send>, _) = if let Some(text) = text {
        raw_bytes.store(head.len() as u64, Ordering::Relaxed);
        (Box::new(io::Cursor::new(text)), Compression::Gzip)
    } else {
        let buffered = BufReader::with_capacity(
            BUF_SIZE,
            Counting {
                inner: io::Cursor::new(head).chain(raw),
                count: raw_bytes.clone(),
            },
        );
        if !gzip {
            (Box::new(buffered), Compression::None)
        } else if pipelined {
            let gz = MultiGzDecoder::new(buffered);
            (
                Box::new(crate::pipe::Pipe::spawn(Box::new(gz))?),
                Compression::Gzip,
            )
        } else {
            let gz = MultiGzDecoder::new(buffered);
            (
                Box::new(BufReader::with_capacity(BUF_SIZE, gz)),
                Compression::Gzip,
            )
        }
    };
    let reader = Box::new(crate::shape::Shaped::new(reader));
    Ok(Opened::Text {
        reader,
        compression,
        raw_bytes,
    })
}

/// Reads the first four bytes (fewer at end of input), however the stream delivers them.
fn read_head(raw: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    let mut filled = 0;
    while filled < head.len() {
        match raw.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(head[..filled].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap_or_default();
        e.finish().unwrap_or_default()
    }

    fn text_of(opened: Opened) -> (Vec<u8>, u64) {
        let Opened::Text {
            mut reader,
            compression,
            raw_bytes,
        } = opened
        else {
            panic!("text expected");
        };
        assert_eq!(compression, Compression::Gzip);
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap_or_default();
        (out, raw_bytes.load(Ordering::Relaxed))
    }

    /// A small multi-member object (inflated whole by libdeflate) and one past the size bound
    /// (streamed) read to the same text, and count every compressed byte.
    #[test]
    fn whole_and_streamed_gzip_read_the_same() {
        let line = b"2 123456789012 eni-1 10.0.1.10 10.0.3.213 49152 3306 6 1 60 1 2 REJECT OK\n";
        let small = [gz(line), gz(line)].concat();
        let (text, raw) =
            text_of(open_reader(Box::new(io::Cursor::new(small.clone())), None).unwrap());
        assert_eq!(text, [&line[..], &line[..]].concat());
        assert_eq!(raw, small.len() as u64);
        // Past WHOLE_GZIP_MAX compressed: random letters (about 5 bits of 8 each).
        let mut noise = Vec::with_capacity(2 * WHOLE_GZIP_MAX);
        let mut x = 0x9e37_79b9_u32;
        while noise.len() < 2 * WHOLE_GZIP_MAX {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.push(b'a' + (x % 26) as u8);
        }
        let big = [gz(&noise), gz(line)].concat();
        assert!(big.len() > WHOLE_GZIP_MAX);
        let (text, raw) =
            text_of(open_reader(Box::new(io::Cursor::new(big.clone())), None).unwrap());
        assert_eq!(text.len(), noise.len() + line.len());
        assert_eq!(raw, big.len() as u64);
    }
}
