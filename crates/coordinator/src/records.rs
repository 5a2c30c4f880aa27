//! Records of the internal `__consumer_offsets` topic, in Kafka's own schemas so Kafka's
//! tools can read our data: `OffsetCommitKey` v1 / `OffsetCommitValue` v3 for committed
//! offsets, `GroupMetadataKey` v2 / `GroupMetadataValue` v3 for groups; a null value is a
//! tombstone. Partition: `abs(java hashCode(group_id)) % offsets.topic.num.partitions`.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// One record to append to `__consumer_offsets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub group_id: String,
    pub key: Bytes,
    pub value: Option<Bytes>,
}

/// A decoded key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Offset {
        group_id: String,
        topic: String,
        partition: i32,
    },
    Group {
        group_id: String,
    },
}

/// A decoded committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetValue {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp: i64,
}

/// A decoded member of `GroupMetadataValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberValue {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub rebalance_timeout_ms: i32,
    pub session_timeout_ms: i32,
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// A decoded `GroupMetadataValue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupValue {
    pub protocol_type: String,
    pub generation_id: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub current_state_timestamp: i64,
    pub members: Vec<MemberValue>,
}

/// Java's `String.hashCode` over UTF-16 code units, as Kafka's `partitionFor` uses.
pub fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The internal-topic partition of `key` (a group id in `__consumer_offsets`, a
/// transactional id in `__transaction_state`): Kafka's `Utils.abs(key.hashCode()) %
/// partitions`, where `Utils.abs` is Java's `Math.abs` with `Integer.MIN_VALUE` taken to 0.
pub fn partition_for(key: &str, partitions: i32) -> i32 {
    let hash = java_hash(key);
    let abs = if hash == i32::MIN { 0 } else { hash.abs() };
    abs % partitions.max(1)
}

/// Where Strom before this release put `key`: the hash's low 31 bits, which differs from
/// [`partition_for`] for a negative hash. Records found there are older than any in the
/// right partition, so start-up replays them first.
pub fn legacy_partition_for(key: &str, partitions: i32) -> i32 {
    (java_hash(key) & 0x7fff_ffff) % partitions.max(1)
}

/// Whether a record of `key` read from `partition` was put there by an earlier Strom
/// ([`legacy_partition_for`]) rather than where Kafka and this Strom put it.
pub fn misplaced(key: &str, partition: i32, partitions: i32) -> bool {
    partition != partition_for(key, partitions)
        && partition == legacy_partition_for(key, partitions)
}

fn put_string(out: &mut BytesMut, s: &str) {
    out.put_i16(i16::try_from(s.len()).unwrap_or(i16::MAX));
    out.put_slice(
        s.as_bytes()
            .get(..usize::try_from(i16::MAX).unwrap_or(0).min(s.len()))
            .unwrap_or_default(),
    );
}

fn put_nullable_string(out: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_string(out, s),
        None => out.put_i16(-1),
    }
}

fn put_bytes(out: &mut BytesMut, b: &[u8]) {
    out.put_i32(i32::try_from(b.len()).unwrap_or(i32::MAX));
    out.put_slice(b);
}

pub fn offset_key(group_id: &str, topic: &str, partition: i32) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(1);
    put_string(&mut out, group_id);
    put_string(&mut out, topic);
    out.put_i32(partition);
    out.freeze()
}

pub fn offset_value(v: &OffsetValue) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(3);
    out.put_i64(v.offset);
    out.put_i32(v.leader_epoch);
    put_string(&mut out, &v.metadata);
    out.put_i64(v.commit_timestamp);
    out.freeze()
}

pub fn group_key(group_id: &str) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(2);
    put_string(&mut out, group_id);
    out.freeze()
}

pub fn group_value(v: &GroupValue) -> Bytes {
    let mut out = BytesMut::new();
    out.put_i16(3);
    put_string(&mut out, &v.protocol_type);
    out.put_i32(v.generation_id);
    put_nullable_string(&mut out, v.protocol.as_deref());
    put_nullable_string(&mut out, v.leader.as_deref());
    out.put_i64(v.current_state_timestamp);
    out.put_i32(i32::try_from(v.members.len()).unwrap_or(i32::MAX));
    for m in &v.members {
        put_string(&mut out, &m.member_id);
        put_nullable_string(&mut out, m.group_instance_id.as_deref());
        put_string(&mut out, &m.client_id);
        put_string(&mut out, &m.client_host);
        out.put_i32(m.rebalance_timeout_ms);
        out.put_i32(m.session_timeout_ms);
        put_bytes(&mut out, &m.subscription);
        put_bytes(&mut out, &m.assignment);
    }
    out.freeze()
}

/// Bounded reader over untrusted bytes: every read checks what is left.
struct Reader(Bytes);

impl Reader {
    fn i16(&mut self) -> Option<i16> {
        (self.0.remaining() >= 2).then(|| self.0.get_i16())
    }
    fn i32(&mut self) -> Option<i32> {
        (self.0.remaining() >= 4).then(|| self.0.get_i32())
    }
    fn i64(&mut self) -> Option<i64> {
        (self.0.remaining() >= 8).then(|| self.0.get_i64())
    }
    fn take(&mut self, n: usize) -> Option<Bytes> {
        (self.0.remaining() >= n).then(|| self.0.split_to(n))
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::try_from(self.i16()?).ok()?;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn nullable_string(&mut self) -> Option<Option<String>> {
        let n = self.i16()?;
        if n < 0 {
            return Some(None);
        }
        let n = usize::try_from(n).ok()?;
        Some(Some(String::from_utf8(self.take(n)?.to_vec()).ok()?))
    }
    fn bytes(&mut self) -> Option<Bytes> {
        let n = usize::try_from(self.i32()?).ok()?;
        self.take(n)
    }
}

pub fn decode_key(key: &[u8]) -> Option<Key> {
    let mut r = Reader(Bytes::copy_from_slice(key));
    match r.i16()? {
        0 | 1 => Some(Key::Offset {
            group_id: r.string()?,
            topic: r.string()?,
            partition: r.i32()?,
        }),
        2 => Some(Key::Group {
            group_id: r.string()?,
        }),
        _ => None,
    }
}

pub fn decode_offset_value(value: &[u8]) -> Option<OffsetValue> {
    let mut r = Reader(Bytes::copy_from_slice(value));
    let version = r.i16()?;
    let offset = r.i64()?;
    let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
    let metadata = r.string()?;
    let commit_timestamp = r.i64()?;
    Some(OffsetValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp,
    })
}

pub fn decode_group_value(value: &[u8]) -> Option<GroupValue> {
    let mut r = Reader(Bytes::copy_from_slice(value));
    let version = r.i16()?;
    let protocol_type = r.string()?;
    let generation_id = r.i32()?;
    let protocol = r.nullable_string()?;
    let leader = r.nullable_string()?;
    let current_state_timestamp = if version >= 2 { r.i64()? } else { -1 };
    let count = usize::try_from(r.i32()?).ok()?;
    let mut members = Vec::new();
    for _ in 0..count.min(r.0.remaining()) {
        let member_id = r.string()?;
        let group_instance_id = if version >= 3 {
            r.nullable_string()?
        } else {
            None
        };
        let client_id = r.string()?;
        let client_host = r.string()?;
        let rebalance_timeout_ms = if version >= 1 { r.i32()? } else { 0 };
        let session_timeout_ms = r.i32()?;
        let subscription = r.bytes()?;
        let assignment = r.bytes()?;
        members.push(MemberValue {
            member_id,
            group_instance_id,
            client_id,
            client_host,
            rebalance_timeout_ms,
            session_timeout_ms,
            subscription,
            assignment,
        });
    }
    Some(GroupValue {
        protocol_type,
        generation_id,
        protocol,
        leader,
        current_state_timestamp,
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_java() {
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("a"), 97);
        assert_eq!(java_hash("hello"), 99_162_322);
        assert_eq!(java_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
        // A negative hash: Kafka takes its absolute value (the Java reference broker puts
        // "diff-txn-v2-group" in partition 9 of 50), not its low 31 bits (39).
        assert_eq!(java_hash("diff-txn-v2-group"), -1_732_793_159);
        assert_eq!(partition_for("diff-txn-v2-group", 50), 9);
        assert_eq!(legacy_partition_for("diff-txn-v2-group", 50), 39);
        assert!(misplaced("diff-txn-v2-group", 39, 50));
        assert!(!misplaced("diff-txn-v2-group", 9, 50));
        assert_eq!(
            partition_for("hello", 50),
            legacy_partition_for("hello", 50)
        );
    }

    #[test]
    fn offsets_round_trip() {
        let key = offset_key("g", "t", 3);
        assert_eq!(
            decode_key(&key),
            Some(Key::Offset {
                group_id: "g".into(),
                topic: "t".into(),
                partition: 3
            })
        );
        let v = OffsetValue {
            offset: 42,
            leader_epoch: 0,
            metadata: "meta".into(),
            commit_timestamp: 7,
        };
        assert_eq!(decode_offset_value(&offset_value(&v)), Some(v));
    }

    #[test]
    fn groups_round_trip() {
        let v = GroupValue {
            protocol_type: "consumer".into(),
            generation_id: 4,
            protocol: Some("range".into()),
            leader: Some("m1".into()),
            current_state_timestamp: 99,
            members: vec![MemberValue {
                member_id: "m1".into(),
                group_instance_id: Some("i1".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                rebalance_timeout_ms: 300_000,
                session_timeout_ms: 45_000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::from_static(b"asg"),
            }],
        };
        assert_eq!(
            decode_key(&group_key("g")),
            Some(Key::Group {
                group_id: "g".into()
            })
        );
        assert_eq!(decode_group_value(&group_value(&v)), Some(v));
    }

    #[test]
    fn garbage_decodes_to_none() {
        assert_eq!(decode_key(&[0, 9, 1]), None);
        assert_eq!(decode_offset_value(&[0, 3, 0]), None);
        assert_eq!(decode_group_value(&[0, 3, 0, 5, b'a']), None);
    }
}
