//! A KIP-848 consumer group: members join, heartbeat, are refused as Kafka refuses them,
//! commit at their epoch, leave (dynamic and static); ConsumerGroupDescribe, ListGroups and
//! DescribeGroups see it; then it is deleted. One member owns the partitions at a time, so
//! the uniform assignor's choice is the same on both brokers.

use strom_codec::kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use strom_codec::kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use strom_codec::kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use strom_codec::kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
    DeleteGroupsRequest, DescribeGroupsRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetFetchRequest,
};

use super::{group, s, topic, State, GROUP, TOPIC_A};
use crate::differential::session::Session;

const CONSUMER_GROUP: &str = "diff-kip848";
const M1: &str = "diff-kip848-member-1";
const M2: &str = "diff-kip848-member-2";

fn join(member: &str) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(group(CONSUMER_GROUP))
        .with_member_id(s(member))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![topic(TOPIC_A)]))
        .with_topic_partitions(Some(Vec::new()))
}

fn beat(member: &str, epoch: i32) -> ConsumerGroupHeartbeatRequest {
    ConsumerGroupHeartbeatRequest::default()
        .with_group_id(group(CONSUMER_GROUP))
        .with_member_id(s(member))
        .with_member_epoch(epoch)
        .with_rebalance_timeout_ms(-1)
}

/// What an answer assigned, as a heartbeat's owned partitions.
fn owned(r: &ConsumerGroupHeartbeatResponse) -> Vec<TopicPartitions> {
    r.assignment
        .iter()
        .flat_map(|a| &a.topic_partitions)
        .map(|tp| {
            TopicPartitions::default()
                .with_topic_id(tp.topic_id)
                .with_partitions(tp.partitions.clone())
        })
        .collect()
}

fn commit(st: &State, member: &str, epoch: i32) -> OffsetCommitRequest {
    OffsetCommitRequest::default()
        .with_group_id(group(CONSUMER_GROUP))
        .with_member_id(s(member))
        .with_generation_id_or_member_epoch(epoch)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(topic(TOPIC_A))
            .with_topic_id(st.topic_ids.get(TOPIC_A).copied().unwrap_or_default())
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(1)
                .with_committed_leader_epoch(-1)])])
}

/// OffsetFetch (v9) of every offset of the group, as `member` at `epoch`.
fn fetch(member: &str, epoch: i32) -> OffsetFetchRequest {
    OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
        .with_group_id(group(CONSUMER_GROUP))
        .with_member_id(Some(s(member)))
        .with_member_epoch(epoch)
        .with_topics(None)])
}

fn describe(groups: &[&str]) -> ConsumerGroupDescribeRequest {
    ConsumerGroupDescribeRequest::default()
        .with_group_ids(groups.iter().map(|g| group(g)).collect())
}

pub async fn consumer(c: &mut Session, st: &State) {
    let refused: [(&str, ConsumerGroupHeartbeatRequest); 7] = [
        (
            "no rebalance timeout",
            join(M1).with_rebalance_timeout_ms(-1),
        ),
        ("owned partitions on join", {
            let t = TopicPartitions::default()
                .with_topic_id(st.topic_ids.get(TOPIC_A).copied().unwrap_or_default())
                .with_partitions(vec![0]);
            join(M1).with_topic_partitions(Some(vec![t]))
        }),
        (
            "no subscription",
            join(M1).with_subscribed_topic_names(None),
        ),
        ("empty member id", join("")),
        (
            "bad regex",
            join(M1).with_subscribed_topic_regex(Some(s("("))),
        ),
        (
            "unknown assignor",
            join(M1).with_server_assignor(Some(s("sticky"))),
        ),
        ("unknown group", beat(M1, 1)),
    ];
    for (what, req) in refused {
        c.ask(&format!("consumer heartbeat: {what}"), req).await;
    }
    let Some(first) = c.ask("consumer heartbeat: join", join(M1)).await else {
        return;
    };
    let mine = owned(&first);
    c.ask(
        "consumer heartbeat: owning its assignment",
        beat(M1, first.member_epoch).with_topic_partitions(Some(mine.clone())),
    )
    .await;
    c.ask("consumer heartbeat: greater epoch", beat(M1, 9))
        .await;
    c.ask("consumer heartbeat: unknown member", beat("nobody", 1))
        .await;
    c.ask(
        "consumer group describe",
        describe(&[CONSUMER_GROUP, "no-such-group", GROUP]),
    )
    .await;
    c.ask(
        "list groups: consumer",
        ListGroupsRequest::default().with_types_filter(vec![s("consumer")]),
    )
    .await;
    c.ask(
        "describe groups: a consumer group",
        DescribeGroupsRequest::default().with_groups(vec![group(CONSUMER_GROUP)]),
    )
    .await;
    c.ask("offset commit: stale epoch", commit(st, M1, 0)).await;
    c.ask("offset commit: unknown member", commit(st, "nobody", 1))
        .await;
    c.ask(
        "offset commit: its epoch",
        commit(st, M1, first.member_epoch),
    )
    .await;
    c.ask("offset fetch: its epoch", fetch(M1, first.member_epoch))
        .await;
    c.ask("offset fetch: stale epoch", fetch(M1, 0)).await;
    c.ask("offset fetch: unknown member", fetch("nobody", 1))
        .await;
    c.ask(
        "delete groups: consumer group with members",
        DeleteGroupsRequest::default().with_groups_names(vec![group(CONSUMER_GROUP)]),
    )
    .await;
    // A second member joins: the partitions are still the first one's.
    c.ask("consumer heartbeat: second member joins", join(M2))
        .await;
    c.ask("consumer heartbeat: second member leaves", beat(M2, -1))
        .await;
    // A static member leaves for a while (-2) and its instance comes back.
    let st_join = join("diff-kip848-static").with_instance_id(Some(s("instance-1")));
    if c.ask("consumer heartbeat: static join", st_join)
        .await
        .is_some()
    {
        let leave = beat("diff-kip848-static", -2).with_instance_id(Some(s("instance-1")));
        c.ask("consumer heartbeat: static leave", leave).await;
        let back = join("diff-kip848-static-2").with_instance_id(Some(s("instance-1")));
        c.ask("consumer heartbeat: static instance back", back)
            .await;
        let other = join("diff-kip848-static-3").with_instance_id(Some(s("instance-1")));
        c.ask("consumer heartbeat: instance in use", other).await;
        let gone = beat("diff-kip848-static-2", -1).with_instance_id(Some(s("instance-1")));
        c.ask("consumer heartbeat: static member leaves", gone)
            .await;
    }
    c.ask("consumer heartbeat: leave", beat(M1, -1)).await;
    c.ask("consumer heartbeat: leave again", beat(M1, -1)).await;
    c.ask(
        "consumer group describe: empty",
        describe(&[CONSUMER_GROUP]),
    )
    .await;
    c.ask(
        "delete groups: empty consumer group",
        DeleteGroupsRequest::default().with_groups_names(vec![group(CONSUMER_GROUP)]),
    )
    .await;
}
