//! Produce (API key 0, v3–v11; v0–v2 advertised but refused, as Kafka 4): validate each
//! partition's batches and append them. acks 0/1/-1 all mean "in the page cache" on one
//! broker; acks=0 gets no response. Errors are per partition.

use strom_codec::kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use strom_codec::kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use strom_codec::ErrorCode;

use super::str_bytes;
use crate::connection::ConnectionContext;
use crate::error::storage_error_code;

fn failed(index: i32, error: ErrorCode, message: Option<String>) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(error.code())
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(message.map(str_bytes))
}

/// For a transactional batch: why the transaction coordinator refuses it (stale epoch,
/// partition not added to the open transaction), if it does.
async fn transactional_refusal(
    ctx: &ConnectionContext,
    records: &[u8],
    topic: &str,
    partition: i32,
) -> Option<ErrorCode> {
    let header = strom_storage::batch::BatchHeader::parse(records).ok()?;
    if !header.is_transactional() {
        return None;
    }
    if header.producer_id < 0 {
        return Some(ErrorCode::InvalidRecord);
    }
    ctx.state
        .txns
        .check_produce(header.producer_id, header.producer_epoch, topic, partition)
        .await
}

pub async fn handle(
    ctx: &ConnectionContext,
    version: i16,
    request: ProduceRequest,
) -> Option<ProduceResponse> {
    let acks = request.acks;
    let acks_valid = matches!(acks, -1..=1);
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let name = topic_data.name.0.clone();
        let topic = if version >= 13 {
            ctx.state.topics.get_by_id(&topic_data.topic_id)
        } else {
            ctx.state.topics.get(&name)
        };
        let mut partitions = Vec::with_capacity(topic_data.partition_data.len());
        for data in topic_data.partition_data {
            let index = data.index;
            let response = if !acks_valid {
                failed(
                    index,
                    ErrorCode::InvalidRequiredAcks,
                    Some(format!("acks={acks} must be -1, 0 or 1")),
                )
            } else if let Some(partition) = topic.as_ref().and_then(|t| t.partition(index)) {
                match data.records.as_deref() {
                    None | Some([]) => {
                        failed(index, ErrorCode::InvalidRecord, Some("no records".into()))
                    }
                    Some(records) => {
                        match transactional_refusal(ctx, records, &name, index).await {
                            Some(e) => failed(
                                index,
                                e,
                                Some(
                                    "transactional batch outside the producer's open transaction"
                                        .into(),
                                ),
                            ),
                            None => match partition.append(records) {
                                Ok(info) => {
                                    if !info.duplicate {
                                        ctx.state.metrics.produced(
                                            &name,
                                            records.len() as u64,
                                            u64::try_from(info.last_offset - info.base_offset + 1)
                                                .unwrap_or(0),
                                        );
                                    }
                                    PartitionProduceResponse::default()
                                        .with_index(index)
                                        .with_base_offset(info.base_offset)
                                        .with_log_append_time_ms(info.log_append_time)
                                        .with_log_start_offset(info.log_start_offset)
                                }
                                Err(e) => {
                                    tracing::debug!(peer = %ctx.peer, topic = %name, partition = index, error = %e, "produce refused");
                                    let mut response =
                                        failed(index, storage_error_code(&e), Some(e.to_string()));
                                    if let strom_storage::Error::KeylessRecords { record_indexes } =
                                        &e
                                    {
                                        // v8+: which records were bad; clients fail the others of the
                                        // batch with INVALID_DIFFERENT_RECORD (KIP-467).
                                        response = response.with_record_errors(
                                    record_indexes
                                        .iter()
                                        .map(|i| {
                                            BatchIndexAndErrorMessage::default()
                                                .with_batch_index(*i)
                                                .with_batch_index_error_message(Some(str_bytes(
                                                    "Compacted topic cannot accept message without key",
                                                )))
                                        })
                                        .collect(),
                                );
                                    }
                                    response
                                }
                            },
                        }
                    }
                }
            } else {
                failed(index, ErrorCode::UnknownTopicOrPartition, None)
            };
            partitions.push(response);
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_topic_id(topic_data.topic_id)
                .with_partition_responses(partitions),
        );
    }
    if acks == 0 {
        return None;
    }
    Some(ProduceResponse::default().with_responses(responses))
}
