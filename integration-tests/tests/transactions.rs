//! Transactions through librdkafka: committed and aborted transactions as read_committed and
//! read_uncommitted consumers see them, offsets committed inside a transaction, an open
//! transaction holding back the last stable offset, and a restart with one open that the
//! next producer instance aborts.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use strom_integration_tests::{client_config, consume, TestBroker};

const T: Duration = Duration::from_secs(20);

fn producer(bootstrap: &str, id: &str) -> BaseProducer {
    let p: BaseProducer = client_config(bootstrap)
        .set("transactional.id", id)
        .set("linger.ms", "1")
        .create()
        .expect("producer");
    p.init_transactions(T).expect("init_transactions");
    p
}

fn send(p: &BaseProducer, topic: &str, n: usize, tag: &str) {
    for i in 0..n {
        let key = format!("{tag}-{i}");
        p.send(BaseRecord::to(topic).partition(0).key(&key).payload(tag))
            .expect("queued");
    }
    p.flush(T).expect("flushed");
}

fn reader(bootstrap: &str, topic: &str, isolation: &str) -> BaseConsumer {
    let c: BaseConsumer = client_config(bootstrap)
        .set("group.id", format!("reader-{isolation}"))
        .set("isolation.level", isolation)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    c
}

fn tags(c: &BaseConsumer, at_least: usize) -> Vec<String> {
    consume(c, at_least, Duration::from_secs(5))
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap_or_default()).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_and_aborted_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_in(dir.path(), |_| {}).await;
    let b = broker.bootstrap();
    let p = producer(&b, "txn-a");
    p.begin_transaction().unwrap();
    send(&p, "txn", 10, "c1");
    p.commit_transaction(T).unwrap();
    p.begin_transaction().unwrap();
    send(&p, "txn", 5, "a1");
    p.abort_transaction(T).unwrap();
    p.begin_transaction().unwrap();
    send(&p, "txn", 3, "c2");
    // Offsets committed inside the transaction become visible only with it.
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("txn", 0, Offset::Offset(7))
        .unwrap();
    let group: BaseConsumer = client_config(&b)
        .set("group.id", "txn-group")
        .create()
        .unwrap();
    let group_meta = group.group_metadata().expect("group metadata");
    p.send_offsets_to_transaction(&offsets, &group_meta, T)
        .unwrap();
    p.commit_transaction(T).unwrap();

    let committed = tags(&reader(&b, "txn", "read_committed"), 13);
    assert_eq!(committed.len(), 13, "{committed:?}");
    assert!(
        committed.iter().all(|t| t != "a1"),
        "no aborted record: {committed:?}"
    );
    let all = tags(&reader(&b, "txn", "read_uncommitted"), 18);
    assert_eq!(all.iter().filter(|t| *t == "a1").count(), 5, "{all:?}");

    let mut wanted = TopicPartitionList::new();
    wanted.add_partition("txn", 0);
    let got = group.committed_offsets(wanted, Timeout::After(T)).unwrap();
    assert_eq!(got.elements()[0].offset(), Offset::Offset(7));

    // An open transaction holds read_committed readers at its first offset...
    p.begin_transaction().unwrap();
    send(&p, "txn", 2, "open");
    let held = tags(&reader(&b, "txn", "read_committed"), 15);
    assert_eq!(
        held.len(),
        13,
        "nothing past the open transaction: {held:?}"
    );
    drop(p);
    // ...across a restart, until the next instance of the producer aborts it.
    broker.stop().await;
    let broker = TestBroker::start_in(dir.path(), |_| {}).await;
    let b = broker.bootstrap();
    let p = producer(&b, "txn-a");
    p.begin_transaction().unwrap();
    send(&p, "txn", 1, "after");
    p.commit_transaction(T).unwrap();
    let after = tags(&reader(&b, "txn", "read_committed"), 14);
    assert_eq!(after.len(), 14, "{after:?}");
    assert!(after.iter().all(|t| t != "open"), "{after:?}");
    assert_eq!(after.last().map(String::as_str), Some("after"));
    broker.stop().await;
}
