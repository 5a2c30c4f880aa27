//! `__consumer_offsets` stays proportional to live state: the log cleaner compacts it like
//! any compacted topic, and a restart replays what is left with every offset kept.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::call;
use strom_codec::kafka_protocol::messages::create_topics_request::CreatableTopic;
use strom_codec::kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use strom_codec::kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use strom_codec::kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, GroupId, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use strom_server::{Broker, Config};
use tokio::net::TcpStream;

async fn start(dir: &std::path::Path) -> Broker {
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    config.set("offsets.topic.num.partitions", "1").unwrap();
    config.set("offsets.topic.segment.bytes", "65536").unwrap();
    // The cleaner runs when the test asks, not on its timer.
    config.set("log.cleaner.backoff.ms", "3600000").unwrap();
    Broker::start(config).await.unwrap()
}

fn offsets_bytes(broker: &Broker) -> u64 {
    let offsets = broker.state().topics.get("__consumer_offsets").unwrap();
    offsets.partition(0).unwrap().size_bytes()
}

#[tokio::test]
async fn the_cleaner_keeps_the_offsets_topic_proportional_to_live_state() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(dir.path()).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("wide")))
            .with_num_partitions(100)
            .with_replication_factor(1)]);
    let created: CreateTopicsResponse = call(
        &mut conn,
        ApiKey::CreateTopics,
        7,
        RequestKind::CreateTopics(create),
    )
    .await;
    assert_eq!(created.topics[0].error_code, 0);
    for round in 0..130i64 {
        let partitions = (0..100)
            .map(|p| {
                OffsetCommitRequestPartition::default()
                    .with_partition_index(p)
                    .with_committed_offset(round)
            })
            .collect();
        let request = OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str("busy")))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("wide")))
                .with_partitions(partitions)]);
        let r: OffsetCommitResponse = call(
            &mut conn,
            ApiKey::OffsetCommit,
            8,
            RequestKind::OffsetCommit(request),
        )
        .await;
        assert!(r.topics[0].partitions.iter().all(|p| p.error_code == 0));
    }
    let before = offsets_bytes(&broker);
    let state = std::sync::Arc::clone(broker.state());
    let cleaned = tokio::task::spawn_blocking(move || state.topics.compact_due())
        .await
        .unwrap();
    assert_eq!(cleaned, 1);
    let after = offsets_bytes(&broker);
    assert!(
        after * 4 < before,
        "superseded commits removed: {before} bytes before, {after} after"
    );
    drop(conn);
    broker.shutdown().await;

    let broker = start(dir.path()).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let fetch = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("busy")))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("wide")))
            .with_partition_indexes((0..100).collect())]));
    let r: OffsetFetchResponse = call(
        &mut conn,
        ApiKey::OffsetFetch,
        7,
        RequestKind::OffsetFetch(fetch),
    )
    .await;
    assert!(
        r.topics[0]
            .partitions
            .iter()
            .all(|p| p.committed_offset == 129),
        "{:?}",
        r.topics[0].partitions[0]
    );
    drop(conn);
    broker.shutdown().await;
}

/// Strom before this release put a group whose id hashes negative in another
/// `__consumer_offsets` partition than Kafka does (the hash's low 31 bits instead of its
/// absolute value). Such records are older than any in the right partition, so a restart
/// replays them first and the newer commit wins, whichever partition comes first.
#[tokio::test]
async fn offsets_an_earlier_strom_put_in_another_partition_do_not_override_newer_ones() {
    use strom_coordinator::records::{
        legacy_partition_for, offset_key, offset_value, partition_for, OffsetValue,
    };
    let group = "diff-txn-v2-group";
    let (home, legacy) = (partition_for(group, 50), legacy_partition_for(group, 50));
    assert!(
        home < legacy,
        "the newer record is replayed first without the fix"
    );
    let dir = tempfile::tempdir().unwrap();
    let start = |dir: std::path::PathBuf| async move {
        let config = Config {
            listen: "127.0.0.1:0".into(),
            data_dir: dir,
            ..Config::default()
        };
        Broker::start(config).await.unwrap()
    };
    let broker = start(dir.path().to_path_buf()).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    common::create_topic(&mut conn, "moved", 1).await;
    let commit = |offset: i64| {
        OffsetCommitRequest::default()
            .with_group_id(GroupId(StrBytes::from_static_str(group)))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_static_str("moved")))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(offset)])])
    };
    let r: OffsetCommitResponse = call(
        &mut conn,
        ApiKey::OffsetCommit,
        8,
        RequestKind::OffsetCommit(commit(5)),
    )
    .await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    // The older commit, where the earlier Strom wrote it.
    let key = offset_key(group, "moved", 0);
    let value = offset_value(&OffsetValue {
        offset: 3,
        leader_epoch: -1,
        metadata: String::new(),
        commit_timestamp: 1,
    });
    let batch =
        strom_storage::batch::build_batch(&[(Some(&key[..]), Some(&value[..]))], 1, 0, None);
    let offsets = broker.state().topics.get("__consumer_offsets").unwrap();
    offsets.partition(legacy).unwrap().append(&batch).unwrap();
    drop(conn);
    broker.shutdown().await;

    let broker = start(dir.path().to_path_buf()).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let fetch = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str(group)))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(StrBytes::from_static_str("moved")))
            .with_partition_indexes(vec![0])]));
    let r: OffsetFetchResponse = call(
        &mut conn,
        ApiKey::OffsetFetch,
        7,
        RequestKind::OffsetFetch(fetch),
    )
    .await;
    assert_eq!(r.topics[0].partitions[0].committed_offset, 5);
    drop(conn);
    broker.shutdown().await;
}
