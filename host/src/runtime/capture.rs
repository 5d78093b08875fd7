//! Bounded capture of a pack's stdout and stderr that a noisy pack cannot
//! break.
//!
//! wasmtime's `MemoryOutputPipe` fails every write once its capacity is
//! reached, and cannot be drained; a pack that flooded its output then saw
//! "broken pipe" on writes that mattered (a telemetry pack's events). A
//! [`Capture`] never fails a write: it keeps either the first or the last
//! `capacity` bytes *not yet taken*, counts what it dropped, and can be
//! drained with [`take`](Capture::take) between calls.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes, BytesMut};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Which bytes a full capture keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Keep {
    /// The first bytes (telemetry output: drained after each call).
    Head,
    /// The last bytes (stderr: a panic message comes at the end).
    Tail,
}

#[derive(Debug)]
struct Inner {
    buf: BytesMut,
    capacity: usize,
    keep: Keep,
    dropped: u64,
}

/// A bounded, drainable output capture; clones share the buffer.
#[derive(Clone, Debug)]
pub(crate) struct Capture(Arc<Mutex<Inner>>);

impl Capture {
    pub(crate) fn new(capacity: usize, keep: Keep) -> Self {
        Self(Arc::new(Mutex::new(Inner {
            buf: BytesMut::new(),
            capacity,
            keep,
            dropped: 0,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `bytes`, dropping what does not fit.
    fn push(&self, bytes: &[u8]) {
        let mut inner = self.lock();
        let room = inner.capacity - inner.buf.len();
        match inner.keep {
            Keep::Head => {
                let n = bytes.len().min(room);
                inner.buf.extend_from_slice(&bytes[..n]);
                inner.dropped += (bytes.len() - n) as u64;
            }
            Keep::Tail => {
                let cut = bytes.len().saturating_sub(inner.capacity);
                let kept = &bytes[cut..];
                let excess = kept.len().saturating_sub(room);
                inner.buf.advance(excess);
                inner.buf.extend_from_slice(kept);
                inner.dropped += (cut + excess) as u64;
            }
        }
    }

    /// What is held now, left in place.
    pub(crate) fn contents(&self) -> Bytes {
        self.lock().buf.clone().freeze()
    }

    /// What is held now, removed, and how many bytes were dropped since the
    /// last take.
    pub(crate) fn take(&self) -> (Vec<u8>, u64) {
        let mut inner = self.lock();
        let bytes = inner.buf.split().to_vec();
        (bytes, std::mem::take(&mut inner.dropped))
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_keeps_the_first_bytes_and_drains() {
        let c = Capture::new(4, Keep::Head);
        c.push(b"abc");
        c.push(b"def");
        assert_eq!(c.take(), (b"abcd".to_vec(), 2));
        c.push(b"gh");
        assert_eq!(c.take(), (b"gh".to_vec(), 0));
    }

    #[test]
    fn tail_keeps_the_last_bytes() {
        let c = Capture::new(4, Keep::Tail);
        c.push(b"abc");
        c.push(b"def");
        assert_eq!(&c.contents()[..], b"cdef");
        c.push(b"0123456789");
        assert_eq!(&c.contents()[..], b"6789");
        assert_eq!(c.take().1, 2 + 6 + 4);
    }
}
