//! kafka-python against the built binary: admin create/delete, produce, consume.

use std::process::Command;

use strom_integration_tests::{require_clients, ChildBroker};

#[test]
fn kafka_python_admin_produce_consume() {
    let has_module = Command::new("python3")
        .args(["-c", "import kafka"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_module {
        assert!(
            !require_clients(),
            "kafka-python is required (STROM_REQUIRE_CLIENTS=1) but not importable"
        );
        eprintln!("SKIPPED: python3 -c 'import kafka' failed (pip install kafka-python)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let broker = ChildBroker::spawn(dir.path(), 0, &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/kafka_python_smoke.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(broker.bootstrap())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "kafka-python smoke failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    broker.terminate();
}
