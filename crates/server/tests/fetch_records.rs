//! Fetch responses carry record sets two ways: small ones read into the response, large ones
//! sent from the segment file with sendfile after the encoded fields. Clients must not be
//! able to tell: every version decodes to the bytes that were produced.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bytes::Bytes;
use common::{call, create_topic};
use strom_codec::kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use strom_codec::kafka_protocol::messages::produce_request::{
    PartitionProduceData, TopicProduceData,
};
use strom_codec::kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, MetadataRequest, MetadataResponse,
    ProduceRequest, ProduceResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use strom_server::api::fetch::SENDFILE_BYTES_MIN;
use strom_storage::batch::{build_uncompressed, BatchHeader};
use tokio::net::TcpStream;

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.into()))
}

/// Sends one batch of `count` values of `size` bytes to `partition`; returns the batch.
async fn produce_to(
    conn: &mut TcpStream,
    topic: &str,
    partition: i32,
    count: usize,
    size: usize,
) -> Vec<u8> {
    let values: Vec<Vec<u8>> = (0..count)
        .map(|i| vec![u8::try_from(i % 251).unwrap(); size])
        .collect();
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    let batch = build_uncompressed(&refs, strom_server::clock::Clock::system().wall_ms(), None);
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name(topic))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(Bytes::from(batch.clone())))])]);
    let r: ProduceResponse = call(conn, ApiKey::Produce, 9, RequestKind::Produce(request)).await;
    assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    batch
}

fn fetch(topic: &str, id: uuid::Uuid, version: i16, partitions: i32) -> RequestKind {
    RequestKind::Fetch(
        FetchRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_max_wait_ms(0)
            .with_min_bytes(0)
            .with_max_bytes(8 << 20)
            .with_session_epoch(-1)
            .with_topics(vec![FetchTopic::default()
                .with_topic(if version < 13 {
                    name(topic)
                } else {
                    TopicName::default()
                })
                .with_topic_id(if version >= 13 { id } else { uuid::Uuid::nil() })
                .with_partitions(
                    (0..partitions)
                        .map(|p| {
                            FetchPartition::default()
                                .with_partition(p)
                                .with_fetch_offset(0)
                                .with_partition_max_bytes(4 << 20)
                        })
                        .collect(),
                )]),
    )
}

/// Stored batches differ from produced ones only in the fields the broker assigns.
fn same_batch(stored: &[u8], produced: &[u8]) {
    assert_eq!(stored.len(), produced.len());
    assert_eq!(stored[8..12], produced[8..12], "length");
    assert_eq!(
        stored[16..],
        produced[16..],
        "everything after the leader epoch"
    );
    assert!(BatchHeader::parse(stored).is_ok());
}

#[tokio::test]
async fn large_and_small_record_sets_decode_the_same_at_every_version() {
    let (broker, _dir) = common::broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create_topic(&mut conn, "mixed", 4).await;
    let large = produce_to(&mut conn, "mixed", 0, 300, 1000).await;
    let small = produce_to(&mut conn, "mixed", 1, 2, 10).await;
    let huge = produce_to(&mut conn, "mixed", 3, 1000, 1000).await;
    assert!(large.len() >= SENDFILE_BYTES_MIN as usize);
    assert!(small.len() < SENDFILE_BYTES_MIN as usize);
    assert!(huge.len() > 900_000);
    let metadata: MetadataResponse = call(
        &mut conn,
        ApiKey::Metadata,
        12,
        RequestKind::Metadata(MetadataRequest::default().with_topics(None)),
    )
    .await;
    let id = metadata
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some("mixed"))
        .unwrap()
        .topic_id;
    for version in [4, 7, 11, 12, 13, 16, 17] {
        let r: FetchResponse = call(
            &mut conn,
            ApiKey::Fetch,
            version,
            fetch("mixed", id, version, 4),
        )
        .await;
        let partitions = &r.responses[0].partitions;
        assert_eq!(partitions.len(), 4, "v{version}");
        let records = |p: usize| partitions[p].records.clone().unwrap_or_default();
        same_batch(&records(0), &large);
        same_batch(&records(1), &small);
        assert!(records(2).is_empty(), "v{version}: empty partition");
        same_batch(&records(3), &huge);
        let high_watermarks: Vec<i64> = partitions.iter().map(|p| p.high_watermark).collect();
        assert_eq!(high_watermarks, [300, 2, 0, 1000], "v{version}");
        assert!(partitions.iter().all(|p| p.error_code == 0), "v{version}");
    }
    // Pipelined fetches: responses with file-backed record sets stay in request order.
    use tokio::io::AsyncWriteExt;
    let mut pipelined = Vec::new();
    for i in 0..5 {
        pipelined.extend(common::frame(
            ApiKey::Fetch,
            12,
            100 + i,
            &fetch("mixed", id, 12, 4),
        ));
    }
    conn.write_all(&pipelined).await.unwrap();
    for i in 0..5 {
        let mut resp = common::read_frame(&mut conn).await.expect("answer");
        let header = <strom_codec::kafka_protocol::messages::ResponseHeader as strom_codec::kafka_protocol::protocol::Decodable>::decode(&mut resp, 1).unwrap();
        assert_eq!(header.correlation_id, 100 + i);
        let body = <FetchResponse as strom_codec::kafka_protocol::protocol::Decodable>::decode(
            &mut resp, 12,
        )
        .unwrap();
        same_batch(
            &body.responses[0].partitions[3].records.clone().unwrap(),
            &huge,
        );
    }
    broker.shutdown().await;
}
