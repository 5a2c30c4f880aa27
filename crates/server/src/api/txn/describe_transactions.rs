//! DescribeTransactions (API key 65, v0, KIP-664): for each transactional id, its state,
//! timeout, the start of its open transaction, producer id and epoch, and the partitions in
//! the transaction; TRANSACTIONAL_ID_NOT_FOUND for an id this coordinator does not hold.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::describe_transactions_response::{
    TopicData, TransactionState,
};
use strom_codec::kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId,
};
use strom_codec::ErrorCode;

use crate::api::text::{str_bytes, topic_name};
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=0;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let all = ctx.state.txns.list().await;
    let states = request
        .transactional_ids
        .into_iter()
        .map(|id| {
            let base = TransactionState::default().with_transactional_id(id.clone());
            let Some(all) = all.as_ref() else {
                return base.with_error_code(ErrorCode::CoordinatorNotAvailable.code());
            };
            let Some(t) = all.iter().find(|t| t.transactional_id == id.0.as_str()) else {
                return base.with_error_code(ErrorCode::TransactionalIdNotFound.code());
            };
            let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
            for (topic, partition) in &t.partitions {
                topics.entry(topic.as_str()).or_default().push(*partition);
            }
            base.with_transaction_state(str_bytes(t.state.name().to_string()))
                .with_transaction_timeout_ms(t.timeout_ms)
                .with_transaction_start_time_ms(t.start_ms)
                .with_producer_id(ProducerId(t.producer_id))
                .with_producer_epoch(t.producer_epoch)
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(topic, partitions)| {
                            TopicData::default()
                                .with_topic(topic_name(topic.to_string()))
                                .with_partitions(partitions)
                        })
                        .collect(),
                )
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}
