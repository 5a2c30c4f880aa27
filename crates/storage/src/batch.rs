//! A zero-copy view of a Kafka record batch (magic 2) and the checks made before it is
//! written and after it is read back.
//!
//! Layout (all big-endian), as `DefaultRecordBatch` in Kafka:
//! ```text
//!  0 base_offset i64          8 batch_length i32        12 partition_leader_epoch i32
//! 16 magic i8                17 crc u32 (CRC-32C of bytes 21..end)
//! 21 attributes i16          23 last_offset_delta i32  27 base_timestamp i64
//! 35 max_timestamp i64       43 producer_id i64        51 producer_epoch i16
//! 53 base_sequence i32       57 records_count i32      61 records...
//! ```
//! `base_offset` and `partition_leader_epoch` are outside the CRC, so the broker assigns
//! offsets by patching them in place.

use crate::Error;

/// Bytes before the first record.
pub const HEADER_BYTES: usize = 61;
/// Bytes of `base_offset` + `batch_length`: the part outside `batch_length`.
pub const LOG_OVERHEAD: usize = 12;
/// The only record format this broker accepts and serves.
pub const MAGIC_V2: i8 = 2;
/// Smallest `batch_length`: the header after the length field, with no records.
pub const BATCH_LENGTH_MIN: i32 = 49;
const _: () = assert!(BATCH_LENGTH_MIN as usize == HEADER_BYTES - LOG_OVERHEAD);
/// Where the CRC-covered part starts.
const CRC_START: usize = 21;

pub(crate) const ATTR_COMPRESSION_MASK: i16 = 0x07;
const ATTR_TIMESTAMP_TYPE_LOG_APPEND: i16 = 0x08;
pub(crate) const ATTR_TRANSACTIONAL: i16 = 0x10;
pub(crate) const ATTR_CONTROL: i16 = 0x20;

/// `producer_id` of a batch written without idempotence.
pub const NO_PRODUCER_ID: i64 = -1;
/// `base_sequence` of a batch written without idempotence.
pub const NO_SEQUENCE: i32 = -1;

/// The fixed header fields of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    i64::from_be_bytes(a)
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    i32::from_be_bytes(a)
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        a.copy_from_slice(s);
    }
    i16::from_be_bytes(a)
}

impl BatchHeader {
    /// Parses the header at the start of `bytes`.
    ///
    /// # Errors
    /// Fewer than [`HEADER_BYTES`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() < HEADER_BYTES {
            return Err(Error::InvalidBatch(format!(
                "{} bytes cannot hold a {HEADER_BYTES}-byte batch header",
                bytes.len()
            )));
        }
        Ok(Self {
            base_offset: be_i64(bytes, 0),
            batch_length: be_i32(bytes, 8),
            partition_leader_epoch: be_i32(bytes, 12),
            magic: i8::from_be_bytes([bytes.get(16).copied().unwrap_or(0)]),
            crc: u32::from_be_bytes(be_i32(bytes, 17).to_be_bytes()),
            attributes: be_i16(bytes, 21),
            last_offset_delta: be_i32(bytes, 23),
            base_timestamp: be_i64(bytes, 27),
            max_timestamp: be_i64(bytes, 35),
            producer_id: be_i64(bytes, 43),
            producer_epoch: be_i16(bytes, 51),
            base_sequence: be_i32(bytes, 53),
            records_count: be_i32(bytes, 57),
        })
    }

    /// Bytes of the whole batch, `base_offset` and `batch_length` included.
    pub fn total_bytes(&self) -> u64 {
        u64::try_from(self.batch_length).unwrap_or(0) + LOG_OVERHEAD as u64
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// Compression codec id: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd.
    pub fn compression(&self) -> i16 {
        self.attributes & ATTR_COMPRESSION_MASK
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & ATTR_TIMESTAMP_TYPE_LOG_APPEND != 0
    }

    pub fn is_transactional(&self) -> bool {
        self.attributes & ATTR_TRANSACTIONAL != 0
    }

    pub fn is_control(&self) -> bool {
        self.attributes & ATTR_CONTROL != 0
    }

    /// Last sequence number of the batch (sequences wrap at `i32::MAX`, as Kafka's
    /// `DefaultRecordBatch.incrementSequence`).
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// `sequence + increment`, wrapping past `i32::MAX` to 0.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// Checks every batch in `records` fully: length, magic, CRC-32C, record count against the
/// last offset delta and, for uncompressed batches, against the records actually present.
/// The batches are then walked with [`Batches::iter`], which re-reads only their headers,
/// so that a produce request's batches are split without a list on the heap.
///
/// # Errors
/// [`Error::CorruptBatch`] for a bad length, magic or CRC (Kafka's CORRUPT_MESSAGE);
/// [`Error::InvalidBatch`] for a well-formed batch whose content is inconsistent
/// (INVALID_RECORD).
pub fn split_and_validate(records: &[u8]) -> Result<Batches<'_>, Error> {
    if records.is_empty() {
        return Err(Error::InvalidBatch(
            "produce request carries no record batch".into(),
        ));
    }
    let mut at = 0usize;
    while at < records.len() {
        let rest = records.get(at..).unwrap_or_default();
        let header = check_framing(rest)?;
        let len = usize::try_from(header.total_bytes()).map_err(|_| corrupt("length"))?;
        let bytes = rest.get(..len).ok_or_else(|| corrupt("truncated batch"))?;
        check_content(&header, bytes)?;
        at += len;
    }
    Ok(Batches { records })
}

/// Record bytes that [`split_and_validate`] found to be whole, valid batches.
#[derive(Debug, Clone, Copy)]
pub struct Batches<'a> {
    records: &'a [u8],
}

impl<'a> Batches<'a> {
    /// Each batch's header and its byte range in the records, in order.
    pub fn iter(&self) -> BatchIter<'a> {
        BatchIter {
            records: self.records,
            at: 0,
        }
    }
}

impl<'a> IntoIterator for &Batches<'a> {
    type Item = (BatchHeader, std::ops::Range<usize>);
    type IntoIter = BatchIter<'a>;

    fn into_iter(self) -> BatchIter<'a> {
        self.iter()
    }
}

/// Iterator over validated batches (see [`Batches::iter`]).
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    records: &'a [u8],
    at: usize,
}

impl Iterator for BatchIter<'_> {
    type Item = (BatchHeader, std::ops::Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.records.len() {
            return None;
        }
        let header = BatchHeader::parse(self.records.get(self.at..)?).ok()?;
        let len = usize::try_from(header.total_bytes()).ok()?;
        let range = self.at..self.at.checked_add(len)?;
        // Validation saw each batch whole; a range past the end cannot happen, but it ends
        // the walk rather than yield bytes that are not there.
        if range.end > self.records.len() {
            return None;
        }
        self.at = range.end;
        Some((header, range))
    }
}

fn corrupt(what: &str) -> Error {
    Error::CorruptBatch(what.to_string())
}

/// Length, magic and CRC of the batch at the front of `bytes` (which may hold more).
///
/// # Errors
/// See [`split_and_validate`].
pub fn check_framing(bytes: &[u8]) -> Result<BatchHeader, Error> {
    if bytes.len() < HEADER_BYTES {
        return Err(corrupt("fewer bytes than a batch header"));
    }
    let header = BatchHeader::parse(bytes)?;
    if header.magic != MAGIC_V2 {
        return Err(Error::CorruptBatch(format!(
            "magic {} (only magic 2 record batches are supported)",
            header.magic
        )));
    }
    let total = header.total_bytes();
    if header.batch_length < BATCH_LENGTH_MIN {
        return Err(Error::CorruptBatch(format!(
            "batch length {}",
            header.batch_length
        )));
    }
    let len = usize::try_from(total).map_err(|_| corrupt("length"))?;
    let whole = bytes.get(..len).ok_or_else(|| {
        Error::CorruptBatch(format!(
            "batch of {total} bytes but only {} present",
            bytes.len()
        ))
    })?;
    let crc = crc32c::crc32c(whole.get(CRC_START..).unwrap_or_default());
    if crc != header.crc {
        return Err(Error::CorruptBatch(format!(
            "CRC-32C {crc:#010x} does not match the batch's {:#010x}",
            header.crc
        )));
    }
    Ok(header)
}

fn check_content(header: &BatchHeader, bytes: &[u8]) -> Result<(), Error> {
    if header.records_count <= 0 {
        return Err(Error::InvalidBatch(format!(
            "record count {}",
            header.records_count
        )));
    }
    if header.last_offset_delta != header.records_count - 1 {
        return Err(Error::InvalidBatch(format!(
            "last offset delta {} with {} records",
            header.last_offset_delta, header.records_count
        )));
    }
    if header.compression() > 4 {
        return Err(Error::CorruptBatch(format!(
            "unknown compression codec {}",
            header.compression()
        )));
    }
    if header.compression() == 0 {
        let counted = count_records(bytes.get(HEADER_BYTES..).unwrap_or_default())?;
        if i64::from(header.records_count) != counted {
            return Err(Error::InvalidBatch(format!(
                "batch says {} records but holds {counted}",
                header.records_count
            )));
        }
    }
    Ok(())
}

/// Reads a zig-zag varint (Kafka's `ByteUtils.readVarint`), returning it and its length.
pub fn read_varint(bytes: &[u8]) -> Option<(i64, usize)> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let decoded = i64::try_from(value >> 1).ok()? ^ -i64::try_from(value & 1).ok()?;
            return Some((decoded, i + 1));
        }
    }
    None
}

/// Counts the records of an uncompressed batch body by their length prefixes, without
/// decoding them; the lengths must exactly fill the body.
fn count_records(mut body: &[u8]) -> Result<i64, Error> {
    let mut count = 0i64;
    while !body.is_empty() {
        let (len, n) = read_varint(body).ok_or_else(|| corrupt("record length varint"))?;
        let len = usize::try_from(len).map_err(|_| corrupt("negative record length"))?;
        body = body
            .get(n + len..)
            .ok_or_else(|| Error::InvalidBatch("record extends past its batch".into()))?;
        count += 1;
    }
    Ok(count)
}

/// Walks the records of an uncompressed batch body and returns `(offset_delta, timestamp_delta)`
/// of each. `None` when the body is malformed.
pub fn record_deltas(body: &[u8]) -> Option<Vec<(i64, i64)>> {
    Some(
        parse_records(body)?
            .iter()
            .map(|r| (r.offset_delta, r.timestamp_delta))
            .collect(),
    )
}

/// Indexes (within the batch) of the records of an uncompressed batch body whose key is
/// null. `None` when the body is malformed.
pub fn keyless_records(body: &[u8]) -> Option<Vec<i32>> {
    let records = parse_records(body)?;
    Some(
        records
            .iter()
            .zip(0i32..)
            .filter(|(r, _)| r.key.is_none())
            .map(|(_, index)| index)
            .collect(),
    )
}

/// How a batch's max timestamp is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxTimestamp {
    /// As the producer sent it (control batches the broker built itself).
    AsSent,
    /// `CreateTime`: the max over the records' own timestamps, which Kafka's log validator
    /// recomputes on append rather than trusting the header (sarama up to 1.2x writes -1).
    Create(i64),
    /// `LogAppendTime`: the broker's clock, with the timestamp type set.
    LogAppend(i64),
}

/// A batch header as it will be written: offsets and the leader's epoch assigned (neither is
/// covered by the CRC), and the max timestamp as `max_timestamp` says, with the CRC
/// rewritten when that changed a byte. Record bytes are not touched.
pub fn patched_header(
    original: &[u8],
    base_offset: i64,
    leader_epoch: i32,
    max_timestamp: MaxTimestamp,
) -> Result<[u8; HEADER_BYTES], Error> {
    let mut h = [0u8; HEADER_BYTES];
    h.copy_from_slice(
        original
            .get(..HEADER_BYTES)
            .ok_or_else(|| corrupt("short header"))?,
    );
    h[..8].copy_from_slice(&base_offset.to_be_bytes());
    h[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
    let rewrite = match max_timestamp {
        MaxTimestamp::AsSent => None,
        MaxTimestamp::Create(max) => (be_i64(&h, 35) != max).then_some(max),
        MaxTimestamp::LogAppend(now) => {
            let attrs = be_i16(&h, 21) | ATTR_TIMESTAMP_TYPE_LOG_APPEND;
            h[21..23].copy_from_slice(&attrs.to_be_bytes());
            Some(now)
        }
    };
    if let Some(max) = rewrite {
        h[35..43].copy_from_slice(&max.to_be_bytes());
        let crc = crc32c::crc32c(&h[CRC_START..]);
        let crc = crc32c::crc32c_append(crc, original.get(HEADER_BYTES..).unwrap_or_default());
        h[17..21].copy_from_slice(&crc.to_be_bytes());
    }
    Ok(h)
}

/// The smallest and largest timestamps of a batch's records (its base timestamp plus each
/// record's delta), decompressing a compressed batch within the decompression limit. Kafka's
/// log validator walks the records of every appended batch the same way; a compressed batch
/// whose record count differs from its header is refused here as Kafka refuses it.
///
/// # Errors
/// [`Error::CorruptBatch`] for a body that does not decompress or parse,
/// [`Error::InvalidBatch`] for a count that does not match.
pub fn record_timestamp_range(header: &BatchHeader, batch: &[u8]) -> Result<(i64, i64), Error> {
    let body = batch.get(HEADER_BYTES..).unwrap_or_default();
    let records = crate::compress::plain(header.compression(), body)?;
    let (mut min, mut max) = (i64::MAX, i64::MIN);
    let mut count = 0i64;
    let mut rest = &records[..];
    while !rest.is_empty() {
        let (len, n) = read_varint(rest).ok_or_else(|| corrupt("record length varint"))?;
        let len = usize::try_from(len).map_err(|_| corrupt("negative record length"))?;
        let record = rest
            .get(n..n + len)
            .ok_or_else(|| Error::InvalidBatch("record extends past its batch".into()))?;
        // One attributes byte, then the timestamp delta.
        let (delta, _) = record
            .get(1..)
            .and_then(read_varint)
            .ok_or_else(|| corrupt("record timestamp delta"))?;
        min = min.min(delta);
        max = max.max(delta);
        count += 1;
        rest = rest.get(n + len..).unwrap_or_default();
    }
    if count != i64::from(header.records_count) {
        return Err(Error::InvalidBatch(format!(
            "batch says {} records but holds {count}",
            header.records_count
        )));
    }
    Ok((
        header.base_timestamp.saturating_add(min),
        header.base_timestamp.saturating_add(max),
    ))
}

/// Encodes a zig-zag varint.
pub fn varint(v: i64, out: &mut Vec<u8>) {
    let mut z = u64::from_ne_bytes(((v << 1) ^ (v >> 63)).to_ne_bytes());
    loop {
        let b = u8::try_from(z & 0x7f).unwrap_or(0);
        z >>= 7;
        if z == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
}

/// A record to build: `(key, value)`, either possibly null.
pub type KeyValue<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// Builds a valid uncompressed batch of `values` (null keys, no headers), timestamps
/// `ts, ts+1, …`, optionally idempotent `(producer_id, epoch, base_sequence)`. For tests and
/// tools.
pub fn build_uncompressed(values: &[&[u8]], ts: i64, producer: Option<(i64, i16, i32)>) -> Vec<u8> {
    let records: Vec<KeyValue<'_>> = values.iter().map(|v| (None, Some(*v))).collect();
    build_batch(&records, ts, 1, producer)
}

/// Appends one record without headers to a batch body: its length, attributes 0, the
/// timestamp and offset deltas, key and value (null when `None`). `scratch` holds the record
/// while its length is not yet known.
pub fn encode_record(
    body: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    timestamp_delta: i64,
    offset_delta: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) {
    scratch.clear();
    scratch.push(0); // attributes
    varint(timestamp_delta, scratch);
    varint(offset_delta, scratch);
    for field in [key, value] {
        match field {
            Some(b) => {
                varint(i64::try_from(b.len()).unwrap_or(0), scratch);
                scratch.extend_from_slice(b);
            }
            None => varint(-1, scratch),
        }
    }
    varint(0, scratch); // no headers
    varint(i64::try_from(scratch.len()).unwrap_or(0), body);
    body.extend_from_slice(scratch);
}

/// Builds a valid uncompressed batch of `(key, value)` records (no headers); record `i` has
/// timestamp `ts + i * ts_step`. The broker uses it for its internal topics.
pub fn build_batch(
    records: &[KeyValue<'_>],
    ts: i64,
    ts_step: i64,
    producer: Option<(i64, i16, i32)>,
) -> Vec<u8> {
    let mut body = Vec::new();
    let mut scratch = Vec::new();
    for (i, (key, value)) in (0i64..).zip(records) {
        encode_record(&mut body, &mut scratch, i * ts_step, i, *key, *value);
    }
    let n = i32::try_from(records.len()).unwrap_or(0);
    let max_ts = ts.max(ts + i64::from(n - 1) * ts_step);
    assemble(
        0,
        n - 1,
        ts,
        max_ts,
        producer.unwrap_or((-1, -1, -1)),
        n,
        &body,
    )
}

/// A whole v2 batch at base offset 0 (the log assigns the real one) around `body`, the
/// encoded records, with its CRC computed. For tests and tools.
pub fn assemble(
    attributes: i16,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    (producer_id, epoch, base_sequence): (i64, i16, i32),
    records: i32,
    body: &[u8],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER_BYTES + body.len());
    b.extend_from_slice(&0i64.to_be_bytes());
    let len = i32::try_from(HEADER_BYTES - LOG_OVERHEAD + body.len()).unwrap_or(0);
    b.extend_from_slice(&len.to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes()); // partition leader epoch
    b.extend_from_slice(&MAGIC_V2.to_be_bytes());
    b.extend_from_slice(&[0; 4]); // crc
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&last_offset_delta.to_be_bytes());
    b.extend_from_slice(&base_timestamp.to_be_bytes());
    b.extend_from_slice(&max_timestamp.to_be_bytes());
    b.extend_from_slice(&producer_id.to_be_bytes());
    b.extend_from_slice(&epoch.to_be_bytes());
    b.extend_from_slice(&base_sequence.to_be_bytes());
    b.extend_from_slice(&records.to_be_bytes());
    b.extend_from_slice(body);
    let crc = crc32c::crc32c(b.get(CRC_START..).unwrap_or_default());
    if let Some(field) = b.get_mut(17..21) {
        field.copy_from_slice(&crc.to_be_bytes());
    }
    b
}

/// One record of an uncompressed batch, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub offset_delta: i64,
    pub timestamp_delta: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    /// The whole record as written, length prefix included.
    pub raw: &'a [u8],
}

/// Parses the records of an uncompressed batch body (headers are skipped). `None` when the
/// body is malformed.
pub fn parse_records(body: &[u8]) -> Option<Vec<RecordView<'_>>> {
    fn bytes_field(b: &[u8]) -> Option<(Option<&[u8]>, usize)> {
        let (len, n) = read_varint(b)?;
        if len < 0 {
            return Some((None, n));
        }
        let len = usize::try_from(len).ok()?;
        Some((Some(b.get(n..n + len)?), n + len))
    }
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (len, n) = read_varint(rest)?;
        let len = usize::try_from(len).ok()?;
        let record = rest.get(n..n + len)?;
        let mut at = 1usize;
        let (timestamp_delta, a) = read_varint(record.get(at..)?)?;
        at += a;
        let (offset_delta, b) = read_varint(record.get(at..)?)?;
        at += b;
        let (key, k) = bytes_field(record.get(at..)?)?;
        at += k;
        let (value, _) = bytes_field(record.get(at..)?)?;
        out.push(RecordView {
            offset_delta,
            timestamp_delta,
            key,
            value,
            raw: rest.get(..n + len)?,
        });
        rest = rest.get(n + len..)?;
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    pub use super::build_uncompressed as batch;
    use super::*;

    #[test]
    fn valid_batch_passes() {
        let b = batch(&[b"a", b"bc"], 1000, None);
        let parts: Option<Vec<_>> = split_and_validate(&b).ok().map(|p| p.iter().collect());
        assert!(
            matches!(parts.as_deref(), Some([(h, r)]) if h.records_count == 2 && h.max_timestamp == 1001 && *r == (0..b.len()))
        );
    }

    #[test]
    fn two_batches_split() {
        let mut b = batch(&[b"a"], 1, None);
        b.extend(batch(&[b"b", b"c", b"d"], 2, None));
        let first = batch(&[b"a"], 1, None).len();
        let parts: Vec<_> = split_and_validate(&b)
            .map(|p| p.iter().collect())
            .unwrap_or_default();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts.get(1).map(|p| p.0.records_count), Some(3));
        assert_eq!(parts.first().map(|p| p.1.clone()), Some(0..first));
        assert_eq!(parts.get(1).map(|p| p.1.clone()), Some(first..b.len()));
    }

    #[test]
    fn bad_crc_is_corrupt() {
        let mut b = batch(&[b"hello"], 1, None);
        if let Some(last) = b.last_mut() {
            *last ^= 0xff;
        }
        assert!(matches!(split_and_validate(&b), Err(Error::CorruptBatch(m)) if m.contains("CRC")));
    }

    #[test]
    fn bad_magic_is_corrupt() {
        let mut b = batch(&[b"x"], 1, None);
        b[16] = 1;
        assert!(
            matches!(split_and_validate(&b), Err(Error::CorruptBatch(m)) if m.contains("magic"))
        );
    }

    #[test]
    fn wrong_record_count_is_invalid() {
        let mut b = batch(&[b"x", b"y"], 1, None);
        b[57..61].copy_from_slice(&3i32.to_be_bytes());
        b[23..27].copy_from_slice(&2i32.to_be_bytes());
        let crc = crc32c::crc32c(&b[CRC_START..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            split_and_validate(&b),
            Err(Error::InvalidBatch(_))
        ));
    }

    #[test]
    fn last_offset_delta_must_match_count() {
        let mut b = batch(&[b"x", b"y"], 1, None);
        b[23..27].copy_from_slice(&5i32.to_be_bytes());
        let crc = crc32c::crc32c(&b[CRC_START..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(
            split_and_validate(&b),
            Err(Error::InvalidBatch(_))
        ));
    }

    #[test]
    fn truncated_batch_is_corrupt() {
        let b = batch(&[b"hello", b"world"], 1, None);
        for cut in [0, 1, 12, 60, 61, b.len() - 1] {
            assert!(split_and_validate(&b[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn patching_offsets_keeps_crc_valid() {
        let b = batch(&[b"a", b"b"], 5, None);
        let h = patched_header(&b, 1234, 0, MaxTimestamp::AsSent).unwrap_or([0; HEADER_BYTES]);
        let mut out = h.to_vec();
        out.extend_from_slice(&b[HEADER_BYTES..]);
        let parsed = check_framing(&out);
        assert!(matches!(parsed, Ok(p) if p.base_offset == 1234 && p.last_offset() == 1235));
    }

    #[test]
    fn log_append_time_rewrites_timestamp_and_crc() {
        let b = batch(&[b"a", b"b"], 5, None);
        let h =
            patched_header(&b, 7, 0, MaxTimestamp::LogAppend(99_999)).unwrap_or([0; HEADER_BYTES]);
        let mut out = h.to_vec();
        out.extend_from_slice(&b[HEADER_BYTES..]);
        let parsed = check_framing(&out);
        assert!(
            matches!(parsed, Ok(p) if p.max_timestamp == 99_999 && p.is_log_append_time()),
            "{parsed:?}"
        );
    }

    #[test]
    fn a_create_time_max_timestamp_is_rewritten_only_when_it_differs() {
        let b = batch(&[b"a", b"b"], 5, None); // ts 5, 6
        let same = patched_header(&b, 7, 0, MaxTimestamp::Create(6)).unwrap_or([0; HEADER_BYTES]);
        assert_eq!(
            same[17..],
            b[17..HEADER_BYTES],
            "CRC and timestamps untouched"
        );
        let h = patched_header(&b, 7, 0, MaxTimestamp::Create(60)).unwrap_or([0; HEADER_BYTES]);
        let mut out = h.to_vec();
        out.extend_from_slice(&b[HEADER_BYTES..]);
        let parsed = check_framing(&out);
        assert!(
            matches!(parsed, Ok(p) if p.max_timestamp == 60 && !p.is_log_append_time()),
            "{parsed:?}"
        );
    }

    #[test]
    fn timestamp_range_covers_every_record() {
        let kv: Vec<KeyValue<'_>> = vec![(None, Some(b"x")); 3];
        let b = build_batch(&kv, 900, -100, None); // 900, 800, 700
        let h = check_framing(&b).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(record_timestamp_range(&h, &b), Ok((700, 900))));
    }

    #[test]
    fn sequences_wrap() {
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(increment_sequence(5, 3), 8);
    }

    #[test]
    fn keyed_batches_parse_back() {
        let b = build_batch(&[(Some(b"k"), Some(b"v")), (Some(b"t"), None)], 10, 0, None);
        let h = check_framing(&b).unwrap();
        assert_eq!(h.records_count, 2);
        let records = parse_records(&b[HEADER_BYTES..]).unwrap();
        assert_eq!(records[0].key, Some(&b"k"[..]));
        assert_eq!(records[1].value, None);
        assert_eq!(records[1].offset_delta, 1);
        assert_eq!(keyless_records(&b[HEADER_BYTES..]), Some(vec![]));
    }

    #[test]
    fn keyless_records_are_found() {
        let b = batch(&[b"a", b"b"], 5, None);
        assert_eq!(keyless_records(&b[HEADER_BYTES..]), Some(vec![0, 1]));
    }

    #[test]
    fn record_deltas_are_read() {
        let b = batch(&[b"a", b"b", b"c"], 5, None);
        assert_eq!(
            record_deltas(&b[HEADER_BYTES..]),
            Some(vec![(0, 0), (1, 1), (2, 2)])
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = split_and_validate(&bytes);
        }
    }
}
