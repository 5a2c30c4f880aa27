//! The `strom topics` / `strom groups` admin CLI against a running broker, its output in the
//! Kafka console tools' shapes.

use std::process::Command;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use strom_integration_tests::{client_config, strom_binary, ChildBroker};

fn strom(bootstrap: &str, args: &[&str]) -> (bool, String, String) {
    let mut full = vec![args[0], args[1], "--bootstrap-server", bootstrap];
    full.extend_from_slice(&args[2..]);
    let out = Command::new(strom_binary())
        .args(&full)
        .output()
        .expect("strom runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(bootstrap: &str, args: &[&str]) -> String {
    let (success, out, err) = strom(bootstrap, args);
    assert!(success, "strom {args:?} failed: {err}");
    out
}

#[test]
fn topics_and_groups_commands() {
    let dir = tempfile::tempdir().unwrap();
    let broker = ChildBroker::spawn(dir.path(), 0, &[]);
    let b = broker.bootstrap();

    let out = ok(
        &b,
        &[
            "topics",
            "create",
            "--topic",
            "cli",
            "--partitions",
            "2",
            "--config",
            "retention.ms=60000",
        ],
    );
    assert_eq!(out.trim(), "Created topic cli.");
    let (success, _, err) = strom(&b, &["topics", "create", "--topic", "cli"]);
    assert!(!success && err.contains("TopicAlreadyExists"), "{err}");
    assert!(ok(&b, &["topics", "list"]).lines().any(|l| l == "cli"));
    ok(
        &b,
        &[
            "topics",
            "alter",
            "--topic",
            "cli",
            "--partitions",
            "3",
            "--config",
            "cleanup.policy=compact",
            "--delete-config",
            "retention.ms",
        ],
    );
    let out = ok(&b, &["topics", "describe", "--topic", "cli"]);
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("Topic: cli\tTopicId: "), "{out}");
    assert!(
        first.contains("PartitionCount: 3\tReplicationFactor: 1\tConfigs: cleanup.policy=compact"),
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("\tTopic: cli\tPartition: "))
            .count(),
        3
    );

    // A group with committed offsets: 3 records in partition 0, committed at 2.
    let producer: BaseProducer = client_config(&b).create().unwrap();
    for i in 0..3 {
        producer
            .send(
                BaseRecord::to("cli")
                    .partition(0)
                    .key(&format!("k{i}"))
                    .payload("v"),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
    let committer: rdkafka::consumer::BaseConsumer = client_config(&b)
        .set("group.id", "cli-group")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("cli", 0, Offset::Offset(2))
        .unwrap();
    committer.commit(&tpl, CommitMode::Sync).unwrap();
    drop(committer);

    assert!(ok(&b, &["groups", "list"])
        .lines()
        .any(|l| l == "cli-group"));
    let out = ok(&b, &["groups", "describe", "--group", "cli-group"]);
    assert!(out.contains("GROUP"), "{out}");
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("cli-group"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(&row[..6], ["cli-group", "cli", "0", "2", "3", "1"], "{out}");

    let out = ok(
        &b,
        &[
            "groups",
            "reset-offsets",
            "--group",
            "cli-group",
            "--to-earliest",
        ],
    );
    assert!(out.contains("dry run"), "{out}");
    let out = ok(
        &b,
        &[
            "groups",
            "reset-offsets",
            "--group",
            "cli-group",
            "--topic",
            "cli:0",
            "--shift-by",
            "-1",
            "--execute",
        ],
    );
    assert!(!out.contains("dry run"));
    let out = ok(&b, &["groups", "describe", "--group", "cli-group"]);
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("cli-group"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(&row[..6], ["cli-group", "cli", "0", "1", "3", "2"], "{out}");

    let out = ok(&b, &["groups", "delete", "--group", "cli-group"]);
    assert!(out.contains("was successful"));
    assert!(!ok(&b, &["groups", "list"])
        .lines()
        .any(|l| l == "cli-group"));
    ok(&b, &["topics", "delete", "--topic", "cli"]);
    let (success, _, err) = strom(&b, &["topics", "describe", "--topic", "cli"]);
    assert!(!success && err.contains("UnknownTopicOrPartition"), "{err}");
    broker.terminate();
}
