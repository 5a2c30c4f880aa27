//! Idempotent and transactional producers and the transaction admin APIs.

use strom_codec::kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use strom_codec::kafka_protocol::messages::describe_producers_request::TopicRequest;
use strom_codec::kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use strom_codec::kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, DescribeProducersRequest,
    DescribeTransactionsRequest, EndTxnRequest, FindCoordinatorRequest, ListOffsetsRequest,
    ListTransactionsRequest, ProduceRequest, ProducerId, TxnOffsetCommitRequest,
};

use super::data::{fetch_req, fetch_summarised, produce_to};
use super::{
    batch, find_coordinator, group, init_producer_id, s, topic, txn_id, State, TOPIC_A, TOPIC_TXN,
    TXN_ID,
};
use crate::differential::session::Session;

/// `n` records of `producer` to `partition` of `name`, in transaction `txn` if given.
fn produce(
    name: &str,
    partition: i32,
    n: usize,
    producer: (i64, i16, i32),
    txn: Option<&str>,
) -> ProduceRequest {
    let mut records = batch(n, 100, Some(producer)).to_vec();
    if txn.is_some() {
        // The transactional attribute bit; the CRC covers attributes, so recompute it.
        records[22] |= 0x10;
        let crc = crc32c::crc32c(&records[21..]);
        records[17..21].copy_from_slice(&crc.to_be_bytes());
    }
    produce_to(name, partition, bytes::Bytes::from(records), -1)
        .with_transactional_id(txn.map(txn_id))
}

/// InitProducerId without a transactional id, then sequences: in order, a duplicate, a gap,
/// a stale epoch.
pub async fn idempotent(c: &mut Session) {
    let Some(ids) = c
        .ask("init producer id: idempotent", init_producer_id(None))
        .await
    else {
        return;
    };
    let (pid, epoch) = (ids.producer_id.0, ids.producer_epoch);
    for (label, req) in [
        (
            "idempotent produce seq 0",
            produce(TOPIC_A, 2, 3, (pid, epoch, 0), None),
        ),
        (
            "idempotent produce seq 3",
            produce(TOPIC_A, 2, 2, (pid, epoch, 3), None),
        ),
        (
            "idempotent produce: duplicate of seq 3",
            produce(TOPIC_A, 2, 2, (pid, epoch, 3), None),
        ),
        (
            "idempotent produce: sequence gap",
            produce(TOPIC_A, 2, 1, (pid, epoch, 9), None),
        ),
        (
            "idempotent produce: stale epoch",
            produce(TOPIC_A, 2, 1, (pid, epoch - 1, 5), None),
        ),
        (
            "idempotent produce: unknown producer id",
            produce(TOPIC_A, 1, 1, (pid + 1000, 0, 0), None),
        ),
    ] {
        c.ask(label, req).await;
    }
}

/// A transaction: coordinator, init, add partitions, produce, add offsets, txn offset
/// commit, list and describe while open, end, read_committed reads; then the error cases.
pub async fn transactional(c: &mut Session, st: &State) {
    let v = c.version::<FindCoordinatorRequest>().unwrap_or(0);
    c.ask(
        "find coordinator: transaction",
        find_coordinator(v, 1, &[TXN_ID]),
    )
    .await;
    let init = init_producer_id(Some(TXN_ID));
    let Some(ids) = c.ask("init producer id: transactional", init.clone()).await else {
        return;
    };
    let (pid, epoch) = (ids.producer_id.0, ids.producer_epoch);
    let add = |name: &str, partitions: Vec<i32>, epoch: i16| {
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(txn_id(TXN_ID))
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(topic(name))
                .with_partitions(partitions)])
    };
    let v3 = c.version::<AddPartitionsToTxnRequest>().unwrap_or(0).min(3);
    c.ask(
        "produce: partition not added",
        produce(TOPIC_TXN, 0, 2, (pid, epoch, 0), Some(TXN_ID)),
    )
    .await;
    c.ask_at("add partitions to txn", v3, add(TOPIC_TXN, vec![0], epoch))
        .await;
    c.ask_at(
        "add partitions to txn: unknown topic",
        v3,
        add("no-such-topic", vec![0], epoch),
    )
    .await;
    c.ask_at(
        "add partitions to txn: stale epoch",
        v3,
        add(TOPIC_TXN, vec![0], epoch - 1),
    )
    .await;
    c.ask(
        "transactional produce",
        produce(TOPIC_TXN, 0, 2, (pid, epoch, 0), Some(TXN_ID)),
    )
    .await;
    let add_offsets = AddOffsetsToTxnRequest::default()
        .with_transactional_id(txn_id(TXN_ID))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_group_id(group("diff-txn-group"));
    c.ask("add offsets to txn", add_offsets).await;
    let commit = TxnOffsetCommitRequest::default()
        .with_transactional_id(txn_id(TXN_ID))
        .with_group_id(group("diff-txn-group"))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_generation_id(-1)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(topic(TOPIC_A))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(4)
                .with_committed_leader_epoch(-1)])]);
    c.ask("txn offset commit", commit).await;
    c.ask("list transactions", ListTransactionsRequest::default())
        .await;
    let states =
        ListTransactionsRequest::default().with_state_filters(vec![s("Ongoing"), s("NoSuchState")]);
    c.ask("list transactions: state filter", states).await;
    let describe = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![txn_id(TXN_ID), txn_id("no-such-txn")]);
    c.ask("describe transactions: ongoing", describe.clone())
        .await;
    let producers = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(topic(TOPIC_TXN))
        .with_partition_indexes(vec![0, 5])]);
    c.ask("describe producers: ongoing", producers.clone())
        .await;
    let latest = ListOffsetsRequest::default()
        .with_replica_id(strom_codec::kafka_protocol::messages::BrokerId(-1))
        .with_isolation_level(1)
        .with_topics(vec![
        strom_codec::kafka_protocol::messages::list_offsets_request::ListOffsetsTopic::default()
            .with_name(topic(TOPIC_TXN))
            .with_partitions(vec![
                strom_codec::kafka_protocol::messages::list_offsets_request::ListOffsetsPartition::default()
                    .with_partition_index(0)
                    .with_timestamp(-1),
            ]),
    ]);
    c.ask(
        "list offsets read_committed: open transaction",
        latest.clone(),
    )
    .await;
    let end = |committed: bool, epoch: i16| {
        EndTxnRequest::default()
            .with_transactional_id(txn_id(TXN_ID))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_committed(committed)
    };
    c.ask("end txn: stale epoch", end(true, epoch - 1)).await;
    c.ask("end txn commit", end(true, epoch)).await;
    // Kafka answers EndTxn before its markers are written: wait (unrecorded, bounded) until
    // the transaction is complete, as a client's next request would be retried until then.
    c.wait_until(&describe, |r| {
        r.transaction_states
            .first()
            .is_some_and(|t| t.transaction_state.as_str() == "CompleteCommit")
    })
    .await;
    c.ask("end txn: nothing open", end(false, epoch)).await;
    c.ask("describe transactions: committed", describe).await;
    c.ask("describe producers: committed", producers).await;
    c.ask("list offsets read_committed: committed", latest)
        .await;
    if let Some(v) = c.version::<strom_codec::kafka_protocol::messages::FetchRequest>() {
        let mut committed = fetch_req(st, v, TOPIC_TXN, &[0], 0);
        committed.isolation_level = 1;
        fetch_summarised(c, "fetch read_committed after commit", v, committed).await;
    }
    c.ask("init producer id: again bumps the epoch", init).await;
    c.ask("end txn: old epoch after re-init", end(false, epoch))
        .await;
}
