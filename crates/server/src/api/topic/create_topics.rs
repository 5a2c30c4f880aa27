//! CreateTopics (API key 19, v2–v7): partitions (-1 = `num.partitions`), replication factor
//! (only 1 on a single broker), manual assignments, configs validated against Kafka's topic
//! config keys, `validate_only`. v5+ answers with the topic's full config.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::create_topics_request::CreatableTopic;
use strom_codec::kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use strom_codec::kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use strom_codec::ErrorCode;

use crate::api::config::topic_configs;
use crate::api::text::str_bytes;
use crate::context::RequestContext;
use crate::error::topic_error_code;
use crate::state::BrokerState;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 2..=7;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let version = ctx.version;
    let state = Arc::clone(ctx.state);
    let validate_only = request.validate_only;
    let results = tokio::task::spawn_blocking(move || {
        let mut seen = std::collections::HashSet::new();
        let duplicates: std::collections::HashSet<String> = request
            .topics
            .iter()
            .filter(|t| !seen.insert(t.name.0.as_str().to_string()))
            .map(|t| t.name.0.as_str().to_string())
            .collect();
        request
            .topics
            .into_iter()
            .map(|t| {
                if duplicates.contains(t.name.0.as_str()) {
                    return failure(
                        &t,
                        ErrorCode::InvalidRequest,
                        "topic named more than once in the request".into(),
                    );
                }
                create_one(&state, version, t, validate_only)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    CreateTopicsResponse::default().with_topics(results)
}

fn failure(t: &CreatableTopic, error: ErrorCode, message: String) -> CreatableTopicResult {
    CreatableTopicResult::default()
        .with_name(t.name.clone())
        .with_error_code(error.code())
        .with_error_message(Some(str_bytes(message)))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
}

fn create_one(
    state: &BrokerState,
    version: i16,
    t: CreatableTopic,
    validate_only: bool,
) -> CreatableTopicResult {
    let name = t.name.0.as_str().to_string();
    let node_id = state.config.node_id;
    let partitions = if t.assignments.is_empty() {
        match t.num_partitions {
            -1 => state.config.num_partitions,
            n => n,
        }
    } else {
        if t.num_partitions != -1 || t.replication_factor != -1 {
            return failure(&t, ErrorCode::InvalidRequest, "both partition assignments and numPartitions/replicationFactor were set; set only one".into());
        }
        let mut indexes: Vec<i32> = t.assignments.iter().map(|a| a.partition_index).collect();
        indexes.sort_unstable();
        let contiguous = indexes
            .iter()
            .enumerate()
            .all(|(i, p)| usize::try_from(*p).ok() == Some(i));
        let on_us = t
            .assignments
            .iter()
            .all(|a| a.broker_ids.len() == 1 && a.broker_ids.first().map(|b| b.0) == Some(node_id));
        if !contiguous || !on_us {
            return failure(
                &t,
                ErrorCode::InvalidReplicaAssignment,
                format!("assignments must cover partitions 0..n, each on broker {node_id} alone"),
            );
        }
        i32::try_from(t.assignments.len()).unwrap_or(i32::MAX)
    };
    if partitions <= 0 {
        return failure(
            &t,
            ErrorCode::InvalidPartitions,
            format!("number of partitions must be larger than 0, got {partitions}"),
        );
    }
    let replication = if t.replication_factor == -1 {
        state.config.default_replication_factor
    } else {
        t.replication_factor
    };
    if t.assignments.is_empty() && replication != 1 {
        let error = if replication <= 0 {
            format!("replication factor must be larger than 0, got {replication}")
        } else {
            format!("replication factor {replication} is larger than the number of available brokers (1)")
        };
        return failure(&t, ErrorCode::InvalidReplicationFactor, error);
    }
    let mut configs = BTreeMap::new();
    for c in &t.configs {
        let Some(value) = &c.value else {
            return failure(
                &t,
                ErrorCode::InvalidConfig,
                format!("null value for config {}", c.name.as_str()),
            );
        };
        configs.insert(c.name.as_str().to_string(), value.as_str().to_string());
    }
    let outcome = if validate_only {
        state
            .topics
            .validate_create(&name, partitions, &configs)
            .map(|_| None)
    } else {
        state
            .topics
            .create(&name, partitions, configs.clone(), false)
            .map(Some)
    };
    match outcome {
        Err(e) => failure(&t, topic_error_code(&e), e.to_string()),
        Ok(created) => {
            let mut result = CreatableTopicResult::default()
                .with_name(t.name.clone())
                .with_num_partitions(partitions)
                .with_replication_factor(1);
            if let Some(topic) = created {
                result = result.with_topic_id(topic.id);
            }
            if version >= 5 {
                let (dynamic, node) = (
                    state.topics.read_meta(|m| m.broker_configs.clone()),
                    state.config.node_id.to_string(),
                );
                let fallback = |key: &str| {
                    crate::api::config::describe_configs::broker_value(
                        &state.config,
                        &dynamic,
                        &node,
                        key,
                    )
                };
                let entries = topic_configs::entries(&state.topics.defaults(), &configs, &fallback)
                    .into_iter()
                    .map(|e| {
                        CreatableTopicConfigs::default()
                            .with_name(str_bytes(e.key.name))
                            .with_value(Some(str_bytes(e.value)))
                            .with_config_source(e.source)
                    })
                    .collect();
                result = result.with_configs(Some(entries));
            }
            result
        }
    }
}
