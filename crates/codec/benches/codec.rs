//! Hot paths of the codec: decoding a Produce request (records stay a slice), answering it,
//! decoding a consumer's Fetch request and writing a Fetch response carrying 1 MiB of
//! records. The `_kafka_protocol` variants do the same through the `kafka-protocol` structs,
//! as the broker did before it read and wrote Produce and Fetch in place.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use strom_codec::fetch::{FetchRequestView, FetchResponseWriter, PartitionHead};
use strom_codec::kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use strom_codec::kafka_protocol::messages::fetch_response::{
    FetchableTopicResponse, PartitionData,
};
use strom_codec::kafka_protocol::messages::produce_request::{
    PartitionProduceData, TopicProduceData,
};
use strom_codec::kafka_protocol::messages::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use strom_codec::kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, ProduceRequest, ProduceResponse, RequestHeader,
    RequestKind, ResponseKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::{Encodable, StrBytes};
use strom_codec::produce::{PartitionResponse, ProduceResponseWriter};
use strom_codec::request::decode_request;
use strom_codec::response::{begin_response, encode_response, end_response_with};

fn produce_frame(records: usize) -> Bytes {
    let mut out = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(ApiKey::Produce as i16)
        .with_request_api_version(9)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("bench")))
        .encode(&mut out, 2)
        .unwrap();
    let body = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(vec![7u8; records])))])]);
    RequestKind::Produce(body).encode(&mut out, 9).unwrap();
    out.freeze()
}

/// A consumer's fetch of 4 partitions of one topic (v12, as librdkafka 2.x sends).
fn fetch_frame() -> Bytes {
    let mut out = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(ApiKey::Fetch as i16)
        .with_request_api_version(12)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("bench")))
        .encode(&mut out, 2)
        .unwrap();
    let body = FetchRequest::default()
        .with_max_wait_ms(500)
        .with_min_bytes(1)
        .with_max_bytes(52_428_800)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str("bench-topic")))
            .with_partitions(
                (0..4)
                    .map(|p| {
                        FetchPartition::default()
                            .with_partition(p)
                            .with_fetch_offset(123_456)
                            .with_partition_max_bytes(1 << 20)
                    })
                    .collect(),
            )]);
    RequestKind::Fetch(body).encode(&mut out, 12).unwrap();
    out.freeze()
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("request");
    let frame = produce_frame(1 << 20);
    group.throughput(Throughput::Bytes(frame.len() as u64));
    group.bench_function("decode_produce_1MiB", |b| {
        b.iter(|| decode_request(black_box(frame.clone())).unwrap())
    });
    let mut body = frame.clone();
    strom_codec::header::decode_request_header(ApiKey::Produce, 9, &mut body).unwrap();
    group.bench_function("decode_produce_1MiB_kafka_protocol", |b| {
        b.iter(|| {
            let mut body = black_box(body.clone());
            RequestKind::decode(ApiKey::Produce, &mut body, 9).unwrap()
        })
    });
    // Both on the body alone (the header is decoded the same way for either).
    let mut body = fetch_frame();
    strom_codec::header::decode_request_header(ApiKey::Fetch, 12, &mut body).unwrap();
    group.throughput(Throughput::Elements(1));
    group.bench_function("decode_fetch_4_partitions", |b| {
        b.iter(|| {
            let view = FetchRequestView::parse(black_box(body.clone()), 12).unwrap();
            // What the handler does: walk every partition.
            view.topics()
                .flat_map(|t| t.partitions)
                .map(|p| p.fetch_offset)
                .sum::<i64>()
        })
    });
    group.bench_function("decode_fetch_4_partitions_kafka_protocol", |b| {
        b.iter(|| {
            let mut body = black_box(body.clone());
            RequestKind::decode(ApiKey::Fetch, &mut body, 12).unwrap()
        })
    });
    group.finish();
}

/// A response to 8 partitions of one topic, written in place and through the structs.
fn produce_response(c: &mut Criterion) {
    let mut group = c.benchmark_group("response");
    let mut out = BytesMut::with_capacity(4096);
    group.bench_function("write_produce_8_partitions", |b| {
        b.iter(|| {
            out.clear();
            let mut w = ProduceResponseWriter::new(&mut out, 9, 1);
            w.topic(black_box("topic"), [0; 16], 8);
            for index in 0..8 {
                w.partition(&PartitionResponse {
                    index,
                    base_offset: 1000,
                    log_append_time_ms: -1,
                    ..PartitionResponse::default()
                });
            }
            w.finish(0);
        })
    });
    group.bench_function("write_produce_8_partitions_kafka_protocol", |b| {
        b.iter(|| {
            out.clear();
            let body = ResponseKind::Produce(ProduceResponse::default().with_responses(vec![
                TopicProduceResponse::default()
                    .with_name(TopicName(StrBytes::from_static_str(black_box("topic"))))
                    .with_partition_responses(
                        (0..8)
                            .map(|index| {
                                PartitionProduceResponse::default()
                                    .with_index(index)
                                    .with_base_offset(1000)
                                    .with_log_append_time_ms(-1)
                            })
                            .collect(),
                    ),
            ]));
            body.encode(&mut out, 9).unwrap();
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("response");
    let records = Bytes::from(vec![1u8; 1 << 20]);
    let body = ResponseKind::Fetch(FetchResponse::default().with_responses(
        vec![FetchableTopicResponse::default()
        .with_topic(TopicName(StrBytes::from_static_str("t")))
        .with_partitions(vec![PartitionData::default().with_records(Some(records))])],
    ));
    group.throughput(Throughput::Bytes(1 << 20));
    let mut out = BytesMut::with_capacity(2 << 20);
    group.bench_function("encode_fetch_1MiB", |b| {
        b.iter(|| {
            out.clear();
            encode_response(ApiKey::Fetch, 12, 1, black_box(&body), &mut out).unwrap();
        })
    });
    // What the broker does: the record set stays where it is (a file region, sent with
    // sendfile); only the fields around it are written, in place.
    group.bench_function("write_fetch_1MiB_external", |b| {
        b.iter(|| {
            out.clear();
            let start = begin_response(ApiKey::Fetch, 12, 1, &mut out).unwrap();
            let mut w = FetchResponseWriter::new(&mut out, 12, 0, 0, 0, 1);
            w.topic(black_box("t"), [0; 16], 1);
            let head = PartitionHead {
                index: 0,
                error_code: 0,
                high_watermark: 1 << 30,
                last_stable_offset: 1 << 30,
                log_start_offset: 0,
                preferred_read_replica: -1,
            };
            w.partition(&head, None::<std::iter::Empty<(i64, i64)>>, Some(1 << 20));
            w.end_partition();
            w.finish();
            end_response_with(&mut out, start, 1 << 20).unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, decode, produce_response, encode);
criterion_main!(benches);
