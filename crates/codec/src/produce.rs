//! Produce requests read in place and Produce responses written in place.
//!
//! Produce is the one request on the steady path of a producer, so it skips the
//! `kafka-protocol` structs, whose vectors of topics and partitions cost heap allocations on
//! every request: [`ProduceRequestView::parse`] checks the whole body once, then
//! [`ProduceRequestView::topics`] walks it again without allocating, handing out the record
//! sets as slices of the frame. [`ProduceResponseWriter`] writes the response straight into
//! the connection's output buffer as partitions are answered. Both follow Kafka's
//! `ProduceRequest.json` / `ProduceResponse.json`: flexible from v9, topic ids from v13.

use bytes::{BufMut, Bytes, BytesMut};

use crate::wire::{self, Reader, Writer};

/// The first Produce version read: v0–v2 carry message sets of magic 0/1 (Kafka 3.9 served
/// them; Kafka 4 does not), which the broker converts to batches.
pub const PRODUCE_VERSION_MIN: i16 = 0;
/// The last Produce version this module reads and writes.
pub const PRODUCE_VERSION_MAX: i16 = 13;

/// A checked Produce request body; topics and partitions are read from it on demand.
#[derive(Debug, Clone)]
pub struct ProduceRequestView {
    version: i16,
    body: Bytes,
    transactional_id: Option<(usize, usize)>,
    pub acks: i16,
    pub timeout_ms: i32,
    /// Where the topic array's entries start, and how many there are.
    topics_at: usize,
    topic_count: usize,
}

/// One topic of a Produce request.
pub type TopicData<'a> = wire::Topic<'a, PartitionData>;
/// The topics of a Produce request, read in place.
pub type Topics<'a> = wire::Topics<'a, PartitionData>;
/// The partitions of one topic, read in place.
pub type Partitions<'a> = wire::Partitions<'a, PartitionData>;

/// One partition of a Produce request: its index and record batches (`None` when null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionData {
    pub index: i32,
    pub records: Option<Bytes>,
}

/// Flexible versions (compact lengths, tagged fields) start at v9, in requests and responses.
fn is_flexible(version: i16) -> bool {
    version >= 9
}

/// A partition's index and where its records are (`None` when null); the records are not
/// sliced out here, so checking and skipping partitions touches no reference count.
fn partition(r: &mut Reader<'_>) -> Result<(i32, Option<(usize, usize)>), String> {
    let index = r.i32()?;
    let records = match r.length(true)? {
        None => None,
        Some(n) => {
            let start = r.at;
            r.take(n)?;
            Some((start, start + n))
        }
    };
    r.tagged_fields()?;
    Ok((index, records))
}

impl<'a> wire::Entry<'a> for PartitionData {
    /// A partition's index and records (`None` when null), as a slice of the body.
    fn read(r: &mut Reader<'a>, _version: i16) -> Result<Self, String> {
        let (index, records) = partition(r)?;
        let records = records.map(|(start, end)| r.body.slice(start..end));
        Ok(PartitionData { index, records })
    }

    fn skip(r: &mut Reader<'a>, _version: i16) -> Result<(), String> {
        partition(r).map(drop)
    }
}

impl ProduceRequestView {
    /// Checks a whole Produce body of `version` (header already removed).
    ///
    /// # Errors
    /// Why the body is malformed, or that the version is not one this module reads.
    pub fn parse(body: Bytes, version: i16) -> Result<Self, String> {
        if !(PRODUCE_VERSION_MIN..=PRODUCE_VERSION_MAX).contains(&version) {
            return Err(format!("Produce v{version} is not read here"));
        }
        let mut r = Reader::new(&body, 0, is_flexible(version));
        // v3 added the transactional id in front.
        let transactional_id = if version >= 3 { r.string()? } else { None };
        let acks = r.i16()?;
        let timeout_ms = r.i32()?;
        let topic_count = r.array_len()?;
        let topics_at = r.at;
        wire::check_topics::<PartitionData>(&mut r, version, topic_count)?;
        r.tagged_fields()?;
        if r.at != body.len() {
            return Err(format!("{} bytes after the request", body.len() - r.at));
        }
        Ok(Self {
            version,
            transactional_id,
            acks,
            timeout_ms,
            topics_at,
            topic_count,
            body,
        })
    }

    pub fn version(&self) -> i16 {
        self.version
    }

    pub fn transactional_id(&self) -> Option<&str> {
        self.transactional_id
            .map(|range| Reader::new(&self.body, 0, false).str_at(range))
    }

    pub fn topic_count(&self) -> usize {
        self.topic_count
    }

    /// The topics, in request order.
    pub fn topics(&self) -> Topics<'_> {
        let reader = Reader::new(&self.body, self.topics_at, is_flexible(self.version));
        Topics::new(reader, self.version, self.topic_count)
    }
}

// ------------------------------------------------------------------------- response

/// One partition's answer.
#[derive(Debug, Clone, Default)]
pub struct PartitionResponse<'a> {
    pub index: i32,
    pub error_code: i16,
    pub base_offset: i64,
    pub log_append_time_ms: i64,
    pub log_start_offset: i64,
    /// v8+: the records that made the batch fail (index, message), KIP-467.
    pub record_errors: &'a [(i32, &'a str)],
    /// v8+.
    pub error_message: Option<&'a str>,
}

/// Writes a Produce response body into a buffer as it is answered: [`Self::topic`] for
/// each topic with its partition count, [`Self::partition`] that many times, then
/// [`Self::finish`]. The counts must be those of the request (the response answers every
/// partition it names, in order).
#[derive(Debug)]
pub struct ProduceResponseWriter<'b> {
    w: Writer<'b>,
    version: i16,
    /// Partitions still to write for the current topic.
    partitions_left: usize,
}

impl<'b> ProduceResponseWriter<'b> {
    /// Starts a response to `topics` topics at `version`, appended to `out`.
    pub fn new(out: &'b mut BytesMut, version: i16, topics: usize) -> Self {
        let mut w = Self {
            w: Writer {
                out,
                flexible: is_flexible(version),
            },
            version,
            partitions_left: 0,
        };
        w.w.array_len(topics);
        w
    }

    /// Starts the next topic: its name (before v13) or id (v13+) and partition count.
    pub fn topic(&mut self, name: &str, topic_id: [u8; 16], partitions: usize) {
        self.w
            .topic_head(name, topic_id, self.version >= 13, partitions);
        self.partitions_left = partitions;
    }

    /// Answers the current topic's next partition.
    pub fn partition(&mut self, p: &PartitionResponse<'_>) {
        self.w.out.put_i32(p.index);
        self.w.out.put_i16(p.error_code);
        self.w.out.put_i64(p.base_offset);
        if self.version >= 2 {
            self.w.out.put_i64(p.log_append_time_ms);
        }
        if self.version >= 5 {
            self.w.out.put_i64(p.log_start_offset);
        }
        if self.version >= 8 {
            self.w.array_len(p.record_errors.len());
            for (batch_index, message) in p.record_errors {
                self.w.out.put_i32(*batch_index);
                self.w.string(Some(message));
                self.w.no_tagged_fields();
            }
            self.w.string(p.error_message);
        }
        self.w.no_tagged_fields();
        self.partitions_left = self.partitions_left.saturating_sub(1);
        if self.partitions_left == 0 {
            // The topic's tagged fields follow its last partition.
            self.w.no_tagged_fields();
        }
    }

    /// Ends the response.
    pub fn finish(mut self, throttle_time_ms: i32) {
        if self.version >= 1 {
            self.w.out.put_i32(throttle_time_ms);
        }
        self.w.no_tagged_fields();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::messages::produce_response::{
        BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName, TransactionalId};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    /// The first version `kafka-protocol` (generated from Kafka 4's definitions) knows: the
    /// comparisons with it start there.
    fn kafka_protocol_version_min() -> i16 {
        kafka_protocol::messages::ApiKey::Produce
            .valid_versions()
            .min
    }

    fn request() -> ProduceRequest {
        let topic = |name: &'static str, id: u8, parts: Vec<(i32, Option<Bytes>)>| {
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(name)))
                .with_topic_id(uuid::Uuid::from_bytes([id; 16]))
                .with_partition_data(
                    parts
                        .into_iter()
                        .map(|(index, records)| {
                            PartitionProduceData::default()
                                .with_index(index)
                                .with_records(records)
                        })
                        .collect(),
                )
        };
        ProduceRequest::default()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("tx"))))
            .with_acks(-1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![
                topic(
                    "alpha",
                    1,
                    vec![
                        (0, Some(Bytes::from(vec![7u8; 300]))),
                        (3, None),
                        (1, Some(Bytes::new())),
                    ],
                ),
                topic("b", 2, vec![]),
                topic("gamma", 3, vec![(9, Some(Bytes::from_static(b"xyz")))]),
            ])
    }

    #[test]
    fn reads_what_kafka_protocol_writes_at_every_version() {
        let req = request();
        for version in kafka_protocol_version_min()..=PRODUCE_VERSION_MAX {
            let mut buf = BytesMut::new();
            req.encode(&mut buf, version).unwrap();
            let view = ProduceRequestView::parse(buf.freeze(), version).unwrap();
            assert_eq!(view.acks, -1);
            assert_eq!(view.timeout_ms, 30_000);
            assert_eq!(view.transactional_id(), Some("tx"));
            assert_eq!(view.topic_count(), 3);
            let topics: Vec<_> = view.topics().collect();
            assert_eq!(topics.len(), 3, "v{version}");
            for (got, want) in topics.iter().zip(&req.topic_data) {
                if version >= 13 {
                    assert_eq!(got.name, "");
                    assert_eq!(&got.topic_id, want.topic_id.as_bytes());
                } else {
                    assert_eq!(got.name, want.name.as_str());
                }
                assert_eq!(got.partitions.len(), want.partition_data.len());
                let parts: Vec<_> = got.partitions.clone().collect();
                let expected: Vec<_> = want
                    .partition_data
                    .iter()
                    .map(|p| PartitionData {
                        index: p.index,
                        records: p.records.clone(),
                    })
                    .collect();
                assert_eq!(parts, expected, "v{version}");
            }
        }
    }

    #[test]
    fn reads_the_versions_before_transactions() {
        // v0-v2: acks, timeout, topics (no transactional id); records as sent.
        let mut body = BytesMut::new();
        body.put_i16(-1);
        body.put_i32(1500);
        body.put_i32(1);
        body.put_i16(1);
        body.put_slice(b"t");
        body.put_i32(1);
        body.put_i32(3);
        body.put_i32(4);
        body.put_slice(b"abcd");
        for version in 0..=2 {
            let view = ProduceRequestView::parse(body.clone().freeze(), version).unwrap();
            assert_eq!(
                (view.acks, view.timeout_ms, view.transactional_id()),
                (-1, 1500, None)
            );
            let topics: Vec<_> = view.topics().collect();
            assert_eq!(topics.len(), 1);
            assert_eq!(topics[0].name, "t");
            let parts: Vec<_> = topics[0].partitions.clone().collect();
            assert_eq!(parts[0].index, 3);
            assert_eq!(parts[0].records.as_deref(), Some(&b"abcd"[..]));
        }
    }

    #[test]
    fn answers_the_versions_before_transactions() {
        for (version, tail) in [(0, &[][..]), (1, &[0, 0, 0, 9][..]), (2, &[0, 0, 0, 9][..])] {
            let mut out = BytesMut::new();
            let mut w = ProduceResponseWriter::new(&mut out, version, 1);
            w.topic("t", [0; 16], 1);
            w.partition(&PartitionResponse {
                index: 3,
                base_offset: 7,
                log_append_time_ms: -1,
                ..PartitionResponse::default()
            });
            w.finish(9);
            let mut expected = vec![0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 3, 0, 0];
            expected.extend_from_slice(&7i64.to_be_bytes());
            if version >= 2 {
                expected.extend_from_slice(&(-1i64).to_be_bytes());
            }
            expected.extend_from_slice(tail);
            assert_eq!(&out[..], &expected[..], "v{version}");
        }
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_refused() {
        let req = request();
        for version in kafka_protocol_version_min()..=PRODUCE_VERSION_MAX {
            let mut buf = BytesMut::new();
            req.encode(&mut buf, version).unwrap();
            crate::wire::assert_exact_body(
                &buf.freeze(),
                |b| ProduceRequestView::parse(b, version).is_ok(),
                &format!("v{version}"),
            );
        }
        assert!(ProduceRequestView::parse(Bytes::new(), 2).is_err());
    }

    #[test]
    fn claimed_lengths_beyond_the_body_are_refused_before_use() {
        // v3: null transactional id, acks, timeout, then 2^31-1 topics.
        let mut b = BytesMut::new();
        b.put_i16(-1);
        b.put_i16(1);
        b.put_i32(100);
        b.put_i32(i32::MAX);
        assert!(ProduceRequestView::parse(b.freeze(), 3).is_err());
        // v9: a compact array claiming 2^32-2 entries.
        let mut b = BytesMut::new();
        b.put_u8(0);
        b.put_i16(1);
        b.put_i32(100);
        b.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(ProduceRequestView::parse(b.freeze(), 9).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..200), version in 0i16..=13)| {
            if let Ok(view) = ProduceRequestView::parse(Bytes::from(bytes), version) {
                for t in view.topics() {
                    for _ in t.partitions {}
                }
            }
        });
    }

    #[test]
    fn writes_what_kafka_protocol_writes_at_every_version() {
        let errors = [(2, "Compacted topic cannot accept message without key")];
        let partitions = [
            PartitionResponse {
                index: 0,
                base_offset: 42,
                log_append_time_ms: -1,
                log_start_offset: 0,
                ..PartitionResponse::default()
            },
            PartitionResponse {
                index: 1,
                error_code: 87,
                base_offset: -1,
                log_append_time_ms: -1,
                log_start_offset: -1,
                record_errors: &errors,
                error_message: Some("bad record"),
            },
        ];
        for version in kafka_protocol_version_min()..=PRODUCE_VERSION_MAX {
            let mut ours = BytesMut::new();
            let mut w = ProduceResponseWriter::new(&mut ours, version, 3);
            w.topic("alpha", [1; 16], 2);
            for p in &partitions {
                w.partition(p);
            }
            w.topic("empty", [2; 16], 0);
            w.topic("gamma", [3; 16], 1);
            w.partition(&partitions[0]);
            w.finish(0);

            let theirs_partition = |p: &PartitionResponse<'_>| {
                PartitionProduceResponse::default()
                    .with_index(p.index)
                    .with_error_code(p.error_code)
                    .with_base_offset(p.base_offset)
                    .with_log_append_time_ms(p.log_append_time_ms)
                    .with_log_start_offset(p.log_start_offset)
                    .with_record_errors(
                        p.record_errors
                            .iter()
                            .map(|(i, m)| {
                                BatchIndexAndErrorMessage::default()
                                    .with_batch_index(*i)
                                    .with_batch_index_error_message(Some(StrBytes::from_string(
                                        (*m).to_string(),
                                    )))
                            })
                            .collect(),
                    )
                    .with_error_message(
                        p.error_message
                            .map(|m| StrBytes::from_string(m.to_string())),
                    )
            };
            let topic = |name: &'static str, id: u8, parts: Vec<PartitionProduceResponse>| {
                TopicProduceResponse::default()
                    .with_name(TopicName(StrBytes::from_static_str(name)))
                    .with_topic_id(uuid::Uuid::from_bytes([id; 16]))
                    .with_partition_responses(parts)
            };
            let theirs = ProduceResponse::default().with_responses(vec![
                topic(
                    "alpha",
                    1,
                    partitions.iter().map(theirs_partition).collect(),
                ),
                topic("empty", 2, vec![]),
                topic("gamma", 3, vec![theirs_partition(&partitions[0])]),
            ]);
            let mut expected = BytesMut::new();
            theirs.encode(&mut expected, version).unwrap();
            assert_eq!(&ours[..], &expected[..], "v{version}");
        }
    }
}
