//! The effective configuration of a topic as Kafka reports it: every topic-level key with its
//! value and where the value comes from. Shared by CreateTopics (v5+) and DescribeConfigs.

use std::collections::BTreeMap;

use strom_storage::config::TOPIC_CONFIG_KEYS;
use strom_storage::{LogConfig, TimestampType};

/// Kafka's `DescribeConfigsResponse.ConfigSource` values used here.
pub const SOURCE_TOPIC_CONFIG: i8 = 1;
pub const SOURCE_DEFAULT_CONFIG: i8 = 5;

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
            None => ConfigEntry {
                name,
                value: modelled(name, defaults).unwrap_or_else(|| kafka_default(name).to_string()),
                source: SOURCE_DEFAULT_CONFIG,
            },
        })
        .collect()
}
