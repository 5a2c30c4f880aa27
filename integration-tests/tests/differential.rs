//! The differential harness in the suite: Apache Kafka 4.4 (from Maven Central, started by
//! scripts/kafka-reference.sh) and an in-process Strom get the same conversation
//! (`strom_integration_tests::differential`); any difference not on
//! integration-tests/differential-known.txt fails, with the report.

use std::path::Path;
use std::process::Command;

use strom_integration_tests::external;

#[test]
fn strom_answers_as_kafka_does_but_for_the_known_differences() {
    if external("java").is_none() || external("mvn").is_none() {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let report = tempfile::NamedTempFile::new().expect("temp file");
    let out = Command::new("bash")
        .arg(root.join("scripts/differential.sh"))
        .current_dir(&root)
        .env("STROM_DIFF_BIN", env!("CARGO_BIN_EXE_strom-differential"))
        .env("DIFF_REPORT", report.path())
        .env("DIFF_KAFKA_PORT", "19792")
        .output()
        .expect("scripts/differential.sh runs");
    let text = std::fs::read_to_string(report.path()).unwrap_or_default();
    assert!(
        out.status.success(),
        "differential harness failed ({}):\n{}\n{}\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    println!("{}", text.lines().nth(2).unwrap_or_default());
}
