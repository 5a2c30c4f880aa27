//! Dynamic broker configs and group configs: which keys may be changed at runtime
//! (IncrementalAlterConfigs/AlterConfigs on BROKER and GROUP resources), how their values are
//! checked, and how broker-level log defaults reach the topics.
//!
//! Broker keys that are defaults of topic configs (`log.retention.ms`, `log.cleanup.policy`,
//! `message.max.bytes` …) take effect at once on every topic without its own override. The
//! other keys Kafka lets operators change at runtime (thread counts, connection quotas,
//! SASL/SSL listener settings) are validated, stored durably and reported by DescribeConfigs
//! as `DYNAMIC_BROKER_CONFIG`, but this broker has no component they tune yet.
//!
//! Group configs (KIP-848 `consumer.*`, KIP-932 `share.*`, KIP-1071 `streams.*`) are
//! validated against Kafka's ranges and stored; the classic protocol this broker serves does
//! not read them.

use std::collections::BTreeMap;

use strom_storage::config::TOPIC_CONFIG_KEYS;
use strom_storage::LogConfig;

use crate::api::config::topic_configs::broker_synonym;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Double,
    Bool,
    Text,
}

/// Broker keys that can be changed at runtime, as in Kafka's `DynamicBrokerConfig`.
const DYNAMIC_BROKER_KEYS: &[(&str, Kind)] = &[
    ("background.threads", Kind::Int),
    ("compression.type", Kind::Text),
    ("log.cleaner.backoff.ms", Kind::Int),
    ("log.cleaner.dedupe.buffer.size", Kind::Int),
    ("log.cleaner.delete.retention.ms", Kind::Int),
    ("log.cleaner.io.buffer.load.factor", Kind::Double),
    ("log.cleaner.io.buffer.size", Kind::Int),
    ("log.cleaner.io.max.bytes.per.second", Kind::Double),
    ("log.cleaner.max.compaction.lag.ms", Kind::Int),
    ("log.cleaner.min.cleanable.ratio", Kind::Double),
    ("log.cleaner.min.compaction.lag.ms", Kind::Int),
    ("log.cleaner.threads", Kind::Int),
    ("log.cleanup.policy", Kind::Text),
    ("log.flush.interval.messages", Kind::Int),
    ("log.flush.interval.ms", Kind::Int),
    ("log.index.interval.bytes", Kind::Int),
    ("log.index.size.max.bytes", Kind::Int),
    ("log.message.timestamp.after.max.ms", Kind::Int),
    ("log.message.timestamp.before.max.ms", Kind::Int),
    ("log.message.timestamp.type", Kind::Text),
    ("log.preallocate", Kind::Bool),
    ("log.retention.bytes", Kind::Int),
    ("log.retention.ms", Kind::Int),
    ("log.roll.jitter.ms", Kind::Int),
    ("log.roll.ms", Kind::Int),
    ("log.segment.bytes", Kind::Int),
    ("log.segment.delete.delay.ms", Kind::Int),
    ("max.connection.creation.rate", Kind::Int),
    ("max.connections", Kind::Int),
    ("max.connections.per.ip", Kind::Int),
    ("max.connections.per.ip.overrides", Kind::Text),
    ("message.max.bytes", Kind::Int),
    ("metric.reporters", Kind::Text),
    ("min.insync.replicas", Kind::Int),
    ("num.io.threads", Kind::Int),
    ("num.network.threads", Kind::Int),
    ("num.recovery.threads.per.data.dir", Kind::Int),
    ("num.replica.fetchers", Kind::Int),
    ("sasl.enabled.mechanisms", Kind::Text),
    ("sasl.kerberos.kinit.cmd", Kind::Text),
    ("sasl.kerberos.min.time.before.relogin", Kind::Int),
    ("sasl.kerberos.principal.to.local.rules", Kind::Text),
    ("sasl.kerberos.service.name", Kind::Text),
    ("sasl.kerberos.ticket.renew.jitter", Kind::Double),
    ("sasl.kerberos.ticket.renew.window.factor", Kind::Double),
    ("ssl.cipher.suites", Kind::Text),
    ("ssl.enabled.protocols", Kind::Text),
    ("ssl.keystore.location", Kind::Text),
    ("ssl.keystore.type", Kind::Text),
    ("ssl.truststore.location", Kind::Text),
    ("ssl.truststore.type", Kind::Text),
    ("unclean.leader.election.enable", Kind::Bool),
];

/// Broker keys whose values are comma-separated lists (APPEND/SUBTRACT apply).
pub const BROKER_LIST_KEYS: &[&str] = &[
    "log.cleanup.policy",
    "metric.reporters",
    "sasl.enabled.mechanisms",
    "ssl.cipher.suites",
    "ssl.enabled.protocols",
];

/// The topic key a dynamic broker key is the default of: the inverse of the synonyms
/// DescribeConfigs reports, plus keys whose broker name Kafka lists without a synonym.
fn topic_key_of(broker_key: &str) -> Option<&'static str> {
    if let Some(topic_key) = TOPIC_CONFIG_KEYS
        .iter()
        .find(|k| broker_synonym(k) == Some(broker_key))
    {
        return Some(topic_key);
    }
    Some(match broker_key {
        "compression.type" => "compression.type",
        "log.preallocate" => "preallocate",
        "min.insync.replicas" => "min.insync.replicas",
        "unclean.leader.election.enable" => "unclean.leader.election.enable",
        "log.segment.delete.delay.ms" => "file.delete.delay.ms",
        "log.roll.jitter.ms" => "segment.jitter.ms",
        _ => return None,
    })
}

pub fn is_dynamic_broker_key(key: &str) -> bool {
    DYNAMIC_BROKER_KEYS.iter().any(|(k, _)| *k == key)
}

/// Checks one dynamic broker value.
pub fn validate_broker_value(key: &str, value: &str) -> Result<(), String> {
    let Some((_, kind)) = DYNAMIC_BROKER_KEYS.iter().find(|(k, _)| *k == key) else {
        return Err(format!(
            "{key} cannot be updated dynamically; set it in strom.toml or with --set and restart"
        ));
    };
    if let Some(topic_key) = topic_key_of(key) {
        return LogConfig::default()
            .apply(topic_key, value)
            .map_err(|e| e.to_string());
    }
    let ok = match kind {
        Kind::Int => value.trim().parse::<i64>().is_ok_and(|v| v >= 0),
        Kind::Double => value.trim().parse::<f64>().is_ok_and(|v| v >= 0.0),
        Kind::Bool => value == "true" || value == "false",
        Kind::Text => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("invalid value {value} for {key}"))
    }
}

/// The topic defaults under the dynamic broker configs: the cluster default entity first,
/// then this broker's own entity.
pub fn log_defaults(
    static_defaults: &LogConfig,
    cluster_default: Option<&BTreeMap<String, String>>,
    this_broker: Option<&BTreeMap<String, String>>,
) -> Result<LogConfig, String> {
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    for layer in [cluster_default, this_broker].into_iter().flatten() {
        for (k, v) in layer {
            if let Some(topic_key) = topic_key_of(k) {
                merged.insert(topic_key.to_string(), v.clone());
            }
        }
    }
    static_defaults
        .with_overrides(&merged)
        .map_err(|e| e.to_string())
}

/// Kafka 4.x group configs: key, default, and the accepted range or values.
const GROUP_CONFIGS: &[(&str, &str, GroupRange)] = &[
    (
        "consumer.heartbeat.interval.ms",
        "5000",
        GroupRange::Int(5000, 15000),
    ),
    (
        "consumer.session.timeout.ms",
        "45000",
        GroupRange::Int(45000, 60000),
    ),
    ("share.auto.offset.reset", "latest", GroupRange::ResetPolicy),
    (
        "share.heartbeat.interval.ms",
        "5000",
        GroupRange::Int(5000, 15000),
    ),
    (
        "share.isolation.level",
        "read_uncommitted",
        GroupRange::OneOf(&["read_committed", "read_uncommitted"]),
    ),
    (
        "share.record.lock.duration.ms",
        "30000",
        GroupRange::Int(15000, 60000),
    ),
    (
        "share.session.timeout.ms",
        "45000",
        GroupRange::Int(45000, 60000),
    ),
    (
        "streams.heartbeat.interval.ms",
        "5000",
        GroupRange::Int(5000, 15000),
    ),
    ("streams.num.standby.replicas", "0", GroupRange::Int(0, 2)),
    (
        "streams.session.timeout.ms",
        "45000",
        GroupRange::Int(45000, 60000),
    ),
];

#[derive(Clone, Copy)]
enum GroupRange {
    Int(i64, i64),
    OneOf(&'static [&'static str]),
    ResetPolicy,
}

/// Every group config key with its Kafka default.
pub fn group_defaults() -> impl Iterator<Item = (&'static str, &'static str)> {
    GROUP_CONFIGS.iter().map(|(k, d, _)| (*k, *d))
}

pub fn validate_group_value(key: &str, value: &str) -> Result<(), String> {
    let Some((_, _, range)) = GROUP_CONFIGS.iter().find(|(k, _, _)| *k == key) else {
        return Err(format!("unknown group config {key}"));
    };
    let ok = match range {
        GroupRange::Int(lo, hi) => value
            .trim()
            .parse::<i64>()
            .is_ok_and(|v| (*lo..=*hi).contains(&v)),
        GroupRange::OneOf(values) => values.contains(&value),
        GroupRange::ResetPolicy => {
            value == "latest" || value == "earliest" || value.starts_with("by_duration:P")
        }
    };
    if ok {
        Ok(())
    } else {
        let expected = match range {
            GroupRange::Int(lo, hi) => format!("an integer in [{lo}, {hi}]"),
            GroupRange::OneOf(values) => values.join(" or "),
            GroupRange::ResetPolicy => "latest, earliest or by_duration:<ISO-8601 duration>".into(),
        };
        Err(format!(
            "invalid value {value} for {key}: expected {expected}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_log_keys_become_topic_defaults_in_entity_order() {
        let cluster: BTreeMap<String, String> =
            [("log.retention.ms".to_string(), "1000".to_string())].into();
        let broker: BTreeMap<String, String> = [
            ("log.retention.ms".to_string(), "2000".to_string()),
            ("log.cleanup.policy".to_string(), "compact".to_string()),
            ("background.threads".to_string(), "9".to_string()),
        ]
        .into();
        let d = log_defaults(&LogConfig::default(), Some(&cluster), Some(&broker)).unwrap();
        assert_eq!(d.retention_ms, 2000);
        assert_eq!(d.cleanup_policy, "compact");
        let d = log_defaults(&LogConfig::default(), Some(&cluster), None).unwrap();
        assert_eq!(d.retention_ms, 1000);
    }

    #[test]
    fn values_are_checked() {
        assert!(validate_broker_value("background.threads", "9").is_ok());
        assert!(validate_broker_value("background.threads", "nine").is_err());
        assert!(validate_broker_value("log.cleanup.policy", "compact,delete").is_ok());
        assert!(validate_broker_value("log.cleanup.policy", "forever").is_err());
        assert!(validate_broker_value("node.id", "2").is_err());
        assert!(validate_group_value("consumer.session.timeout.ms", "50000").is_ok());
        assert!(validate_group_value("consumer.session.timeout.ms", "5000").is_err());
        assert!(validate_group_value("share.isolation.level", "read_committed").is_ok());
        assert!(validate_group_value("no.such", "1").is_err());
    }
}
