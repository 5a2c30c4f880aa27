//! Topics, produce, fetch, list offsets and leader epochs.

use std::fmt::Write as _;

use bytes::{Buf, Bytes};
use strom_codec::kafka_protocol::messages::create_topics_request::{
    CreatableTopic, CreatableTopicConfig,
};
use strom_codec::kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use strom_codec::kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsTopic,
};
use strom_codec::kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use strom_codec::kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use strom_codec::kafka_protocol::messages::produce_request::{
    PartitionProduceData, TopicProduceData,
};
use strom_codec::kafka_protocol::messages::{
    CreateTopicsRequest, FetchRequest, FetchResponse, ListOffsetsRequest, MetadataRequest,
    OffsetForLeaderEpochRequest, ProduceRequest,
};

use super::{batch, s, topic, State, TOPIC_A, TOPIC_COMPACT, TOPIC_GONE, TOPIC_TXN, TS};
use crate::differential::session::Session;

fn creatable(name: &str, partitions: i32) -> CreatableTopic {
    CreatableTopic::default()
        .with_name(topic(name))
        .with_num_partitions(partitions)
        .with_replication_factor(1)
}

fn create(topics: Vec<CreatableTopic>, validate_only: bool) -> CreateTopicsRequest {
    CreateTopicsRequest::default()
        .with_topics(topics)
        .with_timeout_ms(10_000)
        .with_validate_only(validate_only)
}

fn config(name: &str, value: &str) -> CreatableTopicConfig {
    CreatableTopicConfig::default()
        .with_name(s(name))
        .with_value(Some(s(value)))
}

fn metadata(names: &[&str]) -> MetadataRequest {
    MetadataRequest::default()
        .with_topics(Some(
            names
                .iter()
                .map(|n| MetadataRequestTopic::default().with_name(Some(topic(n))))
                .collect(),
        ))
        .with_allow_auto_topic_creation(false)
}

/// CreateTopics with its edge cases, then Metadata at every version.
pub async fn topics(c: &mut Session, st: &mut State) {
    let compact = creatable(TOPIC_COMPACT, 1).with_configs(vec![
        config("cleanup.policy", "compact"),
        config("min.cleanable.dirty.ratio", "0.1"),
    ]);
    c.ask(
        "create topics",
        create(
            vec![
                creatable(TOPIC_A, 3),
                compact,
                creatable(TOPIC_TXN, 1),
                creatable(TOPIC_GONE, 2),
            ],
            false,
        ),
    )
    .await;
    c.ask(
        "create topics: bad cases",
        create(
            vec![
                creatable(TOPIC_A, 3),
                creatable("bad/name", 1),
                creatable("zero-partitions", 0),
                creatable("rf-3", 1).with_replication_factor(3),
                creatable("bad-config", 1).with_configs(vec![config("cleanup.policy", "bogus")]),
                creatable("unknown-config", 1).with_configs(vec![config("no.such.config", "1")]),
                creatable("bad-number", 1).with_configs(vec![config("retention.ms", "soon")]),
                creatable(&"x".repeat(250), 1),
                creatable("..", 1),
            ],
            false,
        ),
    )
    .await;
    c.ask(
        "create topics: validate only",
        create(vec![creatable("validated-only", 2)], true),
    )
    .await;
    c.ask(
        "create topics: default partitions and replication",
        create(
            vec![CreatableTopic::default()
                .with_name(topic("diff-defaults"))
                .with_num_partitions(-1)
                .with_replication_factor(-1)],
            false,
        ),
    )
    .await;
    for v in c.all_versions::<MetadataRequest>() {
        let req = metadata(&[TOPIC_A, TOPIC_COMPACT, TOPIC_TXN, "no-such-topic"]);
        let label = format!("metadata v{v}");
        if let Some(resp) = c.ask_at(&label, v, req).await {
            for t in resp.topics {
                if let Some(name) = t.name {
                    st.topic_ids.insert(name.0.to_string(), t.topic_id);
                }
            }
        }
    }
    c.ask("metadata: invalid name", metadata(&["bad/name"]))
        .await;
    let mut ids =
        MetadataRequest::default().with_topics(Some(vec![MetadataRequestTopic::default()
            .with_topic_id(st.topic_ids.get(TOPIC_A).copied().unwrap_or_default())]));
    ids.allow_auto_topic_creation = false;
    c.ask("metadata: by topic id", ids).await;
}

/// Produce of `records` to `partition` of `name`, named both ways (by name up to v12, by id
/// from v13; the codec writes the one the version has).
pub(super) fn produce_to(
    st: &State,
    name: &str,
    partition: i32,
    records: Bytes,
    acks: i16,
) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(topic(name))
            .with_topic_id(st.topic_ids.get(name).copied().unwrap_or_default())
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])])
}

/// Produce: acks=1 and all, several partitions, bad topics, partitions, acks and CRCs, and
/// every version from 3.
pub async fn produce(c: &mut Session, st: &State) {
    let one = |key: Option<&[u8]>, ts: i64| {
        Bytes::from(strom_storage::batch::build_batch(
            &[(key, Some(b"v"))],
            ts,
            1,
            None,
        ))
    };
    let mut corrupt = batch(2, 0, None).to_vec();
    if let Some(last) = corrupt.last_mut() {
        *last ^= 0xff;
    }
    for (label, req) in [
        (
            "produce acks=all p0",
            produce_to(st, TOPIC_A, 0, batch(3, 0, None), -1),
        ),
        (
            "produce acks=1 p0",
            produce_to(st, TOPIC_A, 0, batch(2, 3, None), 1),
        ),
        (
            "produce p1",
            produce_to(st, TOPIC_A, 1, batch(4, 0, None), -1),
        ),
        (
            "produce compacted",
            produce_to(st, TOPIC_COMPACT, 0, batch(2, 0, None), -1),
        ),
        (
            "produce compacted: null key",
            produce_to(st, TOPIC_COMPACT, 0, one(None, TS), -1),
        ),
        (
            "produce: unknown topic",
            produce_to(st, "no-such-topic", 0, batch(1, 0, None), -1),
        ),
        (
            "produce: unknown partition",
            produce_to(st, TOPIC_A, 9, batch(1, 0, None), -1),
        ),
        (
            "produce: acks=2",
            produce_to(st, TOPIC_A, 0, batch(1, 0, None), 2),
        ),
        (
            "produce: corrupt crc",
            produce_to(st, TOPIC_A, 0, Bytes::from(corrupt), -1),
        ),
        (
            "produce: timestamp from 1970",
            produce_to(st, TOPIC_A, 0, one(Some(b"k"), 1), -1),
        ),
    ] {
        c.ask(label, req).await;
    }
    for v in c
        .all_versions::<ProduceRequest>()
        .into_iter()
        .filter(|&v| v >= 3)
    {
        c.ask_at(
            &format!("produce v{v} p2"),
            v,
            produce_to(
                st,
                TOPIC_A,
                2,
                batch(1, usize::try_from(v).unwrap_or(0), None),
                -1,
            ),
        )
        .await;
    }
}

/// A Fetch request at `v` for `partitions` of `name` from `offset` (by topic id from v13).
pub fn fetch_req(st: &State, v: i16, name: &str, partitions: &[i32], offset: i64) -> FetchRequest {
    let mut t = FetchTopic::default().with_partitions(
        partitions
            .iter()
            .map(|&p| {
                FetchPartition::default()
                    .with_partition(p)
                    .with_fetch_offset(offset)
                    .with_partition_max_bytes(1 << 20)
            })
            .collect(),
    );
    if v >= 13 {
        t.topic_id = st.topic_ids.get(name).copied().unwrap_or_default();
    } else {
        t.topic = topic(name);
    }
    FetchRequest::default()
        .with_replica_id(strom_codec::kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(4 << 20)
        .with_session_epoch(-1)
        .with_topics(vec![t])
}

/// Fetch, its answer's record batches replaced by a summary that leaves out what brokers
/// write themselves (control batch timestamps).
pub async fn fetch_summarised(c: &mut Session, label: &str, v: i16, req: FetchRequest) {
    c.ask_with(label, v, req, |mut resp: FetchResponse| {
        for t in &mut resp.responses {
            for p in &mut t.partitions {
                if let Some(r) = p.records.take() {
                    if std::env::var_os("DIFF_DEBUG").is_some() {
                        eprintln!(
                            "p{} hw={} len={} {:?}",
                            p.partition_index,
                            p.high_watermark,
                            r.len(),
                            &r[..r.len().min(80)]
                        );
                    }
                    p.records = Some(Bytes::from(summarise(r)));
                }
            }
        }
        resp
    })
    .await;
}

/// Fetch at every version, out of range, unknown topic, small limits, read_committed.
pub async fn fetch(c: &mut Session, st: &State) {
    for v in c.all_versions::<FetchRequest>() {
        fetch_summarised(
            c,
            &format!("fetch v{v}"),
            v,
            fetch_req(st, v, TOPIC_A, &[0, 1, 2], 0),
        )
        .await;
    }
    let Some(v) = c.version::<FetchRequest>() else {
        return;
    };
    fetch_summarised(
        c,
        "fetch: offset out of range",
        v,
        fetch_req(st, v, TOPIC_A, &[0], 100),
    )
    .await;
    fetch_summarised(
        c,
        "fetch: unknown partition",
        v,
        fetch_req(st, v, TOPIC_A, &[7], 0),
    )
    .await;
    fetch_summarised(
        c,
        "fetch: middle of a batch",
        v,
        fetch_req(st, v, TOPIC_A, &[0], 1),
    )
    .await;
    let mut small = fetch_req(st, v, TOPIC_A, &[0], 0);
    small.max_bytes = 1;
    fetch_summarised(c, "fetch: max_bytes 1", v, small).await;
    let unknown = fetch_req(&State::default(), 12, "no-such-topic", &[0], 0);
    fetch_summarised(c, "fetch v12: unknown topic", 12.min(v), unknown).await;
    let mut committed = fetch_req(st, v, TOPIC_A, &[0], 0);
    committed.isolation_level = 1;
    fetch_summarised(c, "fetch: read_committed", v, committed).await;
}

/// `records` as text: per batch its offsets, attributes, producer epoch and sequence,
/// timestamps (not for control batches, whose time is the broker's) and record bytes.
fn summarise(mut r: Bytes) -> String {
    let mut out = String::new();
    while r.remaining() >= 61 {
        let all = r.clone();
        let base = r.get_i64();
        let len = usize::try_from(r.get_i32()).unwrap_or(0);
        if len < 49 || r.remaining() < len {
            let _ = write!(out, "[partial batch at {base}]");
            break;
        }
        let epoch = r.get_i32();
        let magic = r.get_i8();
        let _crc = r.get_u32();
        let attrs = r.get_i16();
        let last_delta = r.get_i32();
        let first_ts = r.get_i64();
        let max_ts = r.get_i64();
        let _pid = r.get_i64();
        let p_epoch = r.get_i16();
        let seq = r.get_i32();
        let count = r.get_i32();
        let body = r.split_to(len - 49);
        let control = attrs & 0x20 != 0;
        let _ = write!(
            out,
            "[batch {base}..{} leader_epoch={epoch} magic={magic} attrs={attrs:#x} producer_epoch={p_epoch} seq={seq} count={count}",
            base + i64::from(last_delta)
        );
        if control {
            // Key: version and type; the value carries the coordinator epoch.
            let key = body.get(..body.len().min(12)).map(hex).unwrap_or_default();
            let _ = write!(out, " control record prefix {key}]");
        } else {
            let _ = write!(out, " ts={first_ts}..{max_ts} body={}]", hex(&body));
        }
        drop(all);
    }
    if r.has_remaining() {
        let _ = write!(out, "[{} trailing bytes]", r.remaining());
    }
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn list_offsets(
    name: &str,
    partitions: &[i32],
    timestamp: i64,
    isolation: i8,
) -> ListOffsetsRequest {
    ListOffsetsRequest::default()
        .with_replica_id(strom_codec::kafka_protocol::messages::BrokerId(-1))
        .with_isolation_level(isolation)
        .with_timeout_ms(10_000)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(topic(name))
            .with_partitions(
                partitions
                    .iter()
                    .map(|&p| {
                        ListOffsetsPartition::default()
                            .with_partition_index(p)
                            .with_current_leader_epoch(-1)
                            .with_timestamp(timestamp)
                            .with_max_num_offsets(1)
                    })
                    .collect(),
            )])
}

/// ListOffsets (earliest, latest, by time, max timestamp, local start, tiered and pending
/// upload, every version) and
/// OffsetForLeaderEpoch.
pub async fn offsets(c: &mut Session) {
    let ps = [0, 1, 2, 9];
    for (what, ts) in [
        ("earliest", -2),
        ("latest", -1),
        ("max timestamp", -3),
        ("earliest local", -4),
        ("latest tiered", -5),
        ("earliest pending upload", -6),
        ("by time: first", TS),
        ("by time: second", TS + 1),
        ("by time: future", TS + 1_000_000),
        ("by time: 0", 0),
    ] {
        c.ask(
            &format!("list offsets {what}"),
            list_offsets(TOPIC_A, &ps, ts, 0),
        )
        .await;
    }
    c.ask(
        "list offsets: unknown topic",
        list_offsets("no-such-topic", &[0], -1, 0),
    )
    .await;
    for v in c.all_versions::<ListOffsetsRequest>() {
        c.ask_at(
            &format!("list offsets v{v} latest"),
            v,
            list_offsets(TOPIC_A, &[0, 1], -1, if v >= 2 { 1 } else { 0 }),
        )
        .await;
    }
    let epochs = |epoch: i32, current: i32| {
        OffsetForLeaderEpochRequest::default()
            .with_replica_id(strom_codec::kafka_protocol::messages::BrokerId(-1))
            .with_topics(vec![OffsetForLeaderTopic::default()
                .with_topic(topic(TOPIC_A))
                .with_partitions(
                    [0, 1, 9]
                        .iter()
                        .map(|&p| {
                            OffsetForLeaderPartition::default()
                                .with_partition(p)
                                .with_current_leader_epoch(current)
                                .with_leader_epoch(epoch)
                        })
                        .collect(),
                )])
    };
    c.ask("offset for leader epoch 0", epochs(0, -1)).await;
    c.ask("offset for leader epoch 5", epochs(5, -1)).await;
    c.ask(
        "offset for leader epoch: fenced current epoch",
        epochs(0, 7),
    )
    .await;
    for v in c.all_versions::<OffsetForLeaderEpochRequest>() {
        c.ask_at(&format!("offset for leader epoch v{v}"), v, epochs(0, -1))
            .await;
    }
}
