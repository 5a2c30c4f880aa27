//! A response buffer that leaves large record sets out of the encoded bytes.
//!
//! A Fetch response is mostly record bytes that already sit in the page cache. Instead of
//! reading them into the response, the handler registers each record set with
//! [`ExternalRecords`] and puts a one-byte placeholder in the response's `records` field.
//! kafka-protocol writes a byte string as its length prefix followed by `put_slice(bytes)`;
//! when [`ChunkedBuf`] receives a placeholder it rewrites the prefix it has just been given
//! (which says 1) with the real length, closes the current chunk and emits
//! [`Chunk::External`] in its place. The connection then writes the byte chunks with
//! vectored writes and the external ones from their source (`sendfile` for file regions).
//! Everything else is copied into the current chunk as usual.

use bytes::buf::UninitSlice;
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::protocol::buf::ByteBufMut;

use crate::Error;

/// One piece of an encoded response, in order.
#[derive(Debug, Clone)]
pub enum Chunk<F> {
    /// Encoded bytes.
    Bytes(Bytes),
    /// A record set of `len` bytes that the writer takes from `source`.
    External { source: F, len: usize },
}

/// Record sets a response refers to without holding their bytes, and the placeholders that
/// stand for them in the response structure.
#[derive(Debug)]
pub struct ExternalRecords<F> {
    /// Placeholder `i` is `marks[i..i + 1]`: its address identifies it.
    marks: Bytes,
    /// Record set 0, kept inline: a one-partition fetch allocates no list.
    first: Option<(F, usize)>,
    /// Record sets 1.. (`rest[i - 1]`), allocated when a second one is added.
    rest: Vec<Option<(F, usize)>>,
    /// Record sets added so far.
    count: usize,
    /// Most record sets `add` takes.
    capacity: usize,
}

/// No record sets (every response but Fetch).
impl<F> Default for ExternalRecords<F> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

/// Placeholders for responses with up to this many record sets slice one static buffer:
/// slicing static `Bytes` allocates nothing. A placeholder is only ever looked up in the
/// `ExternalRecords` that made it, so responses may share the addresses.
static SHARED_MARKS: [u8; SHARED_MARKS_LEN] = [0; SHARED_MARKS_LEN];
const SHARED_MARKS_LEN: usize = 1024;

impl<F> ExternalRecords<F> {
    /// Room for `capacity` record sets.
    pub fn with_capacity(capacity: usize) -> Self {
        let marks = if capacity <= SHARED_MARKS_LEN {
            Bytes::from_static(&SHARED_MARKS)
        } else {
            Bytes::from(vec![0u8; capacity])
        };
        Self {
            marks,
            first: None,
            rest: Vec::new(),
            count: 0,
            capacity,
        }
    }

    /// Registers a record set of `len` bytes; returns the placeholder to put in the
    /// response's `records` field, or the source back when full (the caller then inlines
    /// the bytes).
    ///
    /// # Errors
    /// No room left: `source` is handed back.
    pub fn add(&mut self, source: F, len: usize) -> Result<Bytes, F> {
        let index = self.count;
        if index >= self.capacity {
            return Err(source);
        }
        if index == 0 {
            self.first = Some((source, len));
        } else {
            if self.rest.capacity() == 0 {
                self.rest.reserve_exact(self.capacity - 1);
            }
            self.rest.push(Some((source, len)));
        }
        self.count += 1;
        Ok(self.marks.slice(index..=index))
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether a record set was added and not taken yet.
    fn any_left(&self) -> bool {
        self.first.is_some() || self.rest.iter().any(Option::is_some)
    }

    /// The source whose placeholder starts at `src`, taken out (each is written once).
    fn take(&mut self, src: &[u8]) -> Option<(F, usize)> {
        if src.len() != 1 {
            return None;
        }
        let base = self.marks.as_ptr() as usize;
        let index = (src.as_ptr() as usize).checked_sub(base)?;
        match index.checked_sub(1) {
            None => self.first.take(),
            Some(i) => self.rest.get_mut(i)?.take(),
        }
    }
}

/// A `BufMut` that encodes one response, length prefix first, into a caller's buffer and
/// appends its chunks to a caller's list, so that a connection reuses both from one
/// response to the next.
#[derive(Debug)]
pub struct ChunkedBuf<'a, F> {
    /// The chunk being encoded; byte chunks are split off it (empty on entry and exit).
    current: &'a mut BytesMut,
    out: &'a mut Vec<Chunk<F>>,
    /// Where this response's chunks start in `out`.
    start: usize,
    /// The first chunk, split off before the response's length was known: it stays
    /// mutable until [`Self::finish`] writes the length prefix it begins with, and
    /// `out[start]` keeps its place.
    first: Option<BytesMut>,
    /// Bytes in chunks already pushed (and in `first`).
    flushed: usize,
    /// Flexible versions prefix byte strings with an unsigned varint of length + 1,
    /// others with an i32.
    flexible: bool,
    external: ExternalRecords<F>,
    /// Set when a placeholder was not preceded by the prefix it should have been.
    error: Option<String>,
}

/// Bytes of the response length prefix.
const PREFIX: usize = 4;

impl<'a, F> ChunkedBuf<'a, F> {
    /// Starts a response (its length prefix) in `current`, which is cleared first; its
    /// chunks will follow what `out` already holds.
    pub fn new(
        flexible: bool,
        external: ExternalRecords<F>,
        current: &'a mut BytesMut,
        out: &'a mut Vec<Chunk<F>>,
    ) -> Self {
        current.clear();
        current.put_i32(0);
        let start = out.len();
        Self {
            current,
            out,
            start,
            first: None,
            flushed: 0,
            flexible,
            external,
            error: None,
        }
    }

    /// Writes the length prefix and pushes the last chunk. On error nothing of this
    /// response stays in `out`.
    ///
    /// # Errors
    /// A placeholder was not encoded as a byte string, a registered record set never
    /// appeared in the response (both server bugs), or the response is over 2 GiB.
    pub fn finish(mut self) -> Result<(), Error> {
        let result = self.finish_inner();
        if result.is_err() {
            self.abort();
        }
        result
    }

    /// Takes back everything of this response: `out` is as it was before [`Self::new`].
    pub fn abort(self) {
        self.out.truncate(self.start);
        self.current.clear();
    }

    fn finish_inner(&mut self) -> Result<(), Error> {
        if let Some(e) = self.error.take() {
            return Err(Error::Encode(e));
        }
        if self.external.any_left() {
            return Err(Error::Encode(
                "a record set was registered but not part of the response".into(),
            ));
        }
        let total = self.len();
        let len =
            i32::try_from(total - PREFIX).map_err(|_| Error::Encode(format!("{total} bytes")))?;
        let head: &mut BytesMut = match self.first.as_mut() {
            Some(first) => first,
            None => self.current,
        };
        if let Some(prefix) = head.get_mut(..PREFIX) {
            prefix.copy_from_slice(&len.to_be_bytes());
        }
        if let Some(first) = self.first.take() {
            if let Some(slot) = self.out.get_mut(self.start) {
                *slot = Chunk::Bytes(first.freeze());
            }
        }
        if !self.current.is_empty() {
            self.out.push(Chunk::Bytes(self.current.split().freeze()));
        }
        Ok(())
    }

    /// Total bytes written so far, length prefix included (never 0).
    fn len(&self) -> usize {
        self.flushed + self.current.len()
    }

    /// Replaces the length prefix of a one-byte string, just written, with `len`'s.
    fn rewrite_prefix(&mut self, len: usize) -> Result<(), String> {
        let end = self.current.len();
        if self.flexible {
            // Compact bytes: unsigned varint of len + 1; for one byte that is 0x02.
            if end < 1 || self.current.get(end - 1) != Some(&2) {
                return Err("placeholder without its compact length prefix".into());
            }
            self.current.truncate(end - 1);
            let mut v = u64::try_from(len).map_err(|e| e.to_string())? + 1;
            while v >= 0x80 {
                self.current
                    .put_u8(u8::try_from(v & 0x7f).unwrap_or(0) | 0x80);
                v >>= 7;
            }
            self.current.put_u8(u8::try_from(v).unwrap_or(0));
        } else {
            if end < 4 || self.current.get(end - 4..) != Some(&[0, 0, 0, 1][..]) {
                return Err("placeholder without its length prefix".into());
            }
            self.current.truncate(end - 4);
            let len = i32::try_from(len).map_err(|_| format!("record set of {len} bytes"))?;
            self.current.put_i32(len);
        }
        Ok(())
    }
}

// SAFETY: every method delegates to `self.current`, a `BytesMut`, whose own `BufMut`
// implementation upholds the trait's contract.
unsafe impl<F> BufMut for ChunkedBuf<'_, F> {
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
        if let Some((source, len)) = self.external.take(src) {
            if let Err(e) = self.rewrite_prefix(len) {
                self.error.get_or_insert(e);
                return;
            }
            if !self.current.is_empty() {
                let head = self.current.split();
                self.flushed += head.len();
                if self.first.is_none() {
                    // The first split: it holds the length prefix, written by `finish`.
                    self.first = Some(head);
                    self.out.push(Chunk::Bytes(Bytes::new()));
                } else {
                    self.out.push(Chunk::Bytes(head.freeze()));
                }
            }
            self.flushed += len;
            self.out.push(Chunk::External { source, len });
            return;
        }
        self.current.extend_from_slice(src);
    }
}

impl<F> ByteBufMut for ChunkedBuf<'_, F> {
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

    fn flatten(chunks: &[Chunk<Vec<u8>>]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in chunks {
            match c {
                Chunk::Bytes(b) => out.extend_from_slice(b),
                Chunk::External { source, len } => {
                    assert_eq!(source.len(), *len);
                    out.extend_from_slice(source);
                }
            }
        }
        out
    }

    #[test]
    fn placeholders_become_external_chunks_with_their_real_length() {
        for flexible in [false, true] {
            let mut external = ExternalRecords::with_capacity(2);
            let big = vec![7u8; 300];
            let mark = external.add(big.clone(), big.len()).unwrap();
            let (mut current, mut chunks) = (BytesMut::new(), Vec::new());
            let mut buf = ChunkedBuf::new(flexible, external, &mut current, &mut chunks);
            buf.put_i32(5);
            if flexible {
                buf.put_u8(2);
            } else {
                buf.put_i32(1);
            }
            buf.put_slice(&mark);
            buf.put_u8(9);
            buf.finish().unwrap();
            assert!(current.is_empty());
            assert_eq!(chunks.len(), 3);
            assert!(matches!(chunks[1], Chunk::External { len: 300, .. }));
            let body_len = if flexible {
                4 + 2 + 300 + 1
            } else {
                4 + 4 + 300 + 1
            };
            let mut expected = i32::to_be_bytes(body_len).to_vec();
            expected.extend_from_slice(&5i32.to_be_bytes());
            if flexible {
                expected.extend_from_slice(&[0xad, 0x02]); // 301 as unsigned varint
            } else {
                expected.extend_from_slice(&300i32.to_be_bytes());
            }
            expected.extend_from_slice(&big);
            expected.push(9);
            assert_eq!(flatten(&chunks), expected, "flexible={flexible}");
        }
    }

    #[test]
    fn a_placeholder_without_its_prefix_or_missing_from_the_response_is_an_error() {
        let mut external = ExternalRecords::with_capacity(1);
        let mark = external.add(vec![1u8; 10], 10).unwrap();
        let (mut current, mut chunks) = (BytesMut::new(), vec![Chunk::Bytes(Bytes::new())]);
        let mut buf = ChunkedBuf::new(false, external, &mut current, &mut chunks);
        buf.put_u8(3);
        buf.put_slice(&mark);
        assert!(buf.finish().is_err());
        // What was there before stays; nothing of the failed response does.
        assert_eq!(chunks.len(), 1);
        assert!(current.is_empty());

        let mut external = ExternalRecords::with_capacity(1);
        let _unused = external.add(vec![1u8; 10], 10).unwrap();
        let buf = ChunkedBuf::new(false, external, &mut current, &mut chunks);
        assert!(buf.finish().is_err());
        assert_eq!(chunks.len(), 1);
    }

    #[test]
    fn placeholders_work_below_and_above_the_shared_marks() {
        for count in [1, SHARED_MARKS_LEN, SHARED_MARKS_LEN + 5] {
            let mut external = ExternalRecords::with_capacity(count);
            // Another response's registrations, alive at the same time, do not interfere.
            let mut other = ExternalRecords::with_capacity(count);
            let other_mark = other.add(vec![0u8; 3], 3).unwrap();
            let marks: Vec<Bytes> = (0..count)
                .map(|i| external.add(vec![1u8; i % 7 + 1], i % 7 + 1).unwrap())
                .collect();
            assert!(
                external.add(vec![2u8], 1).is_err(),
                "{count} is the capacity"
            );
            let (mut current, mut chunks) = (BytesMut::new(), Vec::new());
            let mut buf = ChunkedBuf::new(false, external, &mut current, &mut chunks);
            for mark in &marks {
                buf.put_i32(1);
                buf.put_slice(mark);
            }
            // A placeholder whose record set was already written (here another response's,
            // which may share the address of this one's first) is copied like any byte.
            buf.put_slice(&other_mark);
            buf.finish().unwrap();
            let externals: Vec<usize> = chunks
                .iter()
                .filter_map(|c| match c {
                    Chunk::External { len, .. } => Some(*len),
                    Chunk::Bytes(_) => None,
                })
                .collect();
            let expected: Vec<usize> = (0..count).map(|i| i % 7 + 1).collect();
            assert_eq!(externals, expected, "count={count}");
            assert!(matches!(chunks.last(), Some(Chunk::Bytes(b)) if b[..] == [0u8][..]));
        }
    }

    #[test]
    fn registration_stops_at_capacity() {
        let mut external = ExternalRecords::with_capacity(1);
        assert!(external.add((), 5).is_ok());
        assert!(external.add((), 5).is_err());
    }
}
