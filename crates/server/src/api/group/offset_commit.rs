//! OffsetCommit (API key 8, v0–v10): committed offsets with their metadata, checked against
//! the member's generation (generation -1: a simple consumer outside any group; v0 has no
//! generation and is one). v0 wrote to ZooKeeper in Kafka 3.9's ZooKeeper mode; here it is
//! stored like v1, in `__consumer_offsets`, where every version reads it. v1's per-partition
//! commit timestamp and v2–v4's retention time are accepted and not used: offsets expire by
//! the broker's `offsets.retention.minutes` alone. Partitions of unknown topics get
//! UNKNOWN_TOPIC_OR_PARTITION. v10 names topics by id (KIP-848): an unknown id is
//! UNKNOWN_TOPIC_ID. Stored in `__consumer_offsets` before the answer.

use std::collections::HashMap;
use std::ops::RangeInclusive;

use strom_codec::kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use strom_codec::kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use strom_codec::ErrorCode;
use strom_coordinator::groups::CommitRequest;

use crate::api::text::opt_string;
use crate::api::text::topic_name;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=10;

/// The first version that names topics by id.
const TOPIC_IDS: i16 = 10;

/// Per topic (its name and id as asked), each partition's error decided before the
/// coordinator is asked.
type Prechecked = Vec<((String, uuid::Uuid), Vec<(i32, Option<ErrorCode>)>)>;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let mut results: Prechecked = Vec::new();
    let mut offsets = Vec::new();
    let by_id = ctx.version >= TOPIC_IDS;
    for t in &request.topics {
        let topic = ctx
            .state
            .topics
            .get_named(t.name.0.as_str(), t.topic_id.into_bytes(), by_id);
        let name = topic
            .as_ref()
            .map_or_else(|| t.name.0.as_str().to_string(), |tp| tp.name.clone());
        let mut partitions = Vec::new();
        for p in &t.partitions {
            if by_id && topic.is_none() {
                partitions.push((p.partition_index, Some(ErrorCode::UnknownTopicId)));
                continue;
            }
            if topic
                .as_ref()
                .and_then(|tp| tp.partition(p.partition_index))
                .is_none()
            {
                partitions.push((p.partition_index, Some(ErrorCode::UnknownTopicOrPartition)));
                continue;
            }
            partitions.push((p.partition_index, None));
            offsets.push((
                name.clone(),
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch,
                opt_string(p.committed_metadata.as_ref()),
            ));
        }
        results.push(((name, t.topic_id), partitions));
    }
    let mut outcome: HashMap<(String, i32), Option<ErrorCode>> = HashMap::new();
    if !offsets.is_empty() {
        let req = CommitRequest {
            group_id: request.group_id.0.as_str().to_string(),
            generation_id: request.generation_id_or_member_epoch,
            member_id: request.member_id.as_str().to_string(),
            group_instance_id: opt_string(request.group_instance_id.as_ref()),
            api_version: ctx.version,
            offsets,
        };
        let keys: Vec<(String, i32)> = req
            .offsets
            .iter()
            .map(|(t, p, ..)| (t.clone(), *p))
            .collect();
        match ctx.state.groups.commit(req).await {
            Some(c) => {
                for (t, p, e) in c.errors {
                    outcome.insert((t, p), e);
                }
            }
            None => {
                for k in keys {
                    outcome.insert(k, Some(ErrorCode::CoordinatorNotAvailable));
                }
            }
        }
    }
    let topics = results
        .into_iter()
        .map(|((name, topic_id), partitions)| {
            let partitions = partitions
                .into_iter()
                .map(|(index, pre)| {
                    let error =
                        pre.or_else(|| outcome.get(&(name.clone(), index)).copied().flatten());
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(index)
                        .with_error_code(crate::error::code(error))
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(topic_name(name))
                .with_topic_id(topic_id)
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}
