//! Raw bytes against the broker: framing abuse closes only the offending connection, and
//! the codec-level contracts clients depend on hold byte for byte.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bytes::Buf;
use strom_codec::kafka_protocol::messages::create_topics_request::CreatableTopic;
use strom_codec::kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, CreateTopicsRequest, MetadataRequest,
    RequestKind, ResponseHeader, TopicName,
};
use strom_codec::kafka_protocol::protocol::{Decodable, StrBytes};
use strom_server::handlers::HANDLERS;
use strom_server::Broker;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::{broker, frame, produce, read_frame, WAIT};

async fn assert_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .expect("closed in time");
    assert!(
        matches!(n, Ok(0) | Err(_)),
        "connection should be closed, read {n:?}"
    );
}

async fn api_versions_ok(broker: &Broker) {
    let mut s = TcpStream::connect(broker.local_addr()).await.unwrap();
    s.write_all(&frame(
        ApiKey::ApiVersions,
        3,
        1,
        &RequestKind::ApiVersions(
            ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("raw"))
                .with_client_software_version(StrBytes::from_static_str("1")),
        ),
    ))
    .await
    .unwrap();
    let mut resp = read_frame(&mut s).await.expect("answer");
    assert_eq!(resp.get_i32(), 1);
    let body = ApiVersionsResponse::decode(&mut resp, 3).unwrap();
    assert_eq!(body.error_code, 0);
}

#[tokio::test]
async fn bad_frames_close_only_their_connection() {
    let (broker, _dir) = broker().await;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("negative length", (-5i32).to_be_bytes().to_vec()),
        ("2 GiB length", i32::MAX.to_be_bytes().to_vec()),
        (
            "over socket.request.max.bytes",
            (200 * 1024 * 1024i32).to_be_bytes().to_vec(),
        ),
        ("unknown api key", {
            let mut f = vec![0, 0, 0, 10];
            f.extend_from_slice(&[0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0, 0]);
            f
        }),
        ("garbage", {
            let mut f = 40i32.to_be_bytes().to_vec();
            f.extend((0..40u8).map(|i| i.wrapping_mul(37).wrapping_add(11)));
            f
        }),
        ("array count larger than the frame", {
            // Metadata v1 claiming 2^31-1 topics.
            let mut f = 14i32.to_be_bytes().to_vec();
            f.extend_from_slice(&[0, 3, 0, 1, 0, 0, 0, 9, 0, 0]);
            f.extend_from_slice(&i32::MAX.to_be_bytes());
            f
        }),
        (
            "produce v2 (advertised, refused as Kafka 4)",
            frame(
                ApiKey::ApiVersions,
                0,
                1,
                &RequestKind::ApiVersions(ApiVersionsRequest::default()),
            )
            .into_iter()
            .enumerate()
            .map(|(i, b)| match i {
                5 => 0,
                7 => 2,
                _ => b,
            })
            .collect(),
        ),
    ];
    for (name, bytes) in cases {
        let mut s = TcpStream::connect(broker.local_addr()).await.unwrap();
        s.write_all(&bytes).await.unwrap();
        assert_closed(&mut s).await;
        api_versions_ok(&broker).await;
        eprintln!("ok: {name}");
    }
    // A truncated frame followed by the peer going away.
    let mut s = TcpStream::connect(broker.local_addr()).await.unwrap();
    s.write_all(&100i32.to_be_bytes()).await.unwrap();
    s.write_all(&[0, 18, 0, 0, 0, 0]).await.unwrap();
    drop(s);
    api_versions_ok(&broker).await;
    broker.shutdown().await;
}

#[tokio::test]
async fn unknown_api_versions_version_gets_v0_with_unsupported_version() {
    let (broker, _dir) = broker().await;
    let mut s = TcpStream::connect(broker.local_addr()).await.unwrap();
    let mut f = frame(
        ApiKey::ApiVersions,
        4,
        7,
        &RequestKind::ApiVersions(ApiVersionsRequest::default()),
    );
    f[7] = 77; // api_version 77
    s.write_all(&f).await.unwrap();
    let mut resp = read_frame(&mut s).await.expect("answer");
    assert_eq!(resp.get_i32(), 7);
    let body = ApiVersionsResponse::decode(&mut resp, 0).unwrap();
    assert_eq!(body.error_code, 35, "UNSUPPORTED_VERSION");
    assert_eq!(body.api_keys.len(), HANDLERS.len());
    broker.shutdown().await;
}

#[tokio::test]
async fn api_versions_v3_has_a_v0_header_and_the_features() {
    let (broker, _dir) = broker().await;
    let mut s = TcpStream::connect(broker.local_addr()).await.unwrap();
    s.write_all(&frame(
        ApiKey::ApiVersions,
        3,
        5,
        &RequestKind::ApiVersions(
            ApiVersionsRequest::default()
                .with_client_software_name(StrBytes::from_static_str("kcat"))
                .with_client_software_version(StrBytes::from_static_str("1.7.1")),
        ),
    ))
    .await
    .unwrap();
    let resp = read_frame(&mut s).await.expect("answer");
    // A v0 header: the correlation id, then the body (its error code) at once.
    let mut r = resp.clone();
    assert_eq!(r.get_i32(), 5);
    assert_eq!(r.get_i16(), 0);
    let mut body = resp.slice(4..);
    let decoded = ApiVersionsResponse::decode(&mut body, 3).unwrap();
    assert!(body.is_empty(), "{} bytes after the body", body.len());
    assert_eq!(decoded.api_keys.len(), HANDLERS.len());
    // KIP-584 features in tagged fields: what is supported, and group.version finalized at
    // 1 (KIP-848 served) and transaction.version at 2 (KIP-890 transactions v2), with the
    // metadata offset as their epoch.
    let supported: Vec<(String, i16, i16)> = decoded
        .supported_features
        .iter()
        .map(|f| (f.name.to_string(), f.min_version, f.max_version))
        .collect();
    assert_eq!(
        supported,
        [
            ("group.version".to_string(), 0, 1),
            ("transaction.version".to_string(), 0, 2)
        ]
    );
    let finalized: Vec<(String, i16)> = decoded
        .finalized_features
        .iter()
        .map(|f| (f.name.to_string(), f.max_version_level))
        .collect();
    assert_eq!(
        finalized,
        [
            ("group.version".to_string(), 1),
            ("transaction.version".to_string(), 2)
        ]
    );
    assert!(decoded.finalized_features_epoch >= 0);
    broker.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (broker, _dir) = broker().await;
    let mut s = TcpStream::connect(broker.local_addr()).await.unwrap();
    let mut bytes = Vec::new();
    for id in 0..20 {
        let (key, version, body) = if id % 2 == 0 {
            (
                ApiKey::Metadata,
                12,
                RequestKind::Metadata(MetadataRequest::default()),
            )
        } else {
            (
                ApiKey::ApiVersions,
                2,
                RequestKind::ApiVersions(ApiVersionsRequest::default()),
            )
        };
        bytes.extend(frame(key, version, id, &body));
    }
    s.write_all(&bytes).await.unwrap();
    for id in 0..20 {
        let mut resp = read_frame(&mut s).await.expect("answer");
        let header_version = if id % 2 == 0 { 1 } else { 0 };
        let header = ResponseHeader::decode(&mut resp, header_version).unwrap();
        assert_eq!(header.correlation_id, id);
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn every_supported_api_is_dispatched_at_every_version() {
    let (broker, _dir) = broker().await;
    for row in HANDLERS {
        for version in row.served.clone() {
            if (row.api_key == ApiKey::Produce && version < 3)
                || (row.api_key == ApiKey::Fetch && version < 4)
            {
                // kafka-protocol cannot encode Produce v0-v2 or Fetch v0-v3; the codec's own
                // tests and the pinned kafka-python clients (integration-tests) cover them.
                continue;
            }
            let body = default_request(row.api_key);
            let mut s = TcpStream::connect(broker.local_addr()).await.unwrap();
            s.write_all(&frame(row.api_key, version, 42, &body))
                .await
                .unwrap();
            if row.api_key == ApiKey::Produce {
                // acks=0 by default in an empty request has no answer: ask for acks=1.
                continue;
            }
            let mut resp = read_frame(&mut s)
                .await
                .unwrap_or_else(|| panic!("{:?} v{version} got no response", row.api_key));
            let header = ResponseHeader::decode(
                &mut resp,
                strom_codec::header::response_header_version(row.api_key, version),
            )
            .unwrap();
            assert_eq!(header.correlation_id, 42, "{:?} v{version}", row.api_key);
        }
    }
    broker.shutdown().await;
}

fn default_request(api_key: ApiKey) -> RequestKind {
    use strom_codec::kafka_protocol::messages::*;
    match api_key {
        ApiKey::Produce => RequestKind::Produce(ProduceRequest::default()),
        ApiKey::Fetch => RequestKind::Fetch(FetchRequest::default()),
        ApiKey::ListOffsets => RequestKind::ListOffsets(ListOffsetsRequest::default()),
        ApiKey::Metadata => RequestKind::Metadata(MetadataRequest::default()),
        ApiKey::ApiVersions => RequestKind::ApiVersions(ApiVersionsRequest::default()),
        ApiKey::CreateTopics => RequestKind::CreateTopics(CreateTopicsRequest::default()),
        ApiKey::DeleteTopics => RequestKind::DeleteTopics(DeleteTopicsRequest::default()),
        ApiKey::InitProducerId => RequestKind::InitProducerId(InitProducerIdRequest::default()),
        ApiKey::IncrementalAlterConfigs => {
            RequestKind::IncrementalAlterConfigs(IncrementalAlterConfigsRequest::default())
        }
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(OffsetCommitRequest::default()),
        ApiKey::OffsetFetch => RequestKind::OffsetFetch(OffsetFetchRequest::default()),
        ApiKey::FindCoordinator => RequestKind::FindCoordinator(FindCoordinatorRequest::default()),
        ApiKey::JoinGroup => RequestKind::JoinGroup(JoinGroupRequest::default()),
        ApiKey::Heartbeat => RequestKind::Heartbeat(HeartbeatRequest::default()),
        ApiKey::LeaveGroup => RequestKind::LeaveGroup(LeaveGroupRequest::default()),
        ApiKey::SyncGroup => RequestKind::SyncGroup(SyncGroupRequest::default()),
        ApiKey::DescribeGroups => RequestKind::DescribeGroups(DescribeGroupsRequest::default()),
        ApiKey::ListGroups => RequestKind::ListGroups(ListGroupsRequest::default()),
        ApiKey::DeleteGroups => RequestKind::DeleteGroups(DeleteGroupsRequest::default()),
        ApiKey::CreatePartitions => {
            RequestKind::CreatePartitions(CreatePartitionsRequest::default())
        }
        ApiKey::DescribeConfigs => RequestKind::DescribeConfigs(DescribeConfigsRequest::default()),
        ApiKey::DescribeCluster => {
            RequestKind::DescribeCluster(DescribeClusterRequest::default().with_endpoint_type(1))
        }
        ApiKey::OffsetDelete => RequestKind::OffsetDelete(OffsetDeleteRequest::default()),
        ApiKey::DeleteRecords => RequestKind::DeleteRecords(DeleteRecordsRequest::default()),
        ApiKey::DescribeLogDirs => RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default()),
        ApiKey::OffsetForLeaderEpoch => {
            RequestKind::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default())
        }
        ApiKey::ElectLeaders => RequestKind::ElectLeaders(ElectLeadersRequest::default()),
        ApiKey::AlterPartitionReassignments => {
            RequestKind::AlterPartitionReassignments(AlterPartitionReassignmentsRequest::default())
        }
        ApiKey::ListPartitionReassignments => {
            RequestKind::ListPartitionReassignments(ListPartitionReassignmentsRequest::default())
        }
        ApiKey::CreateAcls => RequestKind::CreateAcls(CreateAclsRequest::default()),
        ApiKey::DescribeAcls => RequestKind::DescribeAcls(DescribeAclsRequest::default()),
        ApiKey::DeleteAcls => RequestKind::DeleteAcls(DeleteAclsRequest::default()),
        ApiKey::AlterConfigs => RequestKind::AlterConfigs(AlterConfigsRequest::default()),
        ApiKey::DescribeUserScramCredentials => {
            RequestKind::DescribeUserScramCredentials(DescribeUserScramCredentialsRequest::default())
        }
        ApiKey::AlterUserScramCredentials => {
            RequestKind::AlterUserScramCredentials(AlterUserScramCredentialsRequest::default())
        }
        ApiKey::DescribeProducers => {
            RequestKind::DescribeProducers(DescribeProducersRequest::default())
        }
        ApiKey::UpdateFeatures => RequestKind::UpdateFeatures(
            strom_codec::kafka_protocol::messages::UpdateFeaturesRequest::default(),
        ),
        ApiKey::ConsumerGroupHeartbeat => RequestKind::ConsumerGroupHeartbeat(
            strom_codec::kafka_protocol::messages::ConsumerGroupHeartbeatRequest::default(),
        ),
        ApiKey::ConsumerGroupDescribe => RequestKind::ConsumerGroupDescribe(
            strom_codec::kafka_protocol::messages::ConsumerGroupDescribeRequest::default(),
        ),
        ApiKey::DescribeTopicPartitions => RequestKind::DescribeTopicPartitions(
            DescribeTopicPartitionsRequest::default().with_response_partition_limit(10),
        ),
        ApiKey::AddPartitionsToTxn => {
            RequestKind::AddPartitionsToTxn(AddPartitionsToTxnRequest::default())
        }
        ApiKey::AddOffsetsToTxn => RequestKind::AddOffsetsToTxn(AddOffsetsToTxnRequest::default()),
        ApiKey::EndTxn => RequestKind::EndTxn(EndTxnRequest::default()),
        ApiKey::TxnOffsetCommit => RequestKind::TxnOffsetCommit(TxnOffsetCommitRequest::default()),
        ApiKey::ListTransactions => {
            RequestKind::ListTransactions(ListTransactionsRequest::default())
        }
        ApiKey::DescribeTransactions => {
            RequestKind::DescribeTransactions(DescribeTransactionsRequest::default())
        }
        other => panic!("add a default request for {other:?}"),
    }
}

#[tokio::test]
async fn produce_errors_and_idempotent_duplicates() {
    let (broker, _dir) = broker().await;
    let mut s = TcpStream::connect(broker.local_addr()).await.unwrap();
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("raw")))
            .with_num_partitions(1)
            .with_replication_factor(1)]);
    s.write_all(&frame(
        ApiKey::CreateTopics,
        7,
        1,
        &RequestKind::CreateTopics(create),
    ))
    .await
    .unwrap();
    read_frame(&mut s).await.expect("created");

    let batch = |values: &[&[u8]], producer| {
        strom_storage::batch::build_uncompressed(
            values,
            strom_server::clock::Clock::system().wall_ms(),
            producer,
        )
    };
    assert_eq!(
        produce(&mut s, "raw", batch(&[b"a", b"b"], None), 2).await,
        (0, 0, vec![])
    );
    // Idempotent: first write, its retry, then a gap.
    assert_eq!(
        produce(&mut s, "raw", batch(&[b"c"], Some((7, 0, 0))), 3).await,
        (0, 2, vec![])
    );
    assert_eq!(
        produce(&mut s, "raw", batch(&[b"c"], Some((7, 0, 0))), 4).await,
        (0, 2, vec![]),
        "duplicate answered with its offset"
    );
    assert_eq!(
        produce(&mut s, "raw", batch(&[b"d"], Some((7, 0, 5))), 5)
            .await
            .0,
        45,
        "OUT_OF_ORDER_SEQUENCE_NUMBER"
    );
    assert_eq!(
        produce(&mut s, "raw", batch(&[b"d"], Some((7, 0, 1))), 6).await,
        (0, 3, vec![])
    );
    // Corrupt CRC.
    let mut bad = batch(&[b"x"], None);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(produce(&mut s, "raw", bad, 7).await.0, 2, "CORRUPT_MESSAGE");
    // Magic 1.
    let mut old = batch(&[b"x"], None);
    old[16] = 1;
    assert_eq!(produce(&mut s, "raw", old, 8).await.0, 2, "CORRUPT_MESSAGE");
    // Unknown topic.
    assert_eq!(
        produce(&mut s, "nope", batch(&[b"x"], None), 9).await.0,
        3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    // Timestamp far in the future (message.timestamp.after.max.ms = 1 h).
    let future = strom_storage::batch::build_uncompressed(
        &[b"x"],
        strom_server::clock::Clock::system().wall_ms() + 10 * 3_600_000,
        None,
    );
    assert_eq!(
        produce(&mut s, "raw", future, 10).await.0,
        32,
        "INVALID_TIMESTAMP"
    );
    broker.shutdown().await;
}
