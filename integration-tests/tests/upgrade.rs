//! Upgrades keep data: today's broker opens a data directory written by an earlier release
//! (`fixtures/data-57bf5d8`, see `fixtures/README.md`) with every topic, record, committed
//! offset, transaction, ACL, credential and config intact, as checked by
//! `python/upgrade_check.py` with confluent-kafka.

use std::path::Path;
use std::process::Command;

use strom_integration_tests::{require_clients, ChildBroker};

const FIXTURE: &str = "data-57bf5d8";
const FIXTURE_CLUSTER_ID: &str = "K1H2zwLnQ4yjMK2IkhI-5g";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_data_directory_of_release_57bf5d8_opens_intact() {
    let has_module = Command::new("python3")
        .args(["-c", "import confluent_kafka"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_module {
        assert!(
            !require_clients(),
            "confluent-kafka is required (STROM_REQUIRE_CLIENTS=1) but not importable"
        );
        eprintln!("SKIPPED: python3 -c 'import confluent_kafka' failed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(FIXTURE);
    copy_dir(&fixture, dir.path());
    let script = format!("{}/python/upgrade_check.py", env!("CARGO_MANIFEST_DIR"));
    // Twice: the first start converts what it needs to, the second opens the result.
    for round in 0..2 {
        let broker = ChildBroker::spawn(dir.path(), 0, &[]);
        let out = Command::new("python3")
            .arg(&script)
            .arg(broker.bootstrap())
            .arg(FIXTURE_CLUSTER_ID)
            .arg(round.to_string())
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "round {round}: upgrade_check.py failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        broker.terminate();
    }
    // The old metadata file was moved into the metadata log and set aside; every partition
    // directory was claimed by a topic; the cluster id went to meta.properties.
    assert!(!dir.path().join("__strom_metadata.log").exists());
    assert!(dir.path().join("__strom_metadata.log.migrated").exists());
    assert!(dir.path().join("__cluster_metadata-0").is_dir());
    let strays: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with("-stray"))
        .collect();
    assert!(strays.is_empty(), "set aside: {strays:?}");
    let props = std::fs::read_to_string(dir.path().join("meta.properties")).unwrap();
    assert!(
        props.contains(&format!("cluster.id={FIXTURE_CLUSTER_ID}")),
        "{props}"
    );
}
