//! DescribeTopicPartitions (API key 75, v0, KIP-966): topics and their partitions, paged by
//! `response_partition_limit` (capped at Kafka's `max.request.partition.size.limit`, 2000)
//! with a cursor. No topics named: every topic, by name. On one broker each partition's
//! leader, replicas, ISR and eligible leader replicas are this broker.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use strom_codec::kafka_protocol::messages::{
    BrokerId, DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse,
};
use strom_codec::ErrorCode;

use super::metadata::TOPIC_OPERATIONS_ALL;
use crate::api::text::topic_name;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=0;

/// Kafka's `max.request.partition.size.limit` default.
const PARTITION_LIMIT_MAX: i32 = 2000;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let image = ctx.state.metadata.image();
    let mut names: Vec<String> = if request.topics.is_empty() {
        image.topics.iter().map(|t| t.name.clone()).collect()
    } else {
        request
            .topics
            .iter()
            .map(|t| t.name.0.as_str().to_string())
            .collect()
    };
    names.sort();
    names.dedup();
    let (cursor_topic, mut cursor_partition) = match &request.cursor {
        Some(c) => (
            Some(c.topic_name.0.as_str().to_string()),
            c.partition_index.max(0),
        ),
        None => (None, 0),
    };
    if let Some(start) = &cursor_topic {
        names.retain(|n| n >= start);
    }
    let mut budget = request
        .response_partition_limit
        .clamp(1, PARTITION_LIMIT_MAX);
    let mut topics = Vec::new();
    let mut next_cursor = None;
    for name in names {
        let first = if cursor_topic.as_deref() == Some(name.as_str()) {
            std::mem::take(&mut cursor_partition)
        } else {
            0
        };
        let Some(topic) = image.topics.get(&name) else {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_error_code(ErrorCode::UnknownTopicOrPartition.code())
                    .with_name(Some(topic_name(name)))
                    .with_topic_authorized_operations(TOPIC_OPERATIONS_ALL),
            );
            continue;
        };
        if budget == 0 {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(topic_name(name))
                    .with_partition_index(first),
            );
            break;
        }
        let count = topic.partition_count();
        let mut partitions = Vec::new();
        let mut index = first;
        while index < count && budget > 0 {
            let Some(p) = topic.partitions.get(&index) else {
                break;
            };
            let brokers = |ids: &[i32]| ids.iter().copied().map(BrokerId).collect::<Vec<_>>();
            let error = if p.leader < 0 {
                ErrorCode::LeaderNotAvailable.code()
            } else {
                0
            };
            partitions.push(
                DescribeTopicPartitionsResponsePartition::default()
                    .with_error_code(error)
                    .with_partition_index(index)
                    .with_leader_id(BrokerId(p.leader))
                    .with_leader_epoch(p.leader_epoch)
                    .with_replica_nodes(brokers(&p.replicas))
                    .with_isr_nodes(brokers(&p.isr))
                    .with_eligible_leader_replicas(Some(Vec::new()))
                    .with_last_known_elr(Some(Vec::new())),
            );
            index += 1;
            budget -= 1;
        }
        topics.push(
            DescribeTopicPartitionsResponseTopic::default()
                .with_name(Some(topic_name(name.clone())))
                .with_topic_id(uuid::Uuid::from_bytes(topic.id.0))
                .with_is_internal(topic.internal)
                .with_partitions(partitions)
                .with_topic_authorized_operations(TOPIC_OPERATIONS_ALL),
        );
        if index < count {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(topic_name(name))
                    .with_partition_index(index),
            );
            break;
        }
    }
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}
