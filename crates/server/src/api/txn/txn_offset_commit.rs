//! TxnOffsetCommit (API key 28, v0–v5): offsets held with the open transaction, visible in
//! the group once it commits. The group's offsets partition must be in the transaction
//! (AddOffsetsToTxn) up to v4: INVALID_TXN_STATE otherwise, TRANSACTION_ABORTABLE at v4; v5
//! (KIP-890 transactions v2) adds it itself.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use strom_codec::kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use strom_codec::ErrorCode;
use strom_coordinator::transactions::{SupportedOperation, TxnOffset, TxnOffsetCommit};

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=5;

/// What a version does when the offsets partition is not in the transaction (Kafka's
/// `txnOffsetCommitRequestVersionToTransactionSupportedOperation`).
fn operation(version: i16) -> SupportedOperation {
    match version {
        5.. => SupportedOperation::AddPartition,
        4 => SupportedOperation::GenericErrorSupported,
        _ => SupportedOperation::DefaultError,
    }
}

/// The coordinator's refusal as Kafka's group coordinator passes it on at `version`:
/// through the transaction verification (a fenced epoch is INVALID_PRODUCER_EPOCH) and its
/// operation error mapping (a transaction being ended is retriable COORDINATOR_NOT_AVAILABLE,
/// but CONCURRENT_TRANSACTIONS for transactions v2, which adds the partition).
fn verification_error(error: ErrorCode, version: i16) -> ErrorCode {
    match error {
        ErrorCode::ProducerFenced => ErrorCode::InvalidProducerEpoch,
        ErrorCode::ConcurrentTransactions
            if operation(version) != SupportedOperation::AddPartition =>
        {
            ErrorCode::CoordinatorNotAvailable
        }
        other => other,
    }
}

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let group = request.group_id.0.as_str().to_string();
    let member = request.member_id.as_str().to_string();
    let instance = request
        .group_instance_id
        .as_ref()
        .map(|i| i.as_str().to_string());
    let generation = request.generation_id_or_member_epoch;
    let max_metadata = ctx.state.config.groups.offset_metadata_bytes_max;
    let group_check = ctx
        .state
        .groups
        .validate_txn_commit(group.clone(), generation, member, instance)
        .await
        .unwrap_or(Some(ErrorCode::CoordinatorNotAvailable));
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
                .txn_offset_commit(TxnOffsetCommit {
                    transactional_id: request.transactional_id.0.as_str().to_string(),
                    producer_id: request.producer_id.0,
                    producer_epoch: request.producer_epoch,
                    group_id: group,
                    offsets,
                    operation: operation(ctx.version),
                })
                .await
                .err()
                .map(|e| verification_error(e, ctx.version))
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
                                .with_error_code(crate::error::code(error))
                        })
                        .collect(),
                )
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}
