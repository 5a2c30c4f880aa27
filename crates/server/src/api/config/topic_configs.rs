//! The effective configuration of a topic as Kafka reports it: every topic key with its value
//! and where the value comes from, derived from [`crate::config::topic_keys`]. Shared by
//! CreateTopics (v5+) and DescribeConfigs.

use std::collections::BTreeMap;

use strom_storage::LogConfig;

use crate::config::topic_keys::{TopicKey, TOPIC_KEYS};
use crate::config::{broker_keys, group_keys, Type};

/// Kafka's `DescribeConfigsResponse.ConfigSource` values.
pub const SOURCE_TOPIC_CONFIG: i8 = 1;
pub const SOURCE_DYNAMIC_BROKER_CONFIG: i8 = 2;
pub const SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG: i8 = 3;
pub const SOURCE_STATIC_BROKER_CONFIG: i8 = 4;
pub const SOURCE_DEFAULT_CONFIG: i8 = 5;
pub const SOURCE_GROUP_CONFIG: i8 = 8;

/// `DescribeConfigsResponse.ConfigType` of a key of any table (STRING for one none knows).
pub fn config_type(key: &str) -> i8 {
    broker_keys::broker_key(key)
        .map(|k| k.ty)
        .or_else(|| crate::config::topic_keys::topic_key(key).map(|k| k.ty))
        .or_else(|| {
            group_keys::GROUP_KEYS
                .iter()
                .find(|k| k.name == key)
                .map(|k| k.ty)
        })
        .unwrap_or(Type::String)
        .code()
}

pub struct ConfigEntry {
    pub key: &'static TopicKey,
    pub value: String,
    pub source: i8,
}

/// The value a topic key has without an override, and its source: for a key the log acts
/// on, the broker's default in `defaults` (static when it differs from Kafka's); for the
/// others, `broker_value` of its broker synonym (dynamic or static, with its source) or
/// Kafka's default.
pub fn default_value(
    key: &TopicKey,
    defaults: &LogConfig,
    broker_value: &dyn Fn(&str) -> Option<(String, i8)>,
) -> (String, i8) {
    if let Some((value, source)) = key.broker_key.and_then(broker_value) {
        return (value, source);
    }
    let kafka = key.value(&LogConfig::default());
    let value = key.value(defaults);
    if value == kafka {
        (value, SOURCE_DEFAULT_CONFIG)
    } else {
        (value, SOURCE_STATIC_BROKER_CONFIG)
    }
}

/// Every topic key of a topic with `overrides`, over the broker's `defaults`.
pub fn entries(
    defaults: &LogConfig,
    overrides: &BTreeMap<String, String>,
    broker_value: &dyn Fn(&str) -> Option<(String, i8)>,
) -> Vec<ConfigEntry> {
    TOPIC_KEYS
        .iter()
        .map(|key| match overrides.get(key.name) {
            Some(v) => ConfigEntry {
                key,
                value: v.clone(),
                source: SOURCE_TOPIC_CONFIG,
            },
            None => {
                let (value, source) = default_value(key, defaults, broker_value);
                ConfigEntry { key, value, source }
            }
        })
        .collect()
}
