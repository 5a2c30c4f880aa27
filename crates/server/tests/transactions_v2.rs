//! KIP-890 transactions v2 on the wire, as the Java client 4.x drives it: no
//! AddPartitionsToTxn or AddOffsetsToTxn (Produce v12+ and TxnOffsetCommit v5 add their
//! partitions), EndTxn v5 bumping the epoch with every end; and the errors older versions get
//! for a partition their transaction did not add (KIP-890 part 1).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use bytes::Bytes;
use common::{broker, call, create_topic};
use strom_codec::kafka_protocol::messages::produce_request::{
    PartitionProduceData, TopicProduceData,
};
use strom_codec::kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use strom_codec::kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, EndTxnRequest,
    EndTxnResponse, GroupId, InitProducerIdRequest, InitProducerIdResponse, ProduceRequest,
    ProduceResponse, ProducerId, RequestKind, TopicName, TransactionalId, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use strom_codec::ErrorCode;
use tokio::net::TcpStream;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.into())
}

/// A transactional batch of one record from `(producer id, epoch, base sequence)`.
fn txn_batch(producer: (i64, i16, i32)) -> Bytes {
    let mut b =
        strom_storage::batch::build_batch(&[(Some(b"k"), Some(b"v"))], 1000, 1, Some(producer));
    b[22] |= 0x10; // the transactional attribute (low byte of the attributes)
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Bytes::from(b)
}

async fn init(conn: &mut TcpStream, id: &str) -> (i64, i16) {
    let request = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(id))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let r: InitProducerIdResponse = call(
        conn,
        ApiKey::InitProducerId,
        5,
        RequestKind::InitProducerId(request),
    )
    .await;
    assert_eq!(r.error_code, 0);
    (r.producer_id.0, r.producer_epoch)
}

/// Produce at `version` of one transactional batch to `topic`-`partition`: the error.
async fn produce(
    conn: &mut TcpStream,
    version: i16,
    (topic, partition): (&str, i32),
    producer: (i64, i16, i32),
) -> i16 {
    let request = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(s("tx"))))
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(txn_batch(producer)))])]);
    let r: ProduceResponse = call(
        conn,
        ApiKey::Produce,
        version,
        RequestKind::Produce(request),
    )
    .await;
    r.responses[0].partition_responses[0].error_code
}

/// EndTxn at `version`: (error, producer id, epoch).
async fn end(
    conn: &mut TcpStream,
    version: i16,
    (pid, epoch): (i64, i16),
    commit: bool,
) -> (i16, i64, i16) {
    let request = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_committed(commit);
    let r: EndTxnResponse = call(conn, ApiKey::EndTxn, version, RequestKind::EndTxn(request)).await;
    (r.error_code, r.producer_id.0, r.producer_epoch)
}

/// TxnOffsetCommit at `version` without AddOffsetsToTxn: the error.
async fn commit_offsets(conn: &mut TcpStream, version: i16, (pid, epoch): (i64, i16)) -> i16 {
    let request = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s("tx")))
        .with_group_id(GroupId(s("g")))
        .with_producer_id(ProducerId(pid))
        .with_producer_epoch(epoch)
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(s(""))
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(TopicName(s("v2")))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(1)])]);
    let r: TxnOffsetCommitResponse = call(
        conn,
        ApiKey::TxnOffsetCommit,
        version,
        RequestKind::TxnOffsetCommit(request),
    )
    .await;
    r.topics[0].partitions[0].error_code
}

async fn describe(conn: &mut TcpStream) -> (String, i16, usize) {
    let request = DescribeTransactionsRequest::default()
        .with_transactional_ids(vec![TransactionalId(s("tx"))]);
    let r: DescribeTransactionsResponse = call(
        conn,
        ApiKey::DescribeTransactions,
        0,
        RequestKind::DescribeTransactions(request),
    )
    .await;
    let t = &r.transaction_states[0];
    (
        t.transaction_state.to_string(),
        t.producer_epoch,
        t.topics.len(),
    )
}

#[tokio::test]
async fn transactions_v2_add_partitions_on_the_broker_and_bump_the_epoch_per_end() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create_topic(&mut conn, "v2", 3).await;
    let (pid, e) = init(&mut conn, "tx").await;

    // KIP-890 part 1: a partition the transaction did not add, by version.
    let code = |e: ErrorCode| e.code();
    assert_eq!(
        produce(&mut conn, 10, ("v2", 1), (pid, e, 0)).await,
        code(ErrorCode::InvalidTxnState)
    );
    assert_eq!(
        produce(&mut conn, 11, ("v2", 1), (pid, e, 0)).await,
        code(ErrorCode::TransactionAbortable)
    );
    assert_eq!(
        commit_offsets(&mut conn, 3, (pid, e)).await,
        code(ErrorCode::InvalidTxnState)
    );
    assert_eq!(
        commit_offsets(&mut conn, 4, (pid, e)).await,
        code(ErrorCode::TransactionAbortable)
    );
    // A wrong epoch either way is INVALID_PRODUCER_EPOCH; nothing to commit yet.
    assert_eq!(
        produce(&mut conn, 12, ("v2", 0), (pid, e + 1, 0)).await,
        code(ErrorCode::InvalidProducerEpoch)
    );
    assert_eq!(
        end(&mut conn, 5, (pid, e), true).await.0,
        code(ErrorCode::InvalidTxnState)
    );

    // Invalid acks refuse the request before its partition joins the transaction.
    let bad_acks = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(s("tx"))))
        .with_acks(2)
        .with_timeout_ms(5000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s("v2")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(2)
                .with_records(Some(txn_batch((pid, e, 0))))])]);
    let r: ProduceResponse = call(
        &mut conn,
        ApiKey::Produce,
        12,
        RequestKind::Produce(bad_acks),
    )
    .await;
    assert_eq!(
        r.responses[0].partition_responses[0].error_code,
        code(ErrorCode::InvalidRequiredAcks)
    );
    assert_eq!(describe(&mut conn).await.2, 0, "nothing joined");

    // Transactions v2: Produce v12 and v13 and TxnOffsetCommit v5 join on their own.
    assert_eq!(produce(&mut conn, 12, ("v2", 0), (pid, e, 0)).await, 0);
    // v13 names topics by id only: a name is an unknown id (the Java client's runs use ids).
    assert_eq!(
        produce(&mut conn, 13, ("v2", 1), (pid, e, 0)).await,
        code(ErrorCode::UnknownTopicId)
    );
    assert_eq!(produce(&mut conn, 12, ("v2", 1), (pid, e, 0)).await, 0);
    assert_eq!(commit_offsets(&mut conn, 5, (pid, e)).await, 0);
    let (state, epoch, topics) = describe(&mut conn).await;
    assert_eq!(
        (state.as_str(), epoch, topics),
        ("Ongoing", e, 2),
        "v2 and __consumer_offsets"
    );

    // EndTxn v5 answers with the bumped epoch; a retry gets the same answer.
    assert_eq!(end(&mut conn, 5, (pid, e), true).await, (0, pid, e + 1));
    assert_eq!(end(&mut conn, 5, (pid, e), true).await, (0, pid, e + 1));
    assert_eq!(describe(&mut conn).await.0, "CompleteCommit");
    // A late write of the committed transaction is fenced: by the coordinator, and by the
    // partition, whose marker carries the new epoch.
    assert_eq!(
        produce(&mut conn, 12, ("v2", 0), (pid, e, 1)).await,
        code(ErrorCode::InvalidProducerEpoch)
    );
    assert_eq!(
        produce(&mut conn, 9, ("v2", 0), (pid, e, 1)).await,
        code(ErrorCode::InvalidProducerEpoch)
    );

    // The next transaction starts at sequence 0 with the new epoch; an abort bumps it again.
    let e1 = e + 1;
    assert_eq!(produce(&mut conn, 12, ("v2", 0), (pid, e1, 0)).await, 0);
    assert_eq!(end(&mut conn, 5, (pid, e1), false).await, (0, pid, e1 + 1));
    // An abort with nothing added still ends with a bump; a commit of nothing is refused.
    assert_eq!(
        end(&mut conn, 5, (pid, e1 + 1), false).await,
        (0, pid, e1 + 2)
    );
    assert_eq!(
        end(&mut conn, 5, (pid, e1 + 2), true).await.0,
        code(ErrorCode::InvalidTxnState)
    );
    // Errors carry no producer id or epoch.
    assert_eq!(
        end(&mut conn, 5, (pid + 1, e1 + 2), true).await,
        (code(ErrorCode::InvalidProducerIdMapping), -1, -1)
    );
    broker.shutdown().await;
}

/// AddPartitionsToTxn v4-5, as brokers send it to the coordinator: a batch of transactions,
/// verified or added each on its own; and PRODUCER_FENCED as older clients know it.
#[tokio::test]
async fn add_partitions_v4_verifies_and_adds_a_batch_of_transactions() {
    use strom_codec::kafka_protocol::messages::add_partitions_to_txn_request::{
        AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
    };
    use strom_codec::kafka_protocol::messages::{
        AddPartitionsToTxnRequest, AddPartitionsToTxnResponse,
    };
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create_topic(&mut conn, "v2", 2).await;
    let (pid, e) = init(&mut conn, "tx").await;
    let txn = |id: &str, epoch: i16, verify: bool, topic: &str, partitions: Vec<i32>| {
        AddPartitionsToTxnTransaction::default()
            .with_transactional_id(TransactionalId(s(id)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_verify_only(verify)
            .with_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(TopicName(s(topic)))
                .with_partitions(partitions)])
    };
    let send = |transactions| {
        RequestKind::AddPartitionsToTxn(
            AddPartitionsToTxnRequest::default().with_transactions(transactions),
        )
    };
    let codes = |r: &AddPartitionsToTxnResponse| -> Vec<(String, Vec<(i32, i16)>)> {
        r.results_by_transaction
            .iter()
            .map(|t| {
                let partitions = t
                    .topic_results
                    .iter()
                    .flat_map(|tr| tr.results_by_partition.iter())
                    .map(|p| (p.partition_index, p.partition_error_code))
                    .collect();
                (t.transactional_id.0.to_string(), partitions)
            })
            .collect()
    };
    // Add partition 0 with transactions v2, in the same batch as a transaction that does
    // not exist and one naming an unknown partition.
    let r: AddPartitionsToTxnResponse = call(
        &mut conn,
        ApiKey::AddPartitionsToTxn,
        5,
        send(vec![
            txn("tx", e, false, "v2", vec![0]),
            txn("nobody", 0, false, "v2", vec![0]),
            txn("tx", e, false, "v2", vec![1, 7]),
        ]),
    )
    .await;
    let abortable = ErrorCode::TransactionAbortable.code();
    assert_eq!(
        codes(&r),
        vec![
            ("tx".to_string(), vec![(0, 0)]),
            (
                "nobody".to_string(),
                vec![(0, ErrorCode::InvalidProducerIdMapping.code())]
            ),
            (
                "tx".to_string(),
                vec![
                    (1, ErrorCode::OperationNotAttempted.code()),
                    (7, ErrorCode::UnknownTopicOrPartition.code())
                ]
            ),
        ]
    );
    // Verification: partition 0 is in the transaction, 1 is not; a stale epoch fails all.
    let r: AddPartitionsToTxnResponse = call(
        &mut conn,
        ApiKey::AddPartitionsToTxn,
        4,
        send(vec![
            txn("tx", e, true, "v2", vec![0, 1]),
            txn("tx", e - 1, true, "v2", vec![0]),
        ]),
    )
    .await;
    assert_eq!(
        codes(&r),
        vec![
            ("tx".to_string(), vec![(0, 0), (1, abortable)]),
            (
                "tx".to_string(),
                vec![(0, ErrorCode::ProducerFenced.code())]
            ),
        ]
    );
    assert_eq!(describe(&mut conn).await.2, 1, "verification adds nothing");
    // EndTxn v1 (a client from before KIP-588) hears of a fenced epoch as
    // INVALID_PRODUCER_EPOCH; v2+ as PRODUCER_FENCED.
    assert_eq!(
        end(&mut conn, 1, (pid, e - 1), true).await.0,
        ErrorCode::InvalidProducerEpoch.code()
    );
    assert_eq!(
        end(&mut conn, 2, (pid, e - 1), true).await.0,
        ErrorCode::ProducerFenced.code()
    );
    broker.shutdown().await;
}

/// TxnOffsetCommit v6 (KIP-1319): topics by id, and the group errors that older versions
/// hear as ILLEGAL_GENERATION; unknown topics are refused alone at every version.
#[tokio::test]
async fn txn_offset_commit_v6_names_topics_by_id() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    create_topic(&mut conn, "v2", 1).await;
    let id = broker.state().topics.get("v2").unwrap().id;
    let (pid, e) = init(&mut conn, "tx").await;
    let request = |generation: i32, topics: Vec<TxnOffsetCommitRequestTopic>| {
        RequestKind::TxnOffsetCommit(
            TxnOffsetCommitRequest::default()
                .with_transactional_id(TransactionalId(s("tx")))
                .with_group_id(GroupId(s("g6")))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(e)
                .with_generation_id_or_member_epoch(generation)
                .with_member_id(s(if generation < 0 { "" } else { "m" }))
                .with_topics(topics),
        )
    };
    let topic = |name: &str, topic_id: uuid::Uuid| {
        TxnOffsetCommitRequestTopic::default()
            .with_name(TopicName(s(name)))
            .with_topic_id(topic_id)
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(1)])
    };
    let codes = |r: TxnOffsetCommitResponse| -> Vec<i16> {
        r.topics
            .iter()
            .map(|t| t.partitions[0].error_code)
            .collect()
    };
    let unknown = uuid::Uuid::from_u128(7);
    let r: TxnOffsetCommitResponse = call(
        &mut conn,
        ApiKey::TxnOffsetCommit,
        6,
        request(-1, vec![topic("", id), topic("", unknown)]),
    )
    .await;
    assert_eq!(r.topics[0].topic_id, id);
    assert_eq!(codes(r), vec![0, ErrorCode::UnknownTopicId.code()]);
    // By name (v5): an unknown topic alone is refused.
    let r: TxnOffsetCommitResponse = call(
        &mut conn,
        ApiKey::TxnOffsetCommit,
        5,
        request(
            -1,
            vec![
                topic("v2", uuid::Uuid::nil()),
                topic("nope", uuid::Uuid::nil()),
            ],
        ),
    )
    .await;
    assert_eq!(codes(r), vec![0, ErrorCode::UnknownTopicOrPartition.code()]);
    // A member of a group that does not exist.
    for (version, expected) in [
        (6, ErrorCode::GroupIdNotFound),
        (5, ErrorCode::IllegalGeneration),
    ] {
        let r: TxnOffsetCommitResponse = call(
            &mut conn,
            ApiKey::TxnOffsetCommit,
            version,
            request(3, vec![topic("v2", id)]),
        )
        .await;
        assert_eq!(codes(r), vec![expected.code()], "v{version}");
    }
    broker.shutdown().await;
}
