//! Hot paths of the codec: decoding a Produce request (records stay a slice), answering it,
//! and encoding a Fetch response carrying 1 MiB of records. The `_kafka_protocol` variants
//! do the same through the `kafka-protocol` structs, as the broker did before it read and
//! wrote Produce in place.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use strom_codec::chunked::ExternalRecords;
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
    ApiKey, FetchResponse, ProduceRequest, ProduceResponse, RequestHeader, RequestKind,
    ResponseKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::{Encodable, StrBytes};
use strom_codec::produce::{PartitionResponse, ProduceResponseWriter};
use strom_codec::request::decode_request;
use strom_codec::response::{encode_response, encode_response_chunked};

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
    // sendfile); only the fields around it are encoded.
    let mut chunks = Vec::new();
    group.bench_function("encode_fetch_1MiB_external", |b| {
        b.iter(|| {
            chunks.clear();
            let mut external = ExternalRecords::with_capacity(1);
            let mark = external.add((), 1 << 20).unwrap();
            let body = ResponseKind::Fetch(FetchResponse::default().with_responses(vec![
                FetchableTopicResponse::default()
                    .with_topic(TopicName(StrBytes::from_static_str("t")))
                    .with_partitions(vec![PartitionData::default().with_records(Some(mark))]),
            ]));
            encode_response_chunked(
                ApiKey::Fetch,
                12,
                1,
                black_box(&body),
                external,
                &mut out,
                &mut chunks,
            )
            .unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, decode, produce_response, encode);
criterion_main!(benches);
