//! `kill -9` of the broker process while an acks=all producer runs: after a restart every
//! acknowledged record is read back exactly once, at its acknowledged offset, in order.
//! Segments are small, so the logs roll many times: the restart trusts the rolled segments
//! below each partition's recovery point and re-validates the rest.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Offset;
use strom_integration_tests::{assigned_consumer, client_config, consume, ChildBroker};

const PARTITIONS: i32 = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_records_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let child = ChildBroker::spawn(
        dir.path(),
        0,
        &["--set", "log.flush.offset.checkpoint.interval.ms=200"],
    );
    let bootstrap = child.bootstrap();
    let admin: AdminClient<DefaultClientContext> = client_config(&bootstrap).create().unwrap();
    let topic = NewTopic::new("crash", PARTITIONS, TopicReplication::Fixed(1))
        .set("segment.bytes", "65536");
    for r in admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .unwrap()
    {
        r.unwrap();
    }
    let producer: FutureProducer = client_config(&bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "4000")
        .create()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stop_sending = Arc::clone(&stop);
    let sender = tokio::spawn(async move {
        let mut pending = Vec::new();
        let mut sequence: u64 = 0;
        while !stop_sending.load(Ordering::Relaxed) && sequence < 1_000_000 {
            let value = format!("{sequence:012}");
            let partition = i32::try_from(sequence % 2).unwrap();
            match producer.send_result(
                FutureRecord::<(), _>::to("crash")
                    .payload(&value)
                    .partition(partition),
            ) {
                Ok(f) => pending.push((value, f)),
                Err(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
            sequence += 1;
            // Paced (at most ~100 k/s) so the kill lands mid-stream with a bounded backlog.
            if sequence.is_multiple_of(100) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let mut acked = Vec::new();
        for (value, f) in pending {
            if let Ok(Ok(delivery)) = f.await {
                acked.push((delivery.partition, delivery.offset, value));
            }
        }
        acked
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked = sender.await.unwrap();
    assert!(
        acked.len() > 1000,
        "the producer should have been acknowledged for a while: {}",
        acked.len()
    );

    // The background fsyncs of rolled segments moved the recovery points, and the log
    // directory's checkpoint (Kafka's file) has them.
    let checkpoint =
        std::fs::read_to_string(dir.path().join("recovery-point-offset-checkpoint")).unwrap();
    let point = checkpoint
        .lines()
        .find_map(|l| l.strip_prefix("crash 0 "))
        .unwrap_or_else(|| panic!("partition 0 is checkpointed: {checkpoint}"));
    assert!(
        point.trim().parse::<i64>().unwrap() > 0,
        "recovery point {point}"
    );

    let child = ChildBroker::spawn(dir.path(), 0, &[]);
    let bootstrap = child.bootstrap();
    let mut by_partition: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for partition in 0..PARTITIONS {
        let c = assigned_consumer(&bootstrap, "crash", &[partition], Offset::Beginning);
        let (_, high) = c
            .fetch_watermarks("crash", partition, Duration::from_secs(10))
            .unwrap();
        let got = consume(&c, usize::try_from(high).unwrap(), Duration::from_secs(60));
        assert_eq!(
            i64::try_from(got.len()).unwrap(),
            high,
            "partition {partition} reads back to its high watermark"
        );
        by_partition.insert(
            partition,
            got.into_iter()
                .map(|r| (r.offset, String::from_utf8(r.value.unwrap()).unwrap()))
                .collect(),
        );
    }
    let mut seen = HashSet::new();
    for records in by_partition.values() {
        for (_, v) in records {
            assert!(seen.insert(v.clone()), "record {v} stored twice");
        }
        assert!(
            records.windows(2).all(|w| w[0].1 < w[1].1),
            "records out of order"
        );
    }
    for (partition, offset, value) in &acked {
        // Offsets are dense from 0, so the record at `offset` is at that index.
        let stored = by_partition[partition]
            .get(usize::try_from(*offset).unwrap())
            .filter(|(o, _)| o == offset)
            .map(|(_, v)| v);
        assert_eq!(
            stored,
            Some(value),
            "acknowledged record {value} at {partition}/{offset} lost"
        );
    }
    eprintln!(
        "{} acknowledged records all present after SIGKILL",
        acked.len()
    );
    child.terminate();
}
