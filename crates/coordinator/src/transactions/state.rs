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
}

impl TxnMetadata {
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

    /// Whether partitions or offsets may join now.
    pub fn check_addable(&self) -> Result<(), ErrorCode> {
        if self.pending || self.state.is_prepare() || self.state == TxnState::PrepareEpochFence {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: TxnState) -> TxnMetadata {
        TxnMetadata {
            transactional_id: "t".into(),
            producer_id: 5,
            producer_epoch: 2,
            timeout_ms: 60_000,
            state,
            partitions: BTreeSet::new(),
            offsets: BTreeMap::new(),
            start_ms: -1,
            last_update_ms: 0,
            pending: false,
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
            record(TxnState::PrepareCommit).check_addable(),
            Err(ErrorCode::ConcurrentTransactions)
        );
        let mut pending = record(TxnState::Ongoing);
        pending.pending = true;
        assert_eq!(
            pending.check_addable(),
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

    #[test]
    fn state_ids_round_trip() {
        for id in 0..8 {
            assert_eq!(TxnState::from_id(id).map(TxnState::id), Some(id));
        }
        assert_eq!(TxnState::from_id(8), None);
    }
}
