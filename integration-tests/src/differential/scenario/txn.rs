//! Idempotent and transactional producers and the transaction admin APIs.

use strom_codec::kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
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
    TXN_ID, TXN_ID_V2,
};
use crate::differential::session::Session;

/// `n` records of `producer` to `partition` of `name`, in transaction `txn` if given.
fn produce(
    st: &State,
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
    produce_to(st, name, partition, bytes::Bytes::from(records), -1)
        .with_transactional_id(txn.map(txn_id))
}

/// DescribeProducers, a last timestamp from the broker's clock (a transaction marker's, not
/// one of the scenario's record timestamps) shown as `BROKER_CLOCK`: the two brokers write
/// their markers at different moments.
async fn describe_producers(c: &mut Session, label: &str, req: DescribeProducersRequest) {
    const BROKER_CLOCK: i64 = 1;
    let Some(v) = c.version::<DescribeProducersRequest>() else {
        return;
    };
    c.ask_with(label, v, req, |mut resp| {
        for t in &mut resp.topics {
            for p in &mut t.partitions {
                for a in &mut p.active_producers {
                    if a.last_timestamp > super::TS + 86_400_000 {
                        a.last_timestamp = BROKER_CLOCK;
                    }
                }
            }
        }
        resp
    })
    .await;
}

/// InitProducerId without a transactional id, then sequences: in order, a duplicate, a gap,
/// a stale epoch.
pub async fn idempotent(c: &mut Session, st: &State) {
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
            produce(st, TOPIC_A, 2, 3, (pid, epoch, 0), None),
        ),
        (
            "idempotent produce seq 3",
            produce(st, TOPIC_A, 2, 2, (pid, epoch, 3), None),
        ),
        (
            "idempotent produce: duplicate of seq 3",
            produce(st, TOPIC_A, 2, 2, (pid, epoch, 3), None),
        ),
        (
            "idempotent produce: sequence gap",
            produce(st, TOPIC_A, 2, 1, (pid, epoch, 9), None),
        ),
        (
            "idempotent produce: stale epoch",
            produce(st, TOPIC_A, 2, 1, (pid, epoch - 1, 5), None),
        ),
        (
            "idempotent produce: unknown producer id",
            produce(st, TOPIC_A, 1, 1, (pid + 1000, 0, 0), None),
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
    // Transactions v1, as clients without KIP-890 (librdkafka) speak it: Produce up to v11,
    // EndTxn up to v4, TxnOffsetCommit up to v4. A partition not added is refused by version
    // (KIP-890 part 1); v12 would add it (transactions v2, below).
    let produce_v1 = c.version::<ProduceRequest>().unwrap_or(0).min(11);
    for v in [10, 11] {
        c.ask_at(
            &format!("produce v{v}: partition not added"),
            v,
            produce(st, TOPIC_TXN, 0, 2, (pid, epoch, 0), Some(TXN_ID)),
        )
        .await;
    }
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
    c.ask_at(
        "transactional produce",
        produce_v1,
        produce(st, TOPIC_TXN, 0, 2, (pid, epoch, 0), Some(TXN_ID)),
    )
    .await;
    let add_offsets = AddOffsetsToTxnRequest::default()
        .with_transactional_id(txn_id(TXN_ID))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_group_id(group("diff-txn-group"));
    c.ask("add offsets to txn", add_offsets).await;
    let txn_commit_v1 = c.version::<TxnOffsetCommitRequest>().unwrap_or(0).min(4);
    let commit = TxnOffsetCommitRequest::default()
        .with_transactional_id(txn_id(TXN_ID))
        .with_group_id(group("diff-txn-group"))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(topic(TOPIC_A))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(4)
                .with_committed_leader_epoch(-1)])]);
    c.ask_at("txn offset commit", txn_commit_v1, commit).await;
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
    describe_producers(c, "describe producers: ongoing", producers.clone()).await;
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
    let end_v1 = c.version::<EndTxnRequest>().unwrap_or(0).min(4);
    c.ask_at("end txn: stale epoch", end_v1, end(true, epoch - 1))
        .await;
    c.ask_at("end txn commit", end_v1, end(true, epoch)).await;
    // Kafka answers EndTxn before its markers are written: wait (unrecorded, bounded) until
    // the transaction is complete, as a client's next request would be retried until then.
    c.wait_until(&describe, |r| {
        r.transaction_states
            .first()
            .is_some_and(|t| t.transaction_state.as_str() == "CompleteCommit")
    })
    .await;
    c.ask_at("end txn: nothing open", end_v1, end(false, epoch))
        .await;
    c.ask("describe transactions: committed", describe).await;
    describe_producers(c, "describe producers: committed", producers).await;
    c.ask("list offsets read_committed: committed", latest)
        .await;
    if let Some(v) = c.version::<strom_codec::kafka_protocol::messages::FetchRequest>() {
        let mut committed = fetch_req(st, v, TOPIC_TXN, &[0], 0);
        committed.isolation_level = 1;
        fetch_summarised(c, "fetch read_committed after commit", v, committed).await;
    }
    c.ask("init producer id: again bumps the epoch", init).await;
    c.ask_at(
        "end txn: old epoch after re-init",
        end_v1,
        end(false, epoch),
    )
    .await;
}

/// Transactions v2 (KIP-890), as the Java client 4.x speaks it with `transaction.version` 2
/// finalized: no AddPartitionsToTxn or AddOffsetsToTxn, EndTxn v5 bumping the epoch.
pub async fn transactional_v2(c: &mut Session, st: &State) {
    let (Some(produce_v), Some(end_v), Some(commit_v)) = (
        c.version::<ProduceRequest>(),
        c.version::<EndTxnRequest>(),
        c.version::<TxnOffsetCommitRequest>(),
    ) else {
        return;
    };
    if produce_v < 12 || end_v < 5 || commit_v < 5 {
        return;
    }
    let v = c.version::<FindCoordinatorRequest>().unwrap_or(0);
    c.ask(
        "tv2: find coordinator",
        find_coordinator(v, 1, &[TXN_ID_V2]),
    )
    .await;
    let Some(ids) = c
        .ask("tv2: init producer id", init_producer_id(Some(TXN_ID_V2)))
        .await
    else {
        return;
    };
    let (pid, e) = (ids.producer_id.0, ids.producer_epoch);
    let end = |committed: bool, epoch: i16| {
        EndTxnRequest::default()
            .with_transactional_id(txn_id(TXN_ID_V2))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_committed(committed)
    };
    let offsets = |epoch: i16| {
        TxnOffsetCommitRequest::default()
            .with_transactional_id(txn_id(TXN_ID_V2))
            .with_group_id(group("diff-txn-v2-group"))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![TxnOffsetCommitRequestTopic::default()
                .with_name(topic(TOPIC_A))
                .with_topic_id(st.topic_ids.get(TOPIC_A).copied().unwrap_or_default())
                .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                    .with_partition_index(1)
                    .with_committed_offset(2)
                    .with_committed_leader_epoch(-1)])])
    };
    let describe =
        DescribeTransactionsRequest::default().with_transactional_ids(vec![txn_id(TXN_ID_V2)]);
    c.ask_at("tv2: end txn commit, nothing added", end_v, end(true, e))
        .await;
    c.ask_at("tv2: txn offset commit v4, not added", 4, offsets(e))
        .await;
    c.ask_at(
        "tv2: produce adds its partition",
        produce_v,
        produce(st, TOPIC_TXN, 0, 2, (pid, e, 0), Some(TXN_ID_V2)),
    )
    .await;
    c.ask_at(
        "tv2: txn offset commit adds its partition",
        commit_v,
        offsets(e),
    )
    .await;
    if commit_v >= 6 {
        let mut unknown = offsets(e);
        for t in &mut unknown.topics {
            t.topic_id = uuid::Uuid::from_u128(7);
        }
        c.ask_at(
            "tv2: txn offset commit: unknown topic id",
            commit_v,
            unknown,
        )
        .await;
    }
    c.ask("tv2: describe transactions: ongoing", describe.clone())
        .await;
    // What a broker asks the coordinator before appending (AddPartitionsToTxn v4+,
    // VerifyOnly): partition 0 is in the transaction, TOPIC_A's partition 1 is not; a wrong
    // epoch fails the transaction's partitions.
    if c.version::<AddPartitionsToTxnRequest>().unwrap_or(0) >= 4 {
        let verify = |epoch: i16| {
            AddPartitionsToTxnTransaction::default()
                .with_transactional_id(txn_id(TXN_ID_V2))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_verify_only(true)
                .with_topics(vec![
                    AddPartitionsToTxnTopic::default()
                        .with_name(topic(TOPIC_TXN))
                        .with_partitions(vec![0]),
                    AddPartitionsToTxnTopic::default()
                        .with_name(topic(TOPIC_A))
                        .with_partitions(vec![1]),
                ])
        };
        c.ask(
            "tv2: add partitions to txn: verify only",
            AddPartitionsToTxnRequest::default().with_transactions(vec![verify(e)]),
        )
        .await;
        c.ask(
            "tv2: add partitions to txn: verify only, stale epoch",
            AddPartitionsToTxnRequest::default().with_transactions(vec![verify(e + 1)]),
        )
        .await;
    }
    c.ask_at("tv2: end txn commit", end_v, end(true, e)).await;
    c.wait_until(&describe, |r| {
        r.transaction_states
            .first()
            .is_some_and(|t| t.transaction_state.as_str() == "CompleteCommit")
    })
    .await;
    c.ask_at("tv2: end txn commit retried", end_v, end(true, e))
        .await;
    c.ask_at(
        "tv2: end txn abort retried after commit",
        end_v,
        end(false, e),
    )
    .await;
    c.ask("tv2: describe transactions: committed", describe.clone())
        .await;
    c.ask_at(
        "tv2: late produce with the ended epoch",
        produce_v,
        produce(st, TOPIC_TXN, 0, 1, (pid, e, 2), Some(TXN_ID_V2)),
    )
    .await;
    c.ask_at(
        "tv2: late produce v11 with the ended epoch",
        11,
        produce(st, TOPIC_TXN, 0, 1, (pid, e, 2), Some(TXN_ID_V2)),
    )
    .await;
    // An abort with nothing added bumps the epoch again; then the epoch before is stale.
    c.ask_at(
        "tv2: end txn abort, nothing added",
        end_v,
        end(false, e + 1),
    )
    .await;
    c.wait_until(&describe, |r| {
        r.transaction_states
            .first()
            .is_some_and(|t| t.transaction_state.as_str() == "CompleteAbort")
    })
    .await;
    c.ask_at("tv2: end txn abort, stale epoch", end_v, end(false, e))
        .await;
    c.ask("tv2: describe transactions: aborted", describe).await;
    let producers = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(topic(TOPIC_TXN))
        .with_partition_indexes(vec![0])]);
    describe_producers(c, "tv2: describe producers", producers).await;
}
