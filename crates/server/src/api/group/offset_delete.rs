//! OffsetDelete (API key 47, v0, KIP-496): removes a group's committed offsets for some
//! partitions. Partitions of topics the group's active members subscribe to are refused with
//! GROUP_SUBSCRIBED_TO_TOPIC; an unknown group is GROUP_ID_NOT_FOUND.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use strom_codec::kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};
use strom_codec::ErrorCode;

use crate::api::text::topic_name;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=0;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let group = request.group_id.0.as_str().to_string();
    let mut wanted = Vec::new();
    let mut unknown = Vec::new();
    for t in &request.topics {
        let name = t.name.0.as_str().to_string();
        let exists = ctx.state.topics.get(&name);
        for p in &t.partitions {
            if exists
                .as_ref()
                .and_then(|tp| tp.partition(p.partition_index))
                .is_some()
            {
                wanted.push((name.clone(), p.partition_index));
            } else {
                unknown.push((name.clone(), p.partition_index));
            }
        }
    }
    let outcome = ctx.state.groups.delete_offsets(group, wanted).await;
    let (error, mut results) = match outcome {
        Some(r) => r,
        None => (Some(ErrorCode::CoordinatorNotAvailable), Vec::new()),
    };
    if error.is_some() {
        return OffsetDeleteResponse::default().with_error_code(crate::error::code(error));
    }
    results.extend(
        unknown
            .into_iter()
            .map(|(t, p)| (t, p, Some(ErrorCode::UnknownTopicOrPartition))),
    );
    let mut topics: Vec<OffsetDeleteResponseTopic> = Vec::new();
    for (t, p, e) in results {
        let partition = OffsetDeleteResponsePartition::default()
            .with_partition_index(p)
            .with_error_code(crate::error::code(e));
        match topics.iter_mut().find(|x| x.name.0.as_str() == t) {
            Some(x) => x.partitions.push(partition),
            None => topics.push(
                OffsetDeleteResponseTopic::default()
                    .with_name(topic_name(t))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    OffsetDeleteResponse::default().with_topics(topics)
}
