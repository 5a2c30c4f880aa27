//! The Java client (`org.apache.kafka:kafka-clients`, resolved from Maven Central by
//! `integration-tests/java/pom.xml`) against the built binary: Admin (topics, configs,
//! partitions, offsets, records, cluster, log dirs, ACLs, groups), an idempotent producer,
//! transactions read with read_committed, a classic consumer group, and consume-transform-
//! produce with `sendOffsetsToTransaction` (`integration-tests/java/src/JavaClients.java`);
//! and Kafka's command-line tools (`org.apache.kafka:kafka-tools`) run as a user runs them
//! (`integration-tests/java/kafka-tools.sh`); and a Kafka Streams word count with
//! `exactly_once_v2`, killed mid-stream and restored from its changelog, counting exactly
//! (`integration-tests/java/streams-wordcount.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;

use strom_integration_tests::{require_clients, ChildBroker};

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether a JDK and Maven are here; skips (or fails, when clients are required) if not.
fn java_available() -> bool {
    if runs("javac", "-version") && runs("mvn", "-v") {
        return true;
    }
    assert!(
        !require_clients(),
        "a JDK and Maven are required (STROM_REQUIRE_CLIENTS=1)"
    );
    eprintln!("SKIPPED: javac or mvn missing (apt-get install default-jdk-headless maven)");
    false
}

fn java_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("java")
}

/// The classpath of `pom`'s dependencies, resolved by Maven (from Maven Central the first
/// time, from `~/.m2` after).
fn classpath(pom: &str, work: &Path) -> String {
    let cp_file = work.join(format!("{pom}.classpath"));
    let resolve = Command::new("mvn")
        .args(["-q", "-B", "-f"])
        .arg(java_dir().join(pom))
        .arg("dependency:build-classpath")
        .arg(format!("-Dmdep.outputFile={}", cp_file.display()))
        .output()
        .expect("mvn runs");
    assert!(
        resolve.status.success(),
        "mvn could not resolve {pom}:\n{}{}",
        String::from_utf8_lossy(&resolve.stdout),
        String::from_utf8_lossy(&resolve.stderr)
    );
    std::fs::read_to_string(&cp_file)
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn java_client_admin_idempotence_transactions_groups() {
    if !java_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let classpath = classpath("pom.xml", work.path());
    let classes = work.path().join("classes");
    let compile = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg("-cp")
        .arg(&classpath)
        .arg(java_dir().join("src/JavaClients.java"))
        .output()
        .expect("javac runs");
    assert!(
        compile.status.success(),
        "javac failed:\n{}",
        String::from_utf8_lossy(&compile.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let broker = ChildBroker::spawn(dir.path(), 0, &[]);
    let out = Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{classpath}", classes.display()))
        .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
        .arg("JavaClients")
        .arg(broker.bootstrap())
        .output()
        .expect("java runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("java clients ok"),
        "the Java client program failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    broker.terminate();
}

#[test]
fn kafka_command_line_tools() {
    if !java_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let classpath = classpath("tools-pom.xml", work.path());
    let dir = tempfile::tempdir().unwrap();
    let broker = ChildBroker::spawn(dir.path(), 0, &[]);
    let out = Command::new("bash")
        .arg(java_dir().join("kafka-tools.sh"))
        .arg(broker.bootstrap())
        .arg(&classpath)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("kafka tools ok"),
        "a Kafka tool failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    broker.terminate();
}

#[test]
fn kafka_streams_word_count_is_exact_after_sigkill_and_restore() {
    if !java_available() {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let classpath = classpath("streams-pom.xml", work.path());
    let dir = tempfile::tempdir().unwrap();
    let broker = ChildBroker::spawn(dir.path(), 0, &[]);
    let out = Command::new("bash")
        .arg(java_dir().join("streams-wordcount.sh"))
        .arg(broker.bootstrap())
        .arg(&classpath)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("streams wordcount ok"),
        "the Kafka Streams word count failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    broker.terminate();
}
