//! OffsetDelete (API key 47, v0, KIP-496): removes a group's committed offsets for some
//! partitions. Partitions of topics the group's active members subscribe to are refused with
//! GROUP_SUBSCRIBED_TO_TOPIC; an unknown group is GROUP_ID_NOT_FOUND.

use bytes::{Buf, Bytes};
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

/// Whether a consumer-protocol subscription (`ConsumerProtocolSubscription`: version i16,
/// then an array of topic names) names `topic`. Undecodable metadata counts as subscribed,
/// so offsets are never deleted from under a member we cannot read.
pub fn subscribes_to(metadata: &Bytes, topic: &str) -> bool {
    let mut b = metadata.clone();
    if b.remaining() < 6 {
        return true;
    }
    let _version = b.get_i16();
    let count = b.get_i32();
    for _ in 0..count.max(0) {
        if b.remaining() < 2 {
            return true;
        }
        let len = usize::try_from(b.get_i16()).unwrap_or(0);
        if b.remaining() < len {
            return true;
        }
        let name = b.split_to(len);
        if &name[..] == topic.as_bytes() {
            return true;
        }
    }
    false
}

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
    let outcome = ctx
        .state
        .groups
        .query(move |groups| {
            let (error, results, records) = groups.delete_offsets(&group, &wanted, subscribes_to);
            ((error, results), records)
        })
        .await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_topics_are_read() {
        let mut m = vec![0, 1, 0, 0, 0, 2];
        for t in ["orders", "pay"] {
            m.extend_from_slice(&i16::try_from(t.len()).unwrap_or(0).to_be_bytes());
            m.extend_from_slice(t.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 0, 0]); // user data
        let m = Bytes::from(m);
        assert!(subscribes_to(&m, "pay"));
        assert!(!subscribes_to(&m, "other"));
        assert!(
            subscribes_to(&Bytes::from_static(&[0]), "x"),
            "unreadable counts as subscribed"
        );
    }
}
