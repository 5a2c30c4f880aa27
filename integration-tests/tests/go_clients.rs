//! Go clients against the built binary: a program on sarama 1.22.1 as Debian packages it
//! (`golang-github-shopify-sarama-dev`, built in GOPATH mode with no network), configured for
//! Kafka 0.10.2, 0.11 and 2.0: admin (create, list and describe topics), produce, offsets by
//! time, consumer groups with the offset manager's commits, commits read back at OffsetFetch
//! v0 and v1, and a group resuming from its commits; and franz-go's own integration tests
//! (`pkg/kgo`, from the Go module proxy) pointed at the broker as its helpers describe
//! (`KGO_SEEDS`, `KGO_TEST_RF=1` for one broker); and a program on today's Go clients
//! (`go/modern`: IBM/sarama's newest release, segmentio/kafka-go, franz-go's kadm).

use std::path::Path;
use std::process::Command;

use strom_integration_tests::{require_clients, ChildBroker};

/// Where Debian installs sarama's sources (and the GOPATH of every Debian Go package).
const DEBIAN_GOPATH: &str = "/usr/share/gocode";

#[test]
fn sarama_1_22_admin_groups_commits_and_offsets_by_time() {
    let sarama = Path::new(DEBIAN_GOPATH).join("src/github.com/Shopify/sarama");
    let has_go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_go || !sarama.is_dir() {
        assert!(
            !require_clients(),
            "go and golang-github-shopify-sarama-dev are required (STROM_REQUIRE_CLIENTS=1)"
        );
        eprintln!("SKIPPED: apt-get install golang-go golang-github-shopify-sarama-dev");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let program = work.path().join("sarama122");
    let source = format!("{}/go/sarama122/main.go", env!("CARGO_MANIFEST_DIR"));
    let build = Command::new("go")
        .args(["build", "-o"])
        .arg(&program)
        .arg(&source)
        .env("GO111MODULE", "off")
        .env("GOPATH", DEBIAN_GOPATH)
        .env("GOFLAGS", "")
        .env(
            "GOCACHE",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build-cache"),
        )
        .output()
        .expect("go runs");
    assert!(
        build.status.success(),
        "go build failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let broker = ChildBroker::spawn(dir.path(), 0, &[]);
    let out = Command::new(&program)
        .arg(broker.bootstrap())
        .output()
        .expect("the sarama program runs");
    assert!(
        out.status.success(),
        "sarama 1.22 program failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches(" ok").count(), 3, "{stdout}");
    broker.terminate();
}

/// The franz-go release whose `pkg/kgo` tests run here.
const FRANZ_GO: &str = "github.com/twmb/franz-go@v1.22.3";

#[test]
fn franz_go_kgo_integration_tests() {
    let has_go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_go {
        assert!(
            !require_clients(),
            "go is required (STROM_REQUIRE_CLIENTS=1)"
        );
        eprintln!("SKIPPED: apt-get install golang-go");
        return;
    }
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build-cache");
    let download = Command::new("go")
        .args(["mod", "download", "-json", FRANZ_GO])
        .env("GOFLAGS", "-mod=mod")
        .output()
        .expect("go runs");
    let listing = String::from_utf8_lossy(&download.stdout);
    assert!(
        download.status.success(),
        "go mod download {FRANZ_GO}: {listing}"
    );
    // The module's directory in the module cache: `"Dir": "..."`.
    let dir = listing
        .lines()
        .find_map(|l| l.trim().strip_prefix("\"Dir\": \""))
        .and_then(|l| l.strip_suffix("\","))
        .expect("the module's directory")
        .to_string();
    let data = tempfile::tempdir().unwrap();
    let broker = ChildBroker::spawn(data.path(), 0, &[]);
    let out = Command::new("go")
        .args(["test", "-count=1", "-v", "-timeout", "10m", "./pkg/kgo/"])
        .current_dir(&dir)
        .env("KGO_SEEDS", broker.bootstrap())
        .env("KGO_TEST_RF", "1")
        .env("KGO_TEST_RECORDS", "20000")
        .env("GOFLAGS", "-mod=mod")
        .env("GOCACHE", &cache)
        .output()
        .expect("go test runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let failed: Vec<&str> = stdout.lines().filter(|l| l.contains("--- FAIL")).collect();
    assert!(
        out.status.success() && failed.is_empty(),
        "franz-go's kgo tests failed: {failed:?}\n{}\n{}",
        stdout.lines().rev().take(80).collect::<Vec<_>>().join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    // The tests that drive the broker hardest ran, and were not skipped.
    for test in ["TestGroupETL", "TestTxnEtl", "TestClient_Produce"] {
        assert!(
            stdout.contains(&format!("--- PASS: {test} ")),
            "{test} did not pass:\n{stdout}"
        );
    }
    broker.terminate();
}

#[test]
fn newest_sarama_kafka_go_and_kadm() {
    let has_go = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_go {
        assert!(
            !require_clients(),
            "go is required (STROM_REQUIRE_CLIENTS=1)"
        );
        eprintln!("SKIPPED: apt-get install golang-go");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let program = work.path().join("modern");
    let build = Command::new("go")
        .args(["build", "-o"])
        .arg(&program)
        .arg(".")
        .current_dir(format!("{}/go/modern", env!("CARGO_MANIFEST_DIR")))
        .env("GOFLAGS", "-mod=mod")
        .env(
            "GOCACHE",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build-cache"),
        )
        .output()
        .expect("go runs");
    assert!(
        build.status.success(),
        "go build failed:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let data = tempfile::tempdir().unwrap();
    let broker = ChildBroker::spawn(data.path(), 0, &[]);
    let out = Command::new(&program)
        .arg(broker.bootstrap())
        .output()
        .expect("the Go program runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("go clients ok"),
        "the Go clients program failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    broker.terminate();
}
