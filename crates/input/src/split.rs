//! One large uncompressed file, decoded by several threads: split at line boundaries into
//! parts, each decoded by its own [`Decoder`] from its first byte (see
//! [`Decoder::begin_part`]), and the parts' reports joined back into the file's.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use memchr::memchr;
use vpcflow_core::{LogFormat, MalformedLine};

use crate::open::Compression;
use crate::report::SourceReport;

/// Files smaller than twice this are not split; parts are at least this large.
pub const MIN_PART: u64 = 16 << 20;

/// One part of a file: `start..end` bytes, both at line starts (or the file's ends).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Part {
    pub start: u64,
    pub end: u64,
    /// The format the file starts in (its header's, or the options').
    pub format: LogFormat,
}

/// A byte range of one uncompressed text file, from a line start to a line start (or the
/// file's end): a unit of work an engine can hand to any worker. [`plan_ranges`] makes them,
/// [`crate::decode_range`] decodes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileRange {
    /// The first byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// The ranges `path` splits into for `workers` workers (a few per worker, each at least
/// [`MIN_PART`]), or `None` when it is read whole: too small, compressed, Parquet, wrapped in
/// JSON, or not a regular file.
pub fn plan_ranges(
    path: &Path,
    workers: usize,
    max_line: usize,
) -> io::Result<Option<Vec<FileRange>>> {
    Ok(plan(path, workers, None, max_line)?.map(|parts| {
        parts
            .into_iter()
            .map(|p| FileRange {
                start: p.start,
                end: p.end,
            })
            .collect()
    }))
}

/// Plans the parts of `path` for `threads` threads, or `None` when the file should be read
/// whole: too small, compressed, Parquet, or not a regular file.
pub(crate) fn plan(
    path: &Path,
    threads: usize,
    fixed: Option<&LogFormat>,
    max_line: usize,
) -> io::Result<Option<Vec<Part>>> {
    let meta = std::fs::metadata(path)?;
    let size = meta.len();
    if threads < 2 || !meta.is_file() || size < 2 * MIN_PART {
        return Ok(None);
    }
    let mut file = File::open(path)?;
    let mut first = Vec::new();
    BufReader::new(&mut file)
        .take(max_line as u64 + 1)
        .read_until(b'\n', &mut first)?;
    // gzip and Parquet are read whole (a compressed stream cannot be entered midway), and so
    // are the wrapped shapes (a JSON document cannot be entered midway either).
    if first.starts_with(&[0x1f, 0x8b])
        || first.starts_with(b"PAR1")
        || crate::shape::Shape::sniff(&first) != crate::shape::Shape::Plain
    {
        return Ok(None);
    }
    let format = match fixed {
        Some(f) => f.clone(),
        None => LogFormat::from_header(&first).unwrap_or_else(LogFormat::default_v2),
    };
    // A few parts per thread even out parts that decode at different speeds.
    let n = (size / MIN_PART).min(threads as u64 * 4).max(2);
    let mut bounds = vec![0u64];
    for k in 1..n {
        let nominal = size * k / n;
        let at = next_line_start(&mut file, nominal, size)?;
        if at > *bounds.last().unwrap_or(&0) && at < size {
            bounds.push(at);
        }
    }
    bounds.push(size);
    Ok(Some(
        bounds
            .windows(2)
            .map(|w| Part {
                start: w[0],
                end: w[1],
                format: format.clone(),
            })
            .collect(),
    ))
}

/// The first byte after the first newline at or after `from` (`size` if none).
fn next_line_start(file: &mut File, from: u64, size: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 << 10];
    let mut at = from;
    file.seek(SeekFrom::Start(at))?;
    while at < size {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if let Some(i) = memchr(b'\n', &buf[..n]) {
            return Ok(at + i as u64 + 1);
        }
        at += n as u64;
    }
    Ok(size)
}

/// A reader over one part.
pub(crate) fn open_part(path: &Path, part: &Part) -> io::Result<Box<dyn BufRead + Send>> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(part.start))?;
    Ok(Box::new(BufReader::with_capacity(
        crate::open::BUF_SIZE,
        file.take(part.end - part.start),
    )))
}

/// Joins the reports of a file's parts, in order, into the file's: counts add up, malformed
/// lines get file line numbers (the lines of the parts before are added), at most `keep` of
/// them are kept, the first error wins.
pub(crate) fn join(name: &str, parts: Vec<SourceReport>, keep: usize) -> SourceReport {
    let mut out = SourceReport {
        name: name.to_owned(),
        compression: Some(Compression::None),
        ..SourceReport::default()
    };
    let mut lines_before = 0u64;
    let mut malformed: Vec<MalformedLine> = Vec::new();
    out.parts = parts.len();
    for part in parts {
        out.records += part.records;
        out.bytes += part.bytes;
        out.raw_bytes += part.raw_bytes;
        out.malformed += part.malformed;
        out.filtered += part.filtered;
        for mut m in part.malformed_lines {
            m.position.line += lines_before;
            if malformed.len() < keep {
                malformed.push(m);
            }
        }
        for f in part.unknown_fields {
            if !out.unknown_fields.contains(&f) {
                out.unknown_fields.push(f);
            }
        }
        if out.error.is_none() {
            out.error = part.error;
        }
        for f in part.formats {
            if !out.formats.contains(&f) {
                out.formats.push(f);
            }
        }
        lines_before += part.lines;
    }
    out.lines = lines_before;
    out.malformed_lines = malformed;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn parts_start_at_lines_and_cover_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.log");
        let mut f = std::io::BufWriter::new(File::create(&path).unwrap());
        writeln!(f, "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id").unwrap();
        let mut i = 0u64;
        let mut written = 0u64;
        while written < 2 * MIN_PART + 12345 {
            let line = format!("2 123 eni-{i} 10.0.0.1 10.0.0.2 1 2 6 1 {i} 0 0 ACCEPT OK vpc-1\n");
            written += line.len() as u64;
            f.write_all(line.as_bytes()).unwrap();
            i += 1;
        }
        drop(f);
        let bytes = std::fs::read(&path).unwrap();
        let parts = plan(&path, 2, None, 1 << 16).unwrap().unwrap();
        assert!(parts.len() >= 2);
        assert_eq!(parts[0].start, 0);
        assert_eq!(parts.last().unwrap().end, bytes.len() as u64);
        for w in parts.windows(2) {
            assert_eq!(w[0].end, w[1].start);
            assert_eq!(
                bytes[w[1].start as usize - 1],
                b'\n',
                "a part starts after a newline"
            );
        }
        assert_eq!(
            parts[1].format.columns().len(),
            15,
            "the header's format for every part"
        );
        assert_eq!(
            plan(&path, 1, None, 1 << 16).unwrap(),
            None,
            "one thread: whole"
        );
    }

    #[test]
    fn small_and_compressed_files_are_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small.log");
        std::fs::write(
            &small,
            "2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 0 0 ACCEPT OK\n",
        )
        .unwrap();
        assert_eq!(plan(&small, 8, None, 1 << 16).unwrap(), None);
        let gz = dir.path().join("big.gz");
        let mut data = vec![0x1f, 0x8b];
        data.resize((2 * MIN_PART) as usize + 1, b'x');
        std::fs::write(&gz, data).unwrap();
        assert_eq!(plan(&gz, 8, None, 1 << 16).unwrap(), None);
    }
}
