//! librdkafka (through the `rdkafka` crate) producing to and consuming from Strom.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::Consumer;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};
use strom_integration_tests::{assigned_consumer, client_config, consume, TestBroker};

const WAIT: Duration = Duration::from_secs(20);

async fn create_topic(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> =
        client_config(bootstrap).create().expect("admin");
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        topic = topic.set(k, v);
    }
    let results = admin
        .create_topics([&topic], &AdminOptions::new())
        .await
        .expect("create_topics");
    for r in results {
        r.expect("topic created");
    }
}

fn producer(bootstrap: &str, settings: &[(&str, &str)]) -> FutureProducer {
    let mut c = client_config(bootstrap);
    c.set("linger.ms", "5");
    for (k, v) in settings {
        c.set(*k, *v);
    }
    c.create().expect("producer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_and_acks_setting_round_trips() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        for acks in ["0", "1", "all"] {
            let topic = format!("codec-{codec}-acks-{acks}");
            let p = producer(&bootstrap, &[("compression.type", codec), ("acks", acks)]);
            let mut pending = Vec::new();
            for i in 0..300 {
                let key = format!("key-{i}");
                let value = format!("value-{i}-{}", "x".repeat(i % 50));
                pending.push(
                    p.send_result(FutureRecord::to(&topic).key(&key).payload(&value))
                        .expect("queue"),
                );
            }
            for (i, f) in pending.into_iter().enumerate() {
                let delivered = f.await.expect("delivery future").expect("delivered");
                if acks != "0" {
                    assert_eq!(delivered.offset, i64::try_from(i).unwrap(), "{topic}");
                }
            }
            p.flush(Timeout::After(WAIT)).expect("flush");
            let c = assigned_consumer(&bootstrap, &topic, &[0], Offset::Beginning);
            let got = consume(&c, 300, WAIT);
            assert_eq!(got.len(), 300, "{topic}");
            for (i, r) in got.iter().enumerate() {
                assert_eq!(r.offset, i64::try_from(i).unwrap());
                assert_eq!(r.key.as_deref(), Some(format!("key-{i}").as_bytes()));
                assert_eq!(
                    r.value.as_deref(),
                    Some(format!("value-{i}-{}", "x".repeat(i % 50)).as_bytes())
                );
            }
        }
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_from_latest_an_offset_and_a_timestamp() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "positions", 1, &[]).await;
    let p = producer(&bootstrap, &[("acks", "all")]);
    let base_ts = rdkafka::util::current_time_millis() - 100_000;
    for i in 0..100i64 {
        let value = format!("v{i}");
        p.send(
            FutureRecord::<(), _>::to("positions")
                .payload(&value)
                .timestamp(base_ts + i * 10),
            WAIT,
        )
        .await
        .expect("sent");
    }
    // From an offset.
    let c = assigned_consumer(&bootstrap, "positions", &[0], Offset::Offset(42));
    let got = consume(&c, 58, WAIT);
    assert_eq!(got.first().map(|r| r.offset), Some(42));
    assert_eq!(got.len(), 58);
    // From a timestamp: offsets_for_times then assign.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("positions", 0, Offset::Offset(base_ts + 305))
        .unwrap();
    let found = c.offsets_for_times(tpl, WAIT).expect("offsets_for_times");
    let offset = found.elements().first().map(|e| e.offset());
    assert_eq!(
        offset,
        Some(Offset::Offset(31)),
        "first record with ts >= base+305 is #31"
    );
    let c = assigned_consumer(&bootstrap, "positions", &[0], Offset::Offset(31));
    assert_eq!(
        consume(&c, 1, WAIT).first().and_then(|r| r.timestamp),
        Some(base_ts + 310)
    );
    // Watermarks.
    let (low, high) = c
        .fetch_watermarks("positions", 0, WAIT)
        .expect("watermarks");
    assert_eq!((low, high), (0, 100));
    // From the end: only what is produced afterwards.
    let c = assigned_consumer(&bootstrap, "positions", &[0], Offset::End);
    assert!(consume(&c, 1, Duration::from_secs(2)).is_empty());
    p.send(FutureRecord::<(), _>::to("positions").payload("late"), WAIT)
        .await
        .expect("sent");
    let got = consume(&c, 1, WAIT);
    assert_eq!(
        got.first().map(|r| (r.offset, r.value.clone())),
        Some((100, Some(b"late".to_vec())))
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_null_and_empty_keys_and_values_and_large_values() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "shapes", 1, &[("max.message.bytes", "2000000")]).await;
    let p = producer(
        &bootstrap,
        &[("acks", "all"), ("message.max.bytes", "2000000")],
    );
    let big = vec![7u8; 1024 * 1024];
    let headers = OwnedHeaders::new()
        .insert(Header {
            key: "h1",
            value: Some("one"),
        })
        .insert(Header {
            key: "empty",
            value: Some(""),
        })
        .insert(Header {
            key: "null",
            value: None::<&[u8]>,
        });
    p.send(FutureRecord::<(), ()>::to("shapes"), WAIT)
        .await
        .expect("null key and value");
    p.send(FutureRecord::to("shapes").key("").payload(""), WAIT)
        .await
        .expect("empty key and value");
    p.send(
        FutureRecord::to("shapes")
            .key("k")
            .payload("with headers")
            .headers(headers),
        WAIT,
    )
    .await
    .expect("headers");
    p.send(FutureRecord::to("shapes").key("big").payload(&big), WAIT)
        .await
        .expect("1 MiB");
    let c = assigned_consumer(&bootstrap, "shapes", &[0], Offset::Beginning);
    let got = consume(&c, 4, WAIT);
    assert_eq!(got.len(), 4);
    assert_eq!((got[0].key.clone(), got[0].value.clone()), (None, None));
    assert_eq!(
        (got[1].key.clone(), got[1].value.clone()),
        (Some(vec![]), Some(vec![]))
    );
    assert_eq!(
        got[2].headers,
        vec![
            ("h1".to_string(), Some(b"one".to_vec())),
            ("empty".to_string(), Some(vec![])),
            ("null".to_string(), None)
        ]
    );
    assert_eq!(got[3].value.as_deref(), Some(&big[..]));
    // A record over max.message.bytes is refused with MESSAGE_TOO_LARGE.
    create_topic(&bootstrap, "small", 1, &[("max.message.bytes", "1000")]).await;
    let err = p
        .send(
            FutureRecord::<(), _>::to("small").payload(&vec![1u8; 5000]),
            WAIT,
        )
        .await;
    let (err, _) = err.expect_err("too large");
    assert!(
        err.to_string().contains("MessageSizeTooLarge") || err.to_string().contains("too large"),
        "{err}"
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_writes_each_record_once_in_order() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "idem", 3, &[]).await;
    let p = producer(
        &bootstrap,
        &[
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("max.in.flight.requests.per.connection", "5"),
            ("retries", "10"),
        ],
    );
    let mut pending = Vec::new();
    for i in 0..3000 {
        let value = i.to_string();
        let partition = i % 3;
        pending.push(
            p.send_result(
                FutureRecord::<(), _>::to("idem")
                    .payload(&value)
                    .partition(partition),
            )
            .expect("queue"),
        );
    }
    for f in pending {
        f.await.expect("future").expect("delivered");
    }
    for partition in 0..3 {
        let c = assigned_consumer(&bootstrap, "idem", &[partition], Offset::Beginning);
        let got = consume(&c, 1000, WAIT);
        let values: Vec<i32> = got
            .iter()
            .map(|r| {
                std::str::from_utf8(r.value.as_deref().unwrap())
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        let expected: Vec<i32> = (0..3000).filter(|i| i % 3 == partition).collect();
        assert_eq!(values, expected);
    }
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_data_and_topics() {
    let dir = tempfile::tempdir().unwrap();
    let broker = TestBroker::start_in(dir.path(), |_| {}).await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "durable", 2, &[("retention.ms", "-1")]).await;
    let p = producer(&bootstrap, &[("acks", "all")]);
    for i in 0..50 {
        let v = format!("r{i}");
        p.send(
            FutureRecord::<(), _>::to("durable")
                .payload(&v)
                .partition(i % 2),
            WAIT,
        )
        .await
        .expect("sent");
    }
    drop(p);
    broker.stop().await;

    let broker = TestBroker::start_in(dir.path(), |_| {}).await;
    let bootstrap = broker.bootstrap();
    for partition in 0..2 {
        let c = assigned_consumer(&bootstrap, "durable", &[partition], Offset::Beginning);
        let got = consume(&c, 25, WAIT);
        let expected: Vec<Vec<u8>> = (0..50)
            .filter(|i| i % 2 == partition)
            .map(|i| format!("r{i}").into_bytes())
            .collect();
        assert_eq!(
            got.into_iter()
                .map(|r| r.value.unwrap())
                .collect::<Vec<_>>(),
            expected
        );
    }
    let p = producer(&bootstrap, &[("acks", "all")]);
    let d = p
        .send(
            FutureRecord::<(), _>::to("durable")
                .payload("after")
                .partition(0),
            WAIT,
        )
        .await
        .expect("sent");
    assert_eq!(d.offset, 25);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_added_while_producing_are_used() {
    use rdkafka::admin::NewPartitions;
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "growing", 1, &[]).await;
    let p = producer(
        &bootstrap,
        &[
            ("acks", "all"),
            ("topic.metadata.refresh.interval.ms", "500"),
        ],
    );
    p.send(
        FutureRecord::<(), _>::to("growing")
            .payload("before")
            .partition(0),
        WAIT,
    )
    .await
    .expect("sent");
    let admin: AdminClient<DefaultClientContext> = client_config(&bootstrap).create().unwrap();
    let results = admin
        .create_partitions([&NewPartitions::new("growing", 3)], &AdminOptions::new())
        .await
        .unwrap();
    for r in results {
        r.expect("grown");
    }
    // Shrinking is refused, as Kafka does.
    let results = admin
        .create_partitions([&NewPartitions::new("growing", 2)], &AdminOptions::new())
        .await
        .unwrap();
    assert!(results[0].is_err());
    let deadline = std::time::Instant::now() + WAIT;
    let delivered = loop {
        match p
            .send(
                FutureRecord::<(), _>::to("growing")
                    .payload("after")
                    .partition(2),
                Duration::from_secs(2),
            )
            .await
        {
            Ok(d) => break d,
            Err(_) if std::time::Instant::now() < deadline => continue,
            Err((e, _)) => panic!("partition 2 never became usable: {e}"),
        }
    };
    assert_eq!((delivered.partition, delivered.offset), (2, 0));
    let c = assigned_consumer(&bootstrap, "growing", &[2], Offset::Beginning);
    assert_eq!(
        consume(&c, 1, WAIT).first().and_then(|r| r.value.clone()),
        Some(b"after".to_vec())
    );
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_configs_reports_values_and_sources() {
    use rdkafka::admin::{ConfigSource, ResourceSpecifier};
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "described", 1, &[("retention.ms", "1234")]).await;
    let admin: AdminClient<DefaultClientContext> = client_config(&bootstrap).create().unwrap();
    let results = admin
        .describe_configs(
            [
                &ResourceSpecifier::Topic("described"),
                &ResourceSpecifier::Broker(1),
            ],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    let topic = results[0].as_ref().expect("topic configs");
    let retention = topic.get("retention.ms").expect("retention.ms");
    assert_eq!(retention.value.as_deref(), Some("1234"));
    assert_eq!(retention.source, ConfigSource::DynamicTopic);
    let segment = topic.get("segment.bytes").expect("segment.bytes");
    assert_eq!(segment.value.as_deref(), Some("1073741824"));
    assert_eq!(segment.source, ConfigSource::Default);
    assert!(
        topic.entries.len() >= 30,
        "every topic config key: {}",
        topic.entries.len()
    );
    let brokers = results[1].as_ref().expect("broker configs");
    assert_eq!(
        brokers
            .get("num.partitions")
            .and_then(|e| e.value.as_deref()),
        Some("1")
    );
    // (Unknown topics: the rdkafka crate drops per-resource errors; checked on the wire in
    // crates/server/tests/alter_configs.rs.)
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_records_moves_the_start_for_consumers() {
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "trimmed", 1, &[]).await;
    let p = producer(&bootstrap, &[("acks", "all")]);
    for i in 0..10 {
        let v = format!("r{i}");
        p.send(FutureRecord::<(), _>::to("trimmed").payload(&v), WAIT)
            .await
            .expect("sent");
    }
    let admin: AdminClient<DefaultClientContext> = client_config(&bootstrap).create().unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("trimmed", 0, Offset::Offset(4))
        .unwrap();
    let deleted = admin
        .delete_records(&tpl, &AdminOptions::new())
        .await
        .expect("delete_records");
    assert_eq!(deleted.elements()[0].offset(), Offset::Offset(4));
    let c = assigned_consumer(&bootstrap, "trimmed", &[0], Offset::Beginning);
    assert_eq!(c.fetch_watermarks("trimmed", 0, WAIT).unwrap(), (4, 10));
    let got = consume(&c, 6, WAIT);
    assert_eq!(got.first().map(|r| r.offset), Some(4));
    assert_eq!(got.len(), 6);
    broker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_alters_configs_and_deletes_groups_and_topics() {
    use rdkafka::admin::{AlterConfig, ResourceSpecifier};
    use rdkafka::consumer::{BaseConsumer, CommitMode};
    let broker = TestBroker::start().await;
    let bootstrap = broker.bootstrap();
    create_topic(&bootstrap, "altered", 1, &[]).await;
    let admin: AdminClient<DefaultClientContext> = client_config(&bootstrap).create().unwrap();
    let results = admin
        .alter_configs(
            &[AlterConfig::new(ResourceSpecifier::Topic("altered")).set("retention.ms", "4321")],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    assert!(results[0].is_ok(), "{results:?}");
    let described = admin
        .describe_configs([&ResourceSpecifier::Topic("altered")], &AdminOptions::new())
        .await
        .unwrap();
    let topic = described[0].as_ref().unwrap();
    assert_eq!(
        topic.get("retention.ms").and_then(|e| e.value.as_deref()),
        Some("4321")
    );
    // An invalid value is refused (the rdkafka crate drops per-resource errors of
    // AlterConfigs, so the check is that nothing changed).
    admin
        .alter_configs(
            &[AlterConfig::new(ResourceSpecifier::Topic("altered")).set("retention.ms", "soon")],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    let described = admin
        .describe_configs([&ResourceSpecifier::Topic("altered")], &AdminOptions::new())
        .await
        .unwrap();
    assert_eq!(
        described[0]
            .as_ref()
            .unwrap()
            .get("retention.ms")
            .and_then(|e| e.value.as_deref()),
        Some("4321")
    );

    // A group with a committed offset, then deleted.
    let committer: BaseConsumer = client_config(&bootstrap)
        .set("group.id", "doomed")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("altered", 0, Offset::Offset(0))
        .unwrap();
    committer.commit(&tpl, CommitMode::Sync).unwrap();
    drop(committer);
    let deleted = admin
        .delete_groups(&["doomed", "never-existed"], &AdminOptions::new())
        .await
        .unwrap();
    assert!(deleted[0].is_ok(), "{deleted:?}");
    assert!(deleted[1].is_err(), "unknown group: {deleted:?}");
    let deleted = admin
        .delete_topics(&["altered"], &AdminOptions::new())
        .await
        .unwrap();
    assert!(deleted[0].is_ok(), "{deleted:?}");
    broker.stop().await;
}
