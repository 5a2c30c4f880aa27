//! OffsetForLeaderEpoch (API key 23, v2–v4): the end offset of a leader epoch, which clients
//! use to detect log truncation. One broker has only ever had leader epoch 0, so epoch 0 ends
//! at the log end offset and any other epoch is undefined. `current_leader_epoch` fences
//! clients that know a different epoch (KIP-320).

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use strom_codec::kafka_protocol::messages::{
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};
use strom_codec::ErrorCode;

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 2..=4;

/// The only leader epoch a single broker has.
pub const LEADER_EPOCH: i32 = 0;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = ctx.state.topics.get(t.topic.0.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let base = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    let Some(partition) = topic.as_ref().and_then(|tp| tp.partition(p.partition))
                    else {
                        return base.with_error_code(ErrorCode::UnknownTopicOrPartition.code());
                    };
                    if p.current_leader_epoch > LEADER_EPOCH {
                        return base.with_error_code(ErrorCode::UnknownLeaderEpoch.code());
                    }
                    // An older epoch (FENCED_LEADER_EPOCH) cannot exist: 0 is the first.
                    if p.leader_epoch == LEADER_EPOCH {
                        base.with_leader_epoch(LEADER_EPOCH)
                            .with_end_offset(partition.offsets().1)
                    } else {
                        base
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
