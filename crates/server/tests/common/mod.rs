//! Raw-protocol helpers shared by the server's integration tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
#![allow(dead_code)]

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use strom_codec::kafka_protocol::messages::produce_request::{
    PartitionProduceData, TopicProduceData,
};
use strom_codec::kafka_protocol::messages::{
    ApiKey, ProduceRequest, ProduceResponse, RequestHeader, RequestKind, ResponseHeader, TopicName,
};
use strom_codec::kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use strom_server::{Broker, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const WAIT: Duration = Duration::from_secs(10);

pub async fn broker() -> (Broker, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".into(),
        metrics_listen: Some("127.0.0.1:0".into()),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    (Broker::start(config).await.unwrap(), dir)
}

pub fn frame(api_key: ApiKey, version: i16, correlation_id: i32, body: &RequestKind) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.put_i32(0);
    RequestHeader::default()
        .with_request_api_key(api_key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("raw-test")))
        .encode(&mut out, api_key.request_header_version(version))
        .unwrap();
    body.encode(&mut out, version).unwrap();
    let len = i32::try_from(out.len() - 4).unwrap();
    out[..4].copy_from_slice(&len.to_be_bytes());
    out.to_vec()
}

/// Reads one response frame; `None` when the broker closed the connection.
pub async fn read_frame(s: &mut TcpStream) -> Option<Bytes> {
    let mut len = [0u8; 4];
    tokio::time::timeout(WAIT, s.read_exact(&mut len))
        .await
        .expect("timely")
        .ok()?;
    let mut body = vec![0u8; usize::try_from(i32::from_be_bytes(len)).unwrap()];
    tokio::time::timeout(WAIT, s.read_exact(&mut body))
        .await
        .expect("timely")
        .ok()?;
    Some(Bytes::from(body))
}

/// Produces `records` to partition 0 of `topic` with Produce v9; returns (error, base offset, record error indexes).
pub async fn produce(
    s: &mut TcpStream,
    topic: &str,
    records: Vec<u8>,
    id: i32,
) -> (i16, i64, Vec<i32>) {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(records)))])]);
    s.write_all(&frame(
        ApiKey::Produce,
        9,
        id,
        &RequestKind::Produce(request),
    ))
    .await
    .unwrap();
    let mut resp = read_frame(s).await.expect("answer");
    ResponseHeader::decode(&mut resp, 1).unwrap();
    let body = ProduceResponse::decode(&mut resp, 9).unwrap();
    let p = &body.responses[0].partition_responses[0];
    (
        p.error_code,
        p.base_offset,
        p.record_errors.iter().map(|e| e.batch_index).collect(),
    )
}

/// Sends one request and decodes the response body.
pub async fn call<R: Decodable>(
    s: &mut TcpStream,
    api_key: ApiKey,
    version: i16,
    body: RequestKind,
) -> R {
    s.write_all(&frame(api_key, version, 77, &body))
        .await
        .unwrap();
    let mut resp = read_frame(s).await.expect("answer");
    ResponseHeader::decode(
        &mut resp,
        strom_codec::header::response_header_version(api_key, version),
    )
    .unwrap();
    R::decode(&mut resp, version).unwrap()
}

pub async fn broker_in(dir: &std::path::Path) -> Broker {
    let config = Config {
        listen: "127.0.0.1:0".into(),
        metrics_listen: Some("127.0.0.1:0".into()),
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    Broker::start(config).await.unwrap()
}

/// Creates `topic` with `partitions` partitions (CreateTopics v7) and checks it worked.
pub async fn create_topic(s: &mut TcpStream, topic: &str, partitions: i32) {
    use strom_codec::kafka_protocol::messages::create_topics_request::CreatableTopic;
    use strom_codec::kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(topic.into())))
            .with_num_partitions(partitions)
            .with_replication_factor(1)]);
    let r: CreateTopicsResponse = call(
        s,
        ApiKey::CreateTopics,
        7,
        RequestKind::CreateTopics(create),
    )
    .await;
    assert_eq!(r.topics[0].error_code, 0, "creating {topic}");
}
