//! The internal topics the coordinators keep their state in (`__consumer_offsets`,
//! `__transaction_state`): created on first use as Kafka creates them (compacted, internal,
//! through the controller), written as batches of key/value records appended through the
//! partition like any produce, and read back whole at start-up. [`InternalTopic::write`] is
//! the async entry; the other functions block on the disk and run on the blocking pool.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use strom_storage::batch;

use strom_cluster::controller::{NewTopic, Reply, Request};
use strom_codec::ErrorCode;

use crate::metadata::Metadata;
use crate::topics::{Topic, Topics};

/// An internal topic as the coordinators create it.
#[derive(Debug, Clone)]
pub struct InternalTopic {
    pub name: &'static str,
    pub partitions: i32,
    /// `segment.bytes` (Kafka: `offsets.topic.segment.bytes`,
    /// `transaction.state.log.segment.bytes`).
    pub segment_bytes: u64,
    /// Where it is created.
    pub metadata: Arc<Metadata>,
}

/// Largest batch one write appends to one partition; more records go in several batches, so
/// that no batch exceeds the topic's `max.message.bytes`.
const BATCH_BYTES_MAX: usize = 512 * 1024;
/// Bytes read from disk at a time when an internal partition is replayed.
const REPLAY_CHUNK_BYTES: u32 = 8 * 1024 * 1024;

impl InternalTopic {
    /// The topic, created (compacted, internal) when missing.
    ///
    /// # Errors
    /// The controller refused or could not create it.
    pub async fn ensure(&self, topics: &Topics) -> Result<Arc<Topic>, String> {
        if let Some(t) = topics.get(self.name) {
            return Ok(t);
        }
        let configs: BTreeMap<String, String> = [
            ("cleanup.policy".to_string(), "compact".to_string()),
            ("segment.bytes".to_string(), self.segment_bytes.to_string()),
        ]
        .into();
        let request = Request::CreateTopics {
            topics: vec![NewTopic {
                name: self.name.to_string(),
                partitions: Some(self.partitions),
                replication_factor: None,
                assignments: BTreeMap::new(),
                configs,
                internal: true,
            }],
            validate_only: false,
        };
        match self.metadata.submit(request).await {
            Ok(Reply::CreateTopics(results)) => match results.into_iter().next() {
                Some(Ok(_)) => {}
                Some(Err(e)) if e.code == ErrorCode::TopicAlreadyExists => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("no reply for the topic".into()),
            },
            Ok(other) => return Err(format!("unexpected controller reply {other:?}")),
            Err(e) => return Err(e.to_string()),
        }
        topics
            .get(self.name)
            .ok_or_else(|| format!("{} was created but is not served", self.name))
    }

    /// Creates the topic when missing, then appends `records` on the blocking pool (see
    /// [`InternalTopic::append`]).
    pub async fn write(
        &self,
        topics: &Arc<Topics>,
        records: Vec<(i32, Bytes, Option<Bytes>)>,
        wall_ms: i64,
    ) -> bool {
        if records.is_empty() {
            return true;
        }
        if let Err(e) = self.ensure(topics).await {
            tracing::error!(topic = self.name, error = %e, "cannot create an internal topic");
            return false;
        }
        let (this, topics) = (self.clone(), Arc::clone(topics));
        tokio::task::spawn_blocking(move || this.append(&topics, &records, wall_ms))
            .await
            .unwrap_or(false)
    }

    /// Appends `records` (partition, key, value; a `None` value is a tombstone), in order per
    /// partition, to the topic [`InternalTopic::ensure`] made. `false` when anything could
    /// not be written; what was is kept.
    pub fn append(
        &self,
        topics: &Topics,
        records: &[(i32, Bytes, Option<Bytes>)],
        wall_ms: i64,
    ) -> bool {
        if records.is_empty() {
            return true;
        }
        let Some(topic) = topics.get(self.name) else {
            tracing::error!(
                topic = self.name,
                "an internal topic is written before it exists"
            );
            return false;
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
    /// Records for which `misplaced(partition, key)` holds (left by an earlier Strom in the
    /// partition it used to choose) are older than the others of their key, and are applied
    /// first, in a pass of their own.
    pub fn replay(
        &self,
        topics: &Topics,
        misplaced: impl Fn(i32, &[u8]) -> bool,
        mut apply: impl FnMut(i32, &[u8], Option<&[u8]>),
    ) -> usize {
        let Some(topic) = topics.get(self.name) else {
            return 0;
        };
        let mut applied = 0;
        let mut moved = 0;
        for p in &topic.partitions {
            moved += replay_partition(p, &mut |key, value| {
                if misplaced(p.index, key) {
                    apply(p.index, key, value);
                    true
                } else {
                    false
                }
            });
        }
        if moved > 0 {
            tracing::info!(
                topic = self.name,
                records = moved,
                "replayed records an earlier Strom put in other partitions first"
            );
        }
        for p in &topic.partitions {
            applied += replay_partition(p, &mut |key, value| {
                if misplaced(p.index, key) {
                    false
                } else {
                    apply(p.index, key, value);
                    true
                }
            });
        }
        applied + moved
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

/// Reads one partition's records up to its high watermark; returns how many `apply` took.
fn replay_partition(
    p: &crate::topics::Partition,
    apply: &mut impl FnMut(&[u8], Option<&[u8]>) -> bool,
) -> usize {
    let mut applied = 0;
    let state = p.read_state();
    let read = state.visit_records(
        state.log_start_offset,
        state.high_watermark,
        REPLAY_CHUNK_BYTES,
        &mut |r| {
            if let Some(key) = r.key {
                if apply(key, r.value) {
                    applied += 1;
                }
            }
        },
    );
    if let Err(e) = read {
        tracing::error!(topic = %p.topic, partition = p.index, error = %e, "cannot replay an internal partition; what follows the error is not loaded");
    }
    applied
}
