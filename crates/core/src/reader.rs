//! A pull adapter: any [`BufRead`] becomes an iterator of [`RecordBatch`]es.
//!
//! The same [`Decoder`] works from an async byte stream without this crate depending on an
//! async runtime — feed each chunk to [`Decoder::decode`]:
//!
//! ```text
//! while let Some(chunk) = stream.next().await {
//!     let mut chunk = &chunk?[..];
//!     while !chunk.is_empty() {
//!         let n = decoder.decode(chunk)?;
//!         chunk = &chunk[n..];
//!         if decoder.is_full() {
//!             sink(decoder.flush());
//!         }
//!     }
//! }
//! decoder.finish()?;
//! sink(decoder.flush());
//! ```

use std::borrow::BorrowMut;
use std::io::{BufRead, ErrorKind as IoErrorKind};

use arrow_array::RecordBatch;

use crate::decode::Decoder;
use crate::error::{Error, ErrorKind, Result};

/// Decodes one source read through a [`BufRead`]. `D` is a [`Decoder`] or `&mut Decoder`.
///
/// ```
/// use vpcflow_core::{Decoder, DecoderOptions, Reader};
/// let text = "version srcaddr dstaddr action\n2 10.0.1.10 10.0.3.213 REJECT\n";
/// let reader = Reader::new(text.as_bytes(), Decoder::new(DecoderOptions::default()), "s3.log");
/// let batches: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
/// assert_eq!(batches[0].num_columns(), 4);
/// ```
#[derive(Debug)]
pub struct Reader<R, D = Decoder> {
    inner: R,
    decoder: D,
    source_records: u64,
    eof: bool,
    error: Option<Error>,
}

impl<R: BufRead, D: BorrowMut<Decoder>> Reader<R, D> {
    /// Starts `decoder` on a new source named `source` and reads it from `inner`.
    pub fn new(inner: R, mut decoder: D, source: &str) -> Reader<R, D> {
        decoder.borrow_mut().begin_source(source);
        let source_records = decoder.borrow().stats().records;
        Reader {
            inner,
            decoder,
            source_records,
            eof: false,
            error: None,
        }
    }

    /// The decoder, for its stats and malformed-line reports.
    pub fn decoder(&self) -> &Decoder {
        self.decoder.borrow()
    }

    /// The decoder, mutably (to take malformed-line reports).
    pub fn decoder_mut(&mut self) -> &mut Decoder {
        self.decoder.borrow_mut()
    }

    /// Gives the decoder back, to read the next source with it.
    pub fn into_decoder(self) -> D {
        self.decoder
    }

    fn step(&mut self) -> Result<Option<RecordBatch>> {
        let decoder = self.decoder.borrow_mut();
        loop {
            if self.eof {
                return Ok(decoder.flush());
            }
            if decoder.is_full() {
                if let Some(batch) = decoder.flush() {
                    return Ok(Some(batch));
                }
                continue;
            }
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == IoErrorKind::Interrupted => continue,
                Err(error) => {
                    self.eof = true;
                    let records = decoder.stats().records - self.source_records;
                    self.error = Some(Error::new(ErrorKind::Io {
                        position: decoder.position(),
                        records,
                        error,
                    }));
                    return Ok(decoder.flush());
                }
            };
            if buf.is_empty() {
                self.eof = true;
                decoder.finish()?;
                continue;
            }
            let n = decoder.decode(buf)?;
            self.inner.consume(n);
        }
    }
}

impl<R: BufRead, D: BorrowMut<Decoder>> Iterator for Reader<R, D> {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Result<RecordBatch>> {
        if self.error.is_none() {
            match self.step() {
                Ok(Some(batch)) => return Some(Ok(batch)),
                Ok(None) => {}
                Err(e) => {
                    self.eof = true;
                    return Some(Err(e));
                }
            }
        }
        self.error.take().map(Err)
    }
}
