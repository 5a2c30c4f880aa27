//! ElectLeaders (API key 43, v0–v2): on one broker every partition's only replica already
//! leads, so each named partition answers ELECTION_NOT_NEEDED (as Kafka does for a partition
//! whose preferred leader leads); a request for all partitions elects nothing.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::elect_leaders_response::{
    PartitionResult, ReplicaElectionResult,
};
use strom_codec::kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse};
use strom_codec::ErrorCode;

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=2;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: ElectLeadersRequest,
) -> ElectLeadersResponse {
    let results = request
        .topic_partitions
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let topic = ctx.state.topics.get(t.topic.0.as_str());
            let partition_result = t
                .partitions
                .iter()
                .map(|p| {
                    let error = if topic.as_ref().and_then(|tp| tp.partition(*p)).is_some() {
                        ErrorCode::ElectionNotNeeded
                    } else {
                        ErrorCode::UnknownTopicOrPartition
                    };
                    PartitionResult::default()
                        .with_partition_id(*p)
                        .with_error_code(error.code())
                })
                .collect();
            ReplicaElectionResult::default()
                .with_topic(t.topic)
                .with_partition_result(partition_result)
        })
        .collect();
    ElectLeadersResponse::default().with_replica_election_results(results)
}
