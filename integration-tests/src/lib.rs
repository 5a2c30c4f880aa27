//! Helpers for driving Strom with stock clients: an in-process broker on port 0, the built
//! `strom` binary as a child process (for crash tests and command-line clients), and
//! librdkafka clients through the `rdkafka` crate.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use strom_server::{Broker, Config};

/// An in-process broker on 127.0.0.1:0; dropped brokers are not shut down cleanly, call
/// [`TestBroker::stop`] to mark a clean shutdown.
pub struct TestBroker {
    broker: Option<Broker>,
    pub addr: SocketAddr,
    _dir: Option<tempfile::TempDir>,
}

impl TestBroker {
    /// A broker with a temporary data directory.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A broker with a temporary data directory and config tweaks.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut broker = Self::start_in(dir.path(), tweak).await;
        broker._dir = Some(dir);
        broker
    }

    /// A broker on `data_dir` (kept after the broker stops).
    pub async fn start_in(data_dir: &Path, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config {
            listen: "127.0.0.1:0".into(),
            metrics_listen: Some("127.0.0.1:0".into()),
            data_dir: data_dir.to_path_buf(),
            ..Config::default()
        };
        tweak(&mut config);
        let broker = Broker::start(config).await.expect("broker starts");
        let addr = broker.local_addr();
        Self {
            broker: Some(broker),
            addr,
            _dir: None,
        }
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    pub async fn stop(mut self) {
        if let Some(b) = self.broker.take() {
            b.shutdown().await;
        }
    }
}

/// librdkafka client config for `bootstrap` with quiet logging and short timeouts.
pub fn client_config(bootstrap: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("socket.timeout.ms", "10000")
        .set("message.timeout.ms", "20000")
        .set("log_level", "3");
    c
}

/// The `strom` binary of this build (built by `cargo test --workspace`, since the server
/// package has integration tests of its own).
pub fn strom_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test> → target/<profile>/strom
    let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = profile_dir.join("strom");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p strom-server` (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

/// The broker binary as a child process.
pub struct ChildBroker {
    pub child: Child,
    pub addr: SocketAddr,
}

impl ChildBroker {
    /// Starts `strom --listen 127.0.0.1:PORT --data-dir DIR` (PORT 0 picks one) and waits
    /// for its "listening" line.
    pub fn spawn(data_dir: &Path, port: u16, extra: &[&str]) -> Self {
        let mut child = Command::new(strom_binary())
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--set", "strom.metrics.listen=127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn strom");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        reader.read_line(&mut line).expect("read listening line");
        let addr = line
            .trim()
            .strip_prefix("strom listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from strom: {line:?}"))
            .parse()
            .expect("address");
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        Self { child, addr }
    }

    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait (bounded).
    pub fn terminate(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether an external client must be present (CI sets STROM_REQUIRE_CLIENTS=1, so a
/// missing kcat or Python client fails instead of skipping).
pub fn require_clients() -> bool {
    std::env::var("STROM_REQUIRE_CLIENTS").is_ok_and(|v| v == "1")
}

/// `Some(path)` if `program` is on PATH; otherwise panics under [`require_clients`] or
/// prints a skip notice and returns `None`.
pub fn external(program: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            !require_clients(),
            "{program} is required (STROM_REQUIRE_CLIENTS=1) but not installed"
        );
        eprintln!(
            "SKIPPED: {program} is not installed (set STROM_REQUIRE_CLIENTS=1 to fail instead)"
        );
    }
    found
}

/// Starts a broker, runs the command `make(bootstrap)` builds against it, and checks that it
/// exits 0 and prints `marker` on stdout; `what` names the program in a failure. Returns
/// its stdout.
pub fn run_against_broker(make: impl FnOnce(&str) -> Command, marker: &str, what: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let broker = ChildBroker::spawn(dir.path(), 0, &[]);
    let out = make(&broker.bootstrap())
        .output()
        .unwrap_or_else(|e| panic!("{what} cannot start: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(marker),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    broker.terminate();
    stdout.into_owned()
}

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

/// One consumed record, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
    pub timestamp: Option<i64>,
}

impl Record {
    fn from(m: &BorrowedMessage<'_>) -> Self {
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            partition: m.partition(),
            offset: m.offset(),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers,
            timestamp: m.timestamp().to_millis(),
        }
    }
}

/// A consumer without a group, assigned `partitions` of `topic` from `offset`.
pub fn assigned_consumer(
    bootstrap: &str,
    topic: &str,
    partitions: &[i32],
    offset: Offset,
) -> BaseConsumer {
    // librdkafka needs a group.id to assign(); nothing is committed.
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "strom-tests-assign")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("fetch.message.max.bytes", "2000000")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in partitions {
        tpl.add_partition_offset(topic, *p, offset).expect("offset");
    }
    consumer.assign(&tpl).expect("assign");
    consumer
}

/// Polls until `count` records arrived or `timeout` passed.
pub fn consume(consumer: &BaseConsumer, count: usize, timeout: Duration) -> Vec<Record> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < count && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => out.push(Record::from(&m)),
            Some(Err(e)) => panic!("consumer error: {e}"),
            None => {}
        }
    }
    out
}

pub mod differential;
