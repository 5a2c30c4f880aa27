//! The transaction coordinator (KIP-98) for this one broker: transactional ids, their
//! producer ids and epochs, the partitions and group offsets of the open transaction, and
//! the two-phase end: `Prepare{Commit,Abort}` is persisted, COMMIT/ABORT markers are
//! written to every partition (which moves their last stable offset), committed offsets
//! become visible in their groups, then `Complete{Commit,Abort}` is persisted.
//!
//! State lives in the metadata log (one `Transaction` record per change, fsynced before the
//! answer), so a restart finishes any transaction left in a Prepare state and keeps open
//! ones open until they time out (`transaction.timeout.ms` of the producer, at most
//! `transaction.max.timeout.ms`). One mutex serialises all transaction operations; each
//! holds it only while it decides, persists and writes its markers.
//!
//! Departure from ARCHITECTURE.md: this state machine lives in the server crate (not the
//! sans-I/O coordinator crate) because its state type is the storage crate's persisted
//! record; its decisions are the pure functions at the bottom, unit-tested there.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use strom_codec::ErrorCode;
use strom_coordinator::records::partition_for;
use strom_storage::meta::{MetaRecord, TxnOffset, TxnRecord, TxnState};
use tokio::sync::Mutex;

use crate::clock::now_ms;
use crate::group_coordinator::OFFSETS_TOPIC;
use crate::state::BrokerState;

/// Kafka's `transaction.max.timeout.ms` default.
pub const TRANSACTION_TIMEOUT_MS_MAX: i32 = 900_000;
/// An epoch this high gets a fresh producer id instead of a bump (Kafka: Short.MaxValue - 1).
const EPOCH_MAX: i16 = i16::MAX - 1;

#[derive(Debug, Default)]
pub struct TxnCoordinator {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    txns: HashMap<String, TxnRecord>,
    by_producer: HashMap<i64, String>,
}

impl Inner {
    /// The transaction of `id`, if the request's producer id and epoch are its current ones.
    fn checked(&self, id: &str, producer_id: i64, epoch: i16) -> Outcome<TxnRecord> {
        let t = self
            .txns
            .get(id)
            .cloned()
            .ok_or(ErrorCode::InvalidProducerIdMapping)?;
        check_producer(&t, producer_id, epoch)?;
        Ok(t)
    }

    fn put(&mut self, t: TxnRecord) {
        self.by_producer
            .insert(t.producer_id, t.transactional_id.clone());
        self.txns.insert(t.transactional_id.clone(), t);
    }
}

type Outcome<T> = Result<T, ErrorCode>;

impl TxnCoordinator {
    /// The coordinator over the transactions replayed from the metadata log.
    pub fn new(records: impl IntoIterator<Item = TxnRecord>) -> Self {
        let mut inner = Inner::default();
        for t in records {
            inner.put(t);
        }
        Self {
            inner: Mutex::new(inner),
        }
    }

    /// InitProducerId with a transactional id: a new producer id, or the existing one with
    /// its epoch bumped (fencing older instances); an open transaction is aborted first.
    pub async fn init_producer_id(
        &self,
        state: &Arc<BrokerState>,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Outcome<(i64, i16)> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::InvalidRequest);
        }
        if timeout_ms <= 0 || timeout_ms > TRANSACTION_TIMEOUT_MS_MAX {
            return Err(ErrorCode::InvalidTransactionTimeout);
        }
        let mut inner = self.inner.lock().await;
        let now = now_ms();
        let mut record = match inner.txns.get(transactional_id).cloned() {
            None => {
                let producer_id = allocate_producer_id(state).await?;
                TxnRecord {
                    transactional_id: transactional_id.to_string(),
                    producer_id,
                    epoch: 0,
                    timeout_ms,
                    state: TxnState::Empty,
                    partitions: BTreeSet::new(),
                    offsets: BTreeMap::new(),
                    start_ms: -1,
                    updated_ms: now,
                }
            }
            Some(mut t) => {
                if let Some((pid, epoch)) = expected {
                    // KIP-360: a producer recovering its own id; anything else is stale.
                    if pid != t.producer_id || epoch != t.epoch {
                        return Err(ErrorCode::ProducerFenced);
                    }
                }
                if matches!(t.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
                    // A previous end is still being written; finish it now.
                    complete(state, &mut t).await?;
                }
                if t.state == TxnState::Ongoing {
                    t.epoch = t.epoch.saturating_add(1).min(EPOCH_MAX);
                    t.state = TxnState::PrepareAbort;
                    persist(state, &t).await?;
                    complete(state, &mut t).await?;
                }
                if t.epoch >= EPOCH_MAX {
                    inner.by_producer.remove(&t.producer_id);
                    t.producer_id = allocate_producer_id(state).await?;
                    t.epoch = 0;
                } else {
                    t.epoch += 1;
                }
                t.timeout_ms = timeout_ms;
                t.state = TxnState::Empty;
                t.partitions.clear();
                t.offsets.clear();
                t.start_ms = -1;
                t.updated_ms = now;
                t
            }
        };
        record.updated_ms = now;
        persist(state, &record).await?;
        let answer = (record.producer_id, record.epoch);
        inner.put(record);
        tracing::debug!(
            transactional_id,
            producer_id = answer.0,
            epoch = answer.1,
            "transactional producer initialised"
        );
        Ok(answer)
    }

    /// AddPartitionsToTxn: per-partition errors (unknown partitions fail alone; the others
    /// are then OPERATION_NOT_ATTEMPTED).
    pub async fn add_partitions(
        &self,
        state: &Arc<BrokerState>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Vec<((String, i32), Option<ErrorCode>)> {
        let all = |e: ErrorCode, ps: Vec<(String, i32)>| {
            ps.into_iter().map(|p| (p, Some(e))).collect::<Vec<_>>()
        };
        let mut inner = self.inner.lock().await;
        let t = match inner
            .checked(transactional_id, producer_id, epoch)
            .and_then(|t| check_addable(&t).map(|()| t))
        {
            Ok(t) => t,
            Err(e) => return all(e, partitions),
        };
        let unknown: Vec<bool> = partitions
            .iter()
            .map(|(topic, p)| {
                state
                    .topics
                    .get(topic)
                    .and_then(|tp| tp.partition(*p).cloned())
                    .is_none()
            })
            .collect();
        if unknown.iter().any(|u| *u) {
            return partitions
                .into_iter()
                .zip(unknown)
                .map(|(p, u)| {
                    (
                        p,
                        Some(if u {
                            ErrorCode::UnknownTopicOrPartition
                        } else {
                            ErrorCode::OperationNotAttempted
                        }),
                    )
                })
                .collect();
        }
        if let Err(e) = join(&mut inner, state, t, partitions.iter().cloned()).await {
            return all(e, partitions);
        }
        partitions.into_iter().map(|p| (p, None)).collect()
    }

    /// AddOffsetsToTxn: the group's offsets partition joins the transaction.
    pub async fn add_offsets(
        &self,
        state: &Arc<BrokerState>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group_id: &str,
    ) -> Outcome<()> {
        let partitions = state.groups.offsets_partitions();
        let partition = (
            OFFSETS_TOPIC.to_string(),
            partition_for(group_id, partitions),
        );
        let mut inner = self.inner.lock().await;
        let t = inner.checked(transactional_id, producer_id, epoch)?;
        check_addable(&t)?;
        join(&mut inner, state, t, std::iter::once(partition)).await
    }

    /// TxnOffsetCommit: offsets held with the transaction until it commits.
    pub async fn add_offset_commits(
        &self,
        state: &Arc<BrokerState>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group_id: &str,
        offsets: Vec<TxnOffset>,
    ) -> Outcome<()> {
        let mut inner = self.inner.lock().await;
        let mut t = inner.checked(transactional_id, producer_id, epoch)?;
        let offsets_partition = (
            OFFSETS_TOPIC.to_string(),
            partition_for(group_id, state.groups.offsets_partitions()),
        );
        if t.state != TxnState::Ongoing || !t.partitions.contains(&offsets_partition) {
            // AddOffsetsToTxn must come first.
            return Err(ErrorCode::InvalidTxnState);
        }
        let pending = t.offsets.entry(group_id.to_string()).or_default();
        for o in offsets {
            pending.retain(|p| !(p.topic == o.topic && p.partition == o.partition));
            pending.push(o);
        }
        t.updated_ms = now_ms();
        persist(state, &t).await?;
        inner.put(t);
        Ok(())
    }

    /// EndTxn: commit or abort the open transaction.
    pub async fn end(
        &self,
        state: &Arc<BrokerState>,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Outcome<()> {
        let mut inner = self.inner.lock().await;
        let mut t = inner.checked(transactional_id, producer_id, epoch)?;
        match end_transition(t.state, commit)? {
            None => return Ok(()), // a retry of an end that already completed
            Some(prepare) => t.state = prepare,
        }
        t.updated_ms = now_ms();
        persist(state, &t).await?;
        let result = complete(state, &mut t).await;
        inner.put(t);
        result
    }

    /// Checks a transactional produce: the producer's current epoch, with the partition in
    /// its open transaction (KIP-890's verification).
    pub async fn check_produce(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Option<ErrorCode> {
        let inner = self.inner.lock().await;
        let Some(t) = inner
            .by_producer
            .get(&producer_id)
            .and_then(|id| inner.txns.get(id))
        else {
            return Some(ErrorCode::InvalidProducerIdMapping);
        };
        if epoch < t.epoch {
            return Some(ErrorCode::InvalidProducerEpoch);
        }
        if epoch > t.epoch
            || t.state != TxnState::Ongoing
            || !t.partitions.contains(&(topic.to_string(), partition))
        {
            return Some(ErrorCode::InvalidTxnState);
        }
        None
    }

    /// Partitions of `group_id` with offsets waiting on an open transaction (OffsetFetch
    /// with `require_stable` answers UNSTABLE_OFFSET_COMMIT for them).
    pub async fn pending_offsets(&self, group_id: &str) -> BTreeSet<(String, i32)> {
        let inner = self.inner.lock().await;
        inner
            .txns
            .values()
            .filter(|t| t.state == TxnState::Ongoing)
            .filter_map(|t| t.offsets.get(group_id))
            .flatten()
            .map(|o| (o.topic.clone(), o.partition))
            .collect()
    }

    /// Aborts transactions past their timeout (bumping the epoch, so the producer is fenced
    /// until it re-initialises) and finishes any left in a Prepare state.
    pub async fn tick(&self, state: &Arc<BrokerState>) {
        let mut inner = self.inner.lock().await;
        let now = now_ms();
        let due: Vec<String> = inner
            .txns
            .values()
            .filter(|t| {
                matches!(t.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
                    || (t.state == TxnState::Ongoing
                        && now.saturating_sub(t.start_ms) > i64::from(t.timeout_ms))
            })
            .map(|t| t.transactional_id.clone())
            .collect();
        for id in due {
            let Some(mut t) = inner.txns.get(&id).cloned() else {
                continue;
            };
            if t.state == TxnState::Ongoing {
                tracing::info!(transactional_id = %id, timeout_ms = t.timeout_ms, "aborting a transaction past its timeout");
                t.epoch = t.epoch.saturating_add(1).min(EPOCH_MAX);
                t.state = TxnState::PrepareAbort;
                t.updated_ms = now;
                if persist(state, &t).await.is_err() {
                    continue;
                }
            }
            if let Err(e) = complete(state, &mut t).await {
                tracing::warn!(transactional_id = %id, error = ?e, "could not finish a transaction; will retry");
            }
            inner.put(t);
        }
    }

    /// (transactional id, producer id, epoch, state, timeout, start, partitions) of every
    /// transaction, for ListTransactions/DescribeTransactions.
    pub async fn snapshot(&self) -> Vec<TxnRecord> {
        let inner = self.inner.lock().await;
        let mut v: Vec<TxnRecord> = inner.txns.values().cloned().collect();
        v.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        v
    }
}

/// Adds partitions to `t`'s transaction (starting it if needed); persists and keeps the
/// result only when something changed.
async fn join(
    inner: &mut Inner,
    state: &Arc<BrokerState>,
    mut t: TxnRecord,
    partitions: impl IntoIterator<Item = (String, i32)>,
) -> Outcome<()> {
    let before = t.clone();
    begin(&mut t, now_ms());
    t.partitions.extend(partitions);
    if t != before {
        t.updated_ms = now_ms();
        persist(state, &t).await?;
        inner.put(t);
    }
    Ok(())
}

async fn allocate_producer_id(state: &Arc<BrokerState>) -> Outcome<i64> {
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || crate::api::txn::init_producer_id::allocate(&state))
        .await
        .map_err(|_| ErrorCode::CoordinatorNotAvailable)?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot persist producer id block");
            ErrorCode::CoordinatorNotAvailable
        })
}

async fn persist(state: &Arc<BrokerState>, t: &TxnRecord) -> Outcome<()> {
    let state = Arc::clone(state);
    let record = MetaRecord::Transaction(t.clone());
    tokio::task::spawn_blocking(move || state.topics.persist(record))
        .await
        .map_err(|_| ErrorCode::CoordinatorNotAvailable)?
        .map_err(|e| {
            tracing::error!(error = %e, "cannot persist transaction state");
            ErrorCode::CoordinatorNotAvailable
        })
}

/// Second phase of an end: markers, offsets, then the Complete state (persisted).
async fn complete(state: &Arc<BrokerState>, t: &mut TxnRecord) -> Outcome<()> {
    let commit = match t.state {
        TxnState::PrepareCommit => true,
        TxnState::PrepareAbort => false,
        _ => return Ok(()),
    };
    let (pid, epoch) = (t.producer_id, t.epoch);
    let partitions: Vec<(String, i32)> = t
        .partitions
        .iter()
        .filter(|(topic, _)| topic != OFFSETS_TOPIC)
        .cloned()
        .collect();
    let s = Arc::clone(state);
    let written = tokio::task::spawn_blocking(move || {
        for (topic, index) in partitions {
            let Some(partition) = s
                .topics
                .get(&topic)
                .and_then(|tp| tp.partition(index).cloned())
            else {
                continue; // deleted meanwhile
            };
            partition.append_marker(pid, epoch, commit)?;
        }
        Ok::<(), strom_storage::Error>(())
    })
    .await
    .map_err(|_| ErrorCode::CoordinatorNotAvailable)?;
    if let Err(e) = written {
        tracing::error!(transactional_id = %t.transactional_id, error = %e, "writing transaction markers failed");
        return Err(ErrorCode::CoordinatorNotAvailable);
    }
    if commit {
        let wall = now_ms();
        for (group, offsets) in std::mem::take(&mut t.offsets) {
            let offsets: Vec<(String, i32, i64, i32, Option<String>)> = offsets
                .into_iter()
                .map(|o| (o.topic, o.partition, o.offset, o.leader_epoch, o.metadata))
                .collect();
            let done = state
                .groups
                .query(move |g| {
                    let out = g.materialize_txn_offsets(wall, &group, offsets);
                    ((), out.records)
                })
                .await;
            if done.is_none() {
                return Err(ErrorCode::CoordinatorNotAvailable);
            }
        }
    }
    t.state = if commit {
        TxnState::CompleteCommit
    } else {
        TxnState::CompleteAbort
    };
    t.partitions.clear();
    t.offsets.clear();
    t.updated_ms = now_ms();
    persist(state, t).await?;
    tracing::debug!(transactional_id = %t.transactional_id, commit, "transaction completed");
    Ok(())
}

// ---------------------------------------------------------------- decisions

/// The producer id and epoch of a request against the coordinator's.
fn check_producer(t: &TxnRecord, producer_id: i64, epoch: i16) -> Outcome<()> {
    if producer_id != t.producer_id {
        return Err(ErrorCode::InvalidProducerIdMapping);
    }
    if epoch != t.epoch {
        return Err(ErrorCode::ProducerFenced);
    }
    Ok(())
}

/// Whether partitions or offsets may join now.
fn check_addable(t: &TxnRecord) -> Outcome<()> {
    match t.state {
        TxnState::PrepareCommit | TxnState::PrepareAbort => Err(ErrorCode::ConcurrentTransactions),
        _ => Ok(()),
    }
}

/// A transaction starts with its first partition or offsets.
fn begin(t: &mut TxnRecord, now: i64) {
    if t.state != TxnState::Ongoing {
        t.state = TxnState::Ongoing;
        t.start_ms = now;
        t.partitions.clear();
        t.offsets.clear();
    }
}

/// EndTxn in `state`: the Prepare state to enter, `None` for a retried end that already
/// completed the same way, or the error.
fn end_transition(state: TxnState, commit: bool) -> Outcome<Option<TxnState>> {
    match (state, commit) {
        (TxnState::Ongoing, true) => Ok(Some(TxnState::PrepareCommit)),
        (TxnState::Ongoing, false) => Ok(Some(TxnState::PrepareAbort)),
        (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(None),
        (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
            Err(ErrorCode::ConcurrentTransactions)
        }
        _ => Err(ErrorCode::InvalidTxnState),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(state: TxnState) -> TxnRecord {
        TxnRecord {
            transactional_id: "t".into(),
            producer_id: 5,
            epoch: 2,
            timeout_ms: 60_000,
            state,
            partitions: BTreeSet::new(),
            offsets: BTreeMap::new(),
            start_ms: -1,
            updated_ms: 0,
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
    }

    #[test]
    fn producer_checks_fence_old_epochs() {
        let t = record(TxnState::Ongoing);
        assert_eq!(check_producer(&t, 5, 2), Ok(()));
        assert_eq!(check_producer(&t, 5, 1), Err(ErrorCode::ProducerFenced));
        assert_eq!(
            check_producer(&t, 6, 2),
            Err(ErrorCode::InvalidProducerIdMapping)
        );
        assert_eq!(
            check_addable(&record(TxnState::PrepareCommit)),
            Err(ErrorCode::ConcurrentTransactions)
        );
    }

    #[test]
    fn a_transaction_begins_once() {
        let mut t = record(TxnState::CompleteCommit);
        t.partitions.insert(("old".into(), 0));
        begin(&mut t, 100);
        assert_eq!((t.state, t.start_ms), (TxnState::Ongoing, 100));
        assert!(t.partitions.is_empty());
        t.partitions.insert(("a".into(), 0));
        begin(&mut t, 200);
        assert_eq!(t.start_ms, 100);
        assert_eq!(t.partitions.len(), 1);
    }
}
