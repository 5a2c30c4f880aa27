//! Logs as operators expect them: plain text without colour codes when stderr is not a
//! terminal (a file, a pipe, journald), and one JSON object per line with `--log-format json`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// Starts the broker with `args`, waits until it listens, stops it with SIGTERM and returns
/// what it logged.
fn logs_of(args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_strom"))
        .args([
            "--ephemeral",
            "--listen",
            "127.0.0.1:0",
            "--set",
            "strom.metrics.listen=",
        ])
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("strom listening on"), "{line:?}");
    let stopped = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let mut logs = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(child.wait().unwrap().success());
    logs
}

#[test]
fn text_logs_to_a_pipe_have_no_colour_codes() {
    let logs = logs_of(&[]);
    assert!(logs.contains("strom broker started"), "{logs}");
    assert!(!logs.contains('\u{1b}'), "ANSI escape in: {logs}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let logs = logs_of(&["--log-format", "json"]);
    let mut started = false;
    for line in logs.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
        started |= v["fields"]["message"] == "strom broker started";
    }
    assert!(started, "{logs}");
}
