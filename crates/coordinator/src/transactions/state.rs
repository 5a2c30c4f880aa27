//! One transactional id's coordinator state (Kafka's `TransactionMetadata`) and the rules of
//! its transitions.
//!
//! # States (Kafka's `TransactionState`)
//!
//! | state | AddPartitions / AddOffsets / TxnOffsetCommit | EndTxn | InitProducerId | timeout |
//! |---|---|---|---|---|
//! | Empty | → Ongoing | INVALID_TXN_STATE | epoch bumped | — |
//! | Ongoing | partitions and offsets join | → PrepareCommit / PrepareAbort | epoch bumped, → PrepareAbort (fenced); CONCURRENT_TRANSACTIONS | epoch bumped, → PrepareAbort |
//! | PrepareCommit, PrepareAbort | CONCURRENT_TRANSACTIONS | the same end: CONCURRENT_TRANSACTIONS; the other: INVALID_TXN_STATE | CONCURRENT_TRANSACTIONS | markers written again |
//! | CompleteCommit, CompleteAbort | → Ongoing (a new transaction) | the same end again: done; the other: INVALID_TXN_STATE | epoch bumped | — |
//!
//! A Prepare state is left for Complete once every partition of the transaction has its
//! marker. While a change is being written (`pending`), every request for the id gets
//! CONCURRENT_TRANSACTIONS, as Kafka's `pendingState`.

use std::collections::{BTreeMap, BTreeSet};

use strom_codec::ErrorCode;

/// An epoch this high gets a fresh producer id instead of a bump (Kafka: `Short.MaxValue - 1`).
pub const EPOCH_MAX: i16 = i16::MAX - 1;

/// Kafka's `TransactionState`, with its ids as `__transaction_state` stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    /// The id Kafka writes in `TransactionLogValue.TransactionStatus`.
    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    pub fn from_id(id: i8) -> Option<Self> {
        Some(match id {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => return None,
        })
    }

    /// The name Kafka's DescribeTransactions and ListTransactions use.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// Markers are being written.
    pub fn is_prepare(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// One offset a transaction commits for a group, made visible when it commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// The coordinator's state of one `transactional.id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// Partitions in the current transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// group id -> offsets committed by the current transaction.
    pub offsets: BTreeMap<String, Vec<TxnOffset>>,
    /// Wall-clock ms the current transaction started (-1: none).
    pub start_ms: i64,
    pub last_update_ms: i64,
    /// A change of this id is being written; nothing else may change it until it is.
    pub pending: bool,
    /// The producer id before the last change (-1: none). A TV2 EndTxn retried with it after
    /// an epoch overflow is recognised (Kafka's `previousProducerId`).
    pub prev_producer_id: i64,
    /// The producer id this one moves to when the transaction being ended completes (TV2,
    /// epoch exhausted; -1: none).
    pub next_producer_id: i64,
    /// The transaction version of the requests that started or ended the current
    /// transaction: 2 for KIP-890's transactions v2, else 0 (Kafka's
    /// `clientTransactionVersion`).
    pub client_tv: i16,
}

impl TxnMetadata {
    /// A new id's state: `producer_id` at epoch 0, no transaction.
    pub fn new(transactional_id: String, producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        Self {
            transactional_id,
            producer_id,
            producer_epoch: 0,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            offsets: BTreeMap::new(),
            start_ms: -1,
            last_update_ms: now_ms,
            pending: false,
            prev_producer_id: -1,
            next_producer_id: -1,
            client_tv: 0,
        }
    }

    /// The request's producer id and epoch against this id's current ones.
    pub fn check_producer(&self, producer_id: i64, epoch: i16) -> Result<(), ErrorCode> {
        if producer_id != self.producer_id {
            return Err(ErrorCode::InvalidProducerIdMapping);
        }
        if epoch != self.producer_epoch {
            return Err(ErrorCode::ProducerFenced);
        }
        Ok(())
    }

    /// Whether partitions or offsets may join now, for the request's producer id and epoch,
    /// checked in Kafka's order: a change being written first (with TV2 the producer may
    /// already hold the id that change moves to), then the producer, then the state.
    pub fn check_addable(&self, producer_id: i64, epoch: i16) -> Result<(), ErrorCode> {
        if self.pending {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        self.check_producer(producer_id, epoch)?;
        if self.state.is_prepare() || self.state == TxnState::PrepareEpochFence {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        if self.state == TxnState::Dead {
            return Err(ErrorCode::InvalidTxnState);
        }
        Ok(())
    }

    /// A transaction starts with its first partition or offsets.
    pub fn begin(&mut self, now_ms: i64) {
        if self.state != TxnState::Ongoing {
            self.state = TxnState::Ongoing;
            self.start_ms = now_ms;
            self.partitions.clear();
            self.offsets.clear();
        }
    }

    /// The next epoch of this producer, or `None` when it is exhausted (a new producer id is
    /// due).
    pub fn next_epoch(&self) -> Option<i16> {
        (self.producer_epoch < EPOCH_MAX).then_some(self.producer_epoch + 1)
    }
}

/// EndTxn in `state`: the Prepare state to enter, `None` for a retried end that already
/// completed the same way, or the error.
pub fn end_transition(state: TxnState, commit: bool) -> Result<Option<TxnState>, ErrorCode> {
    match (state, commit) {
        (TxnState::Ongoing, true) => Ok(Some(TxnState::PrepareCommit)),
        (TxnState::Ongoing, false) => Ok(Some(TxnState::PrepareAbort)),
        (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(None),
        (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
            Err(ErrorCode::ConcurrentTransactions)
        }
        (TxnState::PrepareEpochFence, _) => Err(ErrorCode::ConcurrentTransactions),
        (
            TxnState::Empty
            | TxnState::PrepareCommit
            | TxnState::PrepareAbort
            | TxnState::CompleteCommit
            | TxnState::CompleteAbort
            | TxnState::Dead,
            _,
        ) => Err(ErrorCode::InvalidTxnState),
    }
}

/// What a TV2 EndTxn does (Kafka's `endTransaction` with an epoch-bumping client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndV2 {
    /// A retry of an end that completed the same way: answered with the stored id and epoch.
    Retried,
    /// Enter this Prepare state with the epoch bumped; `empty`: the transaction added nothing
    /// (an abort from Empty or Complete), so it has no partitions to mark.
    Prepare { state: TxnState, empty: bool },
}

/// EndTxn v5+ (KIP-890 transactions v2) against `t`: the producer's epoch moves on with every
/// end, so a request one epoch behind the stored one is a retry of an end already made, and
/// the same epoch is the producer's current transaction. The checks and their order are
/// Kafka's.
pub fn end_transition_v2(
    t: &TxnMetadata,
    producer_id: i64,
    epoch: i16,
    commit: bool,
) -> Result<EndV2, ErrorCode> {
    use TxnState::*;
    let retry_on_bump = i32::from(t.producer_epoch) == i32::from(epoch) + 1;
    let retry_on_overflow =
        t.prev_producer_id == producer_id && epoch == EPOCH_MAX && t.producer_epoch == 0;
    if t.pending {
        return Err(ErrorCode::ConcurrentTransactions);
    }
    if t.producer_id != producer_id && !retry_on_overflow {
        return Err(ErrorCode::InvalidProducerIdMapping);
    }
    let current = epoch == t.producer_epoch;
    let valid_epoch = match t.state {
        Ongoing | Empty | Dead | PrepareEpochFence => current,
        PrepareCommit | PrepareAbort => retry_on_bump,
        CompleteCommit | CompleteAbort => retry_on_bump || retry_on_overflow || current,
    };
    if !valid_epoch {
        return Err(ErrorCode::ProducerFenced);
    }
    let retry = retry_on_bump || retry_on_overflow;
    let prepare = |state, empty| Ok(EndV2::Prepare { state, empty });
    match (t.state, commit) {
        (Ongoing, true) => prepare(PrepareCommit, false),
        (Ongoing, false) => prepare(PrepareAbort, false),
        (CompleteCommit, true) | (CompleteAbort, false) if retry => Ok(EndV2::Retried),
        (CompleteCommit | CompleteAbort | Empty, false) if !retry => prepare(PrepareAbort, true),
        (PrepareCommit, true) | (PrepareAbort, false) => Err(ErrorCode::ConcurrentTransactions),
        _ => Err(ErrorCode::InvalidTxnState),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: TxnState) -> TxnMetadata {
        TxnMetadata {
            producer_epoch: 2,
            state,
            ..TxnMetadata::new("t".into(), 5, 60_000, 0)
        }
    }

    #[test]
    fn end_transitions_follow_kafka() {
        use TxnState::*;
        assert_eq!(end_transition(Ongoing, true), Ok(Some(PrepareCommit)));
        assert_eq!(end_transition(Ongoing, false), Ok(Some(PrepareAbort)));
        assert_eq!(end_transition(CompleteCommit, true), Ok(None));
        assert_eq!(end_transition(CompleteAbort, false), Ok(None));
        assert_eq!(
            end_transition(CompleteCommit, false),
            Err(ErrorCode::InvalidTxnState)
        );
        assert_eq!(end_transition(Empty, true), Err(ErrorCode::InvalidTxnState));
        assert_eq!(
            end_transition(PrepareCommit, true),
            Err(ErrorCode::ConcurrentTransactions)
        );
        assert_eq!(
            end_transition(PrepareCommit, false),
            Err(ErrorCode::InvalidTxnState)
        );
    }

    #[test]
    fn producer_checks_fence_old_epochs() {
        let t = record(TxnState::Ongoing);
        assert_eq!(t.check_producer(5, 2), Ok(()));
        assert_eq!(t.check_producer(5, 1), Err(ErrorCode::ProducerFenced));
        assert_eq!(
            t.check_producer(6, 2),
            Err(ErrorCode::InvalidProducerIdMapping)
        );
        assert_eq!(
            record(TxnState::PrepareCommit).check_addable(5, 2),
            Err(ErrorCode::ConcurrentTransactions)
        );
        assert_eq!(
            record(TxnState::PrepareCommit).check_addable(5, 1),
            Err(ErrorCode::ProducerFenced)
        );
        let mut pending = record(TxnState::Ongoing);
        pending.pending = true;
        // A change being written comes first, whatever the producer.
        assert_eq!(
            pending.check_addable(6, 9),
            Err(ErrorCode::ConcurrentTransactions)
        );
    }

    #[test]
    fn a_transaction_begins_once() {
        let mut t = record(TxnState::CompleteCommit);
        t.partitions.insert(("old".into(), 0));
        t.begin(100);
        assert_eq!((t.state, t.start_ms), (TxnState::Ongoing, 100));
        assert!(t.partitions.is_empty());
        t.partitions.insert(("a".into(), 0));
        t.begin(200);
        assert_eq!(t.start_ms, 100);
        assert_eq!(t.partitions.len(), 1);
    }

    /// Every cell of Kafka's TV2 EndTxn table: state × (abort, commit) × (retry with the
    /// epoch before the bump, the current epoch).
    #[test]
    fn tv2_end_transitions_follow_kafka() {
        use EndV2::*;
        use TxnState::*;
        let fenced = Err(ErrorCode::ProducerFenced);
        let invalid = Err(ErrorCode::InvalidTxnState);
        let concurrent = Err(ErrorCode::ConcurrentTransactions);
        let p = |state, empty| Ok(Prepare { state, empty });
        // (state, abort-retry, abort-current, commit-retry, commit-current); stored epoch 2,
        // a retry carries 1.
        let table = [
            (
                Ongoing,
                fenced,
                p(PrepareAbort, false),
                fenced,
                p(PrepareCommit, false),
            ),
            (Empty, fenced, p(PrepareAbort, true), fenced, invalid),
            (
                CompleteAbort,
                Ok(Retried),
                p(PrepareAbort, true),
                invalid,
                invalid,
            ),
            (
                CompleteCommit,
                invalid,
                p(PrepareAbort, true),
                Ok(Retried),
                invalid,
            ),
            (PrepareAbort, concurrent, fenced, invalid, fenced),
            (PrepareCommit, invalid, fenced, concurrent, fenced),
        ];
        for (state, abort_retry, abort, commit_retry, commit) in table {
            let t = record(state);
            assert_eq!(
                end_transition_v2(&t, 5, 1, false),
                abort_retry,
                "{state:?} abort retry"
            );
            assert_eq!(end_transition_v2(&t, 5, 2, false), abort, "{state:?} abort");
            assert_eq!(
                end_transition_v2(&t, 5, 1, true),
                commit_retry,
                "{state:?} commit retry"
            );
            assert_eq!(
                end_transition_v2(&t, 5, 2, true),
                commit,
                "{state:?} commit"
            );
            assert_eq!(
                end_transition_v2(&t, 6, 2, true),
                Err(ErrorCode::InvalidProducerIdMapping)
            );
            assert_eq!(
                end_transition_v2(&t, 5, 3, true),
                fenced,
                "{state:?} newer epoch"
            );
        }
        // A retry after the epoch overflowed: the old id at the last epoch, the new id at 0.
        let t = TxnMetadata {
            producer_id: 9,
            producer_epoch: 0,
            prev_producer_id: 5,
            ..record(CompleteCommit)
        };
        assert_eq!(end_transition_v2(&t, 5, EPOCH_MAX, true), Ok(Retried));
        assert_eq!(
            end_transition_v2(&t, 5, 3, true),
            Err(ErrorCode::InvalidProducerIdMapping)
        );
        let mut pending = record(Ongoing);
        pending.pending = true;
        assert_eq!(end_transition_v2(&pending, 6, 0, true), concurrent);
    }

    #[test]
    fn state_ids_round_trip() {
        for id in 0..8 {
            assert_eq!(TxnState::from_id(id).map(TxnState::id), Some(id));
        }
        assert_eq!(TxnState::from_id(8), None);
    }
}
