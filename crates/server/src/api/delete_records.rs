//! DeleteRecords (API key 21, v0–v2): moves partitions' log start offsets forward (offset -1
//! means the high watermark); consumers then start at the new low watermark. The new start
//! is kept durably in the partition directory.

use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use strom_codec::kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use strom_codec::ErrorCode;

use crate::context::RequestContext;
use crate::error::storage_error_code;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=2;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let state = Arc::clone(ctx.state);
    let topics = tokio::task::spawn_blocking(move || {
        request
            .topics
            .into_iter()
            .map(|t| {
                let topic = state.topics.get(t.name.0.as_str());
                let partitions = t
                    .partitions
                    .iter()
                    .map(|p| {
                        let result = DeleteRecordsPartitionResult::default()
                            .with_partition_index(p.partition_index);
                        match topic
                            .as_ref()
                            .and_then(|tp| tp.partition(p.partition_index))
                        {
                            None => result
                                .with_low_watermark(-1)
                                .with_error_code(ErrorCode::UnknownTopicOrPartition.code()),
                            Some(partition) => match partition.delete_records(p.offset) {
                                Ok(low) => result.with_low_watermark(low),
                                Err(e) => result
                                    .with_low_watermark(-1)
                                    .with_error_code(storage_error_code(&e).code()),
                            },
                        }
                    })
                    .collect();
                DeleteRecordsTopicResult::default()
                    .with_name(t.name)
                    .with_partitions(partitions)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    DeleteRecordsResponse::default().with_topics(topics)
}
