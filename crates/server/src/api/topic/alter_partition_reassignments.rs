//! AlterPartitionReassignments (API key 45, v0–v1): the only valid target on one broker is
//! the replica set it already has (this broker alone), which succeeds as a no-op; any other
//! set is INVALID_REPLICA_ASSIGNMENT, and cancelling (null replicas) finds
//! NO_REASSIGNMENT_IN_PROGRESS.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::alter_partition_reassignments_response::{
    ReassignablePartitionResponse, ReassignableTopicResponse,
};
use strom_codec::kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse,
};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=1;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: AlterPartitionReassignmentsRequest,
) -> AlterPartitionReassignmentsResponse {
    let node = ctx.state.config.node_id;
    let responses = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = ctx.state.topics.get(t.name.0.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let (error, message) = if topic.as_ref().and_then(|tp| tp.partition(p.partition_index)).is_none() {
                        (Some(ErrorCode::UnknownTopicOrPartition), None)
                    } else {
                        match &p.replicas {
                            None => (Some(ErrorCode::NoReassignmentInProgress), None),
                            Some(r) if r.len() == 1 && r.first().map(|b| b.0) == Some(node) => (None, None),
                            Some(_) => (
                                Some(ErrorCode::InvalidReplicaAssignment),
                                Some(format!("this cluster has one broker ({node}); it is the only possible replica")),
                            ),
                        }
                    };
                    ReassignablePartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(error.map_or(0, |e| e.code()))
                        .with_error_message(message.map(str_bytes))
                })
                .collect();
            ReassignableTopicResponse::default().with_name(t.name).with_partitions(partitions)
        })
        .collect();
    AlterPartitionReassignmentsResponse::default()
        .with_allow_replication_factor_change(request.allow_replication_factor_change)
        .with_responses(responses)
}
