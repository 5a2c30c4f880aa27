//! A classic consumer group of one member, its offsets, and the group admin APIs.

use bytes::Bytes;
use strom_codec::kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use strom_codec::kafka_protocol::messages::leave_group_request::MemberIdentity;
use strom_codec::kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use strom_codec::kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use strom_codec::kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use strom_codec::kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use strom_codec::kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, HeartbeatRequest,
    JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, SyncGroupRequest,
};
use strom_codec::kafka_protocol::protocol::StrBytes;

use super::{find_coordinator, group, s, topic, State, GROUP, TOPIC_A};
use crate::differential::session::Session;

/// A consumer protocol subscription to diff-a (version 0, no user data).
fn subscription() -> Bytes {
    let mut b = vec![0, 0, 0, 0, 0, 1, 0, 6];
    b.extend_from_slice(TOPIC_A.as_bytes());
    b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
    Bytes::from(b)
}

/// An assignment of diff-a partitions 0-2 (version 0, no user data).
fn assignment() -> Bytes {
    let mut b = vec![0, 0, 0, 0, 0, 1, 0, 6];
    b.extend_from_slice(TOPIC_A.as_bytes());
    b.extend_from_slice(&[
        0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff,
    ]);
    Bytes::from(b)
}

fn join(member: &StrBytes) -> JoinGroupRequest {
    JoinGroupRequest::default()
        .with_group_id(group(GROUP))
        .with_session_timeout_ms(30_000)
        .with_rebalance_timeout_ms(30_000)
        .with_member_id(member.clone())
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(subscription())])
}

/// OffsetFetch at `v` of `group_id`'s offsets of TOPIC_A (named both ways: by name up to v9,
/// by id from v10), or of `all` its offsets.
pub(super) fn offset_fetch(st: &State, v: i16, group_id: &str, all: bool) -> OffsetFetchRequest {
    if v >= 8 {
        let topics = (!all).then(|| {
            vec![OffsetFetchRequestTopics::default()
                .with_name(topic(TOPIC_A))
                .with_topic_id(st.topic_ids.get(TOPIC_A).copied().unwrap_or_default())
                .with_partition_indexes(vec![0, 1, 9])]
        });
        OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(group(group_id))
            .with_topics(topics)])
    } else {
        let topics = (!all || v < 2).then(|| {
            vec![OffsetFetchRequestTopic::default()
                .with_name(topic(TOPIC_A))
                .with_partition_indexes(vec![0, 1, 9])]
        });
        OffsetFetchRequest::default()
            .with_group_id(group(group_id))
            .with_topics(topics)
    }
}

fn heartbeat(generation: i32, member: &StrBytes) -> HeartbeatRequest {
    HeartbeatRequest::default()
        .with_group_id(group(GROUP))
        .with_generation_id(generation)
        .with_member_id(member.clone())
}

/// FindCoordinator, join (with and without a member id), sync, heartbeats good and bad,
/// commits and fetches of offsets at every version, describe, list, leave, delete.
pub async fn classic(c: &mut Session, st: &State) {
    for v in c.all_versions::<FindCoordinatorRequest>() {
        let req = find_coordinator(v, 0, &[GROUP, "other"]);
        c.ask_at(&format!("find coordinator v{v}"), v, req).await;
    }
    let empty = StrBytes::default();
    let Some(first) = c.ask("join: no member id", join(&empty)).await else {
        return;
    };
    let member = first.member_id.clone();
    let Some(joined) = c.ask("join: with member id", join(&member)).await else {
        return;
    };
    let generation = joined.generation_id;
    let sync = SyncGroupRequest::default()
        .with_group_id(group(GROUP))
        .with_generation_id(generation)
        .with_member_id(member.clone())
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")))
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(member.clone())
            .with_assignment(assignment())]);
    c.ask("sync", sync).await;
    c.ask("heartbeat", heartbeat(generation, &member)).await;
    c.ask(
        "heartbeat: wrong generation",
        heartbeat(generation + 5, &member),
    )
    .await;
    c.ask(
        "heartbeat: unknown member",
        heartbeat(generation, &s("nobody")),
    )
    .await;
    let commit = |v: i16, offset: i64| {
        let mut req = OffsetCommitRequest::default()
            .with_group_id(group(GROUP))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(topic(TOPIC_A))
                .with_topic_id(st.topic_ids.get(TOPIC_A).copied().unwrap_or_default())
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(offset)
                        .with_committed_leader_epoch(if v >= 6 { 0 } else { -1 })
                        .with_committed_metadata(Some(s("meta"))),
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(1)
                        .with_committed_offset(1)
                        .with_committed_metadata(None),
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(9)
                        .with_committed_offset(1),
                ])]);
        if v >= 1 {
            req.generation_id_or_member_epoch = generation;
            req.member_id = member.clone();
        }
        if (2..=4).contains(&v) {
            req.retention_time_ms = -1;
        }
        req
    };
    for v in c.all_versions::<OffsetCommitRequest>() {
        c.ask_at(
            &format!("offset commit v{v}"),
            v,
            commit(v, 2 + i64::from(v)),
        )
        .await;
    }
    let mut stale = commit(c.version::<OffsetCommitRequest>().unwrap_or(8), 1);
    stale.generation_id_or_member_epoch += 3;
    c.ask("offset commit: wrong generation", stale).await;
    for v in c.all_versions::<OffsetFetchRequest>() {
        c.ask_at(
            &format!("offset fetch v{v}"),
            v,
            offset_fetch(st, v, GROUP, false),
        )
        .await;
        c.ask_at(
            &format!("offset fetch v{v} all"),
            v,
            offset_fetch(st, v, GROUP, true),
        )
        .await;
    }
    let v = c.version::<OffsetFetchRequest>().unwrap_or(0);
    c.ask_at(
        "offset fetch: unknown group",
        v,
        offset_fetch(st, v, "no-such-group", true),
    )
    .await;
    let describe = DescribeGroupsRequest::default()
        .with_groups(vec![group(GROUP), group("no-such-group")])
        .with_include_authorized_operations(true);
    c.ask("describe groups", describe.clone()).await;
    for v in c.all_versions::<ListGroupsRequest>() {
        c.ask_at(
            &format!("list groups v{v}"),
            v,
            ListGroupsRequest::default(),
        )
        .await;
    }
    let filtered =
        ListGroupsRequest::default().with_states_filter(vec![s("Stable"), s("Nonsense")]);
    c.ask("list groups: state filter", filtered).await;
    let del_offsets = OffsetDeleteRequest::default()
        .with_group_id(group(GROUP))
        .with_topics(vec![OffsetDeleteRequestTopic::default()
            .with_name(topic(TOPIC_A))
            .with_partitions(vec![
                OffsetDeleteRequestPartition::default().with_partition_index(0)
            ])]);
    c.ask("offset delete: group subscribed", del_offsets.clone())
        .await;
    c.ask(
        "delete groups: not empty",
        DeleteGroupsRequest::default().with_groups_names(vec![group(GROUP)]),
    )
    .await;
    let leave = LeaveGroupRequest::default()
        .with_group_id(group(GROUP))
        .with_members(vec![
            MemberIdentity::default().with_member_id(member.clone()),
            MemberIdentity::default().with_member_id(s("nobody")),
        ]);
    c.ask("leave group", leave).await;
    c.ask("describe groups: empty", describe).await;
    c.ask("offset delete: group empty", del_offsets).await;
    c.ask(
        "offset fetch after delete",
        offset_fetch(st, v, GROUP, true),
    )
    .await;
    c.ask(
        "delete groups",
        DeleteGroupsRequest::default()
            .with_groups_names(vec![group(GROUP), group("no-such-group")]),
    )
    .await;
}
