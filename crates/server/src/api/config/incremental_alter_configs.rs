//! IncrementalAlterConfigs (API key 44, v0–v1, KIP-339): SET, DELETE, APPEND and SUBTRACT
//! on topic, broker and group configs. Topic configs are validated against Kafka's topic
//! config keys; broker configs against the keys Kafka can change at runtime (see
//! [`crate::config::dynamic`]); group configs against Kafka's group config ranges. Changes
//! are persisted in the metadata log and applied at once (a retention change needs no
//! restart). The engine here also serves the legacy AlterConfigs, which replaces a
//! resource's whole set of overrides.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use strom_codec::kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use strom_codec::kafka_protocol::messages::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use strom_codec::ErrorCode;
use strom_storage::meta::MetaRecord;

use crate::api::text::str_bytes;
use crate::config::dynamic;
use crate::config::group_keys::check_group_value;
use crate::config::topic_keys::{topic_key, TopicKey};
use crate::context::RequestContext;
use crate::error::topic_error_code;
use crate::state::BrokerState;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=1;

/// `ConfigResource.Type` codes.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;
pub const RESOURCE_CLIENT_METRICS: i8 = 16;
pub const RESOURCE_GROUP: i8 = 32;

pub const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

/// One requested change: key, operation, value.
pub type Change = (String, i8, Option<String>);

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let state = Arc::clone(ctx.state);
    let validate_only = request.validate_only;
    let responses = tokio::task::spawn_blocking(move || {
        request
            .resources
            .into_iter()
            .map(|r| {
                let response = AlterConfigsResourceResponse::default()
                    .with_resource_type(r.resource_type)
                    .with_resource_name(r.resource_name.clone());
                match alter_one(&state, &r, validate_only) {
                    Ok(()) => response,
                    Err((code, message)) => response
                        .with_error_code(code.code())
                        .with_error_message(Some(str_bytes(message))),
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

fn alter_one(
    state: &BrokerState,
    resource: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), (ErrorCode, String)> {
    let mut seen = std::collections::HashSet::new();
    let mut changes = Vec::new();
    for c in &resource.configs {
        let key = c.name.as_str();
        if !seen.insert(key) {
            return Err((
                ErrorCode::InvalidRequest,
                format!("config {key} appears more than once"),
            ));
        }
        changes.push((
            key.to_string(),
            c.config_operation,
            c.value.as_ref().map(|v| v.as_str().to_string()),
        ));
    }
    alter_resource(
        state,
        resource.resource_type,
        resource.resource_name.as_str(),
        &changes,
        false,
        validate_only,
    )
}

/// Applies `changes` to one resource's overrides (starting from none when `replace`, as the
/// legacy AlterConfigs does), validates, persists and applies them.
pub fn alter_resource(
    state: &BrokerState,
    resource_type: i8,
    name: &str,
    changes: &[Change],
    replace: bool,
    validate_only: bool,
) -> Result<(), (ErrorCode, String)> {
    match resource_type {
        RESOURCE_TOPIC => alter_topic(state, name, changes, replace, validate_only),
        RESOURCE_BROKER => alter_broker(state, name, changes, replace, validate_only),
        RESOURCE_GROUP => alter_group(state, name, changes, replace, validate_only),
        RESOURCE_BROKER_LOGGER => Err((
            ErrorCode::InvalidRequest,
            "broker loggers are set with RUST_LOG at start-up, not at runtime".into(),
        )),
        RESOURCE_CLIENT_METRICS => Err((
            ErrorCode::InvalidRequest,
            "client-metrics resources (KIP-714) are not supported".into(),
        )),
        other => Err((
            ErrorCode::InvalidRequest,
            format!("unknown resource type {other}"),
        )),
    }
}

fn alter_topic(
    state: &BrokerState,
    name: &str,
    changes: &[Change],
    replace: bool,
    validate_only: bool,
) -> Result<(), (ErrorCode, String)> {
    let Some(topic) = state.topics.get(name) else {
        return Err((
            ErrorCode::UnknownTopicOrPartition,
            format!("topic '{name}' does not exist"),
        ));
    };
    let mut configs = if replace {
        BTreeMap::new()
    } else {
        topic.configs()
    };
    let defaults = state.topics.defaults();
    for (key, op, value) in changes {
        let known = topic_key(key);
        let fallback = || {
            known
                .map(|k| super::topic_configs::default_value(k, &defaults, &|_| None).0)
                .unwrap_or_default()
        };
        apply(
            &mut configs,
            key,
            *op,
            value.as_deref(),
            known.is_some_and(TopicKey::is_list),
            fallback,
        )
        .map_err(|m| (ErrorCode::InvalidConfig, m))?;
    }
    state
        .topics
        .alter_configs(name, configs, validate_only)
        .map_err(|e| (topic_error_code(&e), e.to_string()))
}

fn alter_broker(
    state: &BrokerState,
    name: &str,
    changes: &[Change],
    replace: bool,
    validate_only: bool,
) -> Result<(), (ErrorCode, String)> {
    let node = state.config.node_id.to_string();
    if !name.is_empty() && name != node {
        return Err((
            ErrorCode::InvalidRequest,
            format!("unexpected broker id {name}: this broker is {node}"),
        ));
    }
    let all = state.topics.read_meta(|m| m.broker_configs.clone());
    let mut configs = if replace {
        BTreeMap::new()
    } else {
        all.get(name).cloned().unwrap_or_default()
    };
    for (key, op, value) in changes {
        if !dynamic::is_dynamic(key) {
            return Err((
                ErrorCode::InvalidRequest,
                format!("cannot update {key} dynamically; set it in strom.toml or with --set"),
            ));
        }
        let fallback = || state.config.value_of(key).unwrap_or_default();
        apply(
            &mut configs,
            key,
            *op,
            value.as_deref(),
            dynamic::is_list(key),
            fallback,
        )
        .map_err(|m| (ErrorCode::InvalidConfig, m))?;
    }
    for (k, v) in &configs {
        dynamic::check_value(k, v).map_err(|m| (ErrorCode::InvalidConfig, m))?;
    }
    let mut layers = all;
    layers.insert(name.to_string(), configs.clone());
    let defaults = dynamic::log_defaults(&state.config.log, layers.get(""), layers.get(&node))
        .map_err(|m| (ErrorCode::InvalidConfig, m))?;
    if validate_only {
        return Ok(());
    }
    persist(
        state,
        MetaRecord::BrokerConfigs {
            broker: name.to_string(),
            configs,
        },
    )?;
    state.topics.set_defaults(defaults);
    tracing::info!(broker = name, "dynamic broker configs altered");
    Ok(())
}

fn alter_group(
    state: &BrokerState,
    name: &str,
    changes: &[Change],
    replace: bool,
    validate_only: bool,
) -> Result<(), (ErrorCode, String)> {
    if name.is_empty() {
        return Err((
            ErrorCode::InvalidRequest,
            "group name must not be empty".into(),
        ));
    }
    let mut configs = if replace {
        BTreeMap::new()
    } else {
        state
            .topics
            .read_meta(|m| m.group_configs.get(name).cloned().unwrap_or_default())
    };
    for (key, op, value) in changes {
        apply(&mut configs, key, *op, value.as_deref(), false, String::new)
            .map_err(|m| (ErrorCode::InvalidConfig, m))?;
    }
    for (k, v) in &configs {
        check_group_value(k, v).map_err(|m| (ErrorCode::InvalidConfig, m))?;
    }
    if validate_only {
        return Ok(());
    }
    persist(
        state,
        MetaRecord::GroupConfigs {
            group: name.to_string(),
            configs,
        },
    )?;
    tracing::info!(group = name, "group configs altered");
    Ok(())
}

fn persist(state: &BrokerState, record: MetaRecord) -> Result<(), (ErrorCode, String)> {
    state
        .topics
        .persist(record)
        .map_err(|e| (topic_error_code(&e), e.to_string()))
}

/// One operation on an override map. `current` gives the effective value of a list key
/// without an override (what APPEND/SUBTRACT start from).
fn apply(
    configs: &mut BTreeMap<String, String>,
    key: &str,
    operation: i8,
    value: Option<&str>,
    is_list: bool,
    current: impl FnOnce() -> String,
) -> Result<(), String> {
    let split = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    match operation {
        OP_SET => {
            let v = value.ok_or_else(|| format!("SET of {key} needs a value"))?;
            configs.insert(key.into(), v.into());
        }
        OP_DELETE => {
            configs.remove(key);
        }
        OP_APPEND | OP_SUBTRACT => {
            if !is_list {
                return Err(format!(
                    "{key} is not a list config: APPEND and SUBTRACT do not apply"
                ));
            }
            let given = split(value.unwrap_or_default());
            let mut items = match configs.get(key) {
                Some(v) => split(v),
                None => split(&current()),
            };
            if operation == OP_APPEND {
                for g in given {
                    if !items.contains(&g) {
                        items.push(g);
                    }
                }
            } else {
                items.retain(|i| !given.contains(i));
            }
            configs.insert(key.into(), items.join(","));
        }
        other => return Err(format!("unknown config operation {other}")),
    }
    Ok(())
}
