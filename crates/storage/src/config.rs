//! The effective settings of one partition log. Key names, parsing and defaults from the
//! broker are the server's config table; storage sees only the typed values.

use crate::limits::SEGMENT_BYTES_MAX;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// The effective settings of one partition log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub retention_ms: i64,
    pub retention_bytes: i64,
    pub max_message_bytes: u32,
    pub timestamp_type: TimestampType,
    pub timestamp_before_max_ms: i64,
    pub timestamp_after_max_ms: i64,
    pub index_interval_bytes: u32,
    pub segment_index_bytes: u32,
    pub flush_messages: i64,
    pub flush_ms: i64,
    pub cleanup_policy: String,
    /// Compaction (`cleanup.policy` containing `compact`): clean when the dirty share of the
    /// cleanable bytes reaches this.
    pub min_cleanable_dirty_ratio: f64,
    /// Records younger than this are not compacted.
    pub min_compaction_lag_ms: i64,
    /// A dirty record older than this forces a clean whatever the ratio.
    pub max_compaction_lag_ms: i64,
    /// How long a tombstone (null value) outlives the records it deletes.
    pub delete_retention_ms: i64,
}

impl LogConfig {
    pub fn is_compacted(&self) -> bool {
        self.cleanup_policy
            .split(',')
            .any(|p| p.trim() == "compact")
    }
}

impl Default for LogConfig {
    /// Kafka 4.x defaults.
    fn default() -> Self {
        Self {
            segment_bytes: SEGMENT_BYTES_MAX,
            segment_ms: 7 * 24 * 3600 * 1000,
            retention_ms: 7 * 24 * 3600 * 1000,
            retention_bytes: -1,
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
            timestamp_before_max_ms: i64::MAX,
            timestamp_after_max_ms: 3_600_000,
            index_interval_bytes: 4096,
            segment_index_bytes: 10 * 1024 * 1024,
            flush_messages: i64::MAX,
            flush_ms: i64::MAX,
            cleanup_policy: "delete".into(),
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 86_400_000,
        }
    }
}
