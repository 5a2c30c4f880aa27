//! Message sets of magic 0 and 1, the record formats of Kafka before 0.11, as Produce v0–v2
//! carry them. They are converted on append into one magic-2 batch, as Kafka's log validator
//! converts them when the log's format is v2.
//!
//! Layout of one message (big-endian), as `LegacyRecord` in Kafka:
//! ```text
//! offset i64, message_size i32, then message_size bytes:
//!   crc u32 (CRC-32 of the rest), magic i8, attributes i8, timestamp i64 (magic 1 only),
//!   key bytes (i32 length, -1 null), value bytes (i32 length, -1 null)
//! ```
//! A compressed message set is one wrapper message whose value is the compressed bytes of the
//! inner message set; attributes bits 0–2 name the codec, bit 3 (magic 1) says the wrapper's
//! timestamp is the log append time of every inner message.

use crate::batch;
use crate::compress;
use crate::Error;

/// Offset and size, before each message.
const LOG_OVERHEAD: usize = 12;
const MAGIC_V1: u8 = 1;
const ATTR_COMPRESSION: u8 = 0x07;
const ATTR_LOG_APPEND_TIME: u8 = 0x08;
/// crc, magic, attributes, key length, value length.
const MESSAGE_BYTES_MIN_V0: usize = 4 + 1 + 1 + 4 + 4;

fn invalid(what: impl std::fmt::Display) -> Error {
    Error::InvalidBatch(format!("message set: {what}"))
}

fn corrupt(what: impl std::fmt::Display) -> Error {
    Error::CorruptBatch(format!("message set: {what}"))
}

/// The magic byte of the first entry of a record set: at byte 16 in every format.
pub fn magic(records: &[u8]) -> Option<i8> {
    records.get(16).map(|b| i8::from_be_bytes([*b]))
}

fn be_i32(b: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn be_i64(b: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(..8)?.try_into().ok()?))
}

/// Reads an i32-length byte field at `*at` (-1 is null).
fn bytes_field<'a>(message: &'a [u8], at: &mut usize) -> Result<Option<&'a [u8]>, Error> {
    let len = message
        .get(*at..)
        .and_then(be_i32)
        .ok_or_else(|| invalid("truncated length"))?;
    *at += 4;
    if len < 0 {
        return Ok(None);
    }
    let len = usize::try_from(len).map_err(|_| invalid("length"))?;
    let bytes = message
        .get(*at..*at + len)
        .ok_or_else(|| invalid("field extends past its message"))?;
    *at += len;
    Ok(Some(bytes))
}

/// A message as a walk hands it on: timestamp (-1 for magic 0), key, value.
type Sink<'s> = dyn FnMut(i64, Option<&[u8]>, Option<&[u8]>) + 's;

/// Walks a message set, checking each message's CRC and size, and hands each message (the
/// inner ones of a compressed wrapper, which may not nest) to `sink`, borrowed from the set
/// or from the wrapper's decompressed bytes. `stamp` replaces the timestamps of the inner
/// messages of a log-append-time wrapper. `codec` is set to the codec of the first
/// compressed wrapper, and whether its snappy was xerial-framed.
fn walk(
    mut set: &[u8],
    nested: bool,
    stamp: Option<i64>,
    codec: &mut Option<(i16, bool)>,
    sink: &mut Sink<'_>,
) -> Result<(), Error> {
    while !set.is_empty() {
        let size = set
            .get(8..)
            .and_then(be_i32)
            .ok_or_else(|| invalid("truncated message header"))?;
        let size = usize::try_from(size).map_err(|_| invalid("negative message size"))?;
        if size < MESSAGE_BYTES_MIN_V0 {
            return Err(invalid(format!("message of {size} bytes")));
        }
        let message = set
            .get(LOG_OVERHEAD..LOG_OVERHEAD + size)
            .ok_or_else(|| invalid("message extends past its set"))?;
        set = set.get(LOG_OVERHEAD + size..).unwrap_or_default();
        let crc = message.get(..4).and_then(be_i32).unwrap_or(0);
        let mut computed = flate2::Crc::new();
        computed.update(message.get(4..).unwrap_or_default());
        if computed.sum() != u32::from_be_bytes(crc.to_be_bytes()) {
            return Err(corrupt("CRC-32 does not match"));
        }
        let magic = message.get(4).copied().unwrap_or(u8::MAX);
        if magic > MAGIC_V1 {
            return Err(invalid(format!("magic {magic} inside a message set")));
        }
        let attributes = message.get(5).copied().unwrap_or(0);
        let mut at = 6;
        let mut timestamp = -1;
        if magic == MAGIC_V1 {
            timestamp = message
                .get(at..)
                .and_then(be_i64)
                .ok_or_else(|| invalid("truncated timestamp"))?;
            at += 8;
        }
        let key = bytes_field(message, &mut at)?;
        let value = bytes_field(message, &mut at)?;
        if at != message.len() {
            return Err(invalid(format!(
                "{} bytes after a message",
                message.len() - at
            )));
        }
        let wrapper_codec = i16::from(attributes & ATTR_COMPRESSION);
        if wrapper_codec == compress::NONE {
            sink(stamp.unwrap_or(timestamp), key, value);
            continue;
        }
        if nested {
            return Err(invalid("a compressed message inside a compressed message"));
        }
        let compressed = value.ok_or_else(|| invalid("a compressed message without a value"))?;
        let inner = compress::decompress(wrapper_codec, compressed)?;
        codec.get_or_insert((wrapper_codec, compress::is_xerial(compressed)));
        // A log-append-time wrapper's timestamp is every inner message's; otherwise each
        // inner message carries its own.
        let inner_stamp =
            (magic == MAGIC_V1 && attributes & ATTR_LOG_APPEND_TIME != 0).then_some(timestamp);
        walk(&inner, true, inner_stamp, codec, sink)?;
    }
    Ok(())
}

/// Converts a message set of magic 0 or 1 into one magic-2 batch holding its messages in
/// order, compressed with the codec of its compressed wrapper (if it had one). Offsets are
/// assigned on append as for any batch; magic-0 messages have no timestamp (-1).
///
/// # Errors
/// [`Error::CorruptBatch`] for a CRC that does not match or a body that does not decompress;
/// [`Error::InvalidBatch`] for a malformed, empty or nested set.
pub fn to_batch(set: &[u8]) -> Result<Vec<u8>, Error> {
    let mut body = Vec::new();
    let mut scratch = Vec::new();
    let mut first: Option<i64> = None;
    let mut max = i64::MIN;
    let mut count = 0i64;
    let mut codec = None;
    walk(
        set,
        false,
        None,
        &mut codec,
        &mut |timestamp, key, value| {
            let base = *first.get_or_insert(timestamp);
            max = max.max(timestamp);
            batch::encode_record(
                &mut body,
                &mut scratch,
                timestamp.saturating_sub(base),
                count,
                key,
                value,
            );
            count += 1;
        },
    )?;
    let first = first.ok_or_else(|| invalid("no message"))?;
    let count = i32::try_from(count).map_err(|_| invalid("too many messages"))?;
    let (codec, xerial) = codec.unwrap_or((compress::NONE, false));
    if codec != compress::NONE {
        body = compress::compress(codec, &body, xerial)?;
    }
    Ok(batch::assemble(
        codec,
        count - 1,
        first,
        max,
        (batch::NO_PRODUCER_ID, -1, batch::NO_SEQUENCE),
        count,
        &body,
    ))
}

/// Converts the batches of a fetched record set down to a message set of `magic` 0 or 1, as
/// Kafka 3.9 answered Fetch v0–v3: each record becomes a message at its offset (headers are
/// dropped; magic 0 has no timestamp), a compressed batch becomes one wrapper message
/// compressed with the same codec, and control batches are left out. A partial batch at the
/// end of the set (a fetch limit) is left out too.
///
/// # Errors
/// [`Error::UnsupportedCompression`] for zstd, which no magic-0/1 reader knows;
/// [`Error::CorruptBatch`] for a batch that does not decompress or parse.
pub fn from_batches(mut batches: &[u8], magic: u8) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(batches.len());
    let mut inner = Vec::new();
    while let Ok(header) = batch::check_framing(batches) {
        let len = usize::try_from(header.total_bytes()).map_err(|_| corrupt("length"))?;
        let (whole, rest) = batches
            .split_at_checked(len)
            .ok_or_else(|| corrupt("length"))?;
        batches = rest;
        if header.is_control() {
            continue;
        }
        let codec = header.compression();
        if codec == compress::ZSTD {
            return Err(Error::UnsupportedCompression(
                "zstd batches cannot be converted for Fetch before v10".into(),
            ));
        }
        let body = whole.get(batch::HEADER_BYTES..).unwrap_or_default();
        let records = compress::plain(codec, body)?;
        let parsed = batch::parse_records(&records).ok_or_else(|| corrupt("records"))?;
        let append_time = header.is_log_append_time();
        let attributes = if append_time && magic == MAGIC_V1 {
            ATTR_LOG_APPEND_TIME
        } else {
            0
        };
        let compressed = codec != compress::NONE;
        // The records of a compressed batch go into one wrapper's inner set.
        inner.clear();
        let target = if compressed { &mut inner } else { &mut out };
        let mut last = header.base_offset;
        for r in &parsed {
            last = header.base_offset + r.offset_delta;
            // Inner offsets of a magic-1 wrapper are relative (0, 1, ...); all others are
            // absolute.
            let offset = if compressed && magic == MAGIC_V1 {
                r.offset_delta
            } else {
                last
            };
            let timestamp = if append_time {
                header.max_timestamp
            } else {
                header.base_timestamp.saturating_add(r.timestamp_delta)
            };
            message(target, offset, magic, attributes, timestamp, r.key, r.value);
        }
        if compressed {
            // The wrapper carries the last inner offset.
            let wrapped = compress::compress(codec, &inner, compress::is_xerial(body))?;
            let wrapper_attributes =
                attributes | u8::try_from(codec).map_err(|_| corrupt("codec"))?;
            let max = header.max_timestamp;
            message(
                &mut out,
                last,
                magic,
                wrapper_attributes,
                max,
                None,
                Some(&wrapped),
            );
        }
    }
    Ok(out)
}

/// Appends one message at `offset`, written in place (its size and CRC filled in after).
fn message(
    out: &mut Vec<u8>,
    offset: i64,
    magic: u8,
    attributes: u8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) {
    out.extend_from_slice(&offset.to_be_bytes());
    let size_at = out.len();
    out.extend_from_slice(&[0; 8]); // size and CRC, below
    let crc_from = out.len();
    out.extend_from_slice(&[magic, attributes]);
    if magic == MAGIC_V1 {
        out.extend_from_slice(&timestamp.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            Some(b) => {
                out.extend_from_slice(&i32::try_from(b.len()).unwrap_or(i32::MAX).to_be_bytes());
                out.extend_from_slice(b);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    let mut crc = flate2::Crc::new();
    crc.update(out.get(crc_from..).unwrap_or_default());
    let size = i32::try_from(out.len() - crc_from + 4).unwrap_or(i32::MAX);
    let mut head = [0u8; 8];
    head[..4].copy_from_slice(&size.to_be_bytes());
    head[4..].copy_from_slice(&crc.sum().to_be_bytes());
    if let Some(slot) = out.get_mut(size_at..crc_from) {
        slot.copy_from_slice(&head);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{check_framing, parse_records, HEADER_BYTES};

    /// A message to encode: `(timestamp, key, value)`, key and value possibly null.
    type LegacyMessage<'a> = (i64, Option<&'a [u8]>, Option<&'a [u8]>);

    /// A message set of `messages` at `magic` 0 or 1, uncompressed, offsets from 0.
    fn encode_message_set(magic: u8, messages: &[LegacyMessage<'_>]) -> Vec<u8> {
        encode_with(magic, 0, messages)
    }

    /// A message set of one wrapper message holding `messages` compressed with `codec`
    /// (magic 1 inner offsets are relative, from 0).
    fn encode_compressed_set(
        magic: u8,
        codec: i16,
        messages: &[LegacyMessage<'_>],
    ) -> Result<Vec<u8>, Error> {
        let inner = encode_with(magic, 0, messages);
        let compressed = compress::compress(codec, &inner, false)?;
        let timestamp = messages.last().map_or(-1, |m| m.0);
        let attributes = u8::try_from(codec).map_err(|_| invalid("codec"))?;
        let mut out = encode_with(magic, attributes, &[(timestamp, None, Some(&compressed))]);
        // The wrapper's offset is its last inner message's.
        let last = i64::try_from(messages.len()).unwrap_or(1) - 1;
        out[..8].copy_from_slice(&last.to_be_bytes());
        Ok(out)
    }

    fn encode_with(magic: u8, attributes: u8, messages: &[LegacyMessage<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (offset, (timestamp, key, value)) in (0i64..).zip(messages) {
            message(
                &mut out, offset, magic, attributes, *timestamp, *key, *value,
            );
        }
        out
    }

    /// The records of a converted batch: (timestamp, key, value).
    type Owned = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

    fn records(b: &[u8]) -> Vec<Owned> {
        let h = check_framing(b).unwrap();
        let body = compress::decompress(h.compression(), &b[HEADER_BYTES..]).unwrap();
        parse_records(&body)
            .unwrap()
            .iter()
            .map(|r| {
                (
                    h.base_timestamp + r.timestamp_delta,
                    r.key.map(<[u8]>::to_vec),
                    r.value.map(<[u8]>::to_vec),
                )
            })
            .collect()
    }

    #[test]
    fn magic_0_messages_become_records_without_timestamps() {
        let set = encode_message_set(0, &[(0, Some(b"k"), Some(b"v1")), (0, None, Some(b"v2"))]);
        assert_eq!(magic(&set), Some(0));
        let b = to_batch(&set).unwrap();
        let h = check_framing(&b).unwrap();
        assert_eq!(
            (h.records_count, h.base_timestamp, h.max_timestamp),
            (2, -1, -1)
        );
        assert_eq!(
            records(&b),
            vec![
                (-1, Some(b"k".to_vec()), Some(b"v1".to_vec())),
                (-1, None, Some(b"v2".to_vec()))
            ]
        );
    }

    #[test]
    fn magic_1_timestamps_are_kept() {
        let set = encode_message_set(1, &[(1000, None, Some(b"a")), (990, None, None)]);
        let b = to_batch(&set).unwrap();
        let h = check_framing(&b).unwrap();
        assert_eq!((h.base_timestamp, h.max_timestamp), (1000, 1000));
        assert_eq!(
            records(&b),
            vec![(1000, None, Some(b"a".to_vec())), (990, None, None)]
        );
    }

    #[test]
    fn a_compressed_wrapper_becomes_a_batch_compressed_the_same_way() {
        for codec in [compress::GZIP, compress::SNAPPY, compress::LZ4] {
            let msgs: Vec<LegacyMessage<'_>> = vec![
                (5, Some(b"x"), Some(b"1")),
                (6, None, Some(b"2")),
                (7, None, Some(b"3")),
            ];
            let set = encode_compressed_set(1, codec, &msgs).unwrap();
            let b = to_batch(&set).unwrap();
            let h = check_framing(&b).unwrap();
            assert_eq!(h.compression(), codec);
            assert_eq!((h.records_count, h.max_timestamp), (3, 7), "codec {codec}");
            assert_eq!(records(&b).len(), 3);
        }
    }

    #[test]
    fn a_wrong_crc_or_a_truncated_set_is_refused() {
        let mut set = encode_message_set(1, &[(1, None, Some(b"abc"))]);
        let last = set.len() - 1;
        set[last] ^= 1;
        assert!(matches!(to_batch(&set), Err(Error::CorruptBatch(_))));
        let set = encode_message_set(1, &[(1, None, Some(b"abc"))]);
        for cut in 0..set.len() {
            assert!(to_batch(&set[..cut]).is_err(), "cut at {cut}");
        }
    }

    /// Walks a message set back: (offset, timestamp, key, value) of every message, inner
    /// ones of a wrapper with their absolute offsets.
    type Read = (i64, i64, Option<Vec<u8>>, Option<Vec<u8>>);

    fn messages(set: &[u8]) -> Vec<Read> {
        let mut found = Vec::new();
        walk(set, false, None, &mut None, &mut |t, k, v| {
            found.push((t, k.map(<[u8]>::to_vec), v.map(<[u8]>::to_vec)));
        })
        .unwrap();
        // Offsets are not kept by the walk; read them off the top level for plain sets.
        let mut offsets = Vec::new();
        let mut rest = set;
        while rest.len() >= LOG_OVERHEAD {
            offsets.push(be_i64(rest).unwrap());
            let size = usize::try_from(be_i32(&rest[8..]).unwrap()).unwrap();
            rest = &rest[LOG_OVERHEAD + size..];
        }
        found
            .into_iter()
            .enumerate()
            .map(|(i, (t, k, v))| (offsets.get(i).copied().unwrap_or(-1), t, k, v))
            .collect()
    }

    #[test]
    fn batches_convert_down_to_messages_at_their_offsets() {
        let kv: Vec<batch::KeyValue<'_>> = vec![(Some(b"a"), Some(b"1")), (None, Some(b"2"))];
        let mut b = batch::build_batch(&kv, 1000, 5, None);
        b[..8].copy_from_slice(&40i64.to_be_bytes());
        for magic in [0, 1] {
            let set = from_batches(&b, magic).unwrap();
            let got = messages(&set);
            let ts = |t: i64| if magic == 1 { t } else { -1 };
            assert_eq!(
                got,
                vec![
                    (40, ts(1000), Some(b"a".to_vec()), Some(b"1".to_vec())),
                    (41, ts(1005), None, Some(b"2".to_vec()))
                ],
                "magic {magic}"
            );
        }
    }

    #[test]
    fn a_compressed_batch_converts_to_one_wrapper_and_back() {
        let msgs: Vec<LegacyMessage<'_>> = vec![(5, None, Some(b"x")), (6, Some(b"k"), Some(b"y"))];
        let set = encode_compressed_set(1, compress::GZIP, &msgs).unwrap();
        let b = to_batch(&set).unwrap();
        let down = from_batches(&b, 1).unwrap();
        // One wrapper at the last offset, whose inner messages are those sent.
        assert_eq!(be_i64(&down), Some(1));
        let again = to_batch(&down).unwrap();
        assert_eq!(records(&again), records(&b));
    }

    /// One legacy message as written: (offset, magic, attributes, timestamp, key, value).
    type Legacy = (i64, u8, u8, i64, Option<Vec<u8>>, Option<Vec<u8>>);

    /// Reads a message set's top level, checking each CRC.
    fn legacy_messages(mut set: &[u8]) -> Vec<Legacy> {
        let bytes = |b: &[u8]| -> (Option<Vec<u8>>, usize) {
            let n = be_i32(b).unwrap();
            match usize::try_from(n) {
                Ok(n) => (Some(b[4..4 + n].to_vec()), 4 + n),
                Err(_) => (None, 4),
            }
        };
        let mut out = Vec::new();
        while set.len() >= LOG_OVERHEAD {
            let offset = be_i64(set).unwrap();
            let size = usize::try_from(be_i32(&set[8..]).unwrap()).unwrap();
            let m = &set[LOG_OVERHEAD..LOG_OVERHEAD + size];
            let mut crc = flate2::Crc::new();
            crc.update(&m[4..]);
            assert_eq!(crc.sum().to_be_bytes(), m[..4], "CRC of message {offset}");
            let (magic, attributes) = (m[4], m[5]);
            let (timestamp, mut at) = if magic == 1 {
                (be_i64(&m[6..]).unwrap(), 14)
            } else {
                (-1, 6)
            };
            let (key, n) = bytes(&m[at..]);
            at += n;
            let (value, n) = bytes(&m[at..]);
            assert_eq!(at + n, m.len());
            out.push((offset, magic, attributes, timestamp, key, value));
            set = &set[LOG_OVERHEAD + size..];
        }
        out
    }

    #[test]
    fn a_new_producers_compressed_batch_with_headers_converts_down_as_kafka_3_9() {
        // Three records as a current client writes them: gzip, a header on each, create
        // times 1000, 1007, 1003, stored at offsets 40-42.
        let mut body = Vec::new();
        for (i, (key, value, delta)) in [
            (Some(&b"k0"[..]), &b"v0"[..], 0i64),
            (None, &b"v1"[..], 7),
            (Some(&b"k2"[..]), &b"v2"[..], 3),
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = vec![0u8];
            batch::varint(delta, &mut r);
            batch::varint(i64::try_from(i).unwrap(), &mut r);
            match key {
                Some(k) => {
                    batch::varint(i64::try_from(k.len()).unwrap(), &mut r);
                    r.extend_from_slice(k);
                }
                None => batch::varint(-1, &mut r),
            }
            batch::varint(2, &mut r);
            r.extend_from_slice(value);
            batch::varint(1, &mut r);
            batch::varint(5, &mut r);
            r.extend_from_slice(b"trace");
            batch::varint(2, &mut r);
            r.extend_from_slice(b"id");
            batch::varint(i64::try_from(r.len()).unwrap(), &mut body);
            body.extend_from_slice(&r);
        }
        let gz = compress::compress(compress::GZIP, &body, false).unwrap();
        let mut b = batch::assemble(compress::GZIP, 2, 1000, 1007, (-1, -1, -1), 3, &gz);
        b[..8].copy_from_slice(&40i64.to_be_bytes());
        let plain = |v: &[u8]| Some(v.to_vec());

        for magic in [0u8, 1] {
            let set = from_batches(&b, magic).unwrap();
            // One gzip wrapper at the last offset; with magic 1 it carries the batch's max
            // timestamp and create-time type.
            let wrapper = legacy_messages(&set);
            assert_eq!(wrapper.len(), 1, "magic {magic}");
            let (offset, m, attributes, timestamp, key, value) = wrapper[0].clone();
            assert_eq!((offset, m, attributes & 0x07), (42, magic, 1));
            assert_eq!(attributes & 0x08, 0, "create time");
            assert_eq!(timestamp, if magic == 1 { 1007 } else { -1 });
            assert_eq!(key, None);
            let inner = compress::decompress(compress::GZIP, &value.unwrap()).unwrap();
            // Inner offsets: relative with magic 1, absolute with magic 0 (Kafka's
            // MemoryRecordsBuilder.toInnerOffset); timestamps only with magic 1; the headers
            // have no place in either format and are dropped.
            let ts = |t: i64| if magic == 1 { t } else { -1 };
            let off = |o: i64| if magic == 1 { o - 40 } else { o };
            assert_eq!(
                legacy_messages(&inner),
                vec![
                    (off(40), magic, 0, ts(1000), plain(b"k0"), plain(b"v0")),
                    (off(41), magic, 0, ts(1007), None, plain(b"v1")),
                    (off(42), magic, 0, ts(1003), plain(b"k2"), plain(b"v2")),
                ],
                "magic {magic}"
            );
        }
    }

    #[test]
    fn zstd_cannot_be_converted_down() {
        let plain = batch::build_uncompressed(&[b"x"], 0, None);
        let body = compress::compress(compress::ZSTD, &plain[HEADER_BYTES..], false).unwrap();
        let b = batch::assemble(compress::ZSTD, 0, 0, 0, (-1, -1, -1), 1, &body);
        assert!(matches!(
            from_batches(&b, 1),
            Err(Error::UnsupportedCompression(_))
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..300))| {
            let _ = to_batch(&bytes);
            let _ = from_batches(&bytes, 1);
        });
    }
}
