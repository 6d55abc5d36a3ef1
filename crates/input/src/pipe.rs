//! Inflate on one thread, decode on another: a gzip stream is inflated ahead into a few
//! reusable buffers by a thread of its own, so a single compressed file uses two cores.

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Bytes per buffer handed from the inflating thread to the reader.
const CHUNK: usize = 1 << 20;
/// Buffers in flight: enough to ride out uneven speeds, little memory.
const DEPTH: usize = 4;

/// A reader of what a thread reads from `inner` ahead of it.
pub(crate) struct Pipe {
    rx: Receiver<io::Result<Vec<u8>>>,
    back: SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
    /// The inflating thread (it ends on its own: at the end of its input, at an error, or at
    /// its next send after the `Pipe` is dropped).
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Pipe {
    /// Starts the thread. It stops at the end of `inner`, at its first error (delivered after
    /// the bytes before it), or when the `Pipe` is dropped.
    pub(crate) fn spawn(mut inner: Box<dyn Read + Send>) -> io::Result<Pipe> {
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(DEPTH);
        let (back, spare) = sync_channel::<Vec<u8>>(DEPTH + 2);
        let thread = std::thread::Builder::new()
            .name("vpcflow-inflate".into())
            .spawn(move || {
                loop {
                    let mut b = spare.try_recv().unwrap_or_default();
                    b.resize(CHUNK, 0);
                    let mut filled = 0;
                    let mut failure = None;
                    while filled < CHUNK {
                        match inner.read(&mut b[filled..]) {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => {
                                failure = Some(e);
                                break;
                            }
                        }
                    }
                    b.truncate(filled);
                    if filled > 0 && tx.send(Ok(b)).is_err() {
                        return;
                    }
                    if let Some(e) = failure {
                        let _ = tx.send(Err(e));
                        return;
                    }
                    if filled < CHUNK {
                        return;
                    }
                }
            })?;
        Ok(Pipe {
            rx,
            back,
            buf: Vec::new(),
            pos: 0,
            thread: Some(thread),
        })
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // Not joined: a thread blocked reading a slow source would hold the reader up. With the
        // receiver gone, its next send fails and it returns on its own.
        drop(self.thread.take());
    }
}

impl Read for Pipe {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, out)
    }
}

/// `Read::read` for a reader whose own buffer is the source of truth: copies what
/// [`BufRead::fill_buf`] has and consumes it.
pub(crate) fn read_buffered(r: &mut impl BufRead, out: &mut [u8]) -> io::Result<usize> {
    let available = r.fill_buf()?;
    let n = available.len().min(out.len());
    out[..n].copy_from_slice(&available[..n]);
    r.consume(n);
    Ok(n)
}

impl BufRead for Pipe {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.buf.len() {
            let used = std::mem::take(&mut self.buf);
            if used.capacity() > 0 {
                let _ = self.back.try_send(used);
            }
            self.pos = 0;
            match self.rx.recv() {
                Ok(Ok(b)) => self.buf = b,
                Ok(Err(e)) => return Err(e),
                // The thread ended: the end of the stream.
                Err(_) => return Ok(&[]),
            }
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives `data`, then fails.
    struct Failing {
        data: io::Cursor<Vec<u8>>,
    }

    impl Read for Failing {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            match self.data.read(out)? {
                0 => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "truncated")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn bytes_arrive_in_order_across_buffers() {
        let data: Vec<u8> = (0..3 * CHUNK + 12345).map(|i| (i % 251) as u8).collect();
        let mut pipe = Pipe::spawn(Box::new(io::Cursor::new(data.clone()))).unwrap();
        let mut out = Vec::new();
        pipe.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn an_error_comes_after_the_bytes_before_it() {
        let data: Vec<u8> = vec![b'x'; CHUNK + 10];
        let mut pipe = Pipe::spawn(Box::new(Failing {
            data: io::Cursor::new(data.clone()),
        }))
        .unwrap();
        let mut out = Vec::new();
        let err = pipe.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(out, data, "everything before the error was delivered");
    }

    #[test]
    fn dropping_the_reader_stops_the_thread() {
        let data: Vec<u8> = vec![b'y'; 20 * CHUNK];
        let mut pipe = Pipe::spawn(Box::new(io::Cursor::new(data))).unwrap();
        let mut first = [0u8; 10];
        pipe.read_exact(&mut first).unwrap();
        let thread = pipe.thread.take().unwrap();
        assert!(!thread.is_finished(), "20 buffers cannot all be in flight");
        drop(pipe);
        // The thread's next send fails and it returns: join ends (a hang here is the bug).
        thread.join().unwrap();
    }
}
