use std::path::Path;

use super::*;
use crate::records::{TopicId, CONFIG_TOPIC};

fn config(dir: &Path) -> QuorumConfig {
    QuorumConfig {
        node_id: 1,
        data_dir: dir.to_path_buf(),
        durable: true,
        snapshot_interval_entries: 1_000,
        start_timeout: Duration::from_secs(20),
        wall_clock: Arc::new(|| 1_700_000_000_000),
    }
}

fn topic(name: &str, id: u8) -> Vec<MetadataRecord> {
    vec![
        MetadataRecord::Topic {
            name: name.into(),
            topic_id: TopicId([id; 16]),
            internal: false,
        },
        MetadataRecord::Partition {
            topic_id: TopicId([id; 16]),
            partition: 0,
            replicas: vec![1],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
            partition_epoch: 0,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_written_are_applied_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let quorum = Quorum::open(config(dir.path())).await.unwrap();
    let first = quorum.write(topic("a", 1)).await.unwrap();
    let second = quorum
        .write(vec![MetadataRecord::Config {
            resource_type: CONFIG_TOPIC,
            resource_name: "a".into(),
            name: "retention.ms".into(),
            value: Some("5".into()),
        }])
        .await
        .unwrap();
    assert!(second > first);
    let image = quorum.image();
    assert_eq!(image.offset, second);
    assert!(image.topics.get("a").is_some());
    quorum.shutdown().await;
    drop(quorum);
    assert!(dir
        .path()
        .join(METADATA_LOG_DIR)
        .join("quorum-state")
        .exists());

    let quorum = Quorum::open(config(dir.path())).await.unwrap();
    let image = quorum.image();
    assert!(image.topics.get("a").is_some());
    assert_eq!(image.configs_of(CONFIG_TOPIC, "a")["retention.ms"], "5");
    let third = quorum.write(topic("b", 2)).await.unwrap();
    assert!(third > second);
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_replaces_the_entries_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let quorum = Quorum::open(config(dir.path())).await.unwrap();
    for i in 0..20u8 {
        quorum.write(topic(&format!("t{i}"), i + 1)).await.unwrap();
    }
    quorum.snapshot().await.unwrap();
    let image = quorum.image();
    quorum.shutdown().await;
    drop(quorum);
    let log_dir = dir.path().join(METADATA_LOG_DIR);
    let snapshots: Vec<_> = std::fs::read_dir(&log_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".checkpoint"))
        .collect();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    assert_eq!(
        snapshots[0].len(),
        "00000000000000000022-0000000001.checkpoint".len()
    );

    let quorum = Quorum::open(config(dir.path())).await.unwrap();
    let reopened = quorum.image();
    assert_eq!(reopened.topics, image.topics);
    assert!(reopened.offset >= image.offset);
    quorum.write(topic("after", 99)).await.unwrap();
    quorum.shutdown().await;
    drop(quorum);
    let quorum = Quorum::open(config(dir.path())).await.unwrap();
    assert_eq!(quorum.image().topics.len(), 21);
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_is_cut_and_what_was_written_whole_stays() {
    let dir = tempfile::tempdir().unwrap();
    let quorum = Quorum::open(config(dir.path())).await.unwrap();
    quorum.write(topic("a", 1)).await.unwrap();
    quorum.shutdown().await;
    drop(quorum);
    let segment = dir
        .path()
        .join(METADATA_LOG_DIR)
        .join("00000000000000000000.log");
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 1, 0, 7, 7]);
    std::fs::write(&segment, bytes).unwrap();
    let quorum = Quorum::open(config(dir.path())).await.unwrap();
    assert!(quorum.image().topics.get("a").is_some());
    quorum.write(topic("b", 2)).await.unwrap();
    quorum.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_snapshot_stops_the_start_instead_of_forgetting_everything() {
    let dir = tempfile::tempdir().unwrap();
    let quorum = Quorum::open(config(dir.path())).await.unwrap();
    quorum.write(topic("a", 1)).await.unwrap();
    quorum.snapshot().await.unwrap();
    quorum.shutdown().await;
    drop(quorum);
    let log_dir = dir.path().join(METADATA_LOG_DIR);
    for e in std::fs::read_dir(&log_dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "checkpoint") {
            std::fs::write(&p, b"{not json").unwrap();
        }
    }
    let err = Quorum::open(config(dir.path())).await.unwrap_err();
    assert!(err.to_string().contains("corrupt"), "{err}");
}
