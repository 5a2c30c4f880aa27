//! Metadata (API key 3, v0–v12): brokers, cluster id, controller, and topics with their
//! partitions. Unknown topics are auto-created when `auto.create.topics.enable` is on and the
//! client allows it (always below v4, `allow_auto_topic_creation` from v4).

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use strom_codec::kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use strom_codec::ErrorCode;
use uuid::Uuid;

use crate::api::text::{str_bytes, topic_name};
use crate::context::RequestContext;
use crate::error::topic_error_code;
use crate::topics::{validate_name, Topic, TopicError};

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=12;

/// "Authorized operations were not requested" (Kafka's `Integer.MIN_VALUE`).
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;
/// Topic operations allowed without ACLs: READ(3) WRITE(4) CREATE(5) DELETE(6) ALTER(7)
/// DESCRIBE(8) DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11), as bits of `AclOperation` codes.
pub const TOPIC_OPERATIONS_ALL: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// Cluster operations: CREATE(5) ALTER(7) DESCRIBE(8) CLUSTER_ACTION(9) DESCRIBE_CONFIGS(10)
/// ALTER_CONFIGS(11) IDEMPOTENT_WRITE(12) CREATE_TOKENS(13) DESCRIBE_TOKENS(14).
pub const CLUSTER_OPERATIONS_ALL: i32 = (1 << 5)
    | (1 << 7)
    | (1 << 8)
    | (1 << 9)
    | (1 << 10)
    | (1 << 11)
    | (1 << 12)
    | (1 << 13)
    | (1 << 14);

pub async fn handle(ctx: &RequestContext<'_>, request: MetadataRequest) -> MetadataResponse {
    let version = ctx.version;
    let state = &ctx.state;
    let node_id = state.config.node_id;
    let (host, port) = state.advertised_for(ctx.local);
    let broker = MetadataResponseBroker::default()
        .with_node_id(BrokerId(node_id))
        .with_host(str_bytes(host))
        .with_port(port)
        .with_rack(None);
    let topic_ops = if request.include_topic_authorized_operations {
        TOPIC_OPERATIONS_ALL
    } else {
        AUTHORIZED_OPERATIONS_OMITTED
    };
    let describe = |topic: &Topic| topic_response(topic, node_id, topic_ops);
    let all = match &request.topics {
        None => true,
        Some(t) => version == 0 && t.is_empty(),
    };
    let auto_create =
        state.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    let mut topics = Vec::new();
    if all {
        topics.extend(state.topics.all().iter().map(|t| describe(t)));
    } else {
        for wanted in request.topics.unwrap_or_default() {
            let response = match wanted.name {
                Some(name) => {
                    let name = name.0.as_str().to_string();
                    match lookup_or_create(ctx, &name, auto_create).await {
                        Ok(topic) => describe(&topic),
                        Err(e) => {
                            error_topic(Some(name), Uuid::nil(), topic_error_code(&e), topic_ops)
                        }
                    }
                }
                None => match state.topics.get_by_id(&wanted.topic_id) {
                    Some(topic) => describe(&topic),
                    None => {
                        error_topic(None, wanted.topic_id, ErrorCode::UnknownTopicId, topic_ops)
                    }
                },
            };
            topics.push(response);
        }
    }
    MetadataResponse::default()
        .with_brokers(vec![broker])
        .with_cluster_id(Some(str_bytes(state.cluster_id.clone())))
        .with_controller_id(BrokerId(node_id))
        .with_topics(topics)
        .with_cluster_authorized_operations(if request.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS_ALL
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        })
}

async fn lookup_or_create(
    ctx: &RequestContext<'_>,
    name: &str,
    auto_create: bool,
) -> Result<Arc<Topic>, TopicError> {
    validate_name(name)?;
    if let Some(topic) = ctx.state.topics.get(name) {
        return Ok(topic);
    }
    if !auto_create {
        return Err(TopicError::Unknown(name.into()));
    }
    let state = Arc::clone(ctx.state);
    let owned = name.to_string();
    let created = tokio::task::spawn_blocking(move || {
        let partitions = state.config.num_partitions;
        state
            .topics
            .create(&owned, partitions, BTreeMap::new(), false)
    })
    .await
    .map_err(|e| TopicError::InvalidConfig(e.to_string()))?;
    match created {
        Ok(topic) => Ok(topic),
        // Another connection created it first.
        Err(TopicError::AlreadyExists(_)) => ctx
            .state
            .topics
            .get(name)
            .ok_or(TopicError::Unknown(name.into())),
        Err(e) => Err(e),
    }
}

fn error_topic(
    name: Option<String>,
    id: Uuid,
    error: ErrorCode,
    topic_ops: i32,
) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(error.code())
        .with_name(name.map(topic_name))
        .with_topic_id(id)
        .with_topic_authorized_operations(topic_ops)
}

fn topic_response(topic: &Topic, node_id: i32, topic_ops: i32) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .iter()
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p.index)
                .with_leader_id(BrokerId(node_id))
                .with_leader_epoch(0)
                .with_replica_nodes(vec![BrokerId(node_id)])
                .with_isr_nodes(vec![BrokerId(node_id)])
                .with_offline_replicas(vec![])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(topic.name.clone())))
        .with_topic_id(topic.id)
        .with_is_internal(topic.internal)
        .with_partitions(partitions)
        .with_topic_authorized_operations(topic_ops)
}
