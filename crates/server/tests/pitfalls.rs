//! Items of COMPAT-PITFALLS.md that are cheapest to check on the wire.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{call, produce};
use strom_codec::kafka_protocol::messages::create_topics_request::CreatableTopic;
use strom_codec::kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use strom_codec::kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, CreateTopicsResponse, FetchRequest, FetchResponse,
    MetadataRequest, MetadataResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use strom_server::{Broker, Config};
use tokio::net::TcpStream;

async fn broker(tweak: impl FnOnce(&mut Config)) -> (Broker, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        metrics_listen: Some("127.0.0.1:0".into()),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    tweak(&mut config);
    (Broker::start(config).await.unwrap(), dir)
}

fn fetch_request(topic: &str, offset: i64, max_wait_ms: i32) -> RequestKind {
    RequestKind::Fetch(
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(max_wait_ms)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.into())))
                .with_partitions(vec![FetchPartition::default()
                    .with_partition(0)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)])]),
    )
}

async fn create(conn: &mut TcpStream, name: &str) {
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(name.into())))
            .with_num_partitions(1)
            .with_replication_factor(1)]);
    let r: CreateTopicsResponse = call(
        conn,
        ApiKey::CreateTopics,
        7,
        RequestKind::CreateTopics(create),
    )
    .await;
    assert_eq!(r.topics[0].error_code, 0);
}

#[tokio::test]
async fn empty_fetch_has_an_empty_not_null_record_set_and_max_wait_zero_returns() {
    let (broker, _dir) = broker(|_| {}).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create(&mut conn, "quiet").await;
    // v13+ names topics by id; this request names them, so stop at v12.
    for version in [4, 11, 12] {
        let r: FetchResponse = call(
            &mut conn,
            ApiKey::Fetch,
            version,
            fetch_request("quiet", 0, 0),
        )
        .await;
        let p = &r.responses[0].partitions[0];
        assert_eq!(p.error_code, 0);
        assert_eq!(p.records, Some(Bytes::new()), "v{version}: empty, not null");
        assert_eq!(p.high_watermark, 0);
    }
    broker.shutdown().await;
}

#[tokio::test]
async fn long_poll_wakes_on_the_append() {
    let (broker, _dir) = broker(|_| {}).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create(&mut conn, "wake").await;
    let addr = broker.local_addr();
    let waiter = tokio::spawn(async move {
        let mut c = TcpStream::connect(addr).await.unwrap();
        // 60 s max wait: only the append can end this within the test's timeout.
        let r: FetchResponse =
            call(&mut c, ApiKey::Fetch, 12, fetch_request("wake", 0, 60_000)).await;
        r
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let batch = strom_storage::batch::build_uncompressed(
        &[b"ping"],
        strom_server::clock::Clock::system().wall_ms(),
        None,
    );
    assert_eq!(produce(&mut conn, "wake", batch, 1).await.0, 0);
    let r = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("woken by the append")
        .unwrap();
    let records = r.responses[0].partitions[0].records.clone().unwrap();
    assert!(!records.is_empty());
    broker.shutdown().await;
}

#[tokio::test]
async fn fetch_naming_no_partition_is_answered_at_once() {
    // As Kafka's fetchMessages: nothing to wait for, so max_wait_ms does not apply.
    let (broker, _dir) = broker(|_| {}).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let empty = RequestKind::Fetch(
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(60_000)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_session_epoch(-1),
    );
    let r: FetchResponse = tokio::time::timeout(
        Duration::from_secs(10),
        call(&mut conn, ApiKey::Fetch, 12, empty),
    )
    .await
    .expect("answered without waiting out max_wait_ms");
    assert_eq!(r.error_code, 0);
    assert!(r.responses.is_empty());
    broker.shutdown().await;
}

#[tokio::test]
async fn advertised_port_zero_means_the_bound_port() {
    let (broker, _dir) = broker(|c| c.advertised = Some("localhost:0".into())).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let r: MetadataResponse = call(
        &mut conn,
        ApiKey::Metadata,
        12,
        RequestKind::Metadata(MetadataRequest::default()),
    )
    .await;
    assert_eq!(r.brokers[0].host.as_str(), "localhost");
    assert_eq!(r.brokers[0].port, i32::from(broker.local_addr().port()));
    broker.shutdown().await;
}
