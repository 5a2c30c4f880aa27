//! The transaction coordinator driven as the server drives it: requests, then the writes and
//! markers it asks for reported back.

use super::*;
use crate::producer_ids::BLOCK_SIZE;

const TIMEOUT: i32 = 60_000;

fn coordinator() -> Transactions {
    let mut ids = ProducerIds::new();
    ids.add_block(1000, BLOCK_SIZE);
    Transactions::new(TxnConfig::default(), ids)
}

/// Performs what `out` asks, all writes and markers succeeding, until nothing is left; returns
/// every reply sent and every marker job written.
fn settle(
    c: &mut Transactions,
    now: i64,
    mut out: TxnOutputs,
) -> (Vec<(Token, TxnReply)>, Vec<MarkerJob>) {
    let mut replies = Vec::new();
    let mut markers = Vec::new();
    for _ in 0..100 {
        replies.append(&mut out.replies);
        let completions = std::mem::take(&mut out.completions);
        let jobs = std::mem::take(&mut out.markers);
        if completions.is_empty() && jobs.is_empty() {
            break;
        }
        for completion in completions {
            out.extend(c.written(now, completion, true));
        }
        for job in jobs {
            markers.push(job.clone());
            out.extend(c.markers_written(now, job, true));
        }
    }
    assert!(c.check_invariants().is_ok(), "{:?}", c.check_invariants());
    (replies, markers)
}

fn init(c: &mut Transactions, now: i64, id: &str) -> (i64, i16) {
    let out = c.init_producer_id(
        now,
        1,
        InitProducerId {
            transactional_id: id.into(),
            timeout_ms: TIMEOUT,
            expected: None,
        },
    );
    match settle(c, now, out).0.pop() {
        Some((1, TxnReply::InitProducerId(Ok(answer)))) => answer,
        other => panic!("{other:?}"),
    }
}

fn add(c: &mut Transactions, now: i64, id: &str, pid: i64, epoch: i16, topic: &str) -> TxnReply {
    let out = c.add_partitions(
        now,
        2,
        AddPartitions {
            transactional_id: id.into(),
            producer_id: pid,
            producer_epoch: epoch,
            partitions: vec![(topic.into(), 0), (topic.into(), 1)],
            tv2: false,
        },
    );
    settle(c, now, out)
        .0
        .pop()
        .map(|(_, r)| r)
        .expect("a reply")
}

fn end(
    c: &mut Transactions,
    now: i64,
    id: &str,
    pid: i64,
    epoch: i16,
    commit: bool,
) -> (TxnReply, Vec<MarkerJob>) {
    end_as(c, now, (id, pid, epoch), commit, false)
}

/// EndTxn by `(transactional id, producer id, epoch)`; `tv2`: as EndTxn v5.
fn end_as(
    c: &mut Transactions,
    now: i64,
    (id, pid, epoch): (&str, i64, i16),
    commit: bool,
    tv2: bool,
) -> (TxnReply, Vec<MarkerJob>) {
    let out = c.end_txn(
        now,
        3,
        EndTxn {
            transactional_id: id.into(),
            producer_id: pid,
            producer_epoch: epoch,
            commit,
            tv2,
        },
    );
    let (mut replies, markers) = settle(c, now, out);
    (replies.pop().map(|(_, r)| r).expect("a reply"), markers)
}

#[test]
fn a_transaction_commits_with_markers_on_its_partitions_and_its_offsets_made_visible() {
    let mut c = coordinator();
    let (pid, epoch) = init(&mut c, 0, "t");
    assert_eq!((pid, epoch), (1000, 0));
    assert_eq!(
        add(&mut c, 10, "t", pid, epoch, "orders"),
        TxnReply::Done(Ok(()))
    );
    let out = c.add_offsets(
        11,
        4,
        AddOffsets {
            transactional_id: "t".into(),
            producer_id: pid,
            producer_epoch: epoch,
            group_id: "g".into(),
        },
    );
    settle(&mut c, 11, out);
    let out = c.txn_offset_commit(
        12,
        5,
        TxnOffsetCommit {
            transactional_id: "t".into(),
            producer_id: pid,
            producer_epoch: epoch,
            group_id: "g".into(),
            offsets: vec![TxnOffset {
                topic: "orders".into(),
                partition: 0,
                offset: 7,
                leader_epoch: -1,
                metadata: None,
            }],
            operation: SupportedOperation::DefaultError,
        },
    );
    settle(&mut c, 12, out);
    assert_eq!(c.pending_offsets("g").len(), 1);
    let (reply, markers) = end(&mut c, 20, "t", pid, epoch, true);
    assert_eq!(reply, TxnReply::Ended(Ok((pid, epoch))));
    assert_eq!(markers.len(), 1);
    assert!(markers[0].commit);
    assert_eq!(
        markers[0].partitions,
        vec![("orders".to_string(), 0), ("orders".to_string(), 1)],
        "no marker job for the offsets topic"
    );
    assert_eq!(markers[0].offsets["g"][0].offset, 7);
    assert_eq!(c.get("t").unwrap().state, TxnState::CompleteCommit);
    assert!(c.pending_offsets("g").is_empty());
    // A retried EndTxn of the same end is answered OK, the other end is refused.
    assert_eq!(
        end(&mut c, 21, "t", pid, epoch, true).0,
        TxnReply::Ended(Ok((pid, epoch)))
    );
    assert_eq!(
        end(&mut c, 21, "t", pid, epoch, false).0,
        TxnReply::Ended(Err(ErrorCode::InvalidTxnState))
    );
}

#[test]
fn requests_during_a_write_get_concurrent_transactions() {
    let mut c = coordinator();
    let (pid, epoch) = init(&mut c, 0, "t");
    let out = c.add_partitions(
        1,
        2,
        AddPartitions {
            transactional_id: "t".into(),
            producer_id: pid,
            producer_epoch: epoch,
            partitions: vec![("a".into(), 0)],
            tv2: false,
        },
    );
    assert!(out.replies.is_empty(), "answered once written");
    let (reply, _) = end(&mut c, 1, "t", pid, epoch, true);
    assert_eq!(
        reply,
        TxnReply::Ended(Err(ErrorCode::ConcurrentTransactions))
    );
    settle(&mut c, 1, out);
    assert_eq!(
        end(&mut c, 2, "t", pid, epoch, true).0,
        TxnReply::Ended(Ok((pid, epoch)))
    );
}

#[test]
fn a_new_instance_fences_the_old_and_aborts_its_transaction() {
    let mut c = coordinator();
    let (pid, epoch) = init(&mut c, 0, "t");
    add(&mut c, 1, "t", pid, epoch, "a");
    let out = c.init_producer_id(
        2,
        9,
        InitProducerId {
            transactional_id: "t".into(),
            timeout_ms: TIMEOUT,
            expected: None,
        },
    );
    let (replies, markers) = settle(&mut c, 2, out);
    assert_eq!(
        replies,
        vec![(
            9,
            TxnReply::InitProducerId(Err(ErrorCode::ConcurrentTransactions))
        )]
    );
    assert_eq!(markers.len(), 1);
    assert!(!markers[0].commit);
    assert_eq!(c.get("t").unwrap().state, TxnState::CompleteAbort);
    // The retry gets the next epoch; the old producer is fenced.
    let (pid2, epoch2) = init(&mut c, 3, "t");
    assert_eq!((pid2, epoch2), (pid, epoch + 2));
    assert_eq!(
        add(&mut c, 4, "t", pid, epoch, "a"),
        TxnReply::Done(Err(ErrorCode::ProducerFenced))
    );
}

#[test]
fn transactions_past_their_timeout_are_aborted_with_a_bumped_epoch() {
    let mut c = coordinator();
    let (pid, epoch) = init(&mut c, 0, "t");
    add(&mut c, 1000, "t", pid, epoch, "a");
    assert!(c.tick(1000 + i64::from(TIMEOUT)).is_empty(), "not yet");
    let out = c.tick(1001 + i64::from(TIMEOUT));
    let (_, markers) = settle(&mut c, 62_000, out);
    assert_eq!(markers.len(), 1);
    assert!(!markers[0].commit);
    assert_eq!(markers[0].producer_epoch, epoch + 1);
    let t = c.get("t").unwrap();
    assert_eq!(
        (t.state, t.producer_epoch),
        (TxnState::CompleteAbort, epoch + 1)
    );
    assert_eq!(
        end(&mut c, 63_000, "t", pid, epoch, true).0,
        TxnReply::Ended(Err(ErrorCode::ProducerFenced))
    );
    // A transactions-v2 producer's abort one epoch behind is a retry of the abort made for
    // it: it goes on with the bumped epoch.
    assert_eq!(
        end_as(&mut c, 63_000, ("t", pid, epoch), false, true).0,
        TxnReply::Ended(Ok((pid, epoch + 1)))
    );
}

#[test]
fn failed_markers_leave_the_prepare_state_for_the_next_tick() {
    let mut c = coordinator();
    let (pid, epoch) = init(&mut c, 0, "t");
    add(&mut c, 1, "t", pid, epoch, "a");
    let out = c.end_txn(
        2,
        3,
        EndTxn {
            transactional_id: "t".into(),
            producer_id: pid,
            producer_epoch: epoch,
            commit: true,
            tv2: false,
        },
    );
    let completion = out.completions[0].clone();
    let out = c.written(2, completion, true);
    let job = out.markers[0].clone();
    let out = c.markers_written(2, job, false);
    assert_eq!(
        out.replies,
        vec![(3, TxnReply::Ended(Err(ErrorCode::CoordinatorNotAvailable)))]
    );
    assert_eq!(c.get("t").unwrap().state, TxnState::PrepareCommit);
    let out = c.tick(3);
    let (_, markers) = settle(&mut c, 3, out);
    assert_eq!(markers.len(), 1, "written again");
    assert_eq!(c.get("t").unwrap().state, TxnState::CompleteCommit);
}

#[test]
fn the_state_survives_a_replay_of_its_records() {
    let mut c = coordinator();
    let (pid, epoch) = init(&mut c, 0, "t");
    add(&mut c, 1, "t", pid, epoch, "a");
    let mut replayed = Transactions::new(TxnConfig::default(), ProducerIds::new());
    for r in c.snapshot_records() {
        replayed.replay(&r.key, r.value.as_deref());
    }
    let before = c.get("t").unwrap();
    let after = replayed.get("t").unwrap();
    assert_eq!(
        (after.producer_id, after.state),
        (before.producer_id, TxnState::Ongoing)
    );
    assert_eq!(after.partitions, before.partitions);
    assert_eq!(
        replayed.producer_view(pid).map(|v| v.ongoing),
        Some(true),
        "the produce path's view is rebuilt too"
    );
    // A tombstone removes the id.
    replayed.replay(&record_key("t"), None);
    assert!(replayed.get("t").is_none());
}

#[test]
fn ids_without_a_block_wait_and_idle_ids_expire() {
    let mut c = Transactions::new(TxnConfig::default(), ProducerIds::new());
    let out = c.init_producer_id(
        0,
        1,
        InitProducerId {
            transactional_id: "t".into(),
            timeout_ms: TIMEOUT,
            expected: None,
        },
    );
    assert_eq!(
        out.replies,
        vec![(
            1,
            TxnReply::InitProducerId(Err(ErrorCode::CoordinatorLoadInProgress))
        )]
    );
    c.producer_ids().add_block(0, BLOCK_SIZE);
    init(&mut c, 0, "t");
    let expiry = TxnConfig::default().id_expiration_ms;
    let out = c.tick(expiry + 1);
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.records[0].value, None, "a tombstone");
    assert!(c.get("t").is_none());
}

#[test]
fn requests_are_checked_as_kafka_checks_them() {
    let mut c = coordinator();
    let bad_timeout = c.init_producer_id(
        0,
        1,
        InitProducerId {
            transactional_id: "t".into(),
            timeout_ms: 900_001,
            expected: None,
        },
    );
    assert_eq!(
        bad_timeout.replies,
        vec![(
            1,
            TxnReply::InitProducerId(Err(ErrorCode::InvalidTransactionTimeout))
        )]
    );
    assert_eq!(
        add(&mut c, 0, "nobody", 1, 0, "a"),
        TxnReply::Done(Err(ErrorCode::InvalidProducerIdMapping))
    );
    let (pid, epoch) = init(&mut c, 0, "t");
    assert_eq!(
        end(&mut c, 0, "t", pid, epoch, true).0,
        TxnReply::Ended(Err(ErrorCode::InvalidTxnState)),
        "nothing to end"
    );
    let out = c.txn_offset_commit(
        0,
        5,
        TxnOffsetCommit {
            transactional_id: "t".into(),
            producer_id: pid,
            producer_epoch: epoch,
            group_id: "g".into(),
            offsets: Vec::new(),
            operation: SupportedOperation::DefaultError,
        },
    );
    assert_eq!(
        out.replies,
        vec![(5, TxnReply::Done(Err(ErrorCode::InvalidTxnState)))],
        "AddOffsetsToTxn first"
    );
}

fn txn_offsets(
    c: &mut Transactions,
    pid: i64,
    epoch: i16,
    operation: SupportedOperation,
) -> TxnReply {
    let out = c.txn_offset_commit(
        0,
        5,
        TxnOffsetCommit {
            transactional_id: "t".into(),
            producer_id: pid,
            producer_epoch: epoch,
            group_id: "g".into(),
            offsets: vec![TxnOffset {
                topic: "a".into(),
                partition: 0,
                offset: 3,
                leader_epoch: -1,
                metadata: None,
            }],
            operation,
        },
    );
    settle(c, 0, out).0.pop().map(|(_, r)| r).expect("a reply")
}

#[test]
fn txn_offset_commit_without_add_offsets_depends_on_the_request_version() {
    let mut c = coordinator();
    let (pid, epoch) = init(&mut c, 0, "t");
    assert_eq!(
        txn_offsets(
            &mut c,
            pid,
            epoch,
            SupportedOperation::GenericErrorSupported
        ),
        TxnReply::Done(Err(ErrorCode::TransactionAbortable)),
        "v4"
    );
    assert_eq!(
        txn_offsets(&mut c, pid, epoch, SupportedOperation::AddPartition),
        TxnReply::Done(Ok(())),
        "v5 adds the offsets partition itself"
    );
    let t = c.get("t").unwrap();
    assert_eq!((t.state, t.client_tv), (TxnState::Ongoing, 2));
    assert_eq!(c.pending_offsets("g").len(), 1);
    let (reply, markers) = end_as(&mut c, 1, ("t", pid, epoch), true, true);
    assert_eq!(reply, TxnReply::Ended(Ok((pid, epoch + 1))));
    assert_eq!(markers[0].offsets["g"][0].offset, 3);
    assert_eq!(markers[0].producer_epoch, epoch + 1);
}

/// Transactions v2: every end bumps the epoch (markers carry the bumped one), a retried end
/// is answered with it, an abort needs no transaction, and an exhausted epoch moves the
/// producer to a new id.
#[test]
fn tv2_ends_bump_the_epoch_and_roll_the_producer_id_over() {
    let mut c = coordinator();
    let (pid, e0) = init(&mut c, 0, "t");
    add(&mut c, 1, "t", pid, e0, "a");
    let (reply, markers) = end_as(&mut c, 2, ("t", pid, e0), true, true);
    assert_eq!(reply, TxnReply::Ended(Ok((pid, e0 + 1))));
    assert_eq!(
        (markers[0].producer_epoch, markers[0].commit),
        (e0 + 1, true)
    );
    assert_eq!(c.producer_view(pid).map(|v| v.producer_epoch), Some(e0 + 1));
    // The retry of that commit, with the epoch it was sent with.
    assert_eq!(
        end_as(&mut c, 3, ("t", pid, e0), true, true).0,
        TxnReply::Ended(Ok((pid, e0 + 1)))
    );
    // An abort with nothing added still bumps the epoch, and marks nothing.
    let (reply, markers) = end_as(&mut c, 4, ("t", pid, e0 + 1), false, true);
    assert_eq!(reply, TxnReply::Ended(Ok((pid, e0 + 2))));
    assert!(markers[0].partitions.is_empty());
    assert_eq!(c.get("t").unwrap().state, TxnState::CompleteAbort);
    // A commit with nothing added is refused.
    assert_eq!(
        end_as(&mut c, 5, ("t", pid, e0 + 2), true, true).0,
        TxnReply::Ended(Err(ErrorCode::InvalidTxnState))
    );

    // Near the end of the epochs: the markers take the last one, then a new id at 0.
    let mut t = c.get("t").unwrap().clone();
    t.producer_epoch = EPOCH_MAX - 1;
    c.adopt(t);
    add(&mut c, 6, "t", pid, EPOCH_MAX - 1, "a");
    assert_eq!(
        end_as(&mut c, 7, ("t", pid, EPOCH_MAX - 1), true, true).0,
        TxnReply::Ended(Ok((pid, EPOCH_MAX)))
    );
    add(&mut c, 8, "t", pid, EPOCH_MAX, "a");
    let (reply, markers) = end_as(&mut c, 9, ("t", pid, EPOCH_MAX), false, true);
    let TxnReply::Ended(Ok((new_pid, 0))) = reply else {
        panic!("{reply:?}");
    };
    assert_ne!(new_pid, pid);
    assert_eq!(
        (markers[0].producer_id, markers[0].producer_epoch),
        (pid, i16::MAX)
    );
    assert_eq!(c.producer_view(pid), None, "the old id is forgotten");
    assert!(c.producer_view(new_pid).is_some());
    // The abort retried with the old id and epoch gets the new id.
    assert_eq!(
        end_as(&mut c, 10, ("t", pid, EPOCH_MAX), false, true).0,
        TxnReply::Ended(Ok((new_pid, 0)))
    );
    // The log keeps what a restart needs.
    let mut replayed = Transactions::new(TxnConfig::default(), ProducerIds::new());
    for r in c.snapshot_records() {
        replayed.replay(&r.key, r.value.as_deref());
    }
    assert_eq!(replayed.get("t"), c.get("t"));
}

#[test]
fn verification_answers_per_partition_as_kafka() {
    let mut c = coordinator();
    assert_eq!(
        c.verify_partitions("t", 1, 0, &[("a".into(), 0)]),
        Err(ErrorCode::InvalidProducerIdMapping)
    );
    let (pid, epoch) = init(&mut c, 0, "t");
    add(&mut c, 1, "t", pid, epoch, "a");
    assert_eq!(
        c.verify_partitions("t", pid, epoch, &[("a".into(), 1), ("b".into(), 0)]),
        Ok(vec![None, Some(ErrorCode::TransactionAbortable)])
    );
    assert_eq!(
        c.verify_partitions("t", pid, epoch + 1, &[("a".into(), 1)]),
        Err(ErrorCode::ProducerFenced)
    );
    assert_eq!(
        c.verify_partitions("", pid, epoch, &[("a".into(), 1)]),
        Err(ErrorCode::InvalidRequest)
    );
}
