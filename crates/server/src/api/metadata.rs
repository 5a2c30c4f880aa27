//! Metadata (API key 3, v0–v13): brokers, cluster id, controller, and topics with their
//! partitions. Unknown topics are auto-created when `auto.create.topics.enable` is on and the
//! client allows it (always below v4, `allow_auto_topic_creation` from v4). v13's top-level
//! error code (KIP-1102's REBOOTSTRAP_REQUIRED, for a client whose brokers all changed) is
//! always 0: this broker's metadata is its own.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use strom_codec::kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use strom_codec::kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use strom_codec::ErrorCode;
use uuid::Uuid;

use strom_cluster::controller::{validate_topic_name, NewTopic, Reply, Request};
use strom_cluster::image::{MetadataImage, TopicImage};
use strom_cluster::records::TopicId;

use crate::api::text::{str_bytes, topic_name};
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=13;

/// "Authorized operations were not requested" (Kafka's `Integer.MIN_VALUE`).
pub const AUTHORIZED_OPERATIONS_OMITTED: i32 = i32::MIN;
/// Topic operations allowed without ACLs: READ(3) WRITE(4) CREATE(5) DELETE(6) ALTER(7)
/// DESCRIBE(8) DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11), as bits of `AclOperation` codes.
pub const TOPIC_OPERATIONS_ALL: i32 =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
/// Cluster operations: CREATE(5) ALTER(7) DESCRIBE(8) CLUSTER_ACTION(9) DESCRIBE_CONFIGS(10)
/// ALTER_CONFIGS(11) IDEMPOTENT_WRITE(12), as Kafka's cluster resource (the token
/// operations belong to users and tokens, not to the cluster).
pub const CLUSTER_OPERATIONS_ALL: i32 =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

pub async fn handle(ctx: &RequestContext<'_>, request: MetadataRequest) -> MetadataResponse {
    let version = ctx.version;
    let state = &ctx.state;
    let node_id = state.config.node_id;
    let topic_ops = if request.include_topic_authorized_operations {
        TOPIC_OPERATIONS_ALL
    } else {
        AUTHORIZED_OPERATIONS_OMITTED
    };
    let all = match &request.topics {
        None => true,
        Some(t) => version == 0 && t.is_empty(),
    };
    let auto_create =
        state.config.auto_create_topics && (version < 4 || request.allow_auto_topic_creation);
    let mut topics = Vec::new();
    let mut image = state.metadata.image();
    if all {
        topics.extend(image.topics.iter().map(|t| topic_response(t, topic_ops)));
    } else {
        let mut wanted = request.topics.unwrap_or_default();
        // A topic id, when given, names the topic (as Kafka: the name is then ignored).
        for w in &mut wanted {
            if !w.topic_id.is_nil() {
                w.name = None;
            }
        }
        let missing: Vec<String> = wanted
            .iter()
            .filter_map(|w| w.name.as_ref().map(|n| n.0.as_str().to_string()))
            .filter(|n| validate_topic_name(n).is_ok() && image.topics.get(n).is_none())
            .collect();
        let mut refused = BTreeMap::new();
        if auto_create && !missing.is_empty() {
            refused = auto_create_topics(ctx, missing).await;
            image = state.metadata.image();
        }
        for wanted in wanted {
            let response = match wanted.name {
                Some(name) => {
                    let name = name.0.as_str().to_string();
                    match (validate_topic_name(&name), image.topics.get(&name)) {
                        (Err(_), _) => error_topic(
                            Some(name),
                            Uuid::nil(),
                            ErrorCode::InvalidTopicException,
                            topic_ops,
                        ),
                        (Ok(()), Some(topic)) => topic_response(topic, topic_ops),
                        // Being created, or unknown.
                        (Ok(()), None) => {
                            let code = match refused.get(&name) {
                                Some(code) => *code,
                                None if auto_create => ErrorCode::LeaderNotAvailable,
                                None => ErrorCode::UnknownTopicOrPartition,
                            };
                            error_topic(Some(name), Uuid::nil(), code, topic_ops)
                        }
                    }
                }
                None => match image.topics.by_id(TopicId(*wanted.topic_id.as_bytes())) {
                    Some(topic) => topic_response(topic, topic_ops),
                    None => {
                        error_topic(None, wanted.topic_id, ErrorCode::UnknownTopicId, topic_ops)
                    }
                },
            };
            topics.push(response);
        }
    }
    MetadataResponse::default()
        .with_brokers(brokers(ctx, &image))
        .with_cluster_id(Some(str_bytes(state.cluster_id.clone())))
        .with_controller_id(BrokerId(node_id))
        .with_topics(topics)
        .with_cluster_authorized_operations(if request.include_cluster_authorized_operations {
            CLUSTER_OPERATIONS_ALL
        } else {
            AUTHORIZED_OPERATIONS_OMITTED
        })
}

/// The brokers clients may connect to: this one at the address the client reached it by
/// (or the advertised one), the other registered, unfenced ones at their first endpoint.
fn brokers(ctx: &RequestContext<'_>, image: &MetadataImage) -> Vec<MetadataResponseBroker> {
    let node_id = ctx.state.config.node_id;
    let (host, port) = ctx.state.advertised_for(ctx.local);
    let mut out = vec![MetadataResponseBroker::default()
        .with_node_id(BrokerId(node_id))
        .with_host(str_bytes(host))
        .with_port(port)
        .with_rack(None)];
    for b in image.brokers.values() {
        if b.broker_id == node_id || b.fenced {
            continue;
        }
        if let Some(e) = b.endpoints.first() {
            out.push(
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(b.broker_id))
                    .with_host(str_bytes(e.host.clone()))
                    .with_port(e.port)
                    .with_rack(b.rack.clone().map(str_bytes)),
            );
        }
    }
    out
}

/// Creates topics a client asked for by name, as `auto.create.topics.enable` does: with
/// `num.partitions` and `default.replication.factor`. Returns why topics were not created
/// (a topic that exists already counts as created).
async fn auto_create_topics(
    ctx: &RequestContext<'_>,
    names: Vec<String>,
) -> BTreeMap<String, ErrorCode> {
    let mut refused = BTreeMap::new();
    let topics = names
        .iter()
        .cloned()
        .map(|name| NewTopic {
            name,
            partitions: None,
            replication_factor: None,
            assignments: BTreeMap::new(),
            configs: BTreeMap::new(),
            internal: false,
        })
        .collect();
    let request = Request::CreateTopics {
        topics,
        validate_only: false,
    };
    match ctx.state.metadata.submit(request).await {
        Ok(Reply::CreateTopics(results)) => {
            for (name, result) in names.into_iter().zip(results) {
                if let Err(e) = result {
                    if e.code != ErrorCode::TopicAlreadyExists {
                        tracing::warn!(topic = %name, error = %e, "could not auto-create a topic");
                        refused.insert(name, e.code);
                    }
                }
            }
        }
        Ok(other) => tracing::error!(reply = ?other, "unexpected controller reply"),
        Err(e) => tracing::warn!(error = %e, "could not auto-create topics"),
    }
    refused
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

fn broker_ids(ids: &[i32]) -> Vec<BrokerId> {
    ids.iter().copied().map(BrokerId).collect()
}

fn topic_response(topic: &TopicImage, topic_ops: i32) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .iter()
        .map(|(index, p)| {
            let error = if p.leader < 0 {
                ErrorCode::LeaderNotAvailable.code()
            } else {
                0
            };
            MetadataResponsePartition::default()
                .with_error_code(error)
                .with_partition_index(*index)
                .with_leader_id(BrokerId(p.leader))
                .with_leader_epoch(p.leader_epoch)
                .with_replica_nodes(broker_ids(&p.replicas))
                .with_isr_nodes(broker_ids(&p.isr))
                .with_offline_replicas(vec![])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(topic.name.clone())))
        .with_topic_id(Uuid::from_bytes(topic.id.0))
        .with_is_internal(topic.internal)
        .with_partitions(partitions)
        .with_topic_authorized_operations(topic_ops)
}
