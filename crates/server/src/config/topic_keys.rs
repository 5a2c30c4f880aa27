//! Every topic-level config key Kafka 4.x knows, with its type, check, the broker key it
//! falls back to (Kafka's synonym) and, for the keys the log acts on, how it reaches the
//! log's [`LogConfig`]. Keys outside this table are refused with INVALID_CONFIG, as Kafka
//! refuses them; keys inside it that the log does not act on are checked, stored and
//! reported back.

use std::collections::BTreeMap;

use strom_storage::limits::{
    BATCH_BYTES_MAX, INDEX_BYTES_MAX, SEGMENT_BYTES_MAX, SEGMENT_BYTES_MIN,
};
use strom_storage::{LogConfig, TimestampType};

use super::parse::{bool_value, double_in, long_at_least, long_in, one_of};
use super::Type;

/// How a topic key reaches the log.
#[derive(Clone, Copy)]
pub enum Effect {
    /// The log acts on it.
    Log {
        set: fn(&mut LogConfig, &str) -> Result<(), String>,
        get: fn(&LogConfig) -> String,
    },
    /// Checked and stored; the log does not act on it (replication, tiered storage,
    /// recompression). `default` is Kafka's.
    Stored {
        check: fn(&str) -> Result<(), String>,
        default: &'static str,
    },
}

pub struct TopicKey {
    pub name: &'static str,
    pub ty: Type,
    /// The broker key whose value a topic without an override gets (Kafka's synonym).
    pub broker_key: Option<&'static str>,
    pub effect: Effect,
}

impl TopicKey {
    /// Checks `value` (by parsing it into a scratch config for the keys the log acts on).
    ///
    /// # Errors
    /// The value is not valid for the key.
    pub fn check(&self, value: &str) -> Result<(), String> {
        match self.effect {
            Effect::Log { set, .. } => set(&mut LogConfig::default(), value),
            Effect::Stored { check, .. } => check(value),
        }
    }

    /// The key's value in `config` (a topic's effective config), or Kafka's default for
    /// keys the log does not act on.
    pub fn value(&self, config: &LogConfig) -> String {
        match self.effect {
            Effect::Log { get, .. } => get(config),
            Effect::Stored { default, .. } => default.to_string(),
        }
    }

    /// Whether APPEND and SUBTRACT apply.
    pub fn is_list(&self) -> bool {
        self.ty == Type::List
    }
}

fn u64_in(v: &str, min: u64, max: u64) -> Result<u64, String> {
    let n = long_in(
        v,
        i64::try_from(min).unwrap_or(0),
        i64::try_from(max).unwrap_or(i64::MAX),
    )?;
    u64::try_from(n).map_err(|_| format!("must be between {min} and {max}"))
}

fn u32_in(v: &str, min: u32, max: u32) -> Result<u32, String> {
    let n = long_in(v, i64::from(min), i64::from(max))?;
    u32::try_from(n).map_err(|_| format!("must be between {min} and {max}"))
}

fn timestamp_type_name(t: TimestampType) -> String {
    match t {
        TimestampType::CreateTime => "CreateTime".into(),
        TimestampType::LogAppendTime => "LogAppendTime".into(),
    }
}

fn cleanup_policy(v: &str) -> Result<String, String> {
    let mut parts: Vec<&str> = v.split(',').map(str::trim).collect();
    parts.sort_unstable();
    parts.dedup();
    if parts.is_empty() || parts.iter().any(|p| *p != "delete" && *p != "compact") {
        return Err("must be a list of delete and compact".into());
    }
    Ok(parts.join(","))
}

fn any_list(_: &str) -> Result<(), String> {
    Ok(())
}

fn compression_type(v: &str) -> Result<(), String> {
    one_of(
        v,
        &["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"],
    )
}

macro_rules! log_key {
    ($name:literal, $ty:ident, $broker:expr, |$c:ident, $v:ident| $set:expr, |$g:ident| $get:expr) => {
        TopicKey {
            name: $name,
            ty: Type::$ty,
            broker_key: $broker,
            effect: Effect::Log {
                set: |$c: &mut LogConfig, $v: &str| -> Result<(), String> {
                    $set;
                    Ok(())
                },
                get: |$g: &LogConfig| -> String { $get },
            },
        }
    };
}

macro_rules! stored_key {
    ($name:literal, $ty:ident, $broker:expr, $check:expr, $default:literal) => {
        TopicKey {
            name: $name,
            ty: Type::$ty,
            broker_key: $broker,
            effect: Effect::Stored {
                check: $check,
                default: $default,
            },
        }
    };
}

/// The table, in Kafka's alphabetical order.
pub static TOPIC_KEYS: &[TopicKey] = &[
    log_key!(
        "cleanup.policy",
        List,
        Some("log.cleanup.policy"),
        |c, v| c.cleanup_policy = cleanup_policy(v)?,
        |c| c.cleanup_policy.clone()
    ),
    stored_key!(
        "compression.gzip.level",
        Int,
        None,
        |v| long_in(v, -1, 9).map(drop),
        "-1"
    ),
    stored_key!(
        "compression.lz4.level",
        Int,
        None,
        |v| long_in(v, 1, 17).map(drop),
        "9"
    ),
    stored_key!(
        "compression.type",
        String,
        Some("compression.type"),
        compression_type,
        "producer"
    ),
    stored_key!(
        "compression.zstd.level",
        Int,
        None,
        |v| long_in(v, -131_072, 22).map(drop),
        "3"
    ),
    log_key!(
        "delete.retention.ms",
        Long,
        Some("log.cleaner.delete.retention.ms"),
        |c, v| c.delete_retention_ms = long_at_least(v, 0)?,
        |c| c.delete_retention_ms.to_string()
    ),
    stored_key!(
        "file.delete.delay.ms",
        Long,
        Some("log.segment.delete.delay.ms"),
        |v| long_at_least(v, 0).map(drop),
        "60000"
    ),
    log_key!(
        "flush.messages",
        Long,
        Some("log.flush.interval.messages"),
        |c, v| c.flush_messages = long_at_least(v, 1)?,
        |c| c.flush_messages.to_string()
    ),
    log_key!(
        "flush.ms",
        Long,
        Some("log.flush.interval.ms"),
        |c, v| c.flush_ms = long_at_least(v, 0)?,
        |c| c.flush_ms.to_string()
    ),
    stored_key!(
        "follower.replication.throttled.replicas",
        List,
        None,
        any_list,
        ""
    ),
    log_key!(
        "index.interval.bytes",
        Int,
        Some("log.index.interval.bytes"),
        |c, v| c.index_interval_bytes = u32_in(v, 0, i32::MAX.unsigned_abs())?,
        |c| c.index_interval_bytes.to_string()
    ),
    stored_key!(
        "leader.replication.throttled.replicas",
        List,
        None,
        any_list,
        ""
    ),
    stored_key!(
        "local.retention.bytes",
        Long,
        None,
        |v| long_at_least(v, -2).map(drop),
        "-2"
    ),
    stored_key!(
        "local.retention.ms",
        Long,
        None,
        |v| long_at_least(v, -2).map(drop),
        "-2"
    ),
    log_key!(
        "max.compaction.lag.ms",
        Long,
        Some("log.cleaner.max.compaction.lag.ms"),
        |c, v| c.max_compaction_lag_ms = long_at_least(v, 1)?,
        |c| c.max_compaction_lag_ms.to_string()
    ),
    log_key!(
        "max.message.bytes",
        Int,
        Some("message.max.bytes"),
        |c, v| c.max_message_bytes = u32_in(v, 0, BATCH_BYTES_MAX)?,
        |c| c.max_message_bytes.to_string()
    ),
    log_key!(
        "message.timestamp.after.max.ms",
        Long,
        Some("log.message.timestamp.after.max.ms"),
        |c, v| c.timestamp_after_max_ms = long_at_least(v, 0)?,
        |c| c.timestamp_after_max_ms.to_string()
    ),
    log_key!(
        "message.timestamp.before.max.ms",
        Long,
        Some("log.message.timestamp.before.max.ms"),
        |c, v| c.timestamp_before_max_ms = long_at_least(v, 0)?,
        |c| c.timestamp_before_max_ms.to_string()
    ),
    log_key!(
        "message.timestamp.type",
        String,
        Some("log.message.timestamp.type"),
        |c, v| c.timestamp_type = match v {
            "CreateTime" => TimestampType::CreateTime,
            "LogAppendTime" => TimestampType::LogAppendTime,
            _ => return Err("must be CreateTime or LogAppendTime".into()),
        },
        |c| timestamp_type_name(c.timestamp_type)
    ),
    log_key!(
        "min.cleanable.dirty.ratio",
        Double,
        Some("log.cleaner.min.cleanable.ratio"),
        |c, v| c.min_cleanable_dirty_ratio = double_in(v, 0.0, 1.0)?,
        |c| c.min_cleanable_dirty_ratio.to_string()
    ),
    log_key!(
        "min.compaction.lag.ms",
        Long,
        Some("log.cleaner.min.compaction.lag.ms"),
        |c, v| c.min_compaction_lag_ms = long_at_least(v, 0)?,
        |c| c.min_compaction_lag_ms.to_string()
    ),
    stored_key!(
        "min.insync.replicas",
        Int,
        Some("min.insync.replicas"),
        |v| long_at_least(v, 1).map(drop),
        "1"
    ),
    stored_key!(
        "preallocate",
        Boolean,
        Some("log.preallocate"),
        |v| bool_value(v).map(drop),
        "false"
    ),
    stored_key!(
        "remote.log.copy.disable",
        Boolean,
        None,
        |v| bool_value(v).map(drop),
        "false"
    ),
    stored_key!(
        "remote.log.delete.on.disable",
        Boolean,
        None,
        |v| bool_value(v).map(drop),
        "false"
    ),
    stored_key!(
        "remote.storage.enable",
        Boolean,
        None,
        |v| bool_value(v).map(drop),
        "false"
    ),
    log_key!(
        "retention.bytes",
        Long,
        Some("log.retention.bytes"),
        |c, v| c.retention_bytes = long_at_least(v, -1)?,
        |c| c.retention_bytes.to_string()
    ),
    log_key!(
        "retention.ms",
        Long,
        Some("log.retention.ms"),
        |c, v| c.retention_ms = long_at_least(v, -1)?,
        |c| c.retention_ms.to_string()
    ),
    log_key!(
        "segment.bytes",
        Int,
        Some("log.segment.bytes"),
        |c, v| c.segment_bytes = u64_in(v, SEGMENT_BYTES_MIN, SEGMENT_BYTES_MAX)?,
        |c| c.segment_bytes.to_string()
    ),
    log_key!(
        "segment.index.bytes",
        Int,
        Some("log.index.size.max.bytes"),
        |c, v| c.segment_index_bytes =
            u32_in(v, 4, u32::try_from(INDEX_BYTES_MAX).unwrap_or(u32::MAX))?,
        |c| c.segment_index_bytes.to_string()
    ),
    stored_key!(
        "segment.jitter.ms",
        Long,
        Some("log.roll.jitter.ms"),
        |v| long_at_least(v, 0).map(drop),
        "0"
    ),
    log_key!(
        "segment.ms",
        Long,
        Some("log.roll.ms"),
        |c, v| c.segment_ms = long_at_least(v, 1)?,
        |c| c.segment_ms.to_string()
    ),
    stored_key!(
        "unclean.leader.election.enable",
        Boolean,
        Some("unclean.leader.election.enable"),
        |v| bool_value(v).map(drop),
        "false"
    ),
];

/// The topic key named `name`.
pub fn topic_key(name: &str) -> Option<&'static TopicKey> {
    TOPIC_KEYS.iter().find(|k| k.name == name)
}

/// The topic key whose broker synonym is `broker_key`.
pub fn topic_key_of_broker_key(broker_key: &str) -> Option<&'static TopicKey> {
    TOPIC_KEYS.iter().find(|k| k.broker_key == Some(broker_key))
}

/// A topic's effective log config: `overrides` (its own configs) on top of `defaults` (the
/// broker's), each checked.
///
/// # Errors
/// The first unknown key or bad value, named.
pub fn log_config(
    defaults: &LogConfig,
    overrides: &BTreeMap<String, String>,
) -> Result<LogConfig, String> {
    let mut config = defaults.clone();
    for (key, value) in overrides {
        let Some(k) = topic_key(key) else {
            return Err(format!("unknown topic config {key}"));
        };
        match k.effect {
            Effect::Log { set, .. } => set(&mut config, value),
            Effect::Stored { check, .. } => check(value),
        }
        .map_err(|reason| format!("invalid value {value} for {key}: {reason}"))?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_and_are_checked() {
        let overrides: BTreeMap<String, String> = [
            ("retention.ms".to_string(), "1000".to_string()),
            (
                "message.timestamp.type".to_string(),
                "LogAppendTime".to_string(),
            ),
            ("cleanup.policy".to_string(), "delete, compact".to_string()),
            ("compression.type".to_string(), "zstd".to_string()),
        ]
        .into();
        let c = log_config(&LogConfig::default(), &overrides).unwrap();
        assert_eq!(c.retention_ms, 1000);
        assert_eq!(c.timestamp_type, TimestampType::LogAppendTime);
        assert_eq!(c.cleanup_policy, "compact,delete");
        for (k, v) in [
            ("no.such.key", "1"),
            ("segment.bytes", "abc"),
            ("segment.bytes", "2147483648"),
            ("cleanup.policy", "forever"),
            ("compression.type", "brotli"),
            ("preallocate", "yes"),
            ("min.cleanable.dirty.ratio", "1.5"),
        ] {
            let bad: BTreeMap<String, String> = [(k.to_string(), v.to_string())].into();
            assert!(log_config(&LogConfig::default(), &bad).is_err(), "{k}={v}");
        }
    }

    #[test]
    fn the_table_is_sorted_unique_and_modelled_values_read_back() {
        for pair in TOPIC_KEYS.windows(2) {
            if let [a, b] = pair {
                assert!(a.name < b.name, "{} before {}", a.name, b.name);
            }
        }
        let defaults = LogConfig::default();
        for k in TOPIC_KEYS {
            let value = k.value(&defaults);
            assert!(
                k.check(&value).is_ok(),
                "{} default {value:?} passes its check",
                k.name
            );
        }
    }
}
