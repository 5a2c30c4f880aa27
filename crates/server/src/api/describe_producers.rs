//! DescribeProducers (API key 61, v0, KIP-664): the idempotent producers that wrote to each
//! named partition, with epoch, last sequence, last timestamp and the first offset of its
//! open transaction. `coordinator_epoch` is -1 (markers are written without one).

use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use strom_codec::kafka_protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, ProducerId,
};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;
use crate::error::storage_error_code;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=0;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let state = Arc::clone(ctx.state);
    // Rebuilding producer state may read segment headers from disk.
    let topics = tokio::task::spawn_blocking(move || {
        request
            .topics
            .into_iter()
            .map(|t| {
                let topic = state.topics.get(t.name.0.as_str());
                let partitions = t
                    .partition_indexes
                    .iter()
                    .map(|&index| {
                        let response = PartitionResponse::default().with_partition_index(index);
                        let Some(partition) = topic.as_ref().and_then(|tp| tp.partition(index))
                        else {
                            return response
                                .with_error_code(ErrorCode::UnknownTopicOrPartition.code())
                                .with_error_message(Some(str_bytes(format!(
                                    "{}-{index} does not exist",
                                    t.name.0.as_str()
                                ))));
                        };
                        match partition.log().active_producers() {
                            Ok(producers) => response.with_active_producers(
                                producers
                                    .into_iter()
                                    .map(|p| {
                                        ProducerState::default()
                                            .with_producer_id(ProducerId(p.producer_id))
                                            .with_producer_epoch(i32::from(p.epoch))
                                            .with_last_sequence(p.last_sequence)
                                            .with_last_timestamp(p.last_timestamp)
                                            .with_coordinator_epoch(-1)
                                            .with_current_txn_start_offset(
                                                p.current_txn_start_offset,
                                            )
                                    })
                                    .collect(),
                            ),
                            Err(e) => response
                                .with_error_code(storage_error_code(&e).code())
                                .with_error_message(Some(str_bytes(e.to_string()))),
                        }
                    })
                    .collect();
                TopicResponse::default()
                    .with_name(t.name)
                    .with_partitions(partitions)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    DescribeProducersResponse::default().with_topics(topics)
}
