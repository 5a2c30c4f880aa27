//! The server's timers on paused time: the broker reads time from an injected clock that
//! moves only with tokio's (paused) clock, and the test moves it, so that session and
//! transaction timeouts are tested without sleeping.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::Duration;

use bytes::Bytes;
use strom_coordinator::groups::{JoinRequest, SyncRequest};
use strom_coordinator::transactions::{AddPartitions, InitProducerId, TxnState};
use strom_server::clock::Clock;
use strom_server::{Broker, Config};

const SESSION_MS: i32 = 10_000;

async fn broker() -> (Broker, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".into(),
        metrics_listen: None,
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let broker = Broker::start_with_clock(config, Clock::starting_at(1_800_000_000_000))
        .await
        .unwrap();
    (broker, dir)
}

async fn advance(ms: u64) {
    tokio::time::advance(Duration::from_millis(ms)).await;
    // Let the actors run what became due.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// Lets blocking-pool work (a write) run in real time; tokio's time stays where it is.
async fn wait_for_the_disk() {
    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1)))
        .await
        .unwrap();
}

async fn members(broker: &Broker, group: &str) -> usize {
    let described = broker
        .state()
        .groups
        .describe(vec![group.to_string()])
        .await
        .unwrap();
    described[0].members.len()
}

#[tokio::test(start_paused = true)]
async fn a_silent_member_is_expelled_when_its_session_times_out() {
    let (broker, _dir) = broker().await;
    let groups = &broker.state().groups;
    let joined = groups
        .join(JoinRequest {
            group_id: "g".into(),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: SESSION_MS,
            rebalance_timeout_ms: 30_000,
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"m"))],
            new_member_id: "m1".into(),
            ..JoinRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(joined.error, None);
    let synced = groups
        .sync(SyncRequest {
            group_id: "g".into(),
            generation_id: joined.generation_id,
            member_id: joined.member_id.clone(),
            assignments: vec![(joined.member_id.clone(), Bytes::from_static(b"all"))],
            ..SyncRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(synced.error, None);
    assert_eq!(members(&broker, "g").await, 1);

    advance(u64::try_from(SESSION_MS).unwrap() - 100).await;
    assert_eq!(members(&broker, "g").await, 1, "within its session");
    advance(200).await;
    assert_eq!(
        members(&broker, "g").await,
        0,
        "expelled at its session's end"
    );
    broker.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_transaction_past_its_timeout_is_aborted_and_its_producer_fenced() {
    let (broker, _dir) = broker().await;
    let state = broker.state();
    let created = state
        .metadata
        .submit(strom_cluster::controller::Request::CreateTopics {
            topics: vec![strom_cluster::controller::NewTopic {
                name: "t".into(),
                partitions: Some(1),
                replication_factor: None,
                assignments: Default::default(),
                configs: Default::default(),
                internal: false,
            }],
            validate_only: false,
        })
        .await
        .unwrap();
    assert!(
        matches!(&created, strom_cluster::controller::Reply::CreateTopics(r) if r[0].is_ok()),
        "{created:?}"
    );
    let init = InitProducerId {
        transactional_id: "tx".into(),
        timeout_ms: 5_000,
        expected: None,
    };
    // Answered once the first block of producer ids is reserved.
    let (pid, epoch) = state.txns.init_producer_id(Some(init)).await.unwrap();
    state
        .txns
        .add_partitions(AddPartitions {
            transactional_id: "tx".into(),
            producer_id: pid,
            producer_epoch: epoch,
            partitions: vec![("t".into(), 0)],
            tv2: false,
        })
        .await
        .unwrap();
    let txn_state = |list: Vec<strom_coordinator::transactions::TxnMetadata>| {
        let t = list
            .into_iter()
            .find(|t| t.transactional_id == "tx")
            .unwrap();
        (t.state, t.producer_epoch)
    };
    advance(4_000).await;
    assert_eq!(
        txn_state(state.txns.list().await.expect("the coordinator runs")),
        (TxnState::Ongoing, epoch),
        "within its timeout"
    );
    let partition = state
        .topics
        .get("t")
        .unwrap()
        .partition(0)
        .cloned()
        .unwrap();
    let mut high_watermark = partition.subscribe();
    advance(3_000).await;
    // The abort marker moves the partition's high watermark ...
    high_watermark.changed().await.unwrap();
    // ... and the Complete state is written right after, on the blocking pool.
    for _ in 0..1000 {
        if txn_state(state.txns.list().await.expect("the coordinator runs")).0
            == TxnState::CompleteAbort
        {
            break;
        }
        wait_for_the_disk().await;
    }
    assert_eq!(
        txn_state(state.txns.list().await.expect("the coordinator runs")),
        (TxnState::CompleteAbort, epoch + 1),
        "aborted with a bumped epoch"
    );
    // The abort marker is in the log, so read_committed readers move past it.
    assert_eq!(partition.read_state().last_stable_offset, 1);
    broker.shutdown().await;
}
