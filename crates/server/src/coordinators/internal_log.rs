//! The internal topics the coordinators keep their state in (`__consumer_offsets`,
//! `__transaction_state`): created on first use as Kafka creates them (compacted, internal),
//! written as batches of key/value records appended through the partition like any produce,
//! and read back whole at start-up. Every function here blocks on the disk: callers run them
//! on the blocking pool.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use strom_storage::batch;

use crate::topics::{Topic, TopicError, Topics};

/// An internal topic as the coordinators create it.
#[derive(Debug, Clone)]
pub struct InternalTopic {
    pub name: &'static str,
    pub partitions: i32,
    /// `segment.bytes` (Kafka: `offsets.topic.segment.bytes`,
    /// `transaction.state.log.segment.bytes`).
    pub segment_bytes: u64,
}

/// Largest batch one write appends to one partition; more records go in several batches, so
/// that no batch exceeds the topic's `max.message.bytes`.
const BATCH_BYTES_MAX: usize = 512 * 1024;

impl InternalTopic {
    /// The topic, created (compacted, internal) when missing.
    ///
    /// # Errors
    /// It cannot be created.
    pub fn ensure(&self, topics: &Topics) -> Result<Arc<Topic>, TopicError> {
        if let Some(t) = topics.get(self.name) {
            return Ok(t);
        }
        let configs: BTreeMap<String, String> = [
            ("cleanup.policy".to_string(), "compact".to_string()),
            ("segment.bytes".to_string(), self.segment_bytes.to_string()),
        ]
        .into();
        match topics.create(self.name, self.partitions, configs, true) {
            Ok(t) => Ok(t),
            Err(TopicError::AlreadyExists(_)) => topics
                .get(self.name)
                .ok_or_else(|| TopicError::Unknown(self.name.to_string())),
            Err(e) => Err(e),
        }
    }

    /// Appends `records` (partition, key, value; a `None` value is a tombstone), in order per
    /// partition. `false` when anything could not be written; what was is kept.
    pub fn append(
        &self,
        topics: &Topics,
        records: &[(i32, Bytes, Option<Bytes>)],
        wall_ms: i64,
    ) -> bool {
        if records.is_empty() {
            return true;
        }
        let topic = match self.ensure(topics) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(topic = self.name, error = %e, "cannot create an internal topic");
                return false;
            }
        };
        let mut by_partition: BTreeMap<i32, Vec<batch::KeyValue<'_>>> = BTreeMap::new();
        for (partition, key, value) in records {
            by_partition
                .entry(*partition)
                .or_default()
                .push((Some(&key[..]), value.as_deref()));
        }
        for (index, entries) in by_partition {
            let Some(p) = topic.partition(index) else {
                tracing::error!(
                    topic = self.name,
                    partition = index,
                    "no such internal partition"
                );
                return false;
            };
            let mut chunk: Vec<batch::KeyValue<'_>> = Vec::new();
            let mut bytes = 0;
            for entry in entries {
                bytes += entry.0.map_or(0, <[u8]>::len) + entry.1.map_or(0, <[u8]>::len) + 32;
                chunk.push(entry);
                if bytes >= BATCH_BYTES_MAX {
                    if !append_batch(&topic, index, p, &chunk, wall_ms) {
                        return false;
                    }
                    chunk.clear();
                    bytes = 0;
                }
            }
            if !chunk.is_empty() && !append_batch(&topic, index, p, &chunk, wall_ms) {
                return false;
            }
        }
        true
    }

    /// Calls `apply(partition, key, value)` for every record of the topic, in log order per
    /// partition; returns how many were read. Nothing when the topic does not exist yet.
    pub fn replay(
        &self,
        topics: &Topics,
        mut apply: impl FnMut(i32, &[u8], Option<&[u8]>),
    ) -> usize {
        let Some(topic) = topics.get(self.name) else {
            return 0;
        };
        let mut applied = 0;
        for p in &topic.partitions {
            applied += replay_partition(p, &mut |key, value| apply(p.index, key, value));
        }
        applied
    }
}

fn append_batch(
    topic: &Topic,
    index: i32,
    p: &crate::topics::Partition,
    entries: &[batch::KeyValue<'_>],
    wall_ms: i64,
) -> bool {
    let bytes = batch::build_batch(entries, wall_ms, 0, None);
    match p.append(&bytes) {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(topic = %topic.name, partition = index, error = %e, "cannot append to an internal topic");
            false
        }
    }
}

/// Reads one partition's records up to its high watermark; returns how many.
fn replay_partition(
    p: &crate::topics::Partition,
    apply: &mut impl FnMut(&[u8], Option<&[u8]>),
) -> usize {
    let mut applied = 0;
    let (start, end) = p.offsets();
    let mut offset = start;
    while offset < end {
        let slice = match p.read(offset, 8 * 1024 * 1024, false) {
            Ok(outcome) => outcome.slice,
            Err(e) => {
                tracing::error!(topic = %p.topic, partition = p.index, offset, error = %e, "cannot replay an internal partition");
                break;
            }
        };
        let Some(slice) = slice else { break };
        let bytes = match slice.read() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(topic = %p.topic, partition = p.index, offset, error = %e, "cannot read an internal partition");
                break;
            }
        };
        let before = offset;
        let mut at = 0usize;
        while let Ok(header) = batch::check_framing(bytes.get(at..).unwrap_or_default()) {
            let Ok(len) = usize::try_from(header.total_bytes()) else {
                break;
            };
            let body = bytes
                .get(at + batch::HEADER_BYTES..at + len)
                .unwrap_or_default();
            if header.compression() == 0 && !header.is_control() {
                for r in batch::parse_records(body).unwrap_or_default() {
                    if header.base_offset + r.offset_delta >= offset {
                        if let Some(key) = r.key {
                            apply(key, r.value);
                            applied += 1;
                        }
                    }
                }
            }
            offset = header.last_offset() + 1;
            at += len;
        }
        if offset == before {
            break;
        }
    }
    applied
}
