//! Fetch requests read in place and Fetch responses written in place.
//!
//! Fetch is the one request on the steady path of a consumer. Like [`crate::produce`] it
//! skips the `kafka-protocol` structs and their per-request vectors:
//! [`FetchRequestView::parse`] checks the whole body once and [`FetchRequestView::topics`]
//! walks it again without allocating; [`FetchResponseWriter`] writes the response into the
//! connection's output buffer, leaving each partition's record bytes to the caller (who
//! copies small ones in and sends large ones from the segment file). Both follow Kafka's
//! `FetchRequest.json` / `FetchResponse.json`: flexible from v12, topic ids from v13, no
//! replica id in the body from v15 (it moved to a tagged field), v17 differs from v16 only
//! by a tagged field of that follower state (its directory id, KIP-853) and v18 from v17
//! only by a tagged field of each partition (a follower's high watermark, KIP-1166).

use bytes::{BufMut, Bytes, BytesMut};

use crate::wire::{self, Reader, Writer};

/// The first Fetch version read: v0–v3 answer message sets of magic 0 (v0–v1) or 1 (v2–v3),
/// which the broker converts down from its batches (Kafka 3.9 served them; Kafka 4 does not).
pub const FETCH_VERSION_MIN: i16 = 0;
/// The last Fetch version this module reads and writes.
pub const FETCH_VERSION_MAX: i16 = 18;

/// Flexible versions (compact lengths, tagged fields) start at v12.
fn is_flexible(version: i16) -> bool {
    version >= 12
}

/// A checked Fetch request body; topics and partitions are read from it on demand.
#[derive(Debug, Clone)]
pub struct FetchRequestView {
    version: i16,
    body: Bytes,
    /// -1 for a consumer; before v15 only (later in a tagged field we do not read).
    pub replica_id: i32,
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub isolation_level: i8,
    /// v7+ (KIP-227); 0 before.
    pub session_id: i32,
    /// v7+; -1 before.
    pub session_epoch: i32,
    topics_at: usize,
    topic_count: usize,
    partition_count: usize,
}

/// One topic of a Fetch request.
pub type FetchTopic<'a> = wire::Topic<'a, FetchPartition>;
/// The topics of a Fetch request, read in place.
pub type FetchTopics<'a> = wire::Topics<'a, FetchPartition>;
/// The partitions of one topic, read in place.
pub type FetchPartitions<'a> = wire::Partitions<'a, FetchPartition>;

/// One partition of a Fetch request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPartition {
    pub partition: i32,
    /// v9+; -1 before.
    pub current_leader_epoch: i32,
    pub fetch_offset: i64,
    /// v12+; -1 before.
    pub last_fetched_epoch: i32,
    /// v5+; -1 before.
    pub log_start_offset: i64,
    pub partition_max_bytes: i32,
}

impl<'a> wire::Entry<'a> for FetchPartition {
    fn read(r: &mut Reader<'a>, version: i16) -> Result<Self, String> {
        let partition = r.i32()?;
        let current_leader_epoch = if version >= 9 { r.i32()? } else { -1 };
        let fetch_offset = r.i64()?;
        let last_fetched_epoch = if version >= 12 { r.i32()? } else { -1 };
        let log_start_offset = if version >= 5 { r.i64()? } else { -1 };
        let partition_max_bytes = r.i32()?;
        r.tagged_fields()?;
        Ok(FetchPartition {
            partition,
            current_leader_epoch,
            fetch_offset,
            last_fetched_epoch,
            log_start_offset,
            partition_max_bytes,
        })
    }
}

/// A forgotten topic (v7+, fetch sessions): its name or id and partition indexes, skipped.
fn forgotten_topic(r: &mut Reader<'_>, version: i16) -> Result<(), String> {
    let head = r.topic_head(version >= 13)?;
    let bytes = head
        .partitions
        .checked_mul(4)
        .ok_or("forgotten partition count overflows")?;
    r.take(bytes)?;
    r.tagged_fields()
}

impl FetchRequestView {
    /// Checks a whole Fetch body of `version` (header already removed).
    ///
    /// # Errors
    /// Why the body is malformed, or that the version is not one this module reads.
    pub fn parse(body: Bytes, version: i16) -> Result<Self, String> {
        if !(FETCH_VERSION_MIN..=FETCH_VERSION_MAX).contains(&version) {
            return Err(format!("Fetch v{version} is not read here"));
        }
        let mut r = Reader::new(&body, 0, is_flexible(version));
        let replica_id = if version < 15 { r.i32()? } else { -1 };
        let max_wait_ms = r.i32()?;
        let min_bytes = r.i32()?;
        // v3 added the response limit, v4 the isolation level.
        let max_bytes = if version >= 3 { r.i32()? } else { i32::MAX };
        let isolation_level = if version >= 4 { r.i8()? } else { 0 };
        let (session_id, session_epoch) = if version >= 7 {
            (r.i32()?, r.i32()?)
        } else {
            (0, -1)
        };
        let topic_count = r.array_len()?;
        let topics_at = r.at;
        let partition_count = wire::check_topics::<FetchPartition>(&mut r, version, topic_count)?;
        if version >= 7 {
            for _ in 0..r.array_len()? {
                forgotten_topic(&mut r, version)?;
            }
        }
        if version >= 11 {
            r.string()?;
        }
        r.tagged_fields()?;
        if r.at != body.len() {
            return Err(format!("{} bytes after the request", body.len() - r.at));
        }
        Ok(Self {
            version,
            body,
            replica_id,
            max_wait_ms,
            min_bytes,
            max_bytes,
            isolation_level,
            session_id,
            session_epoch,
            topics_at,
            topic_count,
            partition_count,
        })
    }

    pub fn version(&self) -> i16 {
        self.version
    }

    pub fn topic_count(&self) -> usize {
        self.topic_count
    }

    /// Partitions over all topics.
    pub fn partition_count(&self) -> usize {
        self.partition_count
    }

    /// The topics, in request order.
    pub fn topics(&self) -> FetchTopics<'_> {
        let reader = Reader::new(&self.body, self.topics_at, is_flexible(self.version));
        FetchTopics::new(reader, self.version, self.topic_count)
    }
}

// ------------------------------------------------------------------------- response

/// One partition's answer, without its aborted transactions and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionHead {
    pub index: i32,
    pub error_code: i16,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    /// v5+.
    pub log_start_offset: i64,
    /// v11+; -1 when the leader is to be read.
    pub preferred_read_replica: i32,
}

/// An aborted transaction in a read_committed answer: producer id, first offset.
pub type Aborted = (i64, i64);

/// Writes a Fetch response body into a buffer: [`Self::new`] with the topic count,
/// [`Self::topic`] for each topic with its partition count, then for each partition
/// [`Self::partition`], exactly `records_len` record bytes appended by the caller (or
/// sent separately at that place in the stream), [`Self::end_partition`]; finally
/// [`Self::finish`].
#[derive(Debug)]
pub struct FetchResponseWriter<'b> {
    w: Writer<'b>,
    version: i16,
    /// Partitions still to end for the current topic.
    partitions_left: usize,
}

impl<'b> FetchResponseWriter<'b> {
    /// Starts a response at `version`, appended to `out`: its top-level fields and the
    /// count of `topics` that follow.
    pub fn new(
        out: &'b mut BytesMut,
        version: i16,
        throttle_time_ms: i32,
        error_code: i16,
        session_id: i32,
        topics: usize,
    ) -> Self {
        let mut w = Self {
            w: Writer {
                out,
                flexible: is_flexible(version),
            },
            version,
            partitions_left: 0,
        };
        if version >= 1 {
            w.w.out.put_i32(throttle_time_ms);
        }
        if version >= 7 {
            w.w.out.put_i16(error_code);
            w.w.out.put_i32(session_id);
        }
        w.w.array_len(topics);
        w
    }

    /// Starts the next topic: its name (before v13) or id (v13+) and partition count.
    pub fn topic(&mut self, name: &str, topic_id: [u8; 16], partitions: usize) {
        self.w
            .topic_head(name, topic_id, self.version >= 13, partitions);
        self.partitions_left = partitions;
    }

    /// Writes the current topic's next partition up to and including the length of its
    /// records (`None`: null). `aborted` is `None` for read_uncommitted (null on the wire).
    pub fn partition<I>(
        &mut self,
        p: &PartitionHead,
        aborted: Option<I>,
        records_len: Option<usize>,
    ) where
        I: ExactSizeIterator<Item = Aborted>,
    {
        let out = &mut *self.w.out;
        out.put_i32(p.index);
        out.put_i16(p.error_code);
        out.put_i64(p.high_watermark);
        if self.version >= 4 {
            out.put_i64(p.last_stable_offset);
        }
        if self.version >= 5 {
            out.put_i64(p.log_start_offset);
        }
        // Before v4 there is no list of aborted transactions.
        if self.version >= 4 {
            match aborted {
                None => self.w.length(None),
                Some(list) => {
                    self.w.array_len(list.len());
                    for (producer_id, first_offset) in list {
                        self.w.out.put_i64(producer_id);
                        self.w.out.put_i64(first_offset);
                        self.w.no_tagged_fields();
                    }
                }
            }
        }
        if self.version >= 11 {
            self.w.out.put_i32(p.preferred_read_replica);
        }
        self.w.length(records_len);
    }

    /// Where the next byte goes: the caller appends a partition's records here, or notes
    /// the position of records that are sent from elsewhere.
    pub fn buf(&mut self) -> &mut BytesMut {
        self.w.out
    }

    /// Ends the partition whose records were just written.
    pub fn end_partition(&mut self) {
        self.w.no_tagged_fields();
        self.partitions_left = self.partitions_left.saturating_sub(1);
        if self.partitions_left == 0 {
            // The topic's tagged fields follow its last partition.
            self.w.no_tagged_fields();
        }
    }

    /// Ends the response.
    pub fn finish(mut self) {
        self.w.no_tagged_fields();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_request::{
        FetchPartition as KpPartition, FetchTopic as KpTopic, ForgottenTopic,
    };
    use kafka_protocol::messages::fetch_response::{
        AbortedTransaction, FetchableTopicResponse, PartitionData,
    };
    use kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId, TopicName};
    use kafka_protocol::protocol::{Encodable, StrBytes};

    /// The first version `kafka-protocol` (generated from Kafka 4's definitions) knows: the
    /// comparisons with it start there.
    fn kafka_protocol_version_min() -> i16 {
        kafka_protocol::messages::ApiKey::Fetch.valid_versions().min
    }

    /// A request with every field `version` has set to something other than its default.
    fn request(version: i16) -> FetchRequest {
        let partition = |index: i32, offset: i64, max: i32| {
            KpPartition::default()
                .with_partition(index)
                .with_current_leader_epoch(if version >= 9 { 5 } else { -1 })
                .with_fetch_offset(offset)
                .with_last_fetched_epoch(if version >= 12 { 4 } else { -1 })
                .with_log_start_offset(if version >= 5 { 2 } else { -1 })
                .with_partition_max_bytes(max)
                // v17's tagged field (a follower's directory id): read past, not used.
                .with_replica_directory_id(if version >= 17 {
                    uuid::Uuid::from_bytes([9; 16])
                } else {
                    uuid::Uuid::nil()
                })
                // v18's tagged field (a follower's high watermark): read past, not used.
                .with_high_watermark(if version >= 18 { 77 } else { i64::MAX })
        };
        let topic = |name: &'static str, id: u8, parts: Vec<KpPartition>| {
            KpTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str(name)))
                .with_topic_id(uuid::Uuid::from_bytes([id; 16]))
                .with_partitions(parts)
        };
        FetchRequest::default()
            .with_max_wait_ms(500)
            .with_min_bytes(1)
            .with_max_bytes(52_428_800)
            .with_isolation_level(1)
            .with_topics(vec![
                topic(
                    "alpha",
                    1,
                    vec![partition(0, 100, 1 << 20), partition(3, 7, 1024)],
                ),
                topic("b", 2, vec![]),
                topic("gamma", 3, vec![partition(9, 0, 65536)]),
            ])
            .with_forgotten_topics_data(vec![ForgottenTopic::default()
                .with_topic(TopicName(StrBytes::from_static_str("old")))
                .with_topic_id(uuid::Uuid::from_bytes([9; 16]))
                .with_partitions(vec![1, 2])])
            .with_rack_id(StrBytes::from_static_str("rack-a"))
    }

    fn encoded(version: i16) -> Bytes {
        let mut req = request(version);
        if version < 7 {
            req.forgotten_topics_data.clear();
        }
        if version < 11 {
            req.rack_id = StrBytes::from_static_str("");
        }
        let mut buf = BytesMut::new();
        req.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn reads_and_answers_the_versions_before_transactions() {
        for version in 0..=3 {
            let mut body = BytesMut::new();
            body.put_i32(-1); // replica
            body.put_i32(500);
            body.put_i32(1);
            if version >= 3 {
                body.put_i32(1000);
            }
            body.put_i32(1);
            body.put_i16(1);
            body.put_slice(b"t");
            body.put_i32(1);
            body.put_i32(0);
            body.put_i64(5);
            body.put_i32(100);
            let view = FetchRequestView::parse(body.freeze(), version).unwrap();
            assert_eq!(
                (view.max_wait_ms, view.min_bytes, view.isolation_level),
                (500, 1, 0)
            );
            assert_eq!(view.max_bytes, if version >= 3 { 1000 } else { i32::MAX });
            let topics: Vec<_> = view.topics().collect();
            let parts: Vec<_> = topics[0].partitions.clone().collect();
            assert_eq!(
                (parts[0].fetch_offset, parts[0].partition_max_bytes),
                (5, 100)
            );

            let mut out = BytesMut::new();
            let mut w = FetchResponseWriter::new(&mut out, version, 7, 0, 0, 1);
            w.topic("t", [0; 16], 1);
            let head = PartitionHead {
                index: 0,
                error_code: 0,
                high_watermark: 9,
                last_stable_offset: 9,
                log_start_offset: 0,
                preferred_read_replica: -1,
            };
            w.partition(&head, Some(std::iter::empty::<Aborted>()), Some(2));
            w.buf().put_slice(b"rs");
            w.end_partition();
            w.finish();
            let mut expected = Vec::new();
            if version >= 1 {
                expected.extend_from_slice(&7i32.to_be_bytes());
            }
            expected.extend_from_slice(&[0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
            expected.extend_from_slice(&9i64.to_be_bytes());
            expected.extend_from_slice(&[0, 0, 0, 2, b'r', b's']);
            assert_eq!(&out[..], &expected[..], "v{version}");
        }
    }

    #[test]
    fn reads_what_kafka_protocol_writes_at_every_version() {
        for version in kafka_protocol_version_min()..=FETCH_VERSION_MAX {
            let req = request(version);
            let view = FetchRequestView::parse(encoded(version), version).unwrap();
            assert_eq!(view.replica_id, -1);
            assert_eq!(view.max_wait_ms, 500);
            assert_eq!(view.min_bytes, 1);
            assert_eq!(view.max_bytes, 52_428_800);
            assert_eq!(view.isolation_level, 1);
            assert_eq!(view.session_id, 0);
            assert_eq!(view.topic_count(), 3);
            assert_eq!(view.partition_count(), 3);
            let topics: Vec<_> = view.topics().collect();
            assert_eq!(topics.len(), 3, "v{version}");
            for (got, want) in topics.iter().zip(&req.topics) {
                if version >= 13 {
                    assert_eq!(got.name, "");
                    assert_eq!(&got.topic_id, want.topic_id.as_bytes());
                } else {
                    assert_eq!(got.name, want.topic.as_str());
                }
                assert_eq!(got.partitions.len(), want.partitions.len());
                let parts: Vec<_> = got.partitions.clone().collect();
                let expected: Vec<_> = want
                    .partitions
                    .iter()
                    .map(|p| FetchPartition {
                        partition: p.partition,
                        current_leader_epoch: if version >= 9 { 5 } else { -1 },
                        fetch_offset: p.fetch_offset,
                        last_fetched_epoch: if version >= 12 { 4 } else { -1 },
                        log_start_offset: if version >= 5 { 2 } else { -1 },
                        partition_max_bytes: p.partition_max_bytes,
                    })
                    .collect();
                assert_eq!(parts, expected, "v{version}");
            }
        }
    }

    #[test]
    fn every_truncation_and_trailing_byte_is_refused() {
        for version in kafka_protocol_version_min()..=FETCH_VERSION_MAX {
            crate::wire::assert_exact_body(
                &encoded(version),
                |b| FetchRequestView::parse(b, version).is_ok(),
                &format!("v{version}"),
            );
        }
        assert!(FetchRequestView::parse(Bytes::new(), 3).is_err());
    }

    #[test]
    fn claimed_counts_beyond_the_body_are_refused_before_use() {
        // v4: replica, wait, min, max, isolation, then 2^31-1 topics.
        let mut b = BytesMut::new();
        b.put_i32(-1);
        b.put_i32(500);
        b.put_i32(1);
        b.put_i32(1 << 20);
        b.put_i8(0);
        b.put_i32(i32::MAX);
        assert!(FetchRequestView::parse(b.freeze(), 4).is_err());
        // v12: a compact array claiming 2^32-2 topics.
        let mut b = BytesMut::new();
        for v in [-1, 500, 1, 1 << 20] {
            b.put_i32(v);
        }
        b.put_i8(0);
        b.put_i32(0);
        b.put_i32(-1);
        b.put_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(FetchRequestView::parse(b.freeze(), 12).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        use proptest::prelude::*;
        proptest!(|(bytes in proptest::collection::vec(any::<u8>(), 0..200), version in 0i16..=16)| {
            if let Ok(view) = FetchRequestView::parse(Bytes::from(bytes), version) {
                for t in view.topics() {
                    for _ in t.partitions {}
                }
            }
        });
    }

    #[test]
    fn writes_what_kafka_protocol_writes_at_every_version() {
        let head = |index: i32, error_code: i16| PartitionHead {
            index,
            error_code,
            high_watermark: 1000,
            last_stable_offset: 990,
            log_start_offset: 10,
            preferred_read_replica: -1,
        };
        let records = Bytes::from_static(b"some record bytes");
        let aborted = [(7i64, 100i64), (8, 200)];
        for version in kafka_protocol_version_min()..=FETCH_VERSION_MAX {
            for read_committed in [false, true] {
                let mut ours = BytesMut::new();
                let mut w = FetchResponseWriter::new(&mut ours, version, 0, 0, 0, 3);
                let list = || read_committed.then(|| aborted.iter().copied());
                w.topic("alpha", [1; 16], 2);
                w.partition(&head(0, 0), list(), Some(records.len()));
                w.buf().put_slice(&records);
                w.end_partition();
                w.partition(&head(3, 1), list(), Some(0));
                w.end_partition();
                w.topic("empty", [2; 16], 0);
                w.topic("gamma", [3; 16], 1);
                w.partition(&head(9, 0), list(), None);
                w.end_partition();
                w.finish();

                let theirs_partition = |h: PartitionHead, records: Option<Bytes>| {
                    PartitionData::default()
                        .with_partition_index(h.index)
                        .with_error_code(h.error_code)
                        .with_high_watermark(h.high_watermark)
                        .with_last_stable_offset(h.last_stable_offset)
                        .with_log_start_offset(h.log_start_offset)
                        .with_aborted_transactions(read_committed.then(|| {
                            aborted
                                .iter()
                                .map(|(p, o)| {
                                    AbortedTransaction::default()
                                        .with_producer_id(ProducerId(*p))
                                        .with_first_offset(*o)
                                })
                                .collect()
                        }))
                        .with_preferred_read_replica((-1).into())
                        .with_records(records)
                };
                let topic = |name: &'static str, id: u8, parts: Vec<PartitionData>| {
                    FetchableTopicResponse::default()
                        .with_topic(TopicName(StrBytes::from_static_str(name)))
                        .with_topic_id(uuid::Uuid::from_bytes([id; 16]))
                        .with_partitions(parts)
                };
                let theirs = FetchResponse::default().with_responses(vec![
                    topic(
                        "alpha",
                        1,
                        vec![
                            theirs_partition(head(0, 0), Some(records.clone())),
                            theirs_partition(head(3, 1), Some(Bytes::new())),
                        ],
                    ),
                    topic("empty", 2, vec![]),
                    topic("gamma", 3, vec![theirs_partition(head(9, 0), None)]),
                ]);
                let mut expected = BytesMut::new();
                theirs.encode(&mut expected, version).unwrap();
                assert_eq!(
                    &ours[..],
                    &expected[..],
                    "v{version} read_committed={read_committed}"
                );
            }
        }
    }
}
