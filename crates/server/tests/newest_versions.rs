//! The newest versions Kafka 4.4 serves: ApiVersions v5 (KIP-1242), ListOffsets v11
//! (KIP-1023), DeleteGroups v3, DescribeLogDirs v5.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{broker, call, create_topic};
use strom_codec::kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsTopic,
};
use strom_codec::kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, BrokerId, DeleteGroupsRequest,
    DeleteGroupsResponse, DescribeLogDirsRequest, DescribeLogDirsResponse, GroupId,
    ListOffsetsRequest, ListOffsetsResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use strom_codec::ErrorCode;
use tokio::net::TcpStream;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.into())
}

#[tokio::test]
async fn api_versions_v5_checks_the_cluster_and_node_the_client_means() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let cluster = broker.state().cluster_id.clone();
    let node = broker.state().config.node_id;
    let ask = |cluster: Option<&str>, node: i32| {
        RequestKind::ApiVersions(
            ApiVersionsRequest::default()
                .with_client_software_name(s("test"))
                .with_client_software_version(s("1"))
                .with_cluster_id(cluster.map(s))
                .with_node_id(node),
        )
    };
    let r: ApiVersionsResponse =
        call(&mut conn, ApiKey::ApiVersions, 5, ask(Some(&cluster), node)).await;
    assert_eq!(r.error_code, 0);
    assert!(r
        .api_keys
        .iter()
        .any(|k| k.api_key == 18 && k.max_version == 5));
    // Without a cluster id the node is not checked.
    let r: ApiVersionsResponse = call(&mut conn, ApiKey::ApiVersions, 5, ask(None, node + 1)).await;
    assert_eq!(r.error_code, 0);
    for (cluster, node) in [("another", node), (cluster.as_str(), node + 1)] {
        let r: ApiVersionsResponse =
            call(&mut conn, ApiKey::ApiVersions, 5, ask(Some(cluster), node)).await;
        assert_eq!(r.error_code, ErrorCode::RebootstrapRequired.code());
        assert!(r.api_keys.is_empty(), "an error carries no table");
    }
    // v4 has no such fields: nothing is checked.
    let r: ApiVersionsResponse = call(
        &mut conn,
        ApiKey::ApiVersions,
        4,
        ask(Some("another"), node + 1),
    )
    .await;
    assert_eq!(r.error_code, 0);
    broker.shutdown().await;
}

#[tokio::test]
async fn list_offsets_v11_delete_groups_v3_and_describe_log_dirs_v5() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create_topic(&mut conn, "newest", 1).await;
    // Earliest pending upload (-6): no tiered storage, so none, as Kafka answers.
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(s("newest")))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-6)])]);
    let r: ListOffsetsResponse = call(
        &mut conn,
        ApiKey::ListOffsets,
        11,
        RequestKind::ListOffsets(request),
    )
    .await;
    let p = &r.topics[0].partitions[0];
    assert_eq!(
        (p.error_code, p.offset, p.timestamp, p.leader_epoch),
        (0, -1, -1, -1)
    );

    let request = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(s("nobody"))]);
    let r: DeleteGroupsResponse = call(
        &mut conn,
        ApiKey::DeleteGroups,
        3,
        RequestKind::DeleteGroups(request),
    )
    .await;
    assert_eq!(r.results[0].error_code, ErrorCode::GroupIdNotFound.code());
    assert_eq!(r.results[0].error_message, None);

    let r: DescribeLogDirsResponse = call(
        &mut conn,
        ApiKey::DescribeLogDirs,
        5,
        RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default().with_topics(None)),
    )
    .await;
    assert_eq!(r.results.len(), 1);
    assert!(!r.results[0].is_cordoned);
    assert!(r.results[0]
        .topics
        .iter()
        .any(|t| t.name.0.as_str() == "newest"));
    broker.shutdown().await;
}

/// OffsetCommit and OffsetFetch v10 name topics by id (KIP-848).
#[tokio::test]
async fn offset_commit_and_fetch_v10_name_topics_by_id() {
    use strom_codec::kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use strom_codec::kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopics,
    };
    use strom_codec::kafka_protocol::messages::{
        OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
    };
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create_topic(&mut conn, "by-id", 2).await;
    let id = broker.state().topics.get("by-id").unwrap().id;
    let unknown = uuid::Uuid::from_u128(42);
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("g10")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(
            [id, unknown]
                .into_iter()
                .map(|topic_id| {
                    OffsetCommitRequestTopic::default()
                        .with_topic_id(topic_id)
                        .with_partitions(vec![OffsetCommitRequestPartition::default()
                            .with_partition_index(1)
                            .with_committed_offset(7)])
                })
                .collect(),
        );
    let r: OffsetCommitResponse = call(
        &mut conn,
        ApiKey::OffsetCommit,
        10,
        RequestKind::OffsetCommit(commit),
    )
    .await;
    let answers: Vec<(uuid::Uuid, i16)> = r
        .topics
        .iter()
        .map(|t| (t.topic_id, t.partitions[0].error_code))
        .collect();
    assert_eq!(
        answers,
        vec![(id, 0), (unknown, ErrorCode::UnknownTopicId.code())]
    );

    let fetch = |topics: Option<Vec<uuid::Uuid>>| {
        RequestKind::OffsetFetch(OffsetFetchRequest::default().with_groups(vec![
            OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(s("g10")))
                .with_member_epoch(-1)
                .with_topics(topics.map(|ids| {
                    ids.into_iter()
                        .map(|topic_id| {
                            OffsetFetchRequestTopics::default()
                                .with_topic_id(topic_id)
                                .with_partition_indexes(vec![1])
                        })
                        .collect()
                })),
        ]))
    };
    let r: OffsetFetchResponse = call(
        &mut conn,
        ApiKey::OffsetFetch,
        10,
        fetch(Some(vec![id, unknown])),
    )
    .await;
    let mut answers: Vec<(uuid::Uuid, i64, i16)> = r.groups[0]
        .topics
        .iter()
        .map(|t| {
            let p = &t.partitions[0];
            (t.topic_id, p.committed_offset, p.error_code)
        })
        .collect();
    answers.sort();
    let mut expected = vec![(id, 7, 0), (unknown, -1, ErrorCode::UnknownTopicId.code())];
    expected.sort();
    assert_eq!(answers, expected);
    let r: OffsetFetchResponse = call(&mut conn, ApiKey::OffsetFetch, 10, fetch(None)).await;
    let all: Vec<(uuid::Uuid, i64)> = r.groups[0]
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.topic_id, p.committed_offset))
        })
        .collect();
    assert_eq!(all, vec![(id, 7)]);
    broker.shutdown().await;
}
