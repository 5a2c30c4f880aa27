//! The transaction coordinator (KIP-98), sans-I/O: every transactional id's state, changed by
//! `(now, request)` calls that return [`TxnOutputs`] — records to append to
//! `__transaction_state`, markers to write, replies — and told by the server when a write is
//! done ([`Transactions::written`], [`Transactions::markers_written`]). Producer ids come from
//! blocks the server obtains from the controller ([`crate::ProducerIds`]).
//!
//! An end runs as Kafka's does: `Prepare{Commit,Abort}` is written, then a COMMIT or ABORT
//! marker goes to every partition of the transaction (which moves their last stable offset)
//! and committed offsets become visible in their groups, then `Complete{Commit,Abort}` is
//! written and EndTxn answered. A transaction past its timeout is aborted with a bumped
//! epoch, fencing its producer; one left in a Prepare state (a restart, a failed marker
//! write) gets its markers again at the next [`Transactions::tick`].

mod log;
mod requests;
mod state;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use strom_codec::ErrorCode;

use crate::group::Token;
use crate::producer_ids::ProducerIds;
use crate::records::partition_for;

pub use log::{decode_key, decode_value, key as record_key, value as record_value};
pub use requests::{
    AddOffsets, AddPartitions, EndTxn, InitProducerId, SupportedOperation, TxnOffsetCommit,
};
pub use state::{
    end_transition, end_transition_v2, EndV2, TxnMetadata, TxnOffset, TxnState, EPOCH_MAX,
};

/// Name of Kafka's internal transaction log topic.
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// `transaction.max.timeout.ms`: the longest timeout a producer may ask for.
    pub max_timeout_ms: i32,
    /// `transaction.state.log.num.partitions`.
    pub log_partitions: i32,
    /// `offsets.topic.num.partitions`: where a group's offsets partition is.
    pub offsets_partitions: i32,
    /// `transactional.id.expiration.ms`: an id idle (and not in a transaction) this long is
    /// forgotten.
    pub id_expiration_ms: i64,
}

impl Default for TxnConfig {
    /// Kafka's defaults.
    fn default() -> Self {
        Self {
            max_timeout_ms: 900_000,
            log_partitions: 50,
            offsets_partitions: 50,
            id_expiration_ms: 7 * 24 * 3600 * 1000,
        }
    }
}

/// One record to append to `__transaction_state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnRecord {
    pub partition: i32,
    pub key: bytes::Bytes,
    /// `None`: the id is removed.
    pub value: Option<bytes::Bytes>,
}

/// A reply to a request, sent once what it waits for is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnReply {
    /// InitProducerId: the producer id and epoch.
    InitProducerId(Result<(i64, i16), ErrorCode>),
    /// AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit.
    Done(Result<(), ErrorCode>),
    /// EndTxn: the producer id and epoch the producer goes on with (EndTxn v5 returns them).
    Ended(Result<(i64, i16), ErrorCode>),
}

/// What a write waits to be told about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnCompletion {
    /// A change of `transactional_id` that answers `reply` (if any) once written.
    Changed {
        transactional_id: String,
        reply: Option<(Token, TxnReply)>,
    },
    /// A Prepare state was written: its markers are due next; `reply` answers EndTxn when the
    /// transaction completes.
    Prepared {
        transactional_id: String,
        reply: Option<Token>,
    },
    /// A Complete state was written: EndTxn is answered.
    Completed {
        transactional_id: String,
        reply: Option<Token>,
    },
}

/// Markers to write for one transaction end, and, for a commit, offsets to make visible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerJob {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    /// Every partition of the transaction but the offsets topic's.
    pub partitions: Vec<(String, i32)>,
    /// group id -> offsets, made visible when committing.
    pub offsets: BTreeMap<String, Vec<TxnOffset>>,
    /// EndTxn, answered once the transaction completes.
    pub reply: Option<Token>,
}

/// What the server must do: append `records` (in order), then tell [`Transactions::written`]
/// each of `completions` with the outcome; write each marker job, then tell
/// [`Transactions::markers_written`]; send `replies` at once.
#[derive(Debug, Default, PartialEq)]
pub struct TxnOutputs {
    pub records: Vec<TxnRecord>,
    pub completions: Vec<TxnCompletion>,
    pub markers: Vec<MarkerJob>,
    pub replies: Vec<(Token, TxnReply)>,
}

impl TxnOutputs {
    fn reply(token: Token, reply: TxnReply) -> Self {
        Self {
            replies: vec![(token, reply)],
            ..Self::default()
        }
    }

    pub fn extend(&mut self, other: TxnOutputs) {
        self.records.extend(other.records);
        self.completions.extend(other.completions);
        self.markers.extend(other.markers);
        self.replies.extend(other.replies);
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
            && self.completions.is_empty()
            && self.markers.is_empty()
            && self.replies.is_empty()
    }
}

/// What the produce path checks of a transactional batch's producer (KIP-890's verification):
/// its epoch, and the partitions of its open transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerView {
    pub producer_epoch: i16,
    pub ongoing: bool,
    /// The transaction is being ended (its markers are being written).
    pub ending: bool,
    pub partitions: BTreeSet<(String, i32)>,
}

#[derive(Debug)]
pub struct Transactions {
    config: TxnConfig,
    txns: HashMap<String, TxnMetadata>,
    by_producer: HashMap<i64, String>,
    producer_ids: ProducerIds,
}

impl Transactions {
    pub fn new(config: TxnConfig, producer_ids: ProducerIds) -> Self {
        Self {
            config,
            txns: HashMap::new(),
            by_producer: HashMap::new(),
            producer_ids,
        }
    }

    pub fn config(&self) -> &TxnConfig {
        &self.config
    }

    pub fn producer_ids(&mut self) -> &mut ProducerIds {
        &mut self.producer_ids
    }

    pub fn get(&self, transactional_id: &str) -> Option<&TxnMetadata> {
        self.txns.get(transactional_id)
    }

    /// Every transactional id's state, by id.
    pub fn all(&self) -> Vec<&TxnMetadata> {
        let mut v: Vec<&TxnMetadata> = self.txns.values().collect();
        v.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        v
    }

    /// The `__transaction_state` partition of `transactional_id`.
    pub fn partition_for(&self, transactional_id: &str) -> i32 {
        partition_for(transactional_id, self.config.log_partitions)
    }

    fn put(&mut self, t: TxnMetadata) {
        self.by_producer
            .insert(t.producer_id, t.transactional_id.clone());
        self.txns.insert(t.transactional_id.clone(), t);
    }

    /// The record that persists `t`.
    fn record(&self, t: &TxnMetadata) -> TxnRecord {
        TxnRecord {
            partition: self.partition_for(&t.transactional_id),
            key: log::key(&t.transactional_id),
            value: Some(log::value(t)),
        }
    }

    /// Stores `t` as pending, with the record that persists it and `completion` to hear of.
    fn write(&mut self, mut t: TxnMetadata, completion: TxnCompletion) -> TxnOutputs {
        t.pending = true;
        t.prev_producer_id = self
            .txns
            .get(&t.transactional_id)
            .map_or(-1, |old| old.producer_id);
        let record = self.record(&t);
        self.put(t);
        TxnOutputs {
            records: vec![record],
            completions: vec![completion],
            ..TxnOutputs::default()
        }
    }

    /// What the produce path checks of `producer_id`'s transactional batches.
    pub fn producer_view(&self, producer_id: i64) -> Option<ProducerView> {
        let t = self.txns.get(self.by_producer.get(&producer_id)?)?;
        Some(ProducerView {
            producer_epoch: t.producer_epoch,
            ongoing: t.state == TxnState::Ongoing,
            ending: t.state.is_prepare() || t.state == TxnState::PrepareEpochFence,
            partitions: t.partitions.clone(),
        })
    }

    /// Partitions of `group_id` with offsets waiting on an open transaction (OffsetFetch with
    /// `require_stable` answers UNSTABLE_OFFSET_COMMIT for them).
    pub fn pending_offsets(&self, group_id: &str) -> BTreeSet<(String, i32)> {
        self.txns
            .values()
            .filter(|t| t.state == TxnState::Ongoing || t.state.is_prepare())
            .filter_map(|t| t.offsets.get(group_id))
            .flatten()
            .map(|o| (o.topic.clone(), o.partition))
            .collect()
    }

    /// Applies one record read back from `__transaction_state` at start-up.
    pub fn replay(&mut self, key: &[u8], value: Option<&[u8]>) {
        let Some(id) = log::decode_key(key) else {
            return;
        };
        match value.and_then(|v| log::decode_value(&id, v)) {
            Some(t) => {
                if let Some(old) = self.txns.get(&id) {
                    if old.producer_id != t.producer_id {
                        self.by_producer.remove(&old.producer_id);
                    }
                }
                self.put(t);
            }
            None => {
                if let Some(old) = self.txns.remove(&id) {
                    self.by_producer.remove(&old.producer_id);
                }
            }
        }
    }

    /// Adopts `t` (a transaction an earlier Strom kept in its metadata file), with the record
    /// that moves it into `__transaction_state`.
    pub fn adopt(&mut self, t: TxnMetadata) -> TxnRecord {
        let record = self.record(&t);
        self.put(t);
        record
    }

    /// The live state as records (every id's latest value).
    pub fn snapshot_records(&self) -> Vec<TxnRecord> {
        self.all().into_iter().map(|t| self.record(t)).collect()
    }

    /// A write the server made for `completion` is done (`ok`) or failed.
    pub fn written(&mut self, now_ms: i64, completion: TxnCompletion, ok: bool) -> TxnOutputs {
        let (TxnCompletion::Changed {
            transactional_id, ..
        }
        | TxnCompletion::Prepared {
            transactional_id, ..
        }
        | TxnCompletion::Completed {
            transactional_id, ..
        }) = &completion;
        let id = transactional_id.clone();
        let Some(t) = self.txns.get_mut(&id) else {
            return TxnOutputs::default();
        };
        t.pending = false;
        if !ok {
            // Kafka answers a failed write with an error the client retries; the state in
            // memory is what was being written, so the next request or tick writes it again.
            let error = ErrorCode::CoordinatorNotAvailable;
            return match completion {
                TxnCompletion::Changed {
                    reply: Some((token, TxnReply::InitProducerId(_))),
                    ..
                } => TxnOutputs::reply(token, TxnReply::InitProducerId(Err(error))),
                TxnCompletion::Changed {
                    reply: Some((token, _)),
                    ..
                } => TxnOutputs::reply(token, TxnReply::Done(Err(error))),
                TxnCompletion::Prepared {
                    reply: Some(token), ..
                }
                | TxnCompletion::Completed {
                    reply: Some(token), ..
                } => TxnOutputs::reply(token, TxnReply::Ended(Err(error))),
                _ => TxnOutputs::default(),
            };
        }
        t.last_update_ms = now_ms;
        let ended = (t.producer_id, t.producer_epoch);
        match completion {
            TxnCompletion::Changed { reply, .. } => TxnOutputs {
                replies: reply.into_iter().collect(),
                ..TxnOutputs::default()
            },
            TxnCompletion::Prepared { reply, .. } => self.marker_job(&id, reply),
            TxnCompletion::Completed { reply, .. } => TxnOutputs {
                replies: reply
                    .map(|token| (token, TxnReply::Ended(Ok(ended))))
                    .into_iter()
                    .collect(),
                ..TxnOutputs::default()
            },
        }
    }

    /// The marker job of `id`'s Prepare state.
    fn marker_job(&mut self, id: &str, reply: Option<Token>) -> TxnOutputs {
        let offsets_topic = crate::OFFSETS_TOPIC;
        let Some(t) = self.txns.get_mut(id) else {
            return TxnOutputs::default();
        };
        let commit = match t.state {
            TxnState::PrepareCommit => true,
            TxnState::PrepareAbort => false,
            _ => return TxnOutputs::default(),
        };
        t.pending = true;
        TxnOutputs {
            markers: vec![MarkerJob {
                transactional_id: id.to_string(),
                producer_id: t.producer_id,
                producer_epoch: t.producer_epoch,
                commit,
                partitions: t
                    .partitions
                    .iter()
                    .filter(|(topic, _)| topic != offsets_topic)
                    .cloned()
                    .collect(),
                offsets: if commit {
                    t.offsets.clone()
                } else {
                    BTreeMap::new()
                },
                reply,
            }],
            ..TxnOutputs::default()
        }
    }

    /// The markers of a job were written (`ok`) or not. Written: the transaction completes
    /// (its Complete state is written next). Not: it stays in its Prepare state and the next
    /// tick tries again; EndTxn is told to retry.
    pub fn markers_written(&mut self, now_ms: i64, job: MarkerJob, ok: bool) -> TxnOutputs {
        let Some(t) = self.txns.get(&job.transactional_id) else {
            return TxnOutputs::default();
        };
        if !ok || t.producer_id != job.producer_id || !t.state.is_prepare() {
            if let Some(t) = self.txns.get_mut(&job.transactional_id) {
                t.pending = false;
            }
            return match job.reply {
                Some(token) => TxnOutputs::reply(
                    token,
                    TxnReply::Ended(Err(ErrorCode::CoordinatorNotAvailable)),
                ),
                None => TxnOutputs::default(),
            };
        }
        let mut t = t.clone();
        t.state = if job.commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        t.partitions.clear();
        t.offsets.clear();
        t.last_update_ms = now_ms;
        if t.next_producer_id >= 0 {
            // Transactions v2 with the epoch exhausted: the producer goes on with a new id.
            self.by_producer.remove(&t.producer_id);
            t.producer_id = t.next_producer_id;
            t.producer_epoch = 0;
            t.next_producer_id = -1;
        }
        self.write(
            t,
            TxnCompletion::Completed {
                transactional_id: job.transactional_id,
                reply: job.reply,
            },
        )
    }

    /// Aborts transactions past their timeout (bumping the epoch, so that the producer is
    /// fenced until it initialises again), writes the markers of those left in a Prepare
    /// state, and forgets ids idle past `transactional.id.expiration.ms`.
    pub fn tick(&mut self, now_ms: i64) -> TxnOutputs {
        let mut out = TxnOutputs::default();
        let mut due: Vec<String> = Vec::new();
        let mut prepared: Vec<String> = Vec::new();
        let mut expired: Vec<String> = Vec::new();
        for t in self.txns.values().filter(|t| !t.pending) {
            match t.state {
                TxnState::Ongoing
                    if now_ms.saturating_sub(t.start_ms) > i64::from(t.timeout_ms) =>
                {
                    due.push(t.transactional_id.clone())
                }
                TxnState::PrepareCommit | TxnState::PrepareAbort => {
                    prepared.push(t.transactional_id.clone())
                }
                TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
                    if now_ms.saturating_sub(t.last_update_ms) > self.config.id_expiration_ms =>
                {
                    expired.push(t.transactional_id.clone())
                }
                _ => {}
            }
        }
        for id in due {
            out.extend(self.abort_timed_out(&id, now_ms));
        }
        for id in prepared {
            out.extend(self.marker_job(&id, None));
        }
        for id in expired {
            if let Some(t) = self.txns.remove(&id) {
                self.by_producer.remove(&t.producer_id);
                out.records.push(TxnRecord {
                    partition: self.partition_for(&id),
                    key: log::key(&id),
                    value: None,
                });
            }
        }
        out
    }

    fn abort_timed_out(&mut self, id: &str, now_ms: i64) -> TxnOutputs {
        let Some(mut t) = self.txns.get(id).cloned() else {
            return TxnOutputs::default();
        };
        // Kafka's PrepareEpochFence: the epoch moves so that the producer cannot write into
        // the aborted transaction; an exhausted epoch keeps its value and the abort fences
        // by state alone.
        t.producer_epoch = t.next_epoch().unwrap_or(t.producer_epoch);
        t.state = TxnState::PrepareAbort;
        t.last_update_ms = now_ms;
        self.write(
            t,
            TxnCompletion::Prepared {
                transactional_id: id.to_string(),
                reply: None,
            },
        )
    }

    /// Checks the invariants every state holds; `Err` names the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        for t in self.txns.values() {
            if self.by_producer.get(&t.producer_id) != Some(&t.transactional_id) {
                return Err(format!(
                    "producer {} does not map back to {}",
                    t.producer_id, t.transactional_id
                ));
            }
            let settled = matches!(
                t.state,
                TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
            );
            if settled && (!t.partitions.is_empty() || !t.offsets.is_empty()) {
                return Err(format!(
                    "{} is {:?} with partitions or offsets",
                    t.transactional_id, t.state
                ));
            }
        }
        Ok(())
    }
}
