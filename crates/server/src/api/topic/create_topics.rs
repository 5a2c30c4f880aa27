//! CreateTopics (API key 19, v0–v7): partitions (-1 = `num.partitions`), replication factor
//! (-1 = `default.replication.factor`, at most the registered brokers), manual assignments,
//! configs validated against Kafka's topic config keys, `validate_only`; decided by the
//! controller (see `strom_cluster::controller`). v5+ answers with the topic's full config.

use std::collections::{BTreeMap, HashSet};
use std::ops::RangeInclusive;

use strom_cluster::controller::{ApiError, CreatedTopic, NewTopic, Reply, Request};
use uuid::Uuid;

use strom_codec::kafka_protocol::messages::create_topics_request::CreatableTopic;
use strom_codec::kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use strom_codec::kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use strom_codec::ErrorCode;

use crate::api::config::topic_configs;
use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=7;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut seen = HashSet::new();
    let duplicates: HashSet<String> = request
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.0.as_str().to_string()))
        .map(|t| t.name.0.as_str().to_string())
        .collect();
    // Items the handler refuses itself, and those it asks the controller about, in order.
    let mut results: Vec<Option<CreatableTopicResult>> = Vec::new();
    let mut asked: Vec<(usize, CreatableTopic)> = Vec::new();
    let mut new_topics = Vec::new();
    for t in request.topics {
        if duplicates.contains(t.name.0.as_str()) {
            results.push(Some(failure(
                &t,
                ErrorCode::InvalidRequest,
                "topic named more than once in the request".into(),
            )));
            continue;
        }
        match new_topic(&t) {
            Ok(n) => {
                new_topics.push(n);
                asked.push((results.len(), t));
                results.push(None);
            }
            Err((code, message)) => results.push(Some(failure(&t, code, message))),
        }
    }
    if !new_topics.is_empty() {
        let validate_only = request.validate_only;
        let request = Request::CreateTopics {
            topics: new_topics,
            validate_only,
        };
        let outcomes = match ctx.state.metadata.submit(request).await {
            Ok(Reply::CreateTopics(outcomes)) => outcomes,
            Ok(other) => vec![Err(unexpected(&other)); asked.len()],
            Err(e) => vec![Err(e.to_api_error()); asked.len()],
        };
        for ((slot, t), outcome) in asked.into_iter().zip(outcomes) {
            let result = match outcome {
                Ok(created) => created_result(ctx, &t, &created, validate_only),
                Err(e) => failure(&t, e.code, e.message),
            };
            if let Some(r) = results.get_mut(slot) {
                *r = Some(result);
            }
        }
    }
    CreateTopicsResponse::default().with_topics(results.into_iter().flatten().collect())
}

/// The controller's answer to something it was not asked.
fn unexpected(reply: &Reply) -> ApiError {
    ApiError::new(
        ErrorCode::UnknownServerError,
        format!("unexpected controller reply {reply:?}"),
    )
}

/// The request's topic as the controller takes it (-1 means "the broker's default").
fn new_topic(t: &CreatableTopic) -> Result<NewTopic, (ErrorCode, String)> {
    let mut configs = BTreeMap::new();
    for c in &t.configs {
        let Some(value) = &c.value else {
            return Err((
                ErrorCode::InvalidConfig,
                format!("null value for config {}", c.name.as_str()),
            ));
        };
        configs.insert(c.name.as_str().to_string(), value.as_str().to_string());
    }
    let mut assignments = BTreeMap::new();
    for a in &t.assignments {
        let brokers = a.broker_ids.iter().map(|b| b.0).collect();
        if assignments.insert(a.partition_index, brokers).is_some() {
            return Err((
                ErrorCode::InvalidReplicaAssignment,
                format!("partition {} is assigned twice", a.partition_index),
            ));
        }
    }
    Ok(NewTopic {
        name: t.name.0.as_str().to_string(),
        partitions: (t.num_partitions != -1).then_some(t.num_partitions),
        replication_factor: (t.replication_factor != -1).then_some(t.replication_factor),
        assignments,
        configs,
        internal: false,
    })
}

fn failure(t: &CreatableTopic, error: ErrorCode, message: String) -> CreatableTopicResult {
    CreatableTopicResult::default()
        .with_name(t.name.clone())
        .with_error_code(error.code())
        .with_error_message(Some(str_bytes(message)))
        .with_num_partitions(-1)
        .with_replication_factor(-1)
}

/// A created (or validated) topic's result; v5+ carries its full config.
fn created_result(
    ctx: &RequestContext<'_>,
    t: &CreatableTopic,
    created: &CreatedTopic,
    validate_only: bool,
) -> CreatableTopicResult {
    let state = &ctx.state;
    let mut result = CreatableTopicResult::default()
        .with_name(t.name.clone())
        // A topic only validated gets no id.
        .with_topic_id(if validate_only {
            Uuid::nil()
        } else {
            Uuid::from_bytes(created.topic_id.0)
        })
        .with_num_partitions(created.partitions)
        .with_replication_factor(created.replication_factor);
    if ctx.version >= 5 {
        let configs: BTreeMap<String, String> = t
            .configs
            .iter()
            .filter_map(|c| {
                c.value
                    .as_ref()
                    .map(|v| (c.name.as_str().to_string(), v.as_str().to_string()))
            })
            .collect();
        let dynamic =
            crate::api::config::describe_configs::dynamic_broker_configs(&state.metadata.image());
        let node = state.config.node_id.to_string();
        let fallback = |key: &str| {
            crate::api::config::describe_configs::broker_value(&state.config, &dynamic, &node, key)
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
