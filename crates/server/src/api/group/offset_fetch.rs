//! OffsetFetch (API key 9, v0–v10): committed offsets of one group (v0–v7) or several (v8+);
//! `topics = null` asks for all of a group's offsets (v2+). v0 read ZooKeeper in Kafka 3.9's
//! ZooKeeper mode; here it reads what every other version reads (`__consumer_offsets`), so a
//! v0 client sees the commits of newer ones. v0 and v1 have no group-level error: a group
//! error is repeated in every partition asked for, as Kafka did. Unknown offsets are -1 with empty
//! metadata. With `require_stable` (v7+), a partition whose offset waits on an open
//! transaction answers UNSTABLE_OFFSET_COMMIT (the client retries), as in KIP-447. v10 names
//! topics by id (KIP-848): an unknown id is UNKNOWN_TOPIC_ID, and asked for all offsets, a
//! group's offsets of topics that no longer exist are left out (they have no id), as Kafka
//! 4.4 answers.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use strom_codec::kafka_protocol::messages::{GroupId, OffsetFetchRequest, OffsetFetchResponse};
use strom_codec::ErrorCode;
use strom_coordinator::groups::CommittedOffset;

use crate::api::text::{str_bytes, topic_name};
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=10;

/// The first version that names topics by id.
const TOPIC_IDS: i16 = 10;

async fn fetch(
    ctx: &RequestContext<'_>,
    group: String,
    partitions: Option<Vec<(String, i32)>>,
) -> Option<Vec<CommittedOffset>> {
    ctx.state.groups.fetch_offsets(group, partitions).await
}

/// Partitions of `group` whose offsets wait on an open transaction, when asked to care.
async fn unstable(
    ctx: &RequestContext<'_>,
    group: &str,
    require_stable: bool,
) -> std::collections::BTreeSet<(String, i32)> {
    if require_stable {
        ctx.state.txns.pending_offsets(group.to_string()).await
    } else {
        std::collections::BTreeSet::new()
    }
}

/// Groups offsets by topic, keeping first-seen topic order.
fn by_topic(offsets: Vec<CommittedOffset>) -> Vec<(String, Vec<CommittedOffset>)> {
    let mut out: Vec<(String, Vec<CommittedOffset>)> = Vec::new();
    for o in offsets {
        match out.iter_mut().find(|(t, _)| *t == o.topic) {
            Some((_, v)) => v.push(o),
            None => out.push((o.topic.clone(), vec![o])),
        }
    }
    out
}

pub async fn handle(ctx: &RequestContext<'_>, request: OffsetFetchRequest) -> OffsetFetchResponse {
    let version = ctx.version;
    if version >= 8 {
        let mut groups = Vec::new();
        let by_id = version >= TOPIC_IDS;
        for g in request.groups {
            // v10: topics asked for by an id no topic has, answered UNKNOWN_TOPIC_ID.
            let mut unknown_ids = Vec::new();
            let wanted = g.topics.map(|topics| {
                topics
                    .into_iter()
                    .flat_map(|t| {
                        let name = if by_id {
                            match ctx.state.topics.get_by_id(&t.topic_id) {
                                Some(topic) => topic.name.clone(),
                                None => {
                                    unknown_ids.push((t.topic_id, t.partition_indexes));
                                    return Vec::new();
                                }
                            }
                        } else {
                            t.name.0.as_str().to_string()
                        };
                        t.partition_indexes
                            .into_iter()
                            .map(|p| (name.clone(), p))
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            });
            let all_topics = wanted.is_none();
            let group_id = g.group_id.0.as_str().to_string();
            if version >= 9 {
                let member = g.member_id.as_ref().map(|m| m.as_str().to_string());
                let check = ctx
                    .state
                    .groups
                    .validate_offset_fetch(group_id.clone(), member, g.member_epoch)
                    .await
                    .unwrap_or(Some(ErrorCode::CoordinatorNotAvailable));
                if let Some(e) = check {
                    groups.push(
                        OffsetFetchResponseGroup::default()
                            .with_group_id(GroupId(g.group_id.0))
                            .with_error_code(e.code()),
                    );
                    continue;
                }
            }
            let unstable = unstable(ctx, &group_id, request.require_stable).await;
            let response = match fetch(ctx, group_id, wanted).await {
                Some(offsets) => OffsetFetchResponseGroup::default().with_topics(
                    by_topic(offsets)
                        .into_iter()
                        .filter_map(|(t, parts)| {
                            let id = if by_id {
                                match ctx.state.topics.get(&t) {
                                    Some(topic) => topic.id,
                                    // All offsets: a deleted topic's are left out.
                                    None if all_topics => return None,
                                    None => uuid::Uuid::nil(),
                                }
                            } else {
                                uuid::Uuid::nil()
                            };
                            Some((t, id, parts))
                        })
                        .map(|(t, id, parts)| {
                            OffsetFetchResponseTopics::default()
                                .with_name(topic_name(t))
                                .with_topic_id(id)
                                .with_partitions(
                                    parts
                                        .into_iter()
                                        .map(|o| {
                                            let pending =
                                                unstable.contains(&(o.topic.clone(), o.partition));
                                            OffsetFetchResponsePartitions::default()
                                                .with_partition_index(o.partition)
                                                .with_committed_offset(if pending {
                                                    -1
                                                } else {
                                                    o.offset
                                                })
                                                .with_committed_leader_epoch(o.leader_epoch)
                                                .with_metadata(Some(str_bytes(o.metadata)))
                                                .with_error_code(if pending {
                                                    ErrorCode::UnstableOffsetCommit.code()
                                                } else {
                                                    0
                                                })
                                        })
                                        .collect(),
                                )
                        })
                        .chain(unknown_ids.into_iter().map(|(id, partitions)| {
                            OffsetFetchResponseTopics::default()
                                .with_topic_id(id)
                                .with_partitions(
                                    partitions
                                        .into_iter()
                                        .map(|p| {
                                            OffsetFetchResponsePartitions::default()
                                                .with_partition_index(p)
                                                .with_committed_offset(-1)
                                                .with_committed_leader_epoch(-1)
                                                .with_metadata(Some(str_bytes("")))
                                                .with_error_code(ErrorCode::UnknownTopicId.code())
                                        })
                                        .collect(),
                                )
                        }))
                        .collect(),
                ),
                None => OffsetFetchResponseGroup::default()
                    .with_error_code(ErrorCode::CoordinatorNotAvailable.code()),
            };
            groups.push(response.with_group_id(GroupId(g.group_id.0)));
        }
        return OffsetFetchResponse::default().with_groups(groups);
    }
    // Before v2 the group-level error cannot be encoded: keep what was asked for, to repeat
    // the error per partition.
    let asked = (version < 2).then(|| request.topics.clone().unwrap_or_default());
    let wanted = request.topics.map(|topics| {
        topics
            .into_iter()
            .flat_map(|t| {
                let name = t.name.0.as_str().to_string();
                t.partition_indexes
                    .into_iter()
                    .map(move |p| (name.clone(), p))
            })
            .collect::<Vec<_>>()
    });
    let unstable = unstable(ctx, request.group_id.0.as_str(), request.require_stable).await;
    match fetch(ctx, request.group_id.0.as_str().to_string(), wanted).await {
        Some(offsets) => OffsetFetchResponse::default().with_topics(
            by_topic(offsets)
                .into_iter()
                .map(|(t, parts)| {
                    OffsetFetchResponseTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(
                            parts
                                .into_iter()
                                .map(|o| {
                                    let pending =
                                        unstable.contains(&(o.topic.clone(), o.partition));
                                    OffsetFetchResponsePartition::default()
                                        .with_partition_index(o.partition)
                                        .with_committed_offset(if pending { -1 } else { o.offset })
                                        .with_committed_leader_epoch(o.leader_epoch)
                                        .with_metadata(Some(str_bytes(o.metadata)))
                                        .with_error_code(if pending {
                                            ErrorCode::UnstableOffsetCommit.code()
                                        } else {
                                            0
                                        })
                                })
                                .collect(),
                        )
                })
                .collect(),
        ),
        None => match asked {
            Some(asked) => OffsetFetchResponse::default().with_topics(
                asked
                    .into_iter()
                    .map(|t| {
                        OffsetFetchResponseTopic::default()
                            .with_name(t.name)
                            .with_partitions(
                                t.partition_indexes
                                    .into_iter()
                                    .map(|p| {
                                        OffsetFetchResponsePartition::default()
                                            .with_partition_index(p)
                                            .with_committed_offset(-1)
                                            .with_metadata(Some(str_bytes(String::new())))
                                            .with_error_code(
                                                ErrorCode::CoordinatorNotAvailable.code(),
                                            )
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
            None => OffsetFetchResponse::default()
                .with_error_code(ErrorCode::CoordinatorNotAvailable.code()),
        },
    }
}
