//! TxnOffsetCommit (API key 28, v0–v6): offsets held with the open transaction, visible in
//! the group once it commits. The group's offsets partition must be in the transaction
//! (AddOffsetsToTxn) up to v4: INVALID_TXN_STATE otherwise, TRANSACTION_ABORTABLE at v4; v5
//! (KIP-890 transactions v2) adds it itself. v6 (KIP-1319) names topics by id (an unknown id
//! is UNKNOWN_TOPIC_ID) and answers GROUP_ID_NOT_FOUND and STALE_MEMBER_EPOCH where older
//! versions get ILLEGAL_GENERATION. Partitions of unknown topics are refused alone.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use strom_codec::kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};
use strom_codec::ErrorCode;
use strom_coordinator::transactions::{SupportedOperation, TxnOffset, TxnOffsetCommit};

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=6;

/// The first version that names topics by id.
const TOPIC_IDS: i16 = 6;

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

/// One partition of the request: where it is answered and, unless refused already, what is
/// committed.
struct Asked {
    /// Index of its topic in the request.
    topic: usize,
    partition: i32,
    refused: Option<ErrorCode>,
}

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let version = ctx.version;
    let by_id = version >= TOPIC_IDS;
    let group = request.group_id.0.as_str().to_string();
    let max_metadata = ctx.state.config.groups.offset_metadata_bytes_max;
    // As Kafka: unknown topics and partitions are answered as such, the others committed.
    let mut asked = Vec::new();
    let mut offsets: Vec<TxnOffset> = Vec::new();
    let mut too_large = false;
    for (index, t) in request.topics.iter().enumerate() {
        let topic = ctx
            .state
            .topics
            .get_named(t.name.0.as_str(), t.topic_id.into_bytes(), by_id);
        for p in &t.partitions {
            let refused = match &topic {
                None if by_id => Some(ErrorCode::UnknownTopicId),
                Some(tp) if tp.partition(p.partition_index).is_some() => None,
                _ => Some(ErrorCode::UnknownTopicOrPartition),
            };
            if let (None, Some(tp)) = (refused, &topic) {
                too_large |= p
                    .committed_metadata
                    .as_ref()
                    .is_some_and(|m| m.len() > max_metadata);
                offsets.push(TxnOffset {
                    topic: tp.name.clone(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: p.committed_leader_epoch,
                    metadata: p
                        .committed_metadata
                        .as_ref()
                        .map(|m| m.as_str().to_string()),
                });
            }
            asked.push(Asked {
                topic: index,
                partition: p.partition_index,
                refused,
            });
        }
    }
    let error = if offsets.is_empty() {
        None
    } else {
        let group_check = ctx
            .state
            .groups
            .validate_txn_commit(
                group.clone(),
                request.generation_id_or_member_epoch,
                request.member_id.as_str().to_string(),
                request
                    .group_instance_id
                    .as_ref()
                    .map(|i| i.as_str().to_string()),
                version,
            )
            .await
            .unwrap_or(Some(ErrorCode::CoordinatorNotAvailable));
        match group_check {
            Some(e) => Some(e),
            None if too_large => Some(ErrorCode::OffsetMetadataTooLarge),
            None => ctx
                .state
                .txns
                .txn_offset_commit(TxnOffsetCommit {
                    transactional_id: request.transactional_id.0.as_str().to_string(),
                    producer_id: request.producer_id.0,
                    producer_epoch: request.producer_epoch,
                    group_id: group,
                    offsets,
                    operation: operation(version),
                })
                .await
                .err()
                .map(|e| verification_error(e, version)),
        }
    };
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = request
        .topics
        .iter()
        .map(|t| {
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_topic_id(t.topic_id)
        })
        .collect();
    for a in asked {
        if let Some(t) = topics.get_mut(a.topic) {
            t.partitions.push(
                TxnOffsetCommitResponsePartition::default()
                    .with_partition_index(a.partition)
                    .with_error_code(crate::error::code(a.refused.or(error))),
            );
        }
    }
    TxnOffsetCommitResponse::default().with_topics(topics)
}
