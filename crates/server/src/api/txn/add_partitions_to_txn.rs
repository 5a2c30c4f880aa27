//! AddPartitionsToTxn (API key 24, v0–v3): partitions join the producer's open transaction
//! (answered by the transaction coordinator). The KIP-890 forms (v4+, sent broker to
//! coordinator) are not advertised.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use strom_codec::kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
};
use strom_codec::ErrorCode;
use strom_coordinator::transactions::AddPartitions;

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=3;

/// Per partition: an unknown one fails alone and the others are OPERATION_NOT_ATTEMPTED (as
/// Kafka answers); otherwise they join the transaction together.
async fn add(
    ctx: &RequestContext<'_>,
    request: &AddPartitionsToTxnRequest,
    partitions: Vec<(String, i32)>,
) -> Vec<((String, i32), Option<ErrorCode>)> {
    let unknown: Vec<bool> = partitions
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
        return partitions
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
    let result = ctx
        .state
        .txns
        .add_partitions(AddPartitions {
            transactional_id: request.v3_and_below_transactional_id.0.as_str().to_string(),
            producer_id: request.v3_and_below_producer_id.0,
            producer_epoch: request.v3_and_below_producer_epoch,
            partitions: partitions.clone(),
            tv2: false,
        })
        .await;
    partitions.into_iter().map(|p| (p, result.err())).collect()
}

pub async fn handle(
    ctx: &RequestContext<'_>,
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
    let results = add(ctx, &request, partitions).await;
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
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(by_topic)
}
