//! IncrementalAlterConfigs (API key 44, v0–v1, KIP-339): SET, DELETE, APPEND and SUBTRACT
//! on topic configs, validated against Kafka's topic config keys, persisted in the metadata
//! log and applied to the partitions at once (a retention change needs no restart).
//! Broker, broker-logger, client-metrics and group resources are refused with
//! INVALID_REQUEST naming the reason: this broker's settings come from its config file.

use std::collections::BTreeMap;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;
use strom_codec::kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use strom_codec::kafka_protocol::messages::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use strom_codec::ErrorCode;

use super::str_bytes;
use crate::broker::BrokerState;
use crate::connection::ConnectionContext;
use crate::error::topic_error_code;

/// `ConfigResource.Type` codes.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
pub const RESOURCE_BROKER_LOGGER: i8 = 8;
pub const RESOURCE_CLIENT_METRICS: i8 = 16;
pub const RESOURCE_GROUP: i8 = 32;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

/// Topic configs whose values are comma-separated lists (APPEND/SUBTRACT apply).
const LIST_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "leader.replication.throttled.replicas",
    "follower.replication.throttled.replicas",
];

pub async fn handle(
    ctx: &ConnectionContext,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let state = Arc::clone(&ctx.state);
    let validate_only = request.validate_only;
    let responses = tokio::task::spawn_blocking(move || {
        request
            .resources
            .into_iter()
            .map(|r| alter_one(&state, r, validate_only))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

fn alter_one(
    state: &BrokerState,
    resource: AlterConfigsResource,
    validate_only: bool,
) -> AlterConfigsResourceResponse {
    let response = AlterConfigsResourceResponse::default()
        .with_resource_type(resource.resource_type)
        .with_resource_name(resource.resource_name.clone());
    let fail = |code: ErrorCode, message: String| {
        response
            .clone()
            .with_error_code(code.code())
            .with_error_message(Some(str_bytes(message)))
    };
    match resource.resource_type {
        RESOURCE_TOPIC => {}
        RESOURCE_BROKER | RESOURCE_BROKER_LOGGER => {
            return fail(
                ErrorCode::InvalidRequest,
                "dynamic broker configs are not supported: set them in strom.toml or with --set"
                    .into(),
            )
        }
        RESOURCE_CLIENT_METRICS | RESOURCE_GROUP => {
            return fail(
                ErrorCode::InvalidRequest,
                "client-metrics and group config resources are not supported yet".into(),
            )
        }
        other => {
            return fail(
                ErrorCode::InvalidRequest,
                format!("unknown resource type {other}"),
            )
        }
    }
    let name = resource.resource_name.as_str();
    let Some(topic) = state.topics.get(name) else {
        return fail(
            ErrorCode::UnknownTopicOrPartition,
            format!("topic '{name}' does not exist"),
        );
    };
    let mut configs = topic.configs();
    let mut seen = std::collections::HashSet::new();
    for c in &resource.configs {
        let key = c.name.as_str();
        if !seen.insert(key) {
            return fail(
                ErrorCode::InvalidRequest,
                format!("config {key} appears more than once"),
            );
        }
        if let Err(message) = apply(
            &mut configs,
            state,
            key,
            c.config_operation,
            c.value.as_ref().map(|v| v.as_str()),
        ) {
            return fail(ErrorCode::InvalidConfig, message);
        }
    }
    match state.topics.alter_configs(name, configs, validate_only) {
        Ok(()) => response,
        Err(e) => fail(topic_error_code(&e), e.to_string()),
    }
}

fn apply(
    configs: &mut BTreeMap<String, String>,
    state: &BrokerState,
    key: &str,
    operation: i8,
    value: Option<&str>,
) -> Result<(), String> {
    let is_list = LIST_CONFIGS.contains(&key);
    let current = || -> Vec<String> {
        let text = configs.get(key).cloned().unwrap_or_else(|| {
            super::topic_configs::entries(state.topics.defaults(), &BTreeMap::new())
                .into_iter()
                .find(|e| e.name == key)
                .map(|e| e.value)
                .unwrap_or_default()
        });
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
            let given: Vec<String> = value
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            let mut items = current();
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
