//! The request versions Kafka 4 removed (KIP-896) and Kafka 3.9 still served, answered as
//! Kafka 3.9 answered them: each old version of the admin, offset and ACL APIs, spoken on the
//! wire at that version.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{broker, call, frame, produce, read_frame};
use strom_codec::kafka_protocol::messages::create_acls_request::AclCreation;
use strom_codec::kafka_protocol::messages::create_topics_request::{
    CreatableTopic, CreatableTopicConfig,
};
use strom_codec::kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use strom_codec::kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use strom_codec::kafka_protocol::messages::describe_log_dirs_response::DescribeLogDirsResult;
use strom_codec::kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsTopic,
};
use strom_codec::kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use strom_codec::kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use strom_codec::kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use strom_codec::kafka_protocol::messages::{
    ApiKey, BrokerId, CreateAclsRequest, CreateAclsResponse, CreateTopicsRequest,
    CreateTopicsResponse, DeleteAclsRequest, DeleteAclsResponse, DeleteTopicsRequest,
    DeleteTopicsResponse, DescribeAclsRequest, DescribeAclsResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, DescribeLogDirsRequest, DescribeLogDirsResponse, GroupId,
    ListOffsetsRequest, ListOffsetsResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use strom_server::{Broker, Config};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.into())
}

fn name(v: &str) -> TopicName {
    TopicName(s(v))
}

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const TOPIC_RESOURCE: i8 = 2;
const LITERAL: i8 = 3;

async fn create_v0(conn: &mut TcpStream, topic: &str, configs: &[(&str, &str)]) -> i16 {
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(s(k))
                            .with_value(Some(s(v)))
                    })
                    .collect(),
            )]);
    let r: CreateTopicsResponse = call(
        conn,
        ApiKey::CreateTopics,
        0,
        RequestKind::CreateTopics(create),
    )
    .await;
    assert_eq!(r.topics.len(), 1);
    r.topics[0].error_code
}

/// DescribeLogDirs of every topic at `version`: the one log directory's answer.
async fn log_dir(conn: &mut TcpStream, version: i16) -> DescribeLogDirsResult {
    let r: DescribeLogDirsResponse = call(
        conn,
        ApiKey::DescribeLogDirs,
        version,
        RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default().with_topics(None)),
    )
    .await;
    r.results.into_iter().next().expect("one log dir")
}

async fn list_offsets_v0(
    conn: &mut TcpStream,
    topic: &str,
    partition: i32,
    timestamp: i64,
    max: i32,
) -> (i16, Vec<i64>) {
    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_timestamp(timestamp)
                .with_max_num_offsets(max)])]);
    let r: ListOffsetsResponse = call(
        conn,
        ApiKey::ListOffsets,
        0,
        RequestKind::ListOffsets(request),
    )
    .await;
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.timestamp, p.offset), (-1, -1), "v0 has no such fields");
    (p.error_code, p.old_style_offsets.clone())
}

#[tokio::test]
async fn topics_offsets_and_list_offsets_at_version_0() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    assert_eq!(
        create_v0(&mut conn, "old", &[("retention.ms", "3600000")]).await,
        0
    );
    // A second creation of the same name: TOPIC_ALREADY_EXISTS, without a message (v0).
    assert_eq!(create_v0(&mut conn, "old", &[]).await, 36);

    // ListOffsets v0 on an empty log: the log start only.
    assert_eq!(
        list_offsets_v0(&mut conn, "old", 0, LATEST, 10).await,
        (0, vec![0])
    );
    let batch = strom_storage::batch::build_uncompressed(
        &[b"a", b"b", b"c"],
        strom_server::clock::Clock::system().wall_ms(),
        None,
    );
    assert_eq!(produce(&mut conn, "old", batch, 1).await.0, 0);
    // The segment boundaries newest first: the log end, then the one segment's base.
    assert_eq!(
        list_offsets_v0(&mut conn, "old", 0, LATEST, 10).await,
        (0, vec![3, 0])
    );
    assert_eq!(
        list_offsets_v0(&mut conn, "old", 0, LATEST, 1).await,
        (0, vec![3])
    );
    assert_eq!(
        list_offsets_v0(&mut conn, "old", 0, EARLIEST, 10).await,
        (0, vec![0])
    );
    // Before any segment was written: nothing.
    assert_eq!(
        list_offsets_v0(&mut conn, "old", 0, 1, 10).await,
        (0, vec![])
    );
    assert_eq!(
        list_offsets_v0(&mut conn, "old", 7, LATEST, 1).await,
        (3, vec![])
    );

    // OffsetForLeaderEpoch v0: epoch 0 ends at the log end.
    let epochs =
        OffsetForLeaderEpochRequest::default().with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(name("old"))
            .with_partitions(vec![OffsetForLeaderPartition::default()
                .with_partition(0)
                .with_leader_epoch(0)])]);
    let r: OffsetForLeaderEpochResponse = call(
        &mut conn,
        ApiKey::OffsetForLeaderEpoch,
        0,
        RequestKind::OffsetForLeaderEpoch(epochs),
    )
    .await;
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.end_offset), (0, 3));

    // DescribeConfigs v0: no sources, only whether each value is the default.
    let describe =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(TOPIC_RESOURCE)
            .with_resource_name(s("old"))
            .with_configuration_keys(Some(vec![s("retention.ms"), s("cleanup.policy")]))]);
    let r: DescribeConfigsResponse = call(
        &mut conn,
        ApiKey::DescribeConfigs,
        0,
        RequestKind::DescribeConfigs(describe),
    )
    .await;
    let result = &r.results[0];
    assert_eq!(result.error_code, 0);
    let entry = |key: &str| {
        result
            .configs
            .iter()
            .find(|c| c.name.as_str() == key)
            .unwrap_or_else(|| panic!("{key} described"))
    };
    assert_eq!(
        entry("retention.ms").value.as_ref().map(|v| v.as_str()),
        Some("3600000")
    );
    assert!(!entry("retention.ms").is_default);
    assert!(entry("cleanup.policy").is_default);
    assert!(entry("retention.ms").synonyms.is_empty());

    // DescribeLogDirs v0 sees the three records' bytes.
    let dir = log_dir(&mut conn, 0).await;
    assert_eq!(dir.error_code, 0);
    let topic = dir
        .topics
        .iter()
        .find(|t| t.name.0.as_str() == "old")
        .expect("topic listed");
    assert!(topic.partitions[0].partition_size > 0);
    // v4 adds the volume's size and free space (statvfs of the data directory).
    let dir = log_dir(&mut conn, 4).await;
    assert!(dir.total_bytes > 0, "{dir:?}");
    assert!((0..=dir.total_bytes).contains(&dir.usable_bytes), "{dir:?}");

    // DeleteTopics v0.
    let delete = DeleteTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topic_names(vec![name("old"), name("never")]);
    let r: DeleteTopicsResponse = call(
        &mut conn,
        ApiKey::DeleteTopics,
        0,
        RequestKind::DeleteTopics(delete),
    )
    .await;
    let codes: Vec<(String, i16)> = r
        .responses
        .iter()
        .map(|t| {
            (
                t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default(),
                t.error_code,
            )
        })
        .collect();
    assert_eq!(codes, vec![("old".into(), 0), ("never".into(), 3)]);
    broker.shutdown().await;
}

#[tokio::test]
async fn offsets_committed_at_v0_and_v1_are_read_by_every_version() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    assert_eq!(create_v0(&mut conn, "oc", &[]).await, 0);
    let commit = |version: i16, offset: i64, metadata: &str| {
        let mut request = OffsetCommitRequest::default()
            .with_group_id(GroupId(s("old-group")))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(name("oc"))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(offset)
                    .with_committed_metadata(Some(s(metadata)))])]);
        if version == 1 {
            // A simple consumer: no generation, no member.
            request = request
                .with_generation_id_or_member_epoch(-1)
                .with_member_id(s(""));
        }
        RequestKind::OffsetCommit(request)
    };
    let fetch = || {
        let request = OffsetFetchRequest::default()
            .with_group_id(GroupId(s("old-group")))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(name("oc"))
                .with_partition_indexes(vec![0, 5])]));
        RequestKind::OffsetFetch(request)
    };
    for (version, offset, metadata) in [(0, 4, "zero"), (1, 5, "one")] {
        let r: OffsetCommitResponse = call(
            &mut conn,
            ApiKey::OffsetCommit,
            version,
            commit(version, offset, metadata),
        )
        .await;
        assert_eq!(r.topics[0].partitions[0].error_code, 0, "v{version}");
        for fetch_version in [0, 1, 3, 7] {
            let r: OffsetFetchResponse =
                call(&mut conn, ApiKey::OffsetFetch, fetch_version, fetch()).await;
            assert_eq!(r.error_code, 0);
            let parts = &r.topics[0].partitions;
            let p0 = parts.iter().find(|p| p.partition_index == 0).unwrap();
            assert_eq!(
                p0.committed_offset, offset,
                "v{version} read at v{fetch_version}"
            );
            assert_eq!(p0.metadata.as_ref().map(|m| m.as_str()), Some(metadata));
            assert_eq!(p0.error_code, 0);
        }
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn acls_at_version_0_are_literal_only() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let create = CreateAclsRequest::default().with_creations(vec![AclCreation::default()
        .with_resource_type(TOPIC_RESOURCE)
        .with_resource_name(s("t0"))
        .with_principal(s("User:alice"))
        .with_host(s("*"))
        .with_operation(3) // READ
        .with_permission_type(3)]); // ALLOW
    let r: CreateAclsResponse = call(
        &mut conn,
        ApiKey::CreateAcls,
        0,
        RequestKind::CreateAcls(create),
    )
    .await;
    assert_eq!(r.results[0].error_code, 0);
    // A prefixed binding made by a newer client is invisible to a v0 filter.
    let prefixed = CreateAclsRequest::default().with_creations(vec![AclCreation::default()
        .with_resource_type(TOPIC_RESOURCE)
        .with_resource_name(s("t"))
        .with_resource_pattern_type(4) // PREFIXED
        .with_principal(s("User:bob"))
        .with_host(s("*"))
        .with_operation(3)
        .with_permission_type(3)]);
    let r: CreateAclsResponse = call(
        &mut conn,
        ApiKey::CreateAcls,
        3,
        RequestKind::CreateAcls(prefixed),
    )
    .await;
    assert_eq!(r.results[0].error_code, 0);

    let describe = DescribeAclsRequest::default()
        .with_resource_type_filter(1) // ANY
        .with_resource_name_filter(None)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(1)
        .with_permission_type(1);
    let r: DescribeAclsResponse = call(
        &mut conn,
        ApiKey::DescribeAcls,
        0,
        RequestKind::DescribeAcls(describe),
    )
    .await;
    assert_eq!(r.error_code, 0);
    assert_eq!(r.resources.len(), 1);
    assert_eq!(r.resources[0].resource_name.as_str(), "t0");
    assert_eq!(r.resources[0].pattern_type, LITERAL);
    assert_eq!(r.resources[0].acls[0].principal.as_str(), "User:alice");

    let delete = DeleteAclsRequest::default().with_filters(vec![DeleteAclsFilter::default()
        .with_resource_type_filter(1)
        .with_resource_name_filter(None)
        .with_principal_filter(None)
        .with_host_filter(None)
        .with_operation(1)
        .with_permission_type(1)]);
    let r: DeleteAclsResponse = call(
        &mut conn,
        ApiKey::DeleteAcls,
        0,
        RequestKind::DeleteAcls(delete),
    )
    .await;
    let matched: Vec<&str> = r.filter_results[0]
        .matching_acls
        .iter()
        .map(|a| a.resource_name.as_str())
        .collect();
    assert_eq!(matched, vec!["t0"]);
    broker.shutdown().await;
}

#[tokio::test]
async fn without_legacy_versions_version_0_closes_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        legacy_api_versions: false,
        ..Config::default()
    };
    let broker = Broker::start(config).await.unwrap();
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let request = ListOffsetsRequest::default().with_topics(vec![]);
    conn.write_all(&frame(
        ApiKey::ListOffsets,
        0,
        1,
        &RequestKind::ListOffsets(request),
    ))
    .await
    .unwrap();
    assert!(read_frame(&mut conn).await.is_none());
    broker.shutdown().await;
}
