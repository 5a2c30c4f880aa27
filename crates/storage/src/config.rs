//! Per-topic log configuration under Kafka's topic-level key names, with the broker's
//! defaults (Kafka's `log.*` keys) underneath.

use std::collections::BTreeMap;

use crate::limits::{BATCH_BYTES_MAX, INDEX_BYTES_MAX, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN};
use crate::Error;

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

/// Every topic-level config key Kafka 4.x knows. Keys outside this list are rejected with
/// INVALID_CONFIG, as Kafka does; keys inside it that we do not act on are stored and
/// reported back.
pub const TOPIC_CONFIG_KEYS: &[&str] = &[
    "cleanup.policy",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.type",
    "compression.zstd.level",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn long(key: &str, value: &str, min: i64) -> Result<i64, Error> {
    let v: i64 = value
        .trim()
        .parse()
        .map_err(|_| invalid(key, value, "not a number"))?;
    if v < min {
        return Err(invalid(key, value, format!("must be at least {min}")));
    }
    Ok(v)
}

fn int_in(key: &str, value: &str, min: i64, max: i64) -> Result<i64, Error> {
    let v = long(key, value, min)?;
    if v > max {
        return Err(invalid(key, value, format!("must be at most {max}")));
    }
    Ok(v)
}

impl LogConfig {
    /// Applies topic-level overrides on top of `self` (the broker defaults), validating each.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first unknown key or bad value.
    pub fn with_overrides(&self, overrides: &BTreeMap<String, String>) -> Result<Self, Error> {
        let mut c = self.clone();
        for (key, value) in overrides {
            c.apply(key, value)?;
        }
        Ok(c)
    }

    /// Sets one topic-level key.
    ///
    /// # Errors
    /// Unknown key or invalid value.
    pub fn apply(&mut self, key: &str, value: &str) -> Result<(), Error> {
        match key {
            "segment.bytes" => {
                let v = int_in(
                    key,
                    value,
                    SEGMENT_BYTES_MIN as i64,
                    SEGMENT_BYTES_MAX as i64,
                )?;
                self.segment_bytes = u64::try_from(v).unwrap_or(SEGMENT_BYTES_MAX);
            }
            "segment.ms" => self.segment_ms = long(key, value, 1)?,
            "retention.ms" => self.retention_ms = long(key, value, -1)?,
            "retention.bytes" => self.retention_bytes = long(key, value, -1)?,
            "max.message.bytes" => {
                let v = int_in(key, value, 0, i64::from(BATCH_BYTES_MAX))?;
                self.max_message_bytes = u32::try_from(v).unwrap_or(BATCH_BYTES_MAX);
            }
            "message.timestamp.type" => {
                self.timestamp_type = match value {
                    "CreateTime" => TimestampType::CreateTime,
                    "LogAppendTime" => TimestampType::LogAppendTime,
                    _ => return Err(invalid(key, value, "must be CreateTime or LogAppendTime")),
                }
            }
            "message.timestamp.before.max.ms" => {
                self.timestamp_before_max_ms = long(key, value, 0)?
            }
            "message.timestamp.after.max.ms" => self.timestamp_after_max_ms = long(key, value, 0)?,
            "index.interval.bytes" => {
                let v = int_in(key, value, 0, i64::from(i32::MAX))?;
                self.index_interval_bytes = u32::try_from(v).unwrap_or(4096);
            }
            "segment.index.bytes" => {
                let v = int_in(key, value, 4, INDEX_BYTES_MAX as i64)?;
                self.segment_index_bytes = u32::try_from(v).unwrap_or(4096);
            }
            "flush.messages" => self.flush_messages = long(key, value, 1)?,
            "flush.ms" => self.flush_ms = long(key, value, 0)?,
            "cleanup.policy" => {
                let mut parts: Vec<&str> = value.split(',').map(str::trim).collect();
                parts.sort_unstable();
                parts.dedup();
                if parts.is_empty() || parts.iter().any(|p| *p != "delete" && *p != "compact") {
                    return Err(invalid(key, value, "must be a list of delete and compact"));
                }
                self.cleanup_policy = parts.join(",");
            }
            "compression.type" => {
                const TYPES: &[&str] =
                    &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"];
                if !TYPES.contains(&value) {
                    return Err(invalid(
                        key,
                        value,
                        format!("must be one of {}", TYPES.join(", ")),
                    ));
                }
            }
            "min.insync.replicas" => {
                long(key, value, 1)?;
            }
            "min.cleanable.dirty.ratio" => {
                let v: f64 = value
                    .parse()
                    .map_err(|_| invalid(key, value, "not a number"))?;
                if !(0.0..=1.0).contains(&v) {
                    return Err(invalid(key, value, "must be between 0 and 1"));
                }
                self.min_cleanable_dirty_ratio = v;
            }
            "delete.retention.ms" => self.delete_retention_ms = long(key, value, 0)?,
            "min.compaction.lag.ms" => self.min_compaction_lag_ms = long(key, value, 0)?,
            "max.compaction.lag.ms" => self.max_compaction_lag_ms = long(key, value, 1)?,
            "file.delete.delay.ms" | "segment.jitter.ms" => {
                long(key, value, 0)?;
            }
            "local.retention.ms" | "local.retention.bytes" => {
                long(key, value, -2)?;
            }
            "preallocate"
            | "unclean.leader.election.enable"
            | "remote.storage.enable"
            | "remote.log.copy.disable"
            | "remote.log.delete.on.disable" => {
                if value != "true" && value != "false" {
                    return Err(invalid(key, value, "must be true or false"));
                }
            }
            _ if TOPIC_CONFIG_KEYS.contains(&key) => {}
            _ => return Err(invalid(key, value, "unknown topic config")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_and_validate() {
        let mut o = BTreeMap::new();
        o.insert("retention.ms".to_string(), "1000".to_string());
        o.insert(
            "message.timestamp.type".to_string(),
            "LogAppendTime".to_string(),
        );
        let c = LogConfig::default().with_overrides(&o).unwrap();
        assert_eq!(c.retention_ms, 1000);
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
        o.insert("no.such.key".to_string(), "1".to_string());
        assert!(LogConfig::default().with_overrides(&o).is_err());
    }

    #[test]
    fn bad_values_are_rejected() {
        let mut c = LogConfig::default();
        assert!(c.apply("segment.bytes", "abc").is_err());
        assert!(c.apply("segment.bytes", "2147483648").is_err());
        assert!(c.apply("cleanup.policy", "forever").is_err());
        assert!(c.apply("cleanup.policy", "compact,delete").is_ok());
        assert_eq!(c.cleanup_policy, "compact,delete");
    }
}
