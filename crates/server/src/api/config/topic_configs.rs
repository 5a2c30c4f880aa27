//! The effective configuration of a topic as Kafka reports it: every topic-level key with its
//! value and where the value comes from. Shared by CreateTopics (v5+) and DescribeConfigs.

use std::collections::BTreeMap;

use strom_storage::config::TOPIC_CONFIG_KEYS;
use strom_storage::{LogConfig, TimestampType};

/// Kafka's `DescribeConfigsResponse.ConfigSource` values used here.
pub const SOURCE_TOPIC_CONFIG: i8 = 1;
pub const SOURCE_STATIC_BROKER_CONFIG: i8 = 4;
pub const SOURCE_DEFAULT_CONFIG: i8 = 5;

/// The broker key a topic key falls back to (Kafka's synonyms), if any.
pub fn broker_synonym(key: &str) -> Option<&'static str> {
    Some(match key {
        "cleanup.policy" => "log.cleanup.policy",
        "flush.messages" => "log.flush.interval.messages",
        "flush.ms" => "log.flush.interval.ms",
        "index.interval.bytes" => "log.index.interval.bytes",
        "max.message.bytes" => "message.max.bytes",
        "message.timestamp.after.max.ms" => "log.message.timestamp.after.max.ms",
        "message.timestamp.before.max.ms" => "log.message.timestamp.before.max.ms",
        "message.timestamp.type" => "log.message.timestamp.type",
        "retention.bytes" => "log.retention.bytes",
        "retention.ms" => "log.retention.ms",
        "segment.bytes" => "log.segment.bytes",
        "segment.index.bytes" => "log.index.size.max.bytes",
        "segment.ms" => "log.roll.ms",
        "min.cleanable.dirty.ratio" => "log.cleaner.min.cleanable.ratio",
        "min.compaction.lag.ms" => "log.cleaner.min.compaction.lag.ms",
        "max.compaction.lag.ms" => "log.cleaner.max.compaction.lag.ms",
        "delete.retention.ms" => "log.cleaner.delete.retention.ms",
        _ => return None,
    })
}

/// `DescribeConfigsResponse.ConfigType` of a key: BOOLEAN 1, STRING 2, INT 3, LONG 5,
/// DOUBLE 6, LIST 7.
pub fn config_type(key: &str) -> i8 {
    match key {
        "preallocate"
        | "unclean.leader.election.enable"
        | "remote.storage.enable"
        | "remote.log.copy.disable"
        | "remote.log.delete.on.disable"
        | "auto.create.topics.enable"
        | "delete.topic.enable"
        | "strom.ephemeral"
        | "log.cleaner.enable" => 1,
        "cleanup.policy"
        | "leader.replication.throttled.replicas"
        | "follower.replication.throttled.replicas"
        | "listeners"
        | "advertised.listeners"
        | "log.dirs"
        | "log.cleanup.policy" => 7,
        "compression.type"
        | "message.timestamp.type"
        | "log.message.timestamp.type"
        | "log.dir" => 2,
        "min.cleanable.dirty.ratio" | "log.cleaner.min.cleanable.ratio" => 6,
        "compression.gzip.level"
        | "compression.lz4.level"
        | "compression.zstd.level"
        | "index.interval.bytes"
        | "max.message.bytes"
        | "min.insync.replicas"
        | "segment.bytes"
        | "segment.index.bytes"
        | "node.id"
        | "broker.id"
        | "num.partitions"
        | "message.max.bytes"
        | "log.segment.bytes"
        | "log.index.interval.bytes"
        | "log.index.size.max.bytes"
        | "socket.request.max.bytes"
        | "socket.send.buffer.bytes"
        | "socket.receive.buffer.bytes"
        | "max.connections"
        | "log.retention.minutes"
        | "log.retention.hours"
        | "log.roll.hours"
        | "group.min.session.timeout.ms"
        | "group.max.session.timeout.ms"
        | "group.initial.rebalance.delay.ms"
        | "group.coordinator.append.linger.ms"
        | "group.max.size"
        | "offsets.retention.minutes"
        | "offsets.topic.num.partitions"
        | "offset.metadata.max.bytes"
        | "fetch.max.bytes" => 3,
        "default.replication.factor" => 4,
        _ => 5,
    }
}

pub struct ConfigEntry {
    pub name: &'static str,
    pub value: String,
    pub source: i8,
}

/// Kafka 4.x defaults of the keys the log does not model.
fn kafka_default(key: &str) -> &'static str {
    match key {
        "compression.gzip.level" => "-1",
        "compression.lz4.level" => "9",
        "compression.type" => "producer",
        "compression.zstd.level" => "3",
        "delete.retention.ms" => "86400000",
        "file.delete.delay.ms" => "60000",
        "local.retention.bytes" | "local.retention.ms" => "-2",
        "max.compaction.lag.ms" => "9223372036854775807",
        "min.cleanable.dirty.ratio" => "0.5",
        "min.compaction.lag.ms" | "segment.jitter.ms" => "0",
        "min.insync.replicas" => "1",
        "preallocate"
        | "remote.log.copy.disable"
        | "remote.log.delete.on.disable"
        | "remote.storage.enable"
        | "unclean.leader.election.enable" => "false",
        _ => "",
    }
}

fn modelled(key: &str, c: &LogConfig) -> Option<String> {
    Some(match key {
        "cleanup.policy" => c.cleanup_policy.clone(),
        "flush.messages" => c.flush_messages.to_string(),
        "flush.ms" => c.flush_ms.to_string(),
        "index.interval.bytes" => c.index_interval_bytes.to_string(),
        "max.message.bytes" => c.max_message_bytes.to_string(),
        "message.timestamp.after.max.ms" => c.timestamp_after_max_ms.to_string(),
        "message.timestamp.before.max.ms" => c.timestamp_before_max_ms.to_string(),
        "message.timestamp.type" => match c.timestamp_type {
            TimestampType::CreateTime => "CreateTime".into(),
            TimestampType::LogAppendTime => "LogAppendTime".into(),
        },
        "retention.bytes" => c.retention_bytes.to_string(),
        "retention.ms" => c.retention_ms.to_string(),
        "segment.bytes" => c.segment_bytes.to_string(),
        "segment.index.bytes" => c.segment_index_bytes.to_string(),
        "segment.ms" => c.segment_ms.to_string(),
        "min.cleanable.dirty.ratio" => c.min_cleanable_dirty_ratio.to_string(),
        "min.compaction.lag.ms" => c.min_compaction_lag_ms.to_string(),
        "max.compaction.lag.ms" => c.max_compaction_lag_ms.to_string(),
        "delete.retention.ms" => c.delete_retention_ms.to_string(),
        _ => return None,
    })
}

/// Every topic config key, with overrides marked as topic configs.
pub fn entries(defaults: &LogConfig, overrides: &BTreeMap<String, String>) -> Vec<ConfigEntry> {
    TOPIC_CONFIG_KEYS
        .iter()
        .map(|&name| match overrides.get(name) {
            Some(v) => ConfigEntry {
                name,
                value: v.clone(),
                source: SOURCE_TOPIC_CONFIG,
            },
            None => {
                let (value, source) = default_value(name, defaults);
                ConfigEntry {
                    name,
                    value,
                    source,
                }
            }
        })
        .collect()
}

/// The value of a topic key without overrides, and whether it comes from the broker's own
/// config (rather than Kafka's default).
pub fn default_value(name: &str, defaults: &LogConfig) -> (String, i8) {
    let kafka =
        modelled(name, &LogConfig::default()).unwrap_or_else(|| kafka_default(name).to_string());
    match modelled(name, defaults) {
        Some(v) if v != kafka => (v, SOURCE_STATIC_BROKER_CONFIG),
        Some(v) => (v, SOURCE_DEFAULT_CONFIG),
        None => (kafka, SOURCE_DEFAULT_CONFIG),
    }
}
