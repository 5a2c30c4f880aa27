//! A response buffer that passes large record sets through without copying them.
//!
//! kafka-protocol writes a record set with `put_slice(&records[..])`. [`ChunkedBuf`] knows
//! the record sets it was handed (as `Bytes`); when `put_slice` receives exactly one of them
//! (same address, same length) it closes the current chunk and appends a clone of that
//! `Bytes` (a reference count, no copy). The connection then writes the chunks with one
//! vectored write. Everything else is copied into the current chunk as usual.

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::buf::ByteBufMut;

/// Record sets smaller than this are copied: a separate I/O slice is not worth it.
pub const ZERO_COPY_BYTES_MIN: usize = 4096;

#[derive(Debug)]
pub struct ChunkedBuf<'a> {
    current: BytesMut,
    chunks: Vec<Bytes>,
    /// Bytes in `chunks`.
    flushed: usize,
    passthrough: &'a [Bytes],
}

impl<'a> ChunkedBuf<'a> {
    pub fn new(passthrough: &'a [Bytes]) -> Self {
        Self {
            current: BytesMut::new(),
            chunks: Vec::new(),
            flushed: 0,
            passthrough,
        }
    }

    /// The encoded bytes, in order.
    pub fn into_chunks(mut self) -> Vec<Bytes> {
        if !self.current.is_empty() {
            self.chunks.push(self.current.split().freeze());
        }
        self.chunks
    }

    /// Total bytes written so far.
    pub fn len(&self) -> usize {
        self.flushed + self.current.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

// SAFETY: every method delegates to `self.current`, a `BytesMut`, whose own `BufMut`
// implementation upholds the trait's contract.
unsafe impl BufMut for ChunkedBuf<'_> {
    fn remaining_mut(&self) -> usize {
        self.current.remaining_mut()
    }

    unsafe fn advance_mut(&mut self, cnt: usize) {
        // SAFETY: the caller initialised `cnt` bytes of the chunk returned by `chunk_mut`,
        // which is `self.current`'s.
        unsafe { self.current.advance_mut(cnt) }
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        self.current.chunk_mut()
    }

    fn put_slice(&mut self, src: &[u8]) {
        if src.len() >= ZERO_COPY_BYTES_MIN {
            if let Some(b) = self
                .passthrough
                .iter()
                .find(|b| b.as_ptr() == src.as_ptr() && b.len() == src.len())
            {
                if !self.current.is_empty() {
                    let head = self.current.split().freeze();
                    self.flushed += head.len();
                    self.chunks.push(head);
                }
                self.flushed += b.len();
                self.chunks.push(b.clone());
                return;
            }
        }
        self.current.extend_from_slice(src);
    }
}

impl ByteBufMut for ChunkedBuf<'_> {
    fn offset(&self) -> usize {
        self.len()
    }

    /// Gaps are only used by hand-written encoders, never by message encoding; seeking is
    /// supported within the current chunk, which is all a gap needs.
    fn seek(&mut self, offset: usize) {
        let local = offset.saturating_sub(self.flushed);
        self.current.resize(local, 0);
    }

    fn range(&mut self, r: std::ops::Range<usize>) -> &mut [u8] {
        let start = r.start.saturating_sub(self.flushed);
        let end = r.end.saturating_sub(self.flushed);
        self.current.get_mut(start..end).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_record_sets_pass_through_and_others_are_copied() {
        let big = Bytes::from(vec![7u8; 10_000]);
        let other = vec![1u8; 10_000];
        let passthrough = [big.clone()];
        let mut buf = ChunkedBuf::new(&passthrough);
        buf.put_i32(5);
        buf.put_slice(&big);
        buf.put_slice(&other);
        buf.put_u8(9);
        assert_eq!(buf.len(), 4 + 10_000 + 10_000 + 1);
        let chunks = buf.into_chunks();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[1].as_ptr(), big.as_ptr(), "no copy");
        let joined: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(joined.len(), 20_005);
        assert_eq!(&joined[..4], &5i32.to_be_bytes());
        assert_eq!(joined.last(), Some(&9));
    }
}
