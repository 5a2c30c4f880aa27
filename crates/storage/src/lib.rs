//! Strom's storage: one append-only log per partition on disk, laid out as Kafka lays it out
//! (`<topic>-<partition>/<base_offset>.log|.index|.timeindex`), the log manager that owns the
//! logs' life, and the conversion of pre-0.11 message sets into batches.
//!
//! Nothing here knows about sockets or Kafka request types; the server maps [`Error`] to
//! Kafka error codes.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod batch;
pub mod checkpoint;
pub mod cleaner;
pub mod compress;
pub mod config;
pub mod flusher;
pub mod index;
pub mod leader_epoch;
pub mod legacy;
pub mod limits;
pub mod log;
pub mod manager;
pub mod meta_properties;
mod offset_file;
pub mod producer;
pub mod reaper;
pub mod segment;
pub mod txn;
mod worker;

use std::path::PathBuf;

pub use config::{LogConfig, TimestampType};
pub use log::{AppendInfo, Log, LogOptions, Marker, ReadState, StoredRecord};
pub use manager::LogManager;
pub use segment::FileSlice;

/// Everything that can go wrong in storage, with the context needed to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("corrupt record batch: {0}")]
    CorruptBatch(String),
    #[error("invalid record batch: {0}")]
    InvalidBatch(String),
    #[error("record batch of {bytes} bytes exceeds max.message.bytes={max}")]
    MessageTooLarge { bytes: u64, max: u32 },
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    #[error("unsupported compression: {0}")]
    UnsupportedCompression(String),
    #[error("offset {offset} is outside [{log_start_offset}, {log_end_offset}]")]
    OffsetOutOfRange {
        offset: i64,
        log_start_offset: i64,
        log_end_offset: i64,
    },
    #[error("out of order sequence number for producer {producer_id}: expected {expected}, got {received}")]
    OutOfOrderSequence {
        producer_id: i64,
        expected: i32,
        received: i32,
    },
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        producer_id: i64,
        epoch: i16,
        current: i16,
    },
    #[error("compacted topic cannot accept records without a key (records {record_indexes:?} of the batch)")]
    KeylessRecords { record_indexes: Vec<i32> },
    #[error("log {} refuses writes after a failed fsync; restart the broker", path.display())]
    Poisoned { path: PathBuf },
    #[error("corrupt metadata log {}: {reason}", path.display())]
    CorruptMetadata { path: PathBuf, reason: String },
    #[error("malformed checkpoint file {}: {reason}", path.display())]
    CorruptCheckpoint { path: PathBuf, reason: String },
}

/// A partition of a topic, by name (Kafka's `TopicPartition`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }

    /// The partition's directory name, `<topic>-<partition>` (Kafka's `Log.logDirName`).
    pub fn dir_name(&self) -> String {
        format!("{}-{}", self.topic, self.partition)
    }

    /// The partition a directory named `<topic>-<partition>` holds, if that is its form.
    pub fn from_dir_name(name: &str) -> Option<Self> {
        let (topic, partition) = name.rsplit_once('-')?;
        if topic.is_empty() || partition.is_empty() || partition.starts_with('+') {
            return None;
        }
        Some(Self::new(topic, partition.parse().ok()?))
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}
