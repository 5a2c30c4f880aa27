//! Log compaction seen by a stock client: librdkafka writes many updates per key (and
//! tombstones) to a compacted topic, the broker's cleaner compacts it in the background, and
//! a consumer reading from the start sees every key's latest value, fewer records, the
//! original offsets, and the same after a broker restart.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Offset;
use strom_integration_tests::{assigned_consumer, client_config, consume, Record, TestBroker};

const KEYS: usize = 50;
const ROUNDS: usize = 40;

fn latest_by_key(records: &[Record]) -> BTreeMap<Vec<u8>, Option<Vec<u8>>> {
    let mut m = BTreeMap::new();
    for r in records {
        m.insert(r.key.clone().unwrap_or_default(), r.value.clone());
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compacted_topic_keeps_the_latest_value_per_key() {
    let dir = tempfile::tempdir().unwrap();
    let tweak = |c: &mut strom_server::Config| c.cleaner_backoff_ms = 100;
    let broker = TestBroker::start_in(dir.path(), tweak).await;
    let bootstrap = broker.bootstrap();
    let admin: AdminClient<DefaultClientContext> =
        client_config(&bootstrap).create().expect("admin");
    let topic = NewTopic::new("compacted", 1, TopicReplication::Fixed(1))
        .set("cleanup.policy", "compact")
        .set("segment.bytes", "2048")
        .set("min.cleanable.dirty.ratio", "0.01")
        .set("delete.retention.ms", "86400000");
    for r in admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .expect("create")
    {
        r.expect("created");
    }
    let producer: FutureProducer = client_config(&bootstrap)
        .set("linger.ms", "2")
        .set("compression.type", "lz4")
        .create()
        .expect("producer");
    let mut expected: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for round in 0..ROUNDS {
        let mut pending = Vec::new();
        for k in 0..KEYS {
            let key = format!("key-{k:03}");
            // Key 7 ends deleted: its last write is a tombstone.
            let value = (k != 7 || round + 1 < ROUNDS)
                .then(|| format!("value-{round}-{k}-{}", "p".repeat(64)));
            let mut record = FutureRecord::to("compacted").key(&key);
            if let Some(v) = &value {
                record = record.payload(v);
            }
            pending.push(producer.send_result(record).expect("queued"));
            expected.insert(key.into_bytes(), value.map(String::into_bytes));
        }
        for p in pending {
            p.await.expect("future").expect("delivered");
        }
    }
    let written = KEYS * ROUNDS;

    // Wait for the cleaner: the log gets far smaller than what was written.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut compacted = Vec::new();
    while Instant::now() < deadline {
        let c = assigned_consumer(&bootstrap, "compacted", &[0], Offset::Beginning);
        compacted = consume(&c, written, Duration::from_secs(2));
        if compacted.len() < written / 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        compacted.len() < written / 2,
        "compaction did not happen: {} of {written} records remain",
        compacted.len()
    );
    assert_eq!(
        latest_by_key(&compacted),
        expected,
        "every key's latest value"
    );
    assert!(
        compacted.windows(2).all(|w| w[0].offset < w[1].offset),
        "offsets increase"
    );
    let last = compacted.last().unwrap().offset;
    assert_eq!(
        last,
        i64::try_from(written).unwrap() - 1,
        "the last offset is kept"
    );

    // A restart serves the compacted log as it was.
    broker.stop().await;
    let broker = TestBroker::start_in(dir.path(), tweak).await;
    let c = assigned_consumer(&broker.bootstrap(), "compacted", &[0], Offset::Beginning);
    let again = consume(&c, compacted.len(), Duration::from_secs(10));
    assert_eq!(
        again.iter().map(|r| r.offset).collect::<Vec<_>>(),
        compacted.iter().map(|r| r.offset).collect::<Vec<_>>()
    );
    broker.stop().await;
}
