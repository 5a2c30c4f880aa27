//! Reading and writing Kafka's primitive types in place, for the messages on the steady
//! path that skip the `kafka-protocol` structs ([`crate::produce`], [`crate::fetch`]).
//!
//! [`Reader`] never trusts a claimed length: each is checked against the bytes left before
//! anything uses it. [`Writer`] appends to the connection's output buffer. Both handle the
//! two encodings of lengths: i16/i32 before a message's first flexible version, unsigned
//! varints of length + 1 ("compact") from it, with tagged fields after every struct.

use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};

/// A cursor over a body. Failures are messages naming what was wrong and where.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    pub(crate) body: &'a Bytes,
    pub(crate) at: usize,
    pub(crate) flexible: bool,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(body: &'a Bytes, at: usize, flexible: bool) -> Self {
        Self { body, at, flexible }
    }

    pub(crate) fn left(&self) -> usize {
        self.body.len().saturating_sub(self.at)
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.body.len())
            .ok_or_else(|| {
                format!(
                    "{n} bytes wanted at {}, {} in all",
                    self.at,
                    self.body.len()
                )
            })?;
        let body: &'a Bytes = self.body;
        let bytes = body.get(self.at..end).unwrap_or_default();
        self.at = end;
        Ok(bytes)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn i8(&mut self) -> Result<i8, String> {
        self.array().map(i8::from_be_bytes)
    }

    pub(crate) fn i16(&mut self) -> Result<i16, String> {
        self.array().map(i16::from_be_bytes)
    }

    pub(crate) fn i32(&mut self) -> Result<i32, String> {
        self.array().map(i32::from_be_bytes)
    }

    pub(crate) fn i64(&mut self) -> Result<i64, String> {
        self.array().map(i64::from_be_bytes)
    }

    /// An unsigned varint of at most 5 bytes; a longer one is refused (kafka-protocol's
    /// decoder stops after 5 bytes and carries on).
    pub(crate) fn varint(&mut self) -> Result<u32, String> {
        let mut value: u32 = 0;
        for shift in (0..35).step_by(7) {
            let [byte] = self.array::<1>()?;
            value |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("varint longer than 5 bytes".into())
    }

    /// A length that may be null (-1): i16 or i32 (`wide`) when not flexible, a compact
    /// length when flexible. `None` for null. Never more than the bytes left, which also
    /// bounds an array's count (every entry takes at least one byte).
    pub(crate) fn length(&mut self, wide: bool) -> Result<Option<usize>, String> {
        let n: i64 = if self.flexible {
            i64::from(self.varint()?) - 1
        } else if wide {
            i64::from(self.i32()?)
        } else {
            i64::from(self.i16()?)
        };
        if n < -1 {
            return Err(format!("negative length {n}"));
        }
        if n == -1 {
            return Ok(None);
        }
        let n = usize::try_from(n).map_err(|_| format!("length {n}"))?;
        if n > self.left() {
            return Err(format!("length {n} exceeds the {} bytes left", self.left()));
        }
        Ok(Some(n))
    }

    /// Start and end of a nullable string in the body; its UTF-8 is checked.
    pub(crate) fn string(&mut self) -> Result<Option<(usize, usize)>, String> {
        let Some(n) = self.length(false)? else {
            return Ok(None);
        };
        let start = self.at;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes).map_err(|e| format!("string is not UTF-8: {e}"))?;
        Ok(Some((start, start + n)))
    }

    /// The string at a range [`Self::string`] returned (its UTF-8 was checked then; it is
    /// checked again because only `unsafe` could skip that).
    pub(crate) fn str_at(&self, (start, end): (usize, usize)) -> &'a str {
        let body: &'a Bytes = self.body;
        body.get(start..end)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }

    /// A non-null array's entry count.
    pub(crate) fn array_len(&mut self) -> Result<usize, String> {
        self.length(true)?.ok_or_else(|| "null array".to_string())
    }

    /// Skips a struct's tagged fields (none before the flexible versions).
    pub(crate) fn tagged_fields(&mut self) -> Result<(), String> {
        if !self.flexible {
            return Ok(());
        }
        let count = self.varint()?;
        for _ in 0..count {
            let _tag = self.varint()?;
            let size = usize::try_from(self.varint()?).map_err(|e| e.to_string())?;
            self.take(size)?;
        }
        Ok(())
    }
}

/// Where a topic's name is in the body (`None` when topics are named by id), its id (zero
/// when named), and how many entries (partitions) follow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopicHead {
    pub(crate) name: Option<(usize, usize)>,
    pub(crate) id: [u8; 16],
    pub(crate) partitions: usize,
}

impl Reader<'_> {
    /// A topic's head in Produce or Fetch: its name, or its 16-byte id when `by_id` (v13+
    /// of both), then its partition count.
    pub(crate) fn topic_head(&mut self, by_id: bool) -> Result<TopicHead, String> {
        let (name, id) = if by_id {
            (None, self.array::<16>()?)
        } else {
            let name = self.string()?.ok_or("null topic name")?;
            (Some(name), [0; 16])
        };
        Ok(TopicHead {
            name,
            id,
            partitions: self.array_len()?,
        })
    }
}

/// A partition entry of a Produce or Fetch topic list.
pub trait Entry<'a>: Sized {
    /// Reads one entry of a `version` body, its tagged fields included.
    fn read(r: &mut Reader<'a>, version: i16) -> Result<Self, String>;

    /// Passes over one entry, checking it as [`Entry::read`] does; for the whole-body check
    /// and for reaching the next topic, where the entry itself is not wanted.
    fn skip(r: &mut Reader<'a>, version: i16) -> Result<(), String> {
        Self::read(r, version).map(drop)
    }
}

/// Checks `count` topics of a Produce or Fetch body from the reader's position, each a
/// [`TopicHead`], its partitions ([`Entry::skip`]) and its tagged fields; returns how many partitions
/// they hold in all.
pub(crate) fn check_topics<'a, P: Entry<'a>>(
    r: &mut Reader<'a>,
    version: i16,
    count: usize,
) -> Result<usize, String> {
    let mut partitions = 0usize;
    for _ in 0..count {
        let head = r.topic_head(version >= 13)?;
        for _ in 0..head.partitions {
            P::skip(r, version)?;
        }
        partitions = partitions.saturating_add(head.partitions);
        r.tagged_fields()?;
    }
    Ok(partitions)
}

/// One topic of a request read in place ([`crate::produce::TopicData`],
/// [`crate::fetch::FetchTopic`]).
#[derive(Debug, Clone)]
pub struct Topic<'a, P> {
    /// Empty from v13 (topics are named by id).
    pub name: &'a str,
    /// v13+; zero before.
    pub topic_id: [u8; 16],
    pub partitions: Partitions<'a, P>,
}

/// The topics of a request that [`check_topics`] accepted, read in place.
#[derive(Debug, Clone)]
pub struct Topics<'a, P> {
    reader: Reader<'a>,
    version: i16,
    left: usize,
    entry: PhantomData<P>,
}

/// The partitions of one topic, read in place.
#[derive(Debug, Clone)]
pub struct Partitions<'a, P> {
    reader: Reader<'a>,
    version: i16,
    left: usize,
    entry: PhantomData<P>,
}

impl<'a, P> Topics<'a, P> {
    /// `count` topics from `reader`'s position, which [`check_topics`] accepted.
    pub(crate) fn new(reader: Reader<'a>, version: i16, count: usize) -> Self {
        Self {
            reader,
            version,
            left: count,
            entry: PhantomData,
        }
    }
}

impl<'a, P: Entry<'a>> Iterator for Topics<'a, P> {
    type Item = Topic<'a, P>;

    fn next(&mut self) -> Option<Topic<'a, P>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let head = self.reader.topic_head(self.version >= 13).ok()?;
        let name = head.name.map_or("", |range| self.reader.str_at(range));
        let partitions = Partitions {
            reader: self.reader.clone(),
            version: self.version,
            left: head.partitions,
            entry: PhantomData,
        };
        // Pass this topic's partitions (and tagged fields) to reach the next topic.
        for _ in 0..head.partitions {
            P::skip(&mut self.reader, self.version).ok()?;
        }
        self.reader.tagged_fields().ok()?;
        Some(Topic {
            name,
            topic_id: head.id,
            partitions,
        })
    }
}

impl<P> Partitions<'_, P> {
    pub fn len(&self) -> usize {
        self.left
    }

    pub fn is_empty(&self) -> bool {
        self.left == 0
    }
}

impl<'a, P: Entry<'a>> Iterator for Partitions<'a, P> {
    type Item = P;

    fn next(&mut self) -> Option<P> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        P::read(&mut self.reader, self.version).ok()
    }
}

/// Appends primitive types to a buffer.
#[derive(Debug)]
pub(crate) struct Writer<'b> {
    pub(crate) out: &'b mut BytesMut,
    pub(crate) flexible: bool,
}

impl Writer<'_> {
    /// Unsigned varint, written by hand: kafka-protocol's `types` encoders cannot be called
    /// from outside that crate (its `Encoder` trait is private).
    pub(crate) fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.out
                .put_u8(u8::try_from(value & 0x7f).unwrap_or(0) | 0x80);
            value >>= 7;
        }
        self.out.put_u8(u8::try_from(value).unwrap_or(0));
    }

    /// A length prefix (of an array or byte string) that may be null.
    pub(crate) fn length(&mut self, n: Option<usize>) {
        match (n, self.flexible) {
            (None, true) => self.varint(0),
            (None, false) => self.out.put_i32(-1),
            (Some(n), true) => self.varint(n as u64 + 1),
            (Some(n), false) => self.out.put_i32(i32::try_from(n).unwrap_or(i32::MAX)),
        }
    }

    pub(crate) fn array_len(&mut self, n: usize) {
        self.length(Some(n));
    }

    pub(crate) fn string(&mut self, s: Option<&str>) {
        match (s, self.flexible) {
            (None, true) => self.varint(0),
            (None, false) => self.out.put_i16(-1),
            (Some(s), true) => {
                self.varint(s.len() as u64 + 1);
                self.out.put_slice(s.as_bytes());
            }
            (Some(s), false) => {
                // Strings are at most i16::MAX bytes on the wire; longer ones are cut.
                let max = usize::from(i16::MAX.unsigned_abs());
                let s = s.get(..s.len().min(max)).unwrap_or_default();
                self.out.put_i16(i16::try_from(s.len()).unwrap_or(i16::MAX));
                self.out.put_slice(s.as_bytes());
            }
        }
    }

    pub(crate) fn no_tagged_fields(&mut self) {
        if self.flexible {
            self.out.put_u8(0);
        }
    }

    /// A topic's head in a Produce or Fetch response: its name, or its id when `by_id`,
    /// then its partition count. A topic without partitions is ended here.
    pub(crate) fn topic_head(&mut self, name: &str, id: [u8; 16], by_id: bool, partitions: usize) {
        if by_id {
            self.out.put_slice(&id);
        } else {
            self.string(Some(name));
        }
        self.array_len(partitions);
        if partitions == 0 {
            self.no_tagged_fields();
        }
    }
}

/// Asserts that `parses` accepts `whole` and refuses each of its proper prefixes, and
/// `whole` with one byte more.
#[cfg(test)]
pub(crate) fn assert_exact_body(whole: &Bytes, parses: impl Fn(Bytes) -> bool, what: &str) {
    assert!(parses(whole.clone()), "{what}: whole body refused");
    for cut in 0..whole.len() {
        assert!(
            !parses(whole.slice(..cut)),
            "{what}: accepted when cut at {cut}"
        );
    }
    let mut longer = BytesMut::from(&whole[..]);
    longer.put_u8(0);
    assert!(!parses(longer.freeze()), "{what}: trailing byte accepted");
}
