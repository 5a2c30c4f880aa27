//! DescribeConfigs (API key 32, v0–v4): every config of a topic, of this broker or of a
//! group, with its value, source (topic override, dynamic broker config, static broker
//! config, group config, Kafka default), read-only and sensitive flags, synonyms (v1+, when
//! asked), type and documentation (v3+, when asked).
//! `configuration_keys` narrows the answer; unknown keys are left out, as Kafka does.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use strom_codec::kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use strom_codec::kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use strom_codec::ErrorCode;

use super::topic_configs::{
    self, SOURCE_DEFAULT_CONFIG, SOURCE_DYNAMIC_BROKER_CONFIG,
    SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG, SOURCE_GROUP_CONFIG, SOURCE_STATIC_BROKER_CONFIG,
    SOURCE_TOPIC_CONFIG,
};
use crate::api::text::str_bytes;
use crate::config::broker_keys::{broker_key, BrokerEffect, BROKER_KEYS};
use crate::config::group_keys::GROUP_KEYS;
use crate::config::Config;
use crate::context::RequestContext;
use strom_cluster::image::MetadataImage;
use strom_cluster::records::{
    CONFIG_BROKER as RESOURCE_BROKER, CONFIG_GROUP as RESOURCE_GROUP,
    CONFIG_TOPIC as RESOURCE_TOPIC,
};

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=4;

pub type Dynamic = BTreeMap<String, BTreeMap<String, String>>;

/// A broker key Kafka leaves null at its default (`BrokerKey::null_in_kafka`), at its
/// default: described with a null value and not listed as a synonym.
fn null_default(name: &str, source: i8) -> bool {
    source == SOURCE_DEFAULT_CONFIG && broker_key(name).is_some_and(|k| k.null_in_kafka)
}

struct Entry {
    name: String,
    value: String,
    source: i8,
    read_only: bool,
    synonyms: Vec<(String, String, i8)>,
}

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let version = ctx.version;
    let state = &ctx.state;
    let node = state.config.node_id.to_string();
    let image = state.metadata.image();
    let dynamic = dynamic_broker_configs(&image);
    let results = request
        .resources
        .into_iter()
        .map(|r| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let name = r.resource_name.as_str();
            let entries = match r.resource_type {
                RESOURCE_TOPIC if strom_cluster::controller::validate_topic_name(name).is_err() => {
                    Err((
                        ErrorCode::InvalidTopicException,
                        format!("'{name}' is not a valid topic name"),
                    ))
                }
                RESOURCE_TOPIC => match image.topics.get(name) {
                    Some(_) => Ok(topic_entries(
                        &state.config,
                        &state.topics.defaults(),
                        &image.configs_of(RESOURCE_TOPIC, name),
                        &dynamic,
                        &node,
                    )),
                    None => Err((
                        ErrorCode::UnknownTopicOrPartition,
                        format!("topic '{name}' does not exist"),
                    )),
                },
                RESOURCE_BROKER if name.is_empty() => Ok(cluster_default_entries(&dynamic)),
                RESOURCE_BROKER if name == node => {
                    Ok(broker_entries(&state.config, &dynamic, &node))
                }
                RESOURCE_BROKER => Err((
                    ErrorCode::InvalidRequest,
                    format!("unexpected broker id {name}"),
                )),
                RESOURCE_GROUP if name.is_empty() => Err((
                    ErrorCode::InvalidRequest,
                    "group name must not be empty".to_string(),
                )),
                RESOURCE_GROUP => Ok(group_entries(
                    image.configs.get(&(RESOURCE_GROUP, name.to_string())),
                )),
                other => Err((
                    ErrorCode::InvalidRequest,
                    format!("resource type {other} is not supported"),
                )),
            };
            let entries = match entries {
                Ok(e) => e,
                Err((code, message)) => {
                    return result
                        .with_error_code(code.code())
                        .with_error_message(Some(str_bytes(message)))
                }
            };
            let wanted: Option<Vec<String>> = r
                .configuration_keys
                .map(|keys| keys.iter().map(|k| k.as_str().to_string()).collect());
            let configs = entries
                .into_iter()
                .filter(|e| wanted.as_ref().is_none_or(|w| w.contains(&e.name)))
                .map(|e| {
                    let synonyms = if request.include_synonyms {
                        e.synonyms
                            .iter()
                            .filter(|(n, _, s)| !null_default(n, *s))
                            .map(|(n, v, s)| {
                                DescribeConfigsSynonym::default()
                                    .with_name(str_bytes(n.clone()))
                                    .with_value(Some(str_bytes(v.clone())))
                                    .with_source(*s)
                            })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    let documentation =
                        (version >= 3 && request.include_documentation).then(|| {
                            str_bytes(format!(
                                "Kafka config `{}`; see the Apache Kafka documentation.",
                                e.name
                            ))
                        });
                    let value = (!null_default(&e.name, e.source)).then(|| str_bytes(e.value));
                    DescribeConfigsResourceResult::default()
                        .with_config_type(topic_configs::config_type(&e.name))
                        .with_name(str_bytes(e.name))
                        .with_value(value)
                        .with_read_only(e.read_only)
                        .with_config_source(e.source)
                        // v0 has no source, only whether the value is the default.
                        .with_is_default(version == 0 && e.source == SOURCE_DEFAULT_CONFIG)
                        .with_is_sensitive(false)
                        .with_synonyms(synonyms)
                        .with_documentation(documentation)
                })
                .collect();
            result.with_configs(configs)
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// The image's dynamic broker configs by entity (`""`: the cluster default, else a node id).
pub fn dynamic_broker_configs(image: &MetadataImage) -> Dynamic {
    image
        .configs
        .iter()
        .filter(|((resource_type, _), _)| *resource_type == RESOURCE_BROKER)
        .map(|((_, name), configs)| (name.clone(), configs.clone()))
        .collect()
}

/// The dynamic broker value of `broker_key`, if any: this broker's entity first, then the
/// cluster default.
fn dynamic_value(dynamic: &Dynamic, node: &str, broker_key: &str) -> Option<(String, i8)> {
    if let Some(v) = dynamic.get(node).and_then(|m| m.get(broker_key)) {
        return Some((v.clone(), SOURCE_DYNAMIC_BROKER_CONFIG));
    }
    dynamic
        .get("")
        .and_then(|m| m.get(broker_key))
        .map(|v| (v.clone(), SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG))
}

/// A broker key's value where a topic falls back to it: its dynamic value; for a key the log
/// does not act on, its static value too (those of the log's keys are in the log defaults).
pub fn broker_value(
    config: &Config,
    dynamic: &Dynamic,
    node: &str,
    key: &str,
) -> Option<(String, i8)> {
    if let Some(found) = dynamic_value(dynamic, node, key) {
        return Some(found);
    }
    let BrokerEffect::Stored { default } = broker_key(key)?.effect else {
        return None;
    };
    let value = config.value_of(key)?;
    let source = if value == default {
        SOURCE_DEFAULT_CONFIG
    } else {
        SOURCE_STATIC_BROKER_CONFIG
    };
    Some((value, source))
}

fn topic_entries(
    config: &Config,
    defaults: &strom_storage::LogConfig,
    overrides: &BTreeMap<String, String>,
    dynamic: &Dynamic,
    node: &str,
) -> Vec<Entry> {
    let fallback = |key: &str| broker_value(config, dynamic, node, key);
    topic_configs::entries(defaults, overrides, &fallback)
        .into_iter()
        .map(|e| {
            let mut synonyms = Vec::new();
            if e.source == SOURCE_TOPIC_CONFIG {
                synonyms.push((e.key.name.to_string(), e.value.clone(), SOURCE_TOPIC_CONFIG));
            }
            if let Some(broker_key) = e.key.broker_key {
                for (entity, s) in [
                    (node, SOURCE_DYNAMIC_BROKER_CONFIG),
                    ("", SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG),
                ] {
                    if let Some(v) = dynamic.get(entity).and_then(|m| m.get(broker_key)) {
                        synonyms.push((broker_key.to_string(), v.clone(), s));
                    }
                }
                if synonyms.iter().all(|(k, _, _)| k != broker_key) {
                    let (value, s) = topic_configs::default_value(e.key, &config.log, &|_| None);
                    synonyms.push((broker_key.to_string(), value, s));
                }
            }
            Entry {
                name: e.key.name.to_string(),
                value: e.value,
                source: e.source,
                read_only: false,
                synonyms,
            }
        })
        .collect()
}

fn broker_entries(config: &Config, dynamic: &Dynamic, node: &str) -> Vec<Entry> {
    let defaults = Config::default();
    BROKER_KEYS
        .iter()
        .filter_map(|k| {
            let value = config.value_of(k.name)?;
            let static_source = if defaults.value_of(k.name).as_ref() == Some(&value) {
                SOURCE_DEFAULT_CONFIG
            } else {
                SOURCE_STATIC_BROKER_CONFIG
            };
            let mut synonyms = Vec::new();
            for (entity, s) in [
                (node, SOURCE_DYNAMIC_BROKER_CONFIG),
                ("", SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG),
            ] {
                if let Some(v) = dynamic.get(entity).and_then(|m| m.get(k.name)) {
                    synonyms.push((k.name.to_string(), v.clone(), s));
                }
            }
            synonyms.push((k.name.to_string(), value.clone(), static_source));
            let (value, source) = synonyms
                .first()
                .map(|(_, v, s)| (v.clone(), *s))
                .unwrap_or((value, static_source));
            Some(Entry {
                name: k.name.to_string(),
                synonyms,
                value,
                source,
                read_only: !k.dynamic,
            })
        })
        .collect()
}

/// The cluster-wide default entity (broker resource with an empty name): its dynamic configs.
fn cluster_default_entries(dynamic: &Dynamic) -> Vec<Entry> {
    dynamic
        .get("")
        .into_iter()
        .flatten()
        .map(|(k, v)| Entry {
            name: k.clone(),
            value: v.clone(),
            source: SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG,
            read_only: false,
            synonyms: vec![(k.clone(), v.clone(), SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG)],
        })
        .collect()
}

/// Every group config, with the group's overrides (a group need not exist, as in Kafka).
fn group_entries(overrides: Option<&BTreeMap<String, String>>) -> Vec<Entry> {
    GROUP_KEYS
        .iter()
        .map(|k| {
            let (value, source) = match overrides.and_then(|o| o.get(k.name)) {
                Some(v) => (v.clone(), SOURCE_GROUP_CONFIG),
                None => (k.default.to_string(), SOURCE_DEFAULT_CONFIG),
            };
            Entry {
                name: k.name.to_string(),
                synonyms: vec![(k.name.to_string(), value.clone(), source)],
                value,
                source,
                read_only: false,
            }
        })
        .collect()
}
