//! AddPartitionsToTxn (API key 24, v0–v5): partitions join the producer's open transaction
//! (answered by the transaction coordinator). v0–v3 come from clients, one transaction each.
//! v4–v5 (KIP-890) are what brokers send the coordinator: a batch of transactions, each
//! either added (with transactions v2) or, with `VerifyOnly`, checked partition by partition
//! (TRANSACTION_ABORTABLE for one not in the transaction). A transaction with an unknown
//! partition fails alone: that partition UNKNOWN_TOPIC_OR_PARTITION, the others
//! OPERATION_NOT_ATTEMPTED, as Kafka answers.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use strom_codec::kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use strom_codec::kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, TransactionalId,
};
use strom_codec::ErrorCode;
use strom_coordinator::transactions::AddPartitions;

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=5;

/// The first version brokers send (a batch of transactions, transactions v2).
const BROKER_VERSION: i16 = 4;

/// One transaction of the request.
struct Transaction {
    transactional_id: String,
    producer_id: i64,
    producer_epoch: i16,
    verify_only: bool,
    partitions: Vec<(String, i32)>,
}

fn partitions_of(topics: &[AddPartitionsToTxnTopic]) -> Vec<(String, i32)> {
    topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.0.as_str().to_string(), *p))
        })
        .collect()
}

/// Per partition: an unknown one fails alone and the others are OPERATION_NOT_ATTEMPTED;
/// otherwise they are added (or verified) together.
async fn answer(
    ctx: &RequestContext<'_>,
    txn: Transaction,
) -> Vec<((String, i32), Option<ErrorCode>)> {
    let unknown: Vec<bool> = txn
        .partitions
        .iter()
        .map(|(topic, p)| {
            ctx.state
                .topics
                .get(topic)
                .and_then(|tp| tp.partition(*p).cloned())
                .is_none()
        })
        .collect();
    if unknown.iter().any(|u| *u) {
        return txn
            .partitions
            .into_iter()
            .zip(unknown)
            .map(|(p, u)| {
                let error = if u {
                    ErrorCode::UnknownTopicOrPartition
                } else {
                    ErrorCode::OperationNotAttempted
                };
                (p, Some(error))
            })
            .collect();
    }
    if txn.verify_only {
        let verified = ctx
            .state
            .txns
            .verify_partitions(
                txn.transactional_id,
                txn.producer_id,
                txn.producer_epoch,
                txn.partitions.clone(),
            )
            .await;
        return match verified {
            Ok(errors) => txn.partitions.into_iter().zip(errors).collect(),
            Err(e) => txn.partitions.into_iter().map(|p| (p, Some(e))).collect(),
        };
    }
    let version = ctx.version;
    let result = if txn.transactional_id.is_empty() {
        Err(ErrorCode::InvalidRequest)
    } else {
        ctx.state
            .txns
            .add_partitions(AddPartitions {
                transactional_id: txn.transactional_id,
                producer_id: txn.producer_id,
                producer_epoch: txn.producer_epoch,
                partitions: txn.partitions.clone(),
                tv2: version >= BROKER_VERSION,
            })
            .await
    };
    let error = result.err().map(|e| super::fenced_as_known(e, version, 2));
    txn.partitions.into_iter().map(|p| (p, error)).collect()
}

/// The results of one transaction, by topic in request order.
fn by_topic(
    results: Vec<((String, i32), Option<ErrorCode>)>,
) -> Vec<AddPartitionsToTxnTopicResult> {
    let mut by_topic: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((topic, partition), error) in results {
        let result = AddPartitionsToTxnPartitionResult::default()
            .with_partition_index(partition)
            .with_partition_error_code(crate::error::code(error));
        match by_topic.iter_mut().find(|t| t.name.0.as_str() == topic) {
            Some(t) => t.results_by_partition.push(result),
            None => by_topic.push(
                AddPartitionsToTxnTopicResult::default()
                    .with_name(crate::api::text::topic_name(topic))
                    .with_results_by_partition(vec![result]),
            ),
        }
    }
    by_topic
}

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    if ctx.version < BROKER_VERSION {
        let txn = Transaction {
            transactional_id: request.v3_and_below_transactional_id.0.as_str().to_string(),
            producer_id: request.v3_and_below_producer_id.0,
            producer_epoch: request.v3_and_below_producer_epoch,
            verify_only: false,
            partitions: partitions_of(&request.v3_and_below_topics),
        };
        let results = answer(ctx, txn).await;
        return AddPartitionsToTxnResponse::default()
            .with_results_by_topic_v3_and_below(by_topic(results));
    }
    let mut results = Vec::with_capacity(request.transactions.len());
    for t in &request.transactions {
        let txn = Transaction {
            transactional_id: t.transactional_id.0.as_str().to_string(),
            producer_id: t.producer_id.0,
            producer_epoch: t.producer_epoch,
            verify_only: t.verify_only,
            partitions: partitions_of(&t.topics),
        };
        results.push(
            AddPartitionsToTxnResult::default()
                .with_transactional_id(TransactionalId(t.transactional_id.0.clone()))
                .with_topic_results(by_topic(answer(ctx, txn).await)),
        );
    }
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}
