//! Python clients against the built binary: kafka-python (produce, consume, and its
//! KafkaAdminClient: configs, partitions, records, cluster, log dirs, producers, groups,
//! offsets) and confluent-kafka-python's AdminClient (configs, partitions, records, groups,
//! offsets, ACLs, SCRAM credentials), and its consumers in KIP-848 consumer groups.

use std::process::Command;

use strom_integration_tests::{require_clients, ChildBroker};

/// Runs `script BOOTSTRAP` against a fresh broker, when `module` is importable.
fn run_script(module: &str, package: &str, script: &str) {
    run_script_with(module, package, script, &[]);
}

/// [`run_script`] against a broker started with `broker_args`.
fn run_script_with(module: &str, package: &str, script: &str, broker_args: &[&str]) {
    let has_module = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    if !has_module {
        assert!(
            !require_clients(),
            "{package} is required (STROM_REQUIRE_CLIENTS=1) but not importable"
        );
        eprintln!("SKIPPED: python3 -c 'import {module}' failed (pip install {package})");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = ChildBroker::spawn(dir.path(), 0, broker_args);
    let script = format!("{}/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(&script)
        .arg(broker.bootstrap())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    broker.terminate();
}

#[test]
fn kafka_python_admin_produce_consume() {
    run_script("kafka", "kafka-python", "kafka_python_smoke.py");
}

#[test]
fn kafka_python_admin_client() {
    run_script("kafka", "kafka-python", "kafka_python_admin.py");
}

#[test]
fn confluent_kafka_python_admin() {
    run_script("confluent_kafka", "confluent-kafka", "confluent_admin.py");
}

#[test]
fn commit_metadata_is_answered_as_it_was_committed() {
    run_script("kafka", "kafka-python", "commit_metadata.py");
}

#[test]
fn kafka_python_pinned_to_old_broker_versions_produces() {
    run_script("kafka", "kafka-python", "legacy_clients.py");
}

/// KIP-848 (`group.protocol=consumer`) with confluent-kafka: 3 members on 6 partitions get
/// 2-2-2, a 4th joins, one is killed, a regex subscription picks up a new topic. Sessions
/// and heartbeats are short so that the killed member's session ends within the test.
#[test]
fn confluent_kafka_consumer_group_protocol() {
    run_script_with(
        "confluent_kafka",
        "confluent-kafka",
        "consumer_group_protocol.py",
        &[
            "--set",
            "group.consumer.session.timeout.ms=6000",
            "--set",
            "group.consumer.heartbeat.interval.ms=500",
        ],
    );
}
