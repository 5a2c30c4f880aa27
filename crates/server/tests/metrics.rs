//! The Prometheus endpoint: per-API request counts with error codes, latency histograms,
//! per-topic bytes, partition offsets, group lag, connections; `/health`; bad requests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{broker, call, create_topic, produce};
use strom_codec::kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use strom_codec::kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use strom_codec::kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use strom_codec::kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, GroupId, MetadataRequest, MetadataResponse,
    OffsetCommitRequest, OffsetCommitResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn http(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(common::WAIT, s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

#[tokio::test]
async fn metrics_and_health() {
    let (broker, _dir) = broker().await;
    let addr = broker.metrics_addr().expect("metrics endpoint bound");
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create_topic(&mut conn, "m.t", 1).await;
    let batch = strom_storage::batch::build_uncompressed(
        &[b"a", b"b", b"c"],
        strom_server::clock::Clock::system().wall_ms(),
        None,
    );
    let batch_len = batch.len();
    assert_eq!(produce(&mut conn, "m.t", batch, 1).await.0, 0);
    assert_eq!(
        produce(&mut conn, "missing-topic-x", vec![0; 70], 1)
            .await
            .0,
        3
    );
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("lag\"ging")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("m.t")))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(1)])]);
    let r: OffsetCommitResponse = call(
        &mut conn,
        ApiKey::OffsetCommit,
        8,
        RequestKind::OffsetCommit(commit),
    )
    .await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    // A v13+ fetch names the topic by id only; its bytes still count under the name.
    let m: MetadataResponse = call(
        &mut conn,
        ApiKey::Metadata,
        12,
        RequestKind::Metadata(MetadataRequest::default().with_topics(Some(vec![
            MetadataRequestTopic::default()
                .with_name(Some(TopicName(StrBytes::from_static_str("m.t")))),
        ]))),
    )
    .await;
    let fetch = FetchRequest::default()
        .with_max_wait_ms(0)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic_id(m.topics[0].topic_id)
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_partition_max_bytes(1 << 20)])]);
    let f: FetchResponse = call(&mut conn, ApiKey::Fetch, 16, RequestKind::Fetch(fetch)).await;
    let records = f.responses[0].partitions[0].records.clone().unwrap();
    assert_eq!(records.len(), batch_len);

    let health = http(addr, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let body = http(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    for line in [
        "strom_up 1".to_string(),
        "strom_requests_total{api=\"Produce\",error=\"NONE\"} 1".into(),
        "strom_requests_total{api=\"Produce\",error=\"UNKNOWN_TOPIC_OR_PARTITION\"} 1".into(),
        "strom_request_duration_seconds_count{api=\"Produce\"} 2".into(),
        format!("strom_topic_bytes_in_total{{topic=\"m.t\"}} {batch_len}"),
        "strom_topic_records_in_total{topic=\"m.t\"} 3".into(),
        format!("strom_topic_bytes_out_total{{topic=\"m.t\"}} {batch_len}"),
        "strom_partition_log_end_offset{topic=\"m.t\",partition=\"0\"} 3".into(),
        "strom_consumer_group_lag{group=\"lag\\\"ging\",topic=\"m.t\",partition=\"0\"} 2".into(),
        "strom_connections 1".into(),
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing `{line}` in:\n{body}"
        );
    }
    assert!(http(addr, "GET /nope HTTP/1.1\r\n\r\n")
        .await
        .starts_with("HTTP/1.1 404"));
    assert!(http(addr, "POST /metrics HTTP/1.1\r\n\r\n")
        .await
        .starts_with("HTTP/1.1 405"));
    let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
    assert!(http(addr, &huge).await.starts_with("HTTP/1.1 431"));
    drop(conn);
    broker.shutdown().await;
}
