//! Go clients against the built binary: a program on sarama 1.22.1 as Debian packages it
//! (`golang-github-shopify-sarama-dev`, built in GOPATH mode with no network), configured for
//! Kafka 0.10.2, 0.11 and 2.0: admin (create, list and describe topics), produce, offsets by
//! time, consumer groups with the offset manager's commits, commits read back at OffsetFetch
//! v0 and v1, and a group resuming from its commits; and franz-go's own integration tests
//! (`pkg/kgo`, from the Go module proxy) pointed at the broker as its helpers describe
//! (`KGO_SEEDS`, `KGO_TEST_RF=1` for one broker); and a program on today's Go clients
//! (`go/modern`: IBM/sarama's newest release, segmentio/kafka-go, franz-go's kadm).

use std::path::{Path, PathBuf};
use std::process::Command;

use strom_integration_tests::{external, require_clients, run_against_broker};

/// Where Debian installs sarama's sources (and the GOPATH of every Debian Go package).
const DEBIAN_GOPATH: &str = "/usr/share/gocode";

/// The franz-go release whose `pkg/kgo` tests run here.
const FRANZ_GO: &str = "github.com/twmb/franz-go@v1.22.3";

/// The build cache shared by these tests (sarama's cgo zstd is slow to build).
fn go_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build-cache")
}

/// A `go` command with the shared build cache and `GOFLAGS` as given.
fn go(goflags: &str) -> Command {
    let mut c = Command::new("go");
    c.env("GOFLAGS", goflags).env("GOCACHE", go_cache());
    c
}

/// Builds `build` (a `go build -o PROGRAM ...` command but for its package argument, which
/// `package` gives) into a temp dir and runs the program against a broker; its stdout.
fn build_and_run(mut build: Command, package: &str, marker: &str, what: &str) -> String {
    let work = tempfile::tempdir().unwrap();
    let program = work.path().join("program");
    let out = build
        .args(["build", "-o"])
        .arg(&program)
        .arg(package)
        .output()
        .expect("go runs");
    assert!(
        out.status.success(),
        "go build of {what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run_against_broker(
        |bootstrap| {
            let mut c = Command::new(&program);
            c.arg(bootstrap);
            c
        },
        marker,
        what,
    )
}

#[test]
fn sarama_1_22_admin_groups_commits_and_offsets_by_time() {
    let sarama = Path::new(DEBIAN_GOPATH).join("src/github.com/Shopify/sarama");
    if external("go").is_none() {
        return;
    }
    if !sarama.is_dir() {
        assert!(
            !require_clients(),
            "golang-github-shopify-sarama-dev is required (STROM_REQUIRE_CLIENTS=1)"
        );
        eprintln!("SKIPPED: apt-get install golang-github-shopify-sarama-dev");
        return;
    }
    let mut build = go("");
    build.env("GO111MODULE", "off").env("GOPATH", DEBIAN_GOPATH);
    let stdout = build_and_run(
        build,
        &format!("{}/go/sarama122/main.go", env!("CARGO_MANIFEST_DIR")),
        " ok",
        "the sarama 1.22 program",
    );
    assert_eq!(stdout.matches(" ok").count(), 3, "{stdout}");
}

#[test]
fn newest_sarama_kafka_go_and_kadm() {
    if external("go").is_none() {
        return;
    }
    let mut build = go("-mod=mod");
    build.current_dir(format!("{}/go/modern", env!("CARGO_MANIFEST_DIR")));
    build_and_run(build, ".", "go clients ok", "the Go clients program");
}

#[test]
fn franz_go_kgo_integration_tests() {
    if external("go").is_none() {
        return;
    }
    let download = go("-mod=mod")
        .args(["mod", "download", "-json", FRANZ_GO])
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
    let stdout = run_against_broker(
        |bootstrap| {
            let mut c = go("-mod=mod");
            c.args(["test", "-count=1", "-v", "-timeout", "10m", "./pkg/kgo/"])
                .current_dir(&dir)
                .env("KGO_SEEDS", bootstrap)
                .env("KGO_TEST_RF", "1")
                .env("KGO_TEST_RECORDS", "20000");
            c
        },
        "",
        "franz-go's kgo tests",
    );
    let failed: Vec<&str> = stdout.lines().filter(|l| l.contains("--- FAIL")).collect();
    assert!(failed.is_empty(), "franz-go's kgo tests failed: {failed:?}");
    // The tests that drive the broker hardest ran, and were not skipped.
    for test in ["TestGroupETL", "TestTxnEtl", "TestClient_Produce"] {
        assert!(
            stdout.contains(&format!("--- PASS: {test} ")),
            "{test} did not pass:\n{stdout}"
        );
    }
}
