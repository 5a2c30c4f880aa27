//! ListOffsets (API key 2, v0–v11): earliest (-2), latest (-1; the last stable offset for
//! `read_committed`), max timestamp (-3, KIP-734), earliest local (-4), latest tiered (-5,
//! KIP-1005) and earliest pending upload (-6, KIP-1023, asked from v11; with no tiered storage
//! both are none: offset, timestamp and leader epoch -1, as Kafka answers), or the first
//! offset whose timestamp is ≥ a given time, through the time index. v0 answers as Kafka 3.9
//! did: a list of at most `max_num_offsets` segment boundaries before the time, newest
//! first, none past the high watermark for a consumer. v10's timeout bounds waiting for
//! tiered offsets, which never happens here.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::list_offsets_request::ListOffsetsPartition;
use strom_codec::kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use strom_codec::kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use strom_codec::ErrorCode;

use crate::context::RequestContext;
use crate::error::storage_error_code;
use crate::topics::Partition;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=11;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;
const EARLIEST_PENDING_UPLOAD: i64 = -6;

pub async fn handle(ctx: &RequestContext<'_>, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let version = ctx.version;
    let read_committed = request.isolation_level == 1;
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = ctx.state.topics.get(t.name.0.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let base = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index);
                    let partition = topic
                        .as_ref()
                        .and_then(|tp| tp.partition(p.partition_index));
                    if version == 0 {
                        let now_ms = ctx.state.clock.wall_ms();
                        return lookup_v0(
                            partition.map(|p| &**p),
                            p,
                            request.replica_id.0,
                            base,
                            now_ms,
                        );
                    }
                    match partition {
                        Some(partition) => {
                            lookup(partition, p.timestamp, base, version, read_committed)
                        }
                        None => base
                            .with_error_code(ErrorCode::UnknownTopicOrPartition.code())
                            .with_timestamp(-1)
                            .with_offset(-1)
                            .with_leader_epoch(-1),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// v0: offsets only, in `old_style_offsets`; `timestamp` and `offset` stay -1, as the
/// version has no such fields.
fn lookup_v0(
    partition: Option<&Partition>,
    request: &ListOffsetsPartition,
    replica_id: i32,
    base: ListOffsetsPartitionResponse,
    now_ms: i64,
) -> ListOffsetsPartitionResponse {
    let Some(partition) = partition else {
        return base.with_error_code(ErrorCode::UnknownTopicOrPartition.code());
    };
    let state = partition.read_state();
    let mut offsets = state.offsets_before(request.timestamp, request.max_num_offsets, now_ms);
    // A consumer (replica id -1) sees nothing past the high watermark: the offsets above it
    // are replaced by it, as Kafka's handleListOffsetRequestV0.
    if replica_id < 0 && offsets.first().is_some_and(|&o| o > state.high_watermark) {
        offsets.retain(|&o| o <= state.high_watermark);
        offsets.insert(0, state.high_watermark);
    }
    base.with_old_style_offsets(offsets)
}

fn lookup(
    partition: &Partition,
    timestamp: i64,
    base: ListOffsetsPartitionResponse,
    version: i16,
    read_committed: bool,
) -> ListOffsetsPartitionResponse {
    // leader_epoch exists from v4; a value in an older version cannot be encoded.
    let base = if version >= 4 {
        base.with_leader_epoch(partition.leader_epoch())
    } else {
        base
    };
    let state = partition.read_state();
    // Consumers see up to the high watermark, read_committed ones up to the last stable
    // offset (Kafka's `lastFetchableOffset`).
    let fetchable = if read_committed {
        state.last_stable_offset
    } else {
        state.high_watermark
    };
    let found = match timestamp {
        LATEST => Ok(Some((fetchable, -1))),
        EARLIEST | EARLIEST_LOCAL => Ok(Some((state.log_start_offset, -1))),
        LATEST_TIERED | EARLIEST_PENDING_UPLOAD => Ok(None),
        MAX_TIMESTAMP => {
            let (offset, ts) = state.max_timestamp();
            Ok((offset >= 0 && offset < fetchable).then_some((offset, ts)))
        }
        t => state.offset_for_timestamp(t, fetchable),
    };
    match found {
        Ok(Some((offset, ts))) => base.with_offset(offset).with_timestamp(ts),
        Ok(None) => base
            .with_offset(-1)
            .with_timestamp(-1)
            .with_leader_epoch(-1),
        Err(e) => base
            .with_error_code(storage_error_code(&e).code())
            .with_offset(-1)
            .with_timestamp(-1),
    }
}
