//! Records of the internal `__transaction_state` topic, in Kafka's schemas so that Kafka's
//! tools can read them: key `TransactionLogKey` v0 (the transactional id), value
//! `TransactionLogValue` v1 (flexible: compact strings and arrays, tagged fields); a null
//! value removes the id. The offsets a transaction commits for groups, which Kafka keeps as
//! transactional records in `__consumer_offsets` instead, ride in tagged field
//! [`PENDING_OFFSETS_TAG`], which Kafka's decoder skips.
//! Partition: `abs(java hashCode(transactional_id)) % transaction.state.log.num.partitions`.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::state::{TxnMetadata, TxnOffset, TxnState};

/// Kafka's `TransactionLogKey` version.
const KEY_VERSION: i16 = 0;
/// Kafka's flexible `TransactionLogValue` version.
const VALUE_VERSION: i16 = 1;
/// Kafka's tags in `TransactionLogValue` v1: `PreviousProducerId` (int64, default -1),
/// `NextProducerId` (int64, -1), `ClientTransactionVersion` (int16, 0). A field at its default
/// is not written, as Kafka's generated code does.
const PREVIOUS_PRODUCER_ID_TAG: u32 = 0;
const NEXT_PRODUCER_ID_TAG: u32 = 1;
const CLIENT_TRANSACTION_VERSION_TAG: u32 = 2;
/// Strom's tag for the offsets a transaction commits (well above Kafka's own tags).
pub const PENDING_OFFSETS_TAG: u32 = 10_000;

fn put_uvarint(out: &mut BytesMut, mut v: u64) {
    // The low 7 bits of each step always fit a byte.
    let low7 = |v: u64| u8::try_from(v & 0x7f).unwrap_or(0);
    while v >= 0x80 {
        out.put_u8(low7(v) | 0x80);
        v >>= 7;
    }
    out.put_u8(low7(v));
}

fn get_uvarint(b: &mut Bytes) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        if !b.has_remaining() {
            return None;
        }
        let byte = b.get_u8();
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn put_compact_string(out: &mut BytesMut, s: &str) {
    put_uvarint(out, s.len() as u64 + 1);
    out.put_slice(s.as_bytes());
}

fn put_compact_nullable_string(out: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_compact_string(out, s),
        None => put_uvarint(out, 0),
    }
}

/// A compact string: `None` for null, `Some(None)` for malformed.
fn get_compact_string(b: &mut Bytes) -> Option<Option<String>> {
    let len = get_uvarint(b)?;
    if len == 0 {
        return Some(None);
    }
    let len = usize::try_from(len - 1).ok()?;
    if b.remaining() < len {
        return None;
    }
    let s = String::from_utf8(b.split_to(len).to_vec()).ok()?;
    Some(Some(s))
}

/// A compact array's length (`None` for null); never more than the bytes left could hold.
fn get_compact_len(b: &mut Bytes) -> Option<Option<usize>> {
    let len = get_uvarint(b)?;
    if len == 0 {
        return Some(None);
    }
    let len = usize::try_from(len - 1).ok()?;
    if len > b.remaining() {
        return None;
    }
    Some(Some(len))
}

/// The `__transaction_state` key of `transactional_id`.
pub fn key(transactional_id: &str) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(KEY_VERSION);
    out.put_i16(i16::try_from(transactional_id.len()).unwrap_or(i16::MAX));
    out.put_slice(transactional_id.as_bytes());
    out.freeze()
}

/// The transactional id of a `__transaction_state` key.
pub fn decode_key(key: &[u8]) -> Option<String> {
    let mut b = Bytes::copy_from_slice(key);
    if b.remaining() < 4 || b.get_i16() != KEY_VERSION {
        return None;
    }
    let len = usize::try_from(b.get_i16()).ok()?;
    if b.remaining() < len {
        return None;
    }
    String::from_utf8(b.split_to(len).to_vec()).ok()
}

fn pending_offsets(offsets: &BTreeMap<String, Vec<TxnOffset>>) -> Bytes {
    let mut out = BytesMut::new();
    put_uvarint(&mut out, offsets.len() as u64);
    for (group, list) in offsets {
        put_compact_string(&mut out, group);
        put_uvarint(&mut out, list.len() as u64);
        for o in list {
            put_compact_string(&mut out, &o.topic);
            out.put_i32(o.partition);
            out.put_i64(o.offset);
            out.put_i32(o.leader_epoch);
            put_compact_nullable_string(&mut out, o.metadata.as_deref());
        }
    }
    out.freeze()
}

fn decode_pending_offsets(mut b: Bytes) -> Option<BTreeMap<String, Vec<TxnOffset>>> {
    let groups = usize::try_from(get_uvarint(&mut b)?).ok()?;
    if groups > b.remaining() {
        return None;
    }
    let mut out = BTreeMap::new();
    for _ in 0..groups {
        let group = get_compact_string(&mut b)??;
        let count = usize::try_from(get_uvarint(&mut b)?).ok()?;
        if count > b.remaining() {
            return None;
        }
        let mut list = Vec::with_capacity(count);
        for _ in 0..count {
            let topic = get_compact_string(&mut b)??;
            if b.remaining() < 16 {
                return None;
            }
            let partition = b.get_i32();
            let offset = b.get_i64();
            let leader_epoch = b.get_i32();
            let metadata = get_compact_string(&mut b)?;
            list.push(TxnOffset {
                topic,
                partition,
                offset,
                leader_epoch,
                metadata,
            });
        }
        out.insert(group, list);
    }
    Some(out)
}

/// The `__transaction_state` value of `t` (Kafka's `TransactionLogValue` v1).
pub fn value(t: &TxnMetadata) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(VALUE_VERSION);
    out.put_i64(t.producer_id);
    out.put_i16(t.producer_epoch);
    out.put_i32(t.timeout_ms);
    out.put_i8(t.state.id());
    if t.partitions.is_empty() {
        put_uvarint(&mut out, 0);
    } else {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (topic, p) in &t.partitions {
            by_topic.entry(topic.as_str()).or_default().push(*p);
        }
        put_uvarint(&mut out, by_topic.len() as u64 + 1);
        for (topic, partitions) in by_topic {
            put_compact_string(&mut out, topic);
            put_uvarint(&mut out, partitions.len() as u64 + 1);
            for p in partitions {
                out.put_i32(p);
            }
            put_uvarint(&mut out, 0); // the entry's tagged fields
        }
    }
    out.put_i64(t.last_update_ms);
    out.put_i64(t.start_ms);
    // Tagged fields, in increasing tag order.
    let offsets = (!t.offsets.is_empty()).then(|| pending_offsets(&t.offsets));
    let previous = (t.prev_producer_id != -1).then_some(t.prev_producer_id);
    let next = (t.next_producer_id != -1).then_some(t.next_producer_id);
    let client_tv = (t.client_tv != 0).then_some(t.client_tv);
    let count = [
        previous.is_some(),
        next.is_some(),
        client_tv.is_some(),
        offsets.is_some(),
    ]
    .into_iter()
    .filter(|present| *present)
    .count();
    put_uvarint(&mut out, count as u64);
    for (tag, id) in [
        (PREVIOUS_PRODUCER_ID_TAG, previous),
        (NEXT_PRODUCER_ID_TAG, next),
    ] {
        if let Some(id) = id {
            put_uvarint(&mut out, u64::from(tag));
            put_uvarint(&mut out, 8);
            out.put_i64(id);
        }
    }
    if let Some(tv) = client_tv {
        put_uvarint(&mut out, u64::from(CLIENT_TRANSACTION_VERSION_TAG));
        put_uvarint(&mut out, 2);
        out.put_i16(tv);
    }
    if let Some(offsets) = offsets {
        put_uvarint(&mut out, u64::from(PENDING_OFFSETS_TAG));
        put_uvarint(&mut out, offsets.len() as u64);
        out.put_slice(&offsets);
    }
    out.freeze()
}

/// A `__transaction_state` value read back (v0 or v1), as the metadata of `transactional_id`.
pub fn decode_value(transactional_id: &str, value: &[u8]) -> Option<TxnMetadata> {
    let mut b = Bytes::copy_from_slice(value);
    if b.remaining() < 2 {
        return None;
    }
    let version = b.get_i16();
    if !(0..=VALUE_VERSION).contains(&version) {
        return None;
    }
    let flexible = version >= 1;
    if b.remaining() < 15 {
        return None;
    }
    let producer_id = b.get_i64();
    let producer_epoch = b.get_i16();
    let timeout_ms = b.get_i32();
    let state = TxnState::from_id(b.get_i8())?;
    let mut partitions = BTreeSet::new();
    let topics = if flexible {
        get_compact_len(&mut b)?
    } else {
        if b.remaining() < 4 {
            return None;
        }
        usize::try_from(b.get_i32()).ok()
    };
    for _ in 0..topics.unwrap_or(0) {
        let topic = if flexible {
            get_compact_string(&mut b)??
        } else {
            if b.remaining() < 2 {
                return None;
            }
            let len = usize::try_from(b.get_i16()).ok()?;
            if b.remaining() < len {
                return None;
            }
            String::from_utf8(b.split_to(len).to_vec()).ok()?
        };
        let count = if flexible {
            get_compact_len(&mut b)?.unwrap_or(0)
        } else {
            if b.remaining() < 4 {
                return None;
            }
            usize::try_from(b.get_i32()).ok()?
        };
        if b.remaining() < count.checked_mul(4)? {
            return None;
        }
        for _ in 0..count {
            partitions.insert((topic.clone(), b.get_i32()));
        }
        if flexible {
            skip_tagged_fields(&mut b)?;
        }
    }
    if b.remaining() < 16 {
        return None;
    }
    let last_update_ms = b.get_i64();
    let start_ms = b.get_i64();
    let mut offsets = BTreeMap::new();
    let (mut prev_producer_id, mut next_producer_id, mut client_tv) = (-1, -1, 0);
    if flexible {
        let fields = get_uvarint(&mut b)?;
        for _ in 0..fields {
            let tag = get_uvarint(&mut b)?;
            let size = usize::try_from(get_uvarint(&mut b)?).ok()?;
            if b.remaining() < size {
                return None;
            }
            let mut field = b.split_to(size);
            match u32::try_from(tag) {
                Ok(PREVIOUS_PRODUCER_ID_TAG) if size == 8 => prev_producer_id = field.get_i64(),
                Ok(NEXT_PRODUCER_ID_TAG) if size == 8 => next_producer_id = field.get_i64(),
                Ok(CLIENT_TRANSACTION_VERSION_TAG) if size == 2 => client_tv = field.get_i16(),
                Ok(PENDING_OFFSETS_TAG) => offsets = decode_pending_offsets(field)?,
                // NextProducerEpoch (3, never set by Kafka) and tags of later versions.
                _ => {}
            }
        }
    }
    Some(TxnMetadata {
        transactional_id: transactional_id.to_string(),
        producer_id,
        producer_epoch,
        timeout_ms,
        state,
        partitions,
        offsets,
        start_ms,
        last_update_ms,
        pending: false,
        prev_producer_id,
        next_producer_id,
        client_tv,
    })
}

fn skip_tagged_fields(b: &mut Bytes) -> Option<()> {
    let fields = get_uvarint(b)?;
    for _ in 0..fields {
        get_uvarint(b)?;
        let size = usize::try_from(get_uvarint(b)?).ok()?;
        if b.remaining() < size {
            return None;
        }
        b.advance(size);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TxnMetadata {
        TxnMetadata {
            transactional_id: "tx-1".into(),
            producer_id: 4001,
            producer_epoch: 7,
            timeout_ms: 60_000,
            state: TxnState::Ongoing,
            partitions: [
                ("orders".to_string(), 0),
                ("orders".to_string(), 3),
                ("__consumer_offsets".to_string(), 17),
            ]
            .into(),
            offsets: [(
                "g".to_string(),
                vec![TxnOffset {
                    topic: "orders".into(),
                    partition: 3,
                    offset: 99,
                    leader_epoch: -1,
                    metadata: Some("m".into()),
                }],
            )]
            .into(),
            start_ms: 1000,
            last_update_ms: 2000,
            pending: false,
            prev_producer_id: 4000,
            next_producer_id: -1,
            client_tv: 2,
        }
    }

    #[test]
    fn values_round_trip_with_their_pending_offsets() {
        let t = sample();
        assert_eq!(decode_key(&key("tx-1")).as_deref(), Some("tx-1"));
        assert_eq!(decode_value("tx-1", &value(&t)), Some(t.clone()));
        let empty = TxnMetadata {
            partitions: BTreeSet::new(),
            offsets: BTreeMap::new(),
            state: TxnState::CompleteCommit,
            ..t
        };
        assert_eq!(decode_value("tx-1", &value(&empty)), Some(empty));
    }

    #[test]
    fn kafkas_v1_layout() {
        let t = TxnMetadata {
            partitions: [("t".to_string(), 1)].into(),
            offsets: BTreeMap::new(),
            prev_producer_id: -1,
            next_producer_id: 4002,
            ..sample()
        };
        let v = value(&t);
        let mut expected = vec![0, 1];
        expected.extend_from_slice(&4001i64.to_be_bytes());
        expected.extend_from_slice(&7i16.to_be_bytes());
        expected.extend_from_slice(&60_000i32.to_be_bytes());
        expected.push(1); // Ongoing
        expected.extend_from_slice(&[2, 2, b't', 2, 0, 0, 0, 1, 0]);
        expected.extend_from_slice(&2000i64.to_be_bytes());
        expected.extend_from_slice(&1000i64.to_be_bytes());
        expected.extend_from_slice(&[2, 1, 8]); // NextProducerId
        expected.extend_from_slice(&4002i64.to_be_bytes());
        expected.extend_from_slice(&[2, 2, 0, 2]); // ClientTransactionVersion = 2
        assert_eq!(&v[..], &expected[..]);
        // A transaction of version 0 with no producer id change has no tagged fields, and
        // one written with a NextProducerEpoch (tag 3) reads back.
        let plain = TxnMetadata {
            next_producer_id: -1,
            client_tv: 0,
            ..t
        };
        let v = value(&plain);
        assert_eq!(v[v.len() - 1], 0);
        let mut with_epoch = v[..v.len() - 1].to_vec();
        with_epoch.extend_from_slice(&[1, 3, 2, 0, 5]);
        assert_eq!(decode_value("tx-1", &with_epoch), Some(plain));
    }

    #[test]
    fn truncated_or_garbage_values_are_refused_without_panicking() {
        let v = value(&sample());
        for cut in 0..v.len() {
            assert_eq!(decode_value("x", &v[..cut]), None, "cut at {cut}");
        }
        assert_eq!(decode_value("x", &[0, 9, 1, 2, 3]), None);
        assert_eq!(decode_key(&[0, 0, 0, 200, b'a']), None);
    }
}
