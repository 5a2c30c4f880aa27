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
