//! Admin APIs whose single-broker answers are fixed by Kafka's semantics: leader epochs,
//! elections, reassignments.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{broker, call, create_topic, produce};
use strom_codec::kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use strom_codec::kafka_protocol::messages::create_topics_request::CreatableTopic;
use strom_codec::kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use strom_codec::kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use strom_codec::kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse, ApiKey, BrokerId,
    CreateTopicsRequest, CreateTopicsResponse, ElectLeadersRequest, ElectLeadersResponse,
    ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse,
    OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.into()))
}

#[tokio::test]
async fn single_broker_answers() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name("sb"))
            .with_num_partitions(1)
            .with_replication_factor(1)]);
    let r: CreateTopicsResponse = call(
        &mut conn,
        ApiKey::CreateTopics,
        7,
        RequestKind::CreateTopics(create),
    )
    .await;
    assert_eq!(r.topics[0].error_code, 0);
    let batch = strom_storage::batch::build_uncompressed(
        &[b"a", b"b", b"c"],
        strom_server::clock::Clock::system().wall_ms(),
        None,
    );
    assert_eq!(produce(&mut conn, "sb", batch, 1).await.0, 0);

    // Leader epochs: 0 ends at the log end; others are undefined; a newer current epoch is unknown.
    let epochs = |current: i32, wanted: i32| {
        RequestKind::OffsetForLeaderEpoch(
            OffsetForLeaderEpochRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![OffsetForLeaderTopic::default()
                    .with_topic(name("sb"))
                    .with_partitions(vec![OffsetForLeaderPartition::default()
                        .with_partition(0)
                        .with_current_leader_epoch(current)
                        .with_leader_epoch(wanted)])]),
        )
    };
    let r: OffsetForLeaderEpochResponse =
        call(&mut conn, ApiKey::OffsetForLeaderEpoch, 4, epochs(0, 0)).await;
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.leader_epoch, p.end_offset), (0, 0, 3));
    let r: OffsetForLeaderEpochResponse =
        call(&mut conn, ApiKey::OffsetForLeaderEpoch, 4, epochs(-1, 7)).await;
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.leader_epoch, p.end_offset), (0, -1, -1));
    let r: OffsetForLeaderEpochResponse =
        call(&mut conn, ApiKey::OffsetForLeaderEpoch, 4, epochs(5, 0)).await;
    assert_eq!(
        r.topics[0].partitions[0].error_code, 75,
        "UNKNOWN_LEADER_EPOCH"
    );

    // Elections: nothing needed; unknown partitions named.
    let elect =
        ElectLeadersRequest::default()
            .with_topic_partitions(Some(vec![TopicPartitions::default()
                .with_topic(name("sb"))
                .with_partitions(vec![0, 9])]));
    let r: ElectLeadersResponse = call(
        &mut conn,
        ApiKey::ElectLeaders,
        2,
        RequestKind::ElectLeaders(elect),
    )
    .await;
    let codes: Vec<i16> = r.replica_election_results[0]
        .partition_result
        .iter()
        .map(|p| p.error_code)
        .collect();
    assert_eq!(
        codes,
        vec![84, 3],
        "ELECTION_NOT_NEEDED, UNKNOWN_TOPIC_OR_PARTITION"
    );

    // Reassignments.
    let reassign = |replicas: Option<Vec<i32>>| {
        RequestKind::AlterPartitionReassignments(
            AlterPartitionReassignmentsRequest::default().with_topics(vec![
                ReassignableTopic::default()
                    .with_name(name("sb"))
                    .with_partitions(vec![ReassignablePartition::default()
                        .with_partition_index(0)
                        .with_replicas(replicas.map(|r| r.into_iter().map(BrokerId).collect()))]),
            ]),
        )
    };
    let code = |r: AlterPartitionReassignmentsResponse| r.responses[0].partitions[0].error_code;
    assert_eq!(
        code(
            call(
                &mut conn,
                ApiKey::AlterPartitionReassignments,
                0,
                reassign(Some(vec![1]))
            )
            .await
        ),
        0
    );
    assert_eq!(
        code(
            call(
                &mut conn,
                ApiKey::AlterPartitionReassignments,
                0,
                reassign(Some(vec![1, 2]))
            )
            .await
        ),
        39
    );
    assert_eq!(
        code(
            call(
                &mut conn,
                ApiKey::AlterPartitionReassignments,
                0,
                reassign(None)
            )
            .await
        ),
        85
    );
    let r: ListPartitionReassignmentsResponse = call(
        &mut conn,
        ApiKey::ListPartitionReassignments,
        0,
        RequestKind::ListPartitionReassignments(ListPartitionReassignmentsRequest::default()),
    )
    .await;
    assert!(r.topics.is_empty());
    drop(conn);
    broker.shutdown().await;
}

#[tokio::test]
async fn describe_producers_and_topic_partitions_paging() {
    use strom_codec::kafka_protocol::messages::describe_producers_request::TopicRequest as ProducersTopic;
    use strom_codec::kafka_protocol::messages::describe_topic_partitions_request::{
        Cursor, TopicRequest,
    };
    use strom_codec::kafka_protocol::messages::{
        DescribeProducersRequest, DescribeProducersResponse, DescribeTopicPartitionsRequest,
        DescribeTopicPartitionsResponse,
    };

    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    for (topic, partitions) in [("dtp-a", 3), ("dtp-b", 2)] {
        create_topic(&mut conn, topic, partitions).await;
    }
    // An idempotent producer (id 42, epoch 3) writes two batches to dtp-a/0.
    let now = strom_server::clock::Clock::system().wall_ms();
    for (seq, ts) in [(0, now), (2, now + 1000)] {
        let batch = strom_storage::batch::build_uncompressed(&[b"x", b"y"], ts, Some((42, 3, seq)));
        assert_eq!(produce(&mut conn, "dtp-a", batch, 1).await.0, 0);
    }
    let r: DescribeProducersResponse = call(
        &mut conn,
        ApiKey::DescribeProducers,
        0,
        RequestKind::DescribeProducers(DescribeProducersRequest::default().with_topics(vec![
            ProducersTopic::default()
                .with_name(name("dtp-a"))
                .with_partition_indexes(vec![0, 1, 9]),
        ])),
    )
    .await;
    let parts = &r.topics[0].partitions;
    assert_eq!(parts[0].active_producers.len(), 1);
    let p = &parts[0].active_producers[0];
    assert_eq!(
        (p.producer_id.0, p.producer_epoch, p.last_sequence),
        (42, 3, 3)
    );
    assert_eq!(p.last_timestamp, now + 1001);
    assert!(parts[1].active_producers.is_empty());
    assert_eq!(parts[2].error_code, 3, "unknown partition");

    // Four partitions in pages of 2 from a cursor: a/0 a/1 | a/2 b/0 | b/1.
    let page = |cursor: Option<(&str, i32)>| {
        RequestKind::DescribeTopicPartitions(
            DescribeTopicPartitionsRequest::default()
                .with_topics(vec![
                    TopicRequest::default().with_name(name("dtp-b")),
                    TopicRequest::default().with_name(name("dtp-a")),
                    TopicRequest::default().with_name(name("dtp-missing")),
                ])
                .with_response_partition_limit(2)
                .with_cursor(cursor.map(|(t, p)| {
                    Cursor::default()
                        .with_topic_name(name(t))
                        .with_partition_index(p)
                })),
        )
    };
    let mut seen = Vec::new();
    let mut cursor: Option<(String, i32)> = None;
    for _ in 0..5 {
        let r: DescribeTopicPartitionsResponse = call(
            &mut conn,
            ApiKey::DescribeTopicPartitions,
            0,
            page(cursor.as_ref().map(|(t, p)| (t.as_str(), *p))),
        )
        .await;
        for t in &r.topics {
            let n = t.name.as_ref().unwrap().0.as_str().to_string();
            if t.error_code != 0 {
                assert_eq!(n, "dtp-missing");
                assert_eq!(t.error_code, 3);
                continue;
            }
            for p in &t.partitions {
                assert_eq!(p.leader_id.0, 1);
                seen.push(format!("{n}/{}", p.partition_index));
            }
        }
        match r.next_cursor {
            Some(c) => cursor = Some((c.topic_name.0.as_str().to_string(), c.partition_index)),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["dtp-a/0", "dtp-a/1", "dtp-a/2", "dtp-b/0", "dtp-b/1"]
    );
}

#[tokio::test]
async fn list_offsets_answers_at_every_version() {
    use strom_codec::kafka_protocol::messages::list_offsets_request::{
        ListOffsetsPartition, ListOffsetsTopic,
    };
    use strom_codec::kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create_topic(&mut conn, "lo", 1).await;
    // Current timestamps: records from 1970 would be due for retention at once.
    let now = strom_server::clock::Clock::system().wall_ms();
    let batch = strom_storage::batch::build_uncompressed(&[b"a", b"b"], now, None);
    assert_eq!(produce(&mut conn, "lo", batch, 1).await.0, 0);
    for version in 1..=9 {
        for (timestamp, expected) in [(-2, 0), (-1, 2), (now, 0), (now + 1, 1)] {
            let request = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(vec![ListOffsetsTopic::default()
                    .with_name(name("lo"))
                    .with_partitions(vec![ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(timestamp)])]);
            let r: ListOffsetsResponse = call(
                &mut conn,
                ApiKey::ListOffsets,
                version,
                RequestKind::ListOffsets(request),
            )
            .await;
            let p = &r.topics[0].partitions[0];
            assert_eq!(
                (p.error_code, p.offset),
                (0, expected),
                "v{version} ts {timestamp}"
            );
        }
    }
}
