//! The transactional producer's APIs, answered by [`crate::transactions`]:
//! AddPartitionsToTxn (24, v0–v3), AddOffsetsToTxn (25, v0–v3), EndTxn (26, v0–v4) and
//! TxnOffsetCommit (28, v0–v4). The KIP-890 "transaction version 2" forms (v4+/v5, which
//! bump the epoch on every end and add partitions implicitly) are not advertised, so
//! clients use the classic protocol.

use strom_codec::kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use strom_codec::kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use strom_codec::kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use strom_codec::ErrorCode;
use strom_storage::meta::TxnOffset;

use crate::connection::ConnectionContext;

fn code(e: Option<ErrorCode>) -> i16 {
    crate::error::code(e)
}

pub async fn add_partitions(
    ctx: &ConnectionContext,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let partitions: Vec<(String, i32)> = request
        .v3_and_below_topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.0.as_str().to_string(), *p))
        })
        .collect();
    let results = ctx
        .state
        .txns
        .add_partitions(
            &ctx.state,
            request.v3_and_below_transactional_id.0.as_str(),
            request.v3_and_below_producer_id.0,
            request.v3_and_below_producer_epoch,
            partitions,
        )
        .await;
    let mut by_topic: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((topic, partition), error) in results {
        let result = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(partition)
            .with_partition_error_code(code(error));
        match by_topic.iter_mut().find(|t| t.name.0.as_str() == topic) {
            Some(t) => t.results_by_partition.push(result),
            None => by_topic.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(super::topic_name(topic))
                    .with_results_by_partition(vec![result]),
            ),
        }
    }
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(by_topic)
}

pub async fn add_offsets(
    ctx: &ConnectionContext,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let result = ctx
        .state
        .txns
        .add_offsets(
            &ctx.state,
            request.transactional_id.0.as_str(),
            request.producer_id.0,
            request.producer_epoch,
            request.group_id.0.as_str(),
        )
        .await;
    AddOffsetsToTxnResponse::default().with_error_code(code(result.err()))
}

pub async fn end(ctx: &ConnectionContext, request: EndTxnRequest) -> EndTxnResponse {
    let result = ctx
        .state
        .txns
        .end(
            &ctx.state,
            request.transactional_id.0.as_str(),
            request.producer_id.0,
            request.producer_epoch,
            request.committed,
        )
        .await;
    if let Err(e) = result {
        tracing::debug!(peer = %ctx.peer, transactional_id = %request.transactional_id.0.as_str(), error = ?e, "EndTxn refused");
    }
    EndTxnResponse::default().with_error_code(code(result.err()))
}

pub async fn offset_commit(
    ctx: &ConnectionContext,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let group = request.group_id.0.as_str().to_string();
    let member = request.member_id.as_str().to_string();
    let instance = request
        .group_instance_id
        .as_ref()
        .map(|i| i.as_str().to_string());
    let generation = request.generation_id;
    let max_metadata = ctx.state.config.groups.offset_metadata_bytes_max;
    let group_check = {
        let group = group.clone();
        ctx.state
            .groups
            .query(move |g| {
                (
                    g.validate_txn_commit(&group, generation, &member, instance.as_deref()),
                    Vec::new(),
                )
            })
            .await
            .unwrap_or(Some(ErrorCode::CoordinatorNotAvailable))
    };
    let too_large = request.topics.iter().any(|t| {
        t.partitions.iter().any(|p| {
            p.committed_metadata
                .as_ref()
                .is_some_and(|m| m.len() > max_metadata)
        })
    });
    let error = match group_check {
        Some(e) => Some(e),
        None if too_large => Some(ErrorCode::OffsetMetadataTooLarge),
        None => {
            let offsets: Vec<TxnOffset> = request
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(move |p| TxnOffset {
                        topic: t.name.0.as_str().to_string(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p
                            .committed_metadata
                            .as_ref()
                            .map(|m| m.as_str().to_string()),
                    })
                })
                .collect();
            ctx.state
                .txns
                .add_offset_commits(
                    &ctx.state,
                    request.transactional_id.0.as_str(),
                    request.producer_id.0,
                    request.producer_epoch,
                    &group,
                    offsets,
                )
                .await
                .err()
        }
    };
    let topics = request
        .topics
        .iter()
        .map(|t| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            TxnOffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code(error))
                        })
                        .collect(),
                )
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}
