//! OffsetDelete on the wire: deletes an empty group's offsets; unknown groups and topics get
//! Kafka's error codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{broker, call};
use strom_codec::kafka_protocol::messages::create_topics_request::CreatableTopic;
use strom_codec::kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use strom_codec::kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use strom_codec::kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use strom_codec::kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, GroupId, OffsetCommitRequest,
    OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse, OffsetFetchRequest,
    OffsetFetchResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.into()))
}

fn delete(group: &str, topic: &str, partitions: &[i32]) -> RequestKind {
    RequestKind::OffsetDelete(
        OffsetDeleteRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(group.into())))
            .with_topics(vec![OffsetDeleteRequestTopic::default()
                .with_name(name(topic))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|p| OffsetDeleteRequestPartition::default().with_partition_index(*p))
                        .collect(),
                )]),
    )
}

#[tokio::test]
async fn offsets_of_an_empty_group_are_deleted() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name("od"))
            .with_num_partitions(2)
            .with_replication_factor(1)]);
    let r: CreateTopicsResponse = call(
        &mut conn,
        ApiKey::CreateTopics,
        7,
        RequestKind::CreateTopics(create),
    )
    .await;
    assert_eq!(r.topics[0].error_code, 0);
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(name("od"))
            .with_partitions(vec![
                OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(5),
                OffsetCommitRequestPartition::default()
                    .with_partition_index(1)
                    .with_committed_offset(6),
            ])]);
    let r: OffsetCommitResponse = call(
        &mut conn,
        ApiKey::OffsetCommit,
        8,
        RequestKind::OffsetCommit(commit),
    )
    .await;
    assert!(r.topics[0].partitions.iter().all(|p| p.error_code == 0));

    let r: OffsetDeleteResponse =
        call(&mut conn, ApiKey::OffsetDelete, 0, delete("g", "od", &[0])).await;
    assert_eq!((r.error_code, r.topics[0].partitions[0].error_code), (0, 0));
    let r: OffsetDeleteResponse = call(
        &mut conn,
        ApiKey::OffsetDelete,
        0,
        delete("nope", "od", &[0]),
    )
    .await;
    assert_eq!(r.error_code, 69, "GROUP_ID_NOT_FOUND");
    let r: OffsetDeleteResponse = call(
        &mut conn,
        ApiKey::OffsetDelete,
        0,
        delete("g", "missing", &[0]),
    )
    .await;
    assert_eq!(
        r.topics[0].partitions[0].error_code, 3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );

    let fetch = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(name("od"))
            .with_partition_indexes(vec![0, 1])]));
    let r: OffsetFetchResponse = call(
        &mut conn,
        ApiKey::OffsetFetch,
        7,
        RequestKind::OffsetFetch(fetch),
    )
    .await;
    let offsets: Vec<i64> = r.topics[0]
        .partitions
        .iter()
        .map(|p| p.committed_offset)
        .collect();
    assert_eq!(offsets, vec![-1, 6]);
    drop(conn);
    broker.shutdown().await;
}
