//! Answers the differential harness (`scripts/differential.sh`) found differing from Apache
//! Kafka 4.4's, each pinned here to Kafka's answer so that it does not drift back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{broker, call, create_topic, produce};
use strom_codec::kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use strom_codec::kafka_protocol::messages::describe_groups_response::DescribedGroup;
use strom_codec::kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use strom_codec::kafka_protocol::messages::fetch_response::PartitionData;
use strom_codec::kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use strom_codec::kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeClusterRequest, DescribeClusterResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, DescribeGroupsRequest, DescribeGroupsResponse, FetchRequest,
    FetchResponse, GroupId, MetadataRequest, MetadataResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;
use uuid::Uuid;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.into())
}

/// DescribeGroups of the unknown group "nobody" at `version`, operations asked for.
async fn describe_nobody(conn: &mut TcpStream, version: i16) -> DescribedGroup {
    let request = DescribeGroupsRequest::default()
        .with_groups(vec![GroupId(s("nobody"))])
        .with_include_authorized_operations(true);
    let r: DescribeGroupsResponse = call(
        conn,
        ApiKey::DescribeGroups,
        version,
        RequestKind::DescribeGroups(request),
    )
    .await;
    r.groups.into_iter().next().unwrap()
}

/// Fetch v13 of one partition of the topic `id` from `offset`: that partition's answer.
async fn fetch_v13(conn: &mut TcpStream, id: Uuid, partition: i32, offset: i64) -> PartitionData {
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_bytes(1 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic_id(id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let r: FetchResponse = call(conn, ApiKey::Fetch, 13, RequestKind::Fetch(request)).await;
    r.responses
        .into_iter()
        .next()
        .unwrap()
        .partitions
        .into_iter()
        .next()
        .unwrap()
}

#[tokio::test]
async fn metadata_by_topic_id_and_fetch_errors_answer_as_kafka() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create_topic(&mut conn, "parity", 1).await;
    let records = strom_storage::batch::build_batch(&[(Some(b"k"), Some(b"v"))], 1000, 1, None);
    assert_eq!(produce(&mut conn, "parity", records, 2).await.0, 0);

    // A topic named by id (the name left empty, as the Java client sends it) is found.
    let by_name = MetadataRequest::default().with_topics(Some(vec![
        MetadataRequestTopic::default().with_name(Some(TopicName(s("parity")))),
    ]));
    let r: MetadataResponse = call(
        &mut conn,
        ApiKey::Metadata,
        12,
        RequestKind::Metadata(by_name),
    )
    .await;
    let id = r.topics[0].topic_id;
    let by_id = MetadataRequest::default().with_topics(Some(vec![MetadataRequestTopic::default()
        .with_name(Some(TopicName(s(""))))
        .with_topic_id(id)]));
    let r: MetadataResponse = call(
        &mut conn,
        ApiKey::Metadata,
        12,
        RequestKind::Metadata(by_id),
    )
    .await;
    assert_eq!(r.topics[0].error_code, 0);
    assert_eq!(
        r.topics[0].name.as_ref().map(|n| n.0.as_str()),
        Some("parity")
    );
    // Not asked for, Metadata leaves the cluster's operations out; DescribeCluster lists
    // Kafka's cluster resource's, without the token ones.
    assert_eq!(r.cluster_authorized_operations, i32::MIN);
    let cluster: DescribeClusterResponse = call(
        &mut conn,
        ApiKey::DescribeCluster,
        1,
        RequestKind::DescribeCluster(
            DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
        ),
    )
    .await;
    assert_eq!(cluster.cluster_authorized_operations, 8096);
    // A group's: READ, DELETE, DESCRIBE and, groups having configs, DESCRIBE_CONFIGS and
    // ALTER_CONFIGS.
    let group = describe_nobody(&mut conn, 5).await;
    assert_eq!(group.authorized_operations, 3400);
    assert_eq!(group.error_code, 0, "an unknown group is Dead before v6");
    // v6 (KIP-1043): an unknown group is GROUP_ID_NOT_FOUND.
    let group = describe_nobody(&mut conn, 6).await;
    assert_eq!(group.error_code, 69);
    assert_eq!(group.group_state.as_str(), "Dead");
    assert_eq!(group.authorized_operations, i32::MIN);

    // Fetch v13 by id: a partition the topic lacks is UNKNOWN_TOPIC_OR_PARTITION; an offset
    // out of range reports no offsets; a partition the broker does not have carries an
    // empty (not null) list of aborted transactions.
    let p = fetch_v13(&mut conn, id, 4, 0).await;
    assert_eq!(p.error_code, 3);
    assert_eq!(p.aborted_transactions, Some(vec![]));
    let p = fetch_v13(&mut conn, id, 0, 99).await;
    assert_eq!(p.error_code, 1, "OFFSET_OUT_OF_RANGE");
    assert_eq!(
        (p.high_watermark, p.last_stable_offset, p.log_start_offset),
        (-1, -1, -1)
    );
    assert_eq!(p.aborted_transactions, None, "null for a failed read");
    let p = fetch_v13(&mut conn, id, 0, 0).await;
    assert_eq!((p.error_code, p.high_watermark), (0, 1));
    assert_eq!(p.aborted_transactions, None, "null for read_uncommitted");
}

#[tokio::test]
async fn describe_configs_answers_as_kafka() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create_topic(&mut conn, "parity", 1).await;
    let describe = |resource_type: i8, name: &str, keys: &[&str]| {
        DescribeConfigsRequest::default()
            .with_include_synonyms(true)
            .with_resources(vec![DescribeConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(s(name))
                .with_configuration_keys(Some(keys.iter().map(|k| s(k)).collect()))])
    };
    let r: DescribeConfigsResponse = call(
        &mut conn,
        ApiKey::DescribeConfigs,
        4,
        RequestKind::DescribeConfigs(describe(2, "", &[])),
    )
    .await;
    assert_eq!(r.results[0].error_code, 17, "INVALID_TOPIC_EXCEPTION");
    // log.retention.ms is null by default (log.retention.hours holds the default), so it is
    // neither a value of the broker nor a synonym of the topic's retention.ms.
    let r: DescribeConfigsResponse = call(
        &mut conn,
        ApiKey::DescribeConfigs,
        4,
        RequestKind::DescribeConfigs(describe(
            4,
            "1",
            &[
                "log.retention.ms",
                "log.retention.hours",
                "default.replication.factor",
            ],
        )),
    )
    .await;
    let broker_entry = |name: &str| {
        r.results[0]
            .configs
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap()
            .clone()
    };
    assert_eq!(broker_entry("log.retention.ms").value, None);
    assert_eq!(
        broker_entry("log.retention.hours")
            .value
            .map(|v| v.to_string()),
        Some("168".into())
    );
    assert_eq!(
        broker_entry("default.replication.factor").config_type,
        3,
        "INT"
    );
    let r: DescribeConfigsResponse = call(
        &mut conn,
        ApiKey::DescribeConfigs,
        4,
        RequestKind::DescribeConfigs(describe(2, "parity", &["retention.ms"])),
    )
    .await;
    let retention = &r.results[0].configs[0];
    assert_eq!(
        retention.value.as_ref().map(|v| v.as_str()),
        Some("604800000")
    );
    assert!(retention.synonyms.is_empty(), "{:?}", retention.synonyms);
}
