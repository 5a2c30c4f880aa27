//! Consumer groups driven by librdkafka (the `rdkafka` crate): assignment spread under each
//! assignor, members joining, leaving and dying, static membership, committed offsets across
//! consumer and broker restarts, independent groups, regex subscription.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use strom_integration_tests::{client_config, external, TestBroker};

const WAIT: Duration = Duration::from_secs(30);

async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = client_config(bootstrap).create().unwrap();
    for r in admin
        .create_topics(
            [&NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap()
    {
        r.unwrap();
    }
}

async fn produce(bootstrap: &str, topic: &str, partitions: i32, per_partition: i32) {
    let p: FutureProducer = client_config(bootstrap)
        .set("linger.ms", "1")
        .create()
        .unwrap();
    for partition in 0..partitions {
        for i in 0..per_partition {
            let v = format!("{partition}-{i}");
            p.send(
                FutureRecord::<(), _>::to(topic)
                    .payload(&v)
                    .partition(partition),
                WAIT,
            )
            .await
            .unwrap();
        }
    }
}

fn member(bootstrap: &str, group: &str, assignor: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut c = client_config(bootstrap);
    c.set("group.id", group)
        .set("partition.assignment.strategy", assignor)
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "1000");
    for (k, v) in extra {
        c.set(*k, *v);
    }
    c.create().unwrap()
}

fn assigned(c: &BaseConsumer) -> BTreeSet<(String, i32)> {
    c.assignment()
        .map(|tpl| {
            tpl.elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect()
        })
        .unwrap_or_default()
}

/// Polls every consumer until `done(assignment sizes)` holds; returns the assignments.
fn settle(
    consumers: &[&BaseConsumer],
    done: impl Fn(&[BTreeSet<(String, i32)>]) -> bool,
) -> Vec<BTreeSet<(String, i32)>> {
    let deadline = Instant::now() + WAIT;
    loop {
        for c in consumers {
            let _ = c.poll(Duration::from_millis(20));
        }
        let now: Vec<_> = consumers.iter().map(|c| assigned(c)).collect();
        if done(&now) {
            // Stay stable for a moment: no further rebalance.
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "assignments did not settle: {now:?}"
        );
    }
}

fn sizes(a: &[BTreeSet<(String, i32)>]) -> Vec<usize> {
    let mut s: Vec<usize> = a.iter().map(BTreeSet::len).collect();
    s.sort_unstable();
    s
}

fn disjoint_cover(a: &[BTreeSet<(String, i32)>], total: usize) -> bool {
    let union: BTreeSet<_> = a.iter().flatten().collect();
    union.len() == total && a.iter().map(BTreeSet::len).sum::<usize>() == total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_share_six_partitions_under_every_assignor() {
    let broker = TestBroker::start().await;
    let b = broker.bootstrap();
    create_topic(&b, "six", 6).await;
    for assignor in ["range", "roundrobin", "cooperative-sticky"] {
        let group = format!("spread-{assignor}");
        let members: Vec<BaseConsumer> =
            (0..3).map(|_| member(&b, &group, assignor, &[])).collect();
        for m in &members {
            m.subscribe(&["six"]).unwrap();
        }
        let refs: Vec<&BaseConsumer> = members.iter().collect();
        let a = settle(&refs, |a| sizes(a) == vec![2, 2, 2] && disjoint_cover(a, 6));
        assert!(disjoint_cover(&a, 6), "{assignor}: {a:?}");
        // A fourth member: 2-2-1-1.
        let fourth = member(&b, &group, assignor, &[]);
        fourth.subscribe(&["six"]).unwrap();
        let mut refs4 = refs.clone();
        refs4.push(&fourth);
        settle(&refs4, |a| {
            sizes(a) == vec![1, 1, 2, 2] && disjoint_cover(a, 6)
        });
        // The fourth leaves: its partitions move back.
        fourth.unsubscribe();
        drop(fourth);
        settle(&refs, |a| sizes(a) == vec![2, 2, 2] && disjoint_cover(a, 6));
        for m in members {
            m.unsubscribe();
        }
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_member_is_replaced_after_its_session_timeout() {
    let Some(kcat) = external("kcat") else { return };
    let broker = TestBroker::start().await;
    let b = broker.bootstrap();
    create_topic(&b, "victim", 4).await;
    let survivor = member(&b, "kill-group", "range", &[]);
    survivor.subscribe(&["victim"]).unwrap();
    let mut child = Command::new(kcat)
        .args([
            "-b",
            &b,
            "-G",
            "kill-group",
            "-X",
            "session.timeout.ms=6000",
            "-X",
            "heartbeat.interval.ms=500",
            "-X",
            "partition.assignment.strategy=range",
            "-q",
            "victim",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    settle(&[&survivor], |a| a[0].len() == 2);
    child.kill().unwrap(); // SIGKILL: no LeaveGroup
    child.wait().unwrap();
    let start = Instant::now();
    settle(&[&survivor], |a| a[0].len() == 4);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_secs(3),
        "reassigned before the session timeout: {waited:?}"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_member_restart_keeps_assignment_without_rebalance() {
    let broker = TestBroker::start().await;
    let b = broker.bootstrap();
    create_topic(&b, "static", 4).await;
    let stay = member(
        &b,
        "static-group",
        "range",
        &[("group.instance.id", "stay")],
    );
    stay.subscribe(&["static"]).unwrap();
    let bounce = member(
        &b,
        "static-group",
        "range",
        &[("group.instance.id", "bounce")],
    );
    bounce.subscribe(&["static"]).unwrap();
    let before = settle(&[&stay, &bounce], |a| sizes(a) == vec![2, 2]);
    // Static members do not send LeaveGroup on close; restart within the session timeout.
    drop(bounce);
    let bounce = member(
        &b,
        "static-group",
        "range",
        &[("group.instance.id", "bounce")],
    );
    bounce.subscribe(&["static"]).unwrap();
    let after = settle(&[&stay, &bounce], |a| a[1].len() == 2);
    assert_eq!(before, after, "same assignment, no reshuffle");
    broker.stop().await;
}

fn drain(c: &BaseConsumer, count: usize) -> Vec<(i32, i64, String)> {
    let deadline = Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < count && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            out.push((
                m.partition(),
                m.offset(),
                String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string(),
            ));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_survive_consumer_and_broker_restarts_and_groups_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_in(dir.path(), |_| {}).await;
    let b = broker.bootstrap();
    create_topic(&b, "ledger", 1).await;
    produce(&b, "ledger", 1, 20).await;

    let c = member(&b, "g-a", "range", &[]);
    c.subscribe(&["ledger"]).unwrap();
    let first = drain(&c, 8);
    assert_eq!(first.len(), 8);
    c.commit_consumer_state(CommitMode::Sync).unwrap();
    drop(c);

    // Another group reads everything, unaffected by g-a's commit.
    let other = member(&b, "g-b", "range", &[]);
    other.subscribe(&["ledger"]).unwrap();
    assert_eq!(drain(&other, 20).len(), 20);
    drop(other);

    // Same group resumes right after the commit.
    let c = member(&b, "g-a", "range", &[]);
    c.subscribe(&["ledger"]).unwrap();
    let next = drain(&c, 1);
    assert_eq!(next.first().map(|r| r.1), Some(8));
    drop(c);
    broker.stop().await;

    // After a broker restart the committed offset is still there.
    let broker = TestBroker::start_in(dir.path(), |_| {}).await;
    let b = broker.bootstrap();
    let c = member(&b, "g-a", "range", &[]);
    c.subscribe(&["ledger"]).unwrap();
    let next = drain(&c, 1);
    assert_eq!(next.first().map(|r| r.1), Some(8));
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regex_subscription_picks_up_a_topic_created_later() {
    let broker = TestBroker::start().await;
    let b = broker.bootstrap();
    create_topic(&b, "metrics-a", 1).await;
    let c = member(&b, "regex-group", "range", &[]);
    c.subscribe(&["^metrics-.*"]).unwrap();
    settle(&[&c], |a| a[0].len() == 1);
    create_topic(&b, "metrics-b", 2).await;
    let a = settle(&[&c], |a| a[0].len() == 3);
    assert!(a[0].contains(&("metrics-b".to_string(), 1)));
    broker.stop().await;
}
