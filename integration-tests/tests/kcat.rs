//! Debian's kcat (librdkafka 2.0.2) against the built binary: metadata, produce, consume,
//! offset query by timestamp.

use std::io::Write;
use std::process::{Command, Stdio};

use strom_integration_tests::{external, ChildBroker};

fn kcat(kcat: &std::path::Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(kcat)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat runs");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kcat {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn kcat_lists_produces_consumes_and_queries() {
    let Some(bin) = external("kcat") else { return };
    let dir = tempfile::tempdir().unwrap();
    let broker = ChildBroker::spawn(dir.path(), 0, &[]);
    let b = broker.bootstrap();

    let listing = kcat(&bin, &["-b", &b, "-L"], None);
    assert!(listing.contains("1 brokers:"), "{listing}");
    assert!(listing.contains(&format!("broker 1 at {b}")), "{listing}");

    let before = strom_server::clock::Clock::system().wall_ms();
    kcat(
        &bin,
        &["-b", &b, "-P", "-t", "kc", "-K:", "-z", "snappy"],
        Some("k1:v1\nk2:v2\nk3:v3\n"),
    );
    kcat(
        &bin,
        &["-b", &b, "-P", "-t", "kc", "-K:", "-z", "gzip"],
        Some("k4:v4\n"),
    );
    let consumed = kcat(
        &bin,
        &[
            "-b",
            &b,
            "-C",
            "-t",
            "kc",
            "-o",
            "beginning",
            "-e",
            "-f",
            "%k=%s@%o\n",
        ],
        None,
    );
    assert_eq!(consumed, "k1=v1@0\nk2=v2@1\nk3=v3@2\nk4=v4@3\n");

    let tail = kcat(
        &bin,
        &["-b", &b, "-C", "-t", "kc", "-o", "-2", "-e", "-f", "%s\n"],
        None,
    );
    assert_eq!(tail, "v3\nv4\n");

    let query = kcat(
        &bin,
        &["-b", &b, "-Q", "-t", &format!("kc:0:{before}")],
        None,
    );
    assert!(query.contains("kc [0] offset 0"), "{query}");
    let listing = kcat(&bin, &["-b", &b, "-L", "-t", "kc"], None);
    assert!(
        listing.contains("topic \"kc\" with 1 partitions"),
        "{listing}"
    );
    broker.terminate();
}
