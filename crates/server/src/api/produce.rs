//! Produce (API key 0, v3–v11; v0–v2 advertised but refused, as Kafka 4): validate each
//! partition's batches and append them. acks 0/1/-1 all mean "in the page cache" on one
//! broker; acks=0 gets no response. Errors are per partition.

use bytes::BytesMut;
use std::ops::RangeInclusive;
use strom_codec::produce::{PartitionResponse, ProduceRequestView, ProduceResponseWriter};
use strom_codec::ErrorCode;

use crate::context::RequestContext;
use crate::error::storage_error_code;

/// The versions answered: v0–v2 are advertised but refused, as Kafka 4 (see
/// [`crate::handlers::Handler::served`]).
pub const VERSIONS: RangeInclusive<i16> = 3..=11;
/// The versions ApiVersions lists.
pub const ADVERTISED: RangeInclusive<i16> = 0..=11;

/// What the connection needs besides the bytes written.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// 0: the client wants no response (the caller drops what was written).
    pub acks: i16,
    /// The first partition error, for the request metrics (0 if none).
    pub first_error: i16,
}

fn failed<'a>(index: i32, error: ErrorCode, message: Option<&'a str>) -> PartitionResponse<'a> {
    PartitionResponse {
        index,
        error_code: error.code(),
        base_offset: -1,
        log_append_time_ms: -1,
        log_start_offset: -1,
        record_errors: &[],
        error_message: message,
    }
}

const KEYLESS_MESSAGE: &str = "Compacted topic cannot accept message without key";

/// For a transactional batch: why the transaction coordinator refuses it (stale epoch,
/// partition not added to the open transaction), if it does.
async fn transactional_refusal(
    ctx: &RequestContext<'_>,
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

/// Appends every partition's batches and writes the response body into `out` (after the
/// header the caller wrote), one partition at a time, in request order.
pub async fn handle(
    ctx: &RequestContext<'_>,
    request: &ProduceRequestView,
    out: &mut BytesMut,
) -> Outcome {
    let acks = request.acks;
    let acks_valid = matches!(acks, -1..=1);
    let version = request.version();
    let mut first_error = 0;
    let mut w = ProduceResponseWriter::new(out, version, request.topic_count());
    for topic_data in request.topics() {
        let name = topic_data.name;
        let topic = ctx
            .state
            .topics
            .get_named(name, topic_data.topic_id, version >= 13);
        let name = topic.as_ref().map_or(name, |t| t.name.as_str());
        w.topic(
            topic_data.name,
            topic_data.topic_id,
            topic_data.partitions.len(),
        );
        for data in topic_data.partitions {
            let index = data.index;
            let acks_message;
            let error_message;
            let record_errors: Vec<(i32, &str)>;
            let response = if !acks_valid {
                acks_message = format!("acks={acks} must be -1, 0 or 1");
                failed(index, ErrorCode::InvalidRequiredAcks, Some(&acks_message))
            } else if let Some(partition) = topic.as_ref().and_then(|t| t.partition(index)) {
                match data.records.as_deref() {
                    None | Some([]) => failed(index, ErrorCode::InvalidRecord, Some("no records")),
                    Some(records) => match transactional_refusal(ctx, records, name, index).await {
                        Some(e) => failed(
                            index,
                            e,
                            Some("transactional batch outside the producer's open transaction"),
                        ),
                        None => match partition.append(records) {
                            Ok(info) => {
                                if !info.duplicate {
                                    ctx.state.metrics.produced(
                                        name,
                                        records.len() as u64,
                                        u64::try_from(info.last_offset - info.base_offset + 1)
                                            .unwrap_or(0),
                                    );
                                }
                                PartitionResponse {
                                    index,
                                    error_code: 0,
                                    base_offset: info.base_offset,
                                    log_append_time_ms: info.log_append_time,
                                    log_start_offset: info.log_start_offset,
                                    record_errors: &[],
                                    error_message: None,
                                }
                            }
                            Err(e) => {
                                tracing::debug!(peer = %ctx.peer, topic = %name, partition = index, error = %e, "produce refused");
                                error_message = e.to_string();
                                let mut response =
                                    failed(index, storage_error_code(&e), Some(&error_message));
                                if let strom_storage::Error::KeylessRecords { record_indexes } = &e
                                {
                                    // v8+: which records were bad; clients fail the others of
                                    // the batch with INVALID_DIFFERENT_RECORD (KIP-467).
                                    record_errors = record_indexes
                                        .iter()
                                        .map(|i| (*i, KEYLESS_MESSAGE))
                                        .collect();
                                    response.record_errors = &record_errors;
                                }
                                response
                            }
                        },
                    },
                }
            } else {
                failed(index, ErrorCode::UnknownTopicOrPartition, None)
            };
            if first_error == 0 {
                first_error = response.error_code;
            }
            w.partition(&response);
        }
    }
    w.finish(0);
    Outcome { acks, first_error }
}
