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

use strom_integration_tests::{external, run_against_broker};

/// Whether a JDK and Maven are here; [`external`] skips (or fails, when clients are
/// required) if not.
fn java_available() -> bool {
    external("javac").is_some() && external("mvn").is_some()
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

/// Runs `java/SCRIPT BOOTSTRAP CLASSPATH` with `pom`'s classpath; it must print `marker`.
fn run_script(pom: &str, script: &str, marker: &str) {
    let work = tempfile::tempdir().unwrap();
    let classpath = classpath(pom, work.path());
    run_against_broker(
        |bootstrap| {
            let mut c = Command::new("bash");
            c.arg(java_dir().join(script))
                .arg(bootstrap)
                .arg(&classpath);
            c
        },
        marker,
        script,
    );
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
    run_against_broker(
        |bootstrap| {
            let mut c = Command::new("java");
            c.arg("-cp")
                .arg(format!("{}:{classpath}", classes.display()))
                .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=warn")
                .arg("JavaClients")
                .arg(bootstrap);
            c
        },
        "java clients ok",
        "the Java client program",
    );
}

#[test]
fn kafka_command_line_tools() {
    if java_available() {
        run_script("tools-pom.xml", "kafka-tools.sh", "kafka tools ok");
    }
}

#[test]
fn kafka_streams_word_count_is_exact_after_sigkill_and_restore() {
    if java_available() {
        run_script(
            "streams-pom.xml",
            "streams-wordcount.sh",
            "streams wordcount ok",
        );
    }
}
