//! The Java client (`org.apache.kafka:kafka-clients`, resolved from Maven Central by
//! `integration-tests/java/pom.xml`) against the built binary: Admin (topics, configs,
//! partitions, offsets, records, cluster, log dirs, ACLs, groups), an idempotent producer,
//! transactions read with read_committed, a classic consumer group, and consume-transform-
//! produce with `sendOffsetsToTransaction`. See `integration-tests/java/src/JavaClients.java`.

use std::path::Path;
use std::process::Command;

use strom_integration_tests::{require_clients, ChildBroker};

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn java_client_admin_idempotence_transactions_groups() {
    if !runs("javac", "-version") || !runs("mvn", "-v") {
        assert!(
            !require_clients(),
            "a JDK and Maven are required (STROM_REQUIRE_CLIENTS=1)"
        );
        eprintln!("SKIPPED: javac or mvn missing (apt-get install default-jdk-headless maven)");
        return;
    }
    let java_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("java");
    let work = tempfile::tempdir().unwrap();
    let cp_file = work.path().join("classpath.txt");
    let resolve = Command::new("mvn")
        .args(["-q", "-B", "-f"])
        .arg(java_dir.join("pom.xml"))
        .arg("dependency:build-classpath")
        .arg(format!("-Dmdep.outputFile={}", cp_file.display()))
        .output()
        .expect("mvn runs");
    assert!(
        resolve.status.success(),
        "mvn could not resolve the Java client:\n{}{}",
        String::from_utf8_lossy(&resolve.stdout),
        String::from_utf8_lossy(&resolve.stderr)
    );
    let classpath = std::fs::read_to_string(&cp_file).unwrap();
    let classes = work.path().join("classes");
    let compile = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg("-cp")
        .arg(classpath.trim())
        .arg(java_dir.join("src/JavaClients.java"))
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
        .arg(format!("{}:{}", classes.display(), classpath.trim()))
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
