//! OffsetForLeaderEpoch (API key 23, v0–v4): where a leader epoch ended, from the log's
//! leader-epoch cache (the current epoch ends at the log end), which clients use to detect
//! log truncation. `current_leader_epoch` fences clients that know another epoch (KIP-320):
//! an older one gets FENCED_LEADER_EPOCH, a newer one UNKNOWN_LEADER_EPOCH.

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
pub const VERSIONS: RangeInclusive<i16> = 0..=4;

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
                    let current = partition.leader_epoch();
                    if p.current_leader_epoch > current {
                        return base.with_error_code(ErrorCode::UnknownLeaderEpoch.code());
                    }
                    if p.current_leader_epoch >= 0 && p.current_leader_epoch < current {
                        return base.with_error_code(ErrorCode::FencedLeaderEpoch.code());
                    }
                    let (epoch, end_offset) = partition.log().end_offset_for_epoch(p.leader_epoch);
                    base.with_leader_epoch(epoch).with_end_offset(end_offset)
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
