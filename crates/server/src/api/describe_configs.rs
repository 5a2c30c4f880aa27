//! DescribeConfigs (API key 32, v1–v4): every config of a topic or of this broker, with its
//! value, source (topic override, static broker config, Kafka default), read-only and
//! sensitive flags, synonyms (v1+, when asked), type and documentation (v3+, when asked).
//! `configuration_keys` narrows the answer; unknown keys are left out, as Kafka does.

use std::collections::BTreeMap;

use strom_codec::kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use strom_codec::kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use strom_codec::ErrorCode;

use super::incremental_alter_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use super::str_bytes;
use super::topic_configs::{
    self, SOURCE_DEFAULT_CONFIG, SOURCE_STATIC_BROKER_CONFIG, SOURCE_TOPIC_CONFIG,
};
use crate::config::Config;
use crate::connection::ConnectionContext;

struct Entry {
    name: String,
    value: String,
    source: i8,
    read_only: bool,
    synonyms: Vec<(String, String, i8)>,
}

pub fn handle(
    ctx: &ConnectionContext,
    version: i16,
    request: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let state = &ctx.state;
    let results = request
        .resources
        .into_iter()
        .map(|r| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let name = r.resource_name.as_str();
            let entries = match r.resource_type {
                RESOURCE_TOPIC => match state.topics.get(name) {
                    Some(topic) => Ok(topic_entries(&state.config, &topic.configs())),
                    None => Err((
                        ErrorCode::UnknownTopicOrPartition,
                        format!("topic '{name}' does not exist"),
                    )),
                },
                RESOURCE_BROKER if name.is_empty() || name == state.config.node_id.to_string() => {
                    Ok(broker_entries(&state.config))
                }
                RESOURCE_BROKER => Err((
                    ErrorCode::InvalidRequest,
                    format!("unexpected broker id {name}"),
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
                    DescribeConfigsResourceResult::default()
                        .with_config_type(topic_configs::config_type(&e.name))
                        .with_name(str_bytes(e.name))
                        .with_value(Some(str_bytes(e.value)))
                        .with_read_only(e.read_only)
                        .with_config_source(e.source)
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

fn topic_entries(config: &Config, overrides: &BTreeMap<String, String>) -> Vec<Entry> {
    topic_configs::entries(&config.log, overrides)
        .into_iter()
        .map(|e| {
            let mut synonyms = Vec::new();
            if e.source == SOURCE_TOPIC_CONFIG {
                synonyms.push((e.name.to_string(), e.value.clone(), SOURCE_TOPIC_CONFIG));
            }
            if let Some(broker_key) = topic_configs::broker_synonym(e.name) {
                let (value, source) = topic_configs::default_value(e.name, &config.log);
                synonyms.push((broker_key.to_string(), value, source));
            }
            Entry {
                name: e.name.to_string(),
                value: e.value,
                source: e.source,
                read_only: false,
                synonyms,
            }
        })
        .collect()
}

fn broker_entries(config: &Config) -> Vec<Entry> {
    let defaults: BTreeMap<&str, String> = Config::default().describe().into_iter().collect();
    config
        .describe()
        .into_iter()
        .map(|(name, value)| {
            let source = if defaults.get(name) == Some(&value) {
                SOURCE_DEFAULT_CONFIG
            } else {
                SOURCE_STATIC_BROKER_CONFIG
            };
            Entry {
                name: name.to_string(),
                synonyms: vec![(name.to_string(), value.clone(), source)],
                value,
                source,
                // Broker settings come from the config file; none can be changed at runtime yet.
                read_only: true,
            }
        })
        .collect()
}
