//! The transactional producer's requests: InitProducerId, AddPartitionsToTxn,
//! AddOffsetsToTxn, TxnOffsetCommit and EndTxn.

use strom_codec::ErrorCode;

use super::state::{end_transition, end_transition_v2, EndV2, TxnMetadata, TxnOffset, TxnState};
use super::{Transactions, TxnCompletion, TxnOutputs, TxnReply};
use crate::group::Token;
use crate::records::partition_for;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProducerId {
    pub transactional_id: String,
    pub timeout_ms: i32,
    /// KIP-360: the id and epoch a producer recovering from an error already has.
    pub expected: Option<(i64, i16)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddPartitions {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub partitions: Vec<(String, i32)>,
    /// Added implicitly by a KIP-890 transactions-v2 request (Produce v12+) rather than by
    /// the client's AddPartitionsToTxn.
    pub tv2: bool,
}

/// What a request does with a partition its transaction has not added (Kafka's
/// `TransactionSupportedOperation`, chosen by the request's version).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupportedOperation {
    /// INVALID_TXN_STATE (TxnOffsetCommit v0-3, Produce v0-10).
    DefaultError,
    /// TRANSACTION_ABORTABLE, which the client aborts on and carries on (TxnOffsetCommit v4,
    /// Produce v11).
    GenericErrorSupported,
    /// The partition joins the transaction (transactions v2: TxnOffsetCommit v5+, Produce
    /// v12+).
    AddPartition,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddOffsets {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub group_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffsetCommit {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub group_id: String,
    pub offsets: Vec<TxnOffset>,
    /// When the group's offsets partition is not in the transaction yet.
    pub operation: SupportedOperation,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndTxn {
    pub transactional_id: String,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    /// EndTxn v5+: KIP-890 transactions v2, the epoch bumped by every end.
    pub tv2: bool,
}

fn done(token: Token, result: Result<(), ErrorCode>) -> TxnOutputs {
    TxnOutputs::reply(token, TxnReply::Done(result))
}

impl Transactions {
    /// A producer id for an idempotent producer (InitProducerId without a transactional
    /// id); `None` until the server has obtained a block of ids (COORDINATOR_LOAD_IN_PROGRESS
    /// for the client, which retries).
    pub fn allocate_producer_id(&mut self) -> Option<i64> {
        self.producer_ids.next_id()
    }

    /// InitProducerId with a transactional id: a new producer id, or the existing one with its
    /// epoch bumped (fencing older instances). An open transaction is aborted first; the
    /// producer is told CONCURRENT_TRANSACTIONS meanwhile and retries.
    pub fn init_producer_id(
        &mut self,
        now_ms: i64,
        token: Token,
        req: InitProducerId,
    ) -> TxnOutputs {
        let reply = |r| TxnOutputs::reply(token, TxnReply::InitProducerId(r));
        if req.transactional_id.is_empty() {
            return reply(Err(ErrorCode::InvalidRequest));
        }
        if req.timeout_ms <= 0 || req.timeout_ms > self.config.max_timeout_ms {
            return reply(Err(ErrorCode::InvalidTransactionTimeout));
        }
        let Some(existing) = self.txns.get(&req.transactional_id).cloned() else {
            let Some(producer_id) = self.producer_ids.next_id() else {
                return reply(Err(ErrorCode::CoordinatorLoadInProgress));
            };
            let t = TxnMetadata::new(
                req.transactional_id.clone(),
                producer_id,
                req.timeout_ms,
                now_ms,
            );
            return self.write(
                t,
                TxnCompletion::Changed {
                    transactional_id: req.transactional_id,
                    reply: Some((token, TxnReply::InitProducerId(Ok((producer_id, 0))))),
                },
            );
        };
        if existing.pending || existing.state.is_prepare() {
            return reply(Err(ErrorCode::ConcurrentTransactions));
        }
        if let Some(expected) = req.expected {
            // KIP-360: a producer recovering its own id; anything else is stale.
            if expected != (existing.producer_id, existing.producer_epoch) {
                return reply(Err(ErrorCode::ProducerFenced));
            }
        }
        let mut t = existing;
        if t.state == TxnState::Ongoing {
            // Fence the old producer and abort its transaction; this one retries.
            t.producer_epoch = t.next_epoch().unwrap_or(t.producer_epoch);
            t.state = TxnState::PrepareAbort;
            t.last_update_ms = now_ms;
            let mut out = self.write(
                t,
                TxnCompletion::Prepared {
                    transactional_id: req.transactional_id,
                    reply: None,
                },
            );
            out.replies.push((
                token,
                TxnReply::InitProducerId(Err(ErrorCode::ConcurrentTransactions)),
            ));
            return out;
        }
        match t.next_epoch() {
            Some(epoch) => t.producer_epoch = epoch,
            None => {
                let Some(producer_id) = self.producer_ids.next_id() else {
                    return reply(Err(ErrorCode::CoordinatorLoadInProgress));
                };
                self.by_producer.remove(&t.producer_id);
                t.producer_id = producer_id;
                t.producer_epoch = 0;
            }
        }
        t.timeout_ms = req.timeout_ms;
        t.state = TxnState::Empty;
        t.partitions.clear();
        t.offsets.clear();
        t.start_ms = -1;
        t.last_update_ms = now_ms;
        let answer = (t.producer_id, t.producer_epoch);
        self.write(
            t,
            TxnCompletion::Changed {
                transactional_id: req.transactional_id,
                reply: Some((token, TxnReply::InitProducerId(Ok(answer)))),
            },
        )
    }

    /// The id's state if the request's producer id and epoch are its current ones and
    /// partitions may join.
    fn addable(&self, id: &str, producer_id: i64, epoch: i16) -> Result<TxnMetadata, ErrorCode> {
        let t = self
            .txns
            .get(id)
            .ok_or(ErrorCode::InvalidProducerIdMapping)?;
        t.check_addable(producer_id, epoch)?;
        Ok(t.clone())
    }

    /// Adds partitions to the id's transaction (starting it if needed); answers once written,
    /// or at once when nothing changes.
    fn join(
        &mut self,
        now_ms: i64,
        token: Token,
        mut t: TxnMetadata,
        partitions: impl IntoIterator<Item = (String, i32)>,
        tv2: bool,
    ) -> TxnOutputs {
        let before = t.clone();
        if t.state != TxnState::Ongoing {
            t.client_tv = if tv2 { 2 } else { 0 };
        }
        t.begin(now_ms);
        t.partitions.extend(partitions);
        if t == before {
            return done(token, Ok(()));
        }
        t.last_update_ms = now_ms;
        let id = t.transactional_id.clone();
        self.write(
            t,
            TxnCompletion::Changed {
                transactional_id: id,
                reply: Some((token, TxnReply::Done(Ok(())))),
            },
        )
    }

    /// AddPartitionsToTxn. The server checks beforehand that the partitions exist.
    pub fn add_partitions(&mut self, now_ms: i64, token: Token, req: AddPartitions) -> TxnOutputs {
        match self.addable(&req.transactional_id, req.producer_id, req.producer_epoch) {
            Ok(t) => self.join(now_ms, token, t, req.partitions, req.tv2),
            Err(e) => done(token, Err(e)),
        }
    }

    /// AddPartitionsToTxn v4+ with `VerifyOnly` (what a broker asks before appending a
    /// transactional batch, KIP-890): per partition, whether it is in the id's transaction
    /// (TRANSACTION_ABORTABLE if not), or the error for them all. As Kafka's
    /// `handleVerifyPartitionsInTransaction`, a change being written is not waited for.
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<Vec<Option<ErrorCode>>, ErrorCode> {
        if transactional_id.is_empty() {
            return Err(ErrorCode::InvalidRequest);
        }
        let t = self
            .txns
            .get(transactional_id)
            .ok_or(ErrorCode::InvalidProducerIdMapping)?;
        t.check_producer(producer_id, epoch)?;
        if t.state.is_prepare() {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        Ok(partitions
            .iter()
            .map(|p| (!t.partitions.contains(p)).then_some(ErrorCode::TransactionAbortable))
            .collect())
    }

    /// AddOffsetsToTxn: the group's offsets partition joins the transaction.
    pub fn add_offsets(&mut self, now_ms: i64, token: Token, req: AddOffsets) -> TxnOutputs {
        let partition = (
            crate::OFFSETS_TOPIC.to_string(),
            partition_for(&req.group_id, self.config.offsets_partitions),
        );
        match self.addable(&req.transactional_id, req.producer_id, req.producer_epoch) {
            Ok(t) => self.join(now_ms, token, t, std::iter::once(partition), false),
            Err(e) => done(token, Err(e)),
        }
    }

    /// TxnOffsetCommit: offsets held with the transaction until it commits. The group's own
    /// checks (member, generation) are the group coordinator's, made beforehand.
    pub fn txn_offset_commit(
        &mut self,
        now_ms: i64,
        token: Token,
        req: TxnOffsetCommit,
    ) -> TxnOutputs {
        let mut t = match self.addable(&req.transactional_id, req.producer_id, req.producer_epoch) {
            Ok(t) => t,
            Err(e) => return done(token, Err(e)),
        };
        let offsets_partition = (
            crate::OFFSETS_TOPIC.to_string(),
            partition_for(&req.group_id, self.config.offsets_partitions),
        );
        if t.state != TxnState::Ongoing || !t.partitions.contains(&offsets_partition) {
            // AddOffsetsToTxn must come first, unless the request adds the partition itself.
            match req.operation {
                SupportedOperation::DefaultError => {
                    return done(token, Err(ErrorCode::InvalidTxnState))
                }
                SupportedOperation::GenericErrorSupported => {
                    return done(token, Err(ErrorCode::TransactionAbortable))
                }
                SupportedOperation::AddPartition => {
                    if t.state != TxnState::Ongoing {
                        t.client_tv = 2;
                    }
                    t.begin(now_ms);
                    t.partitions.insert(offsets_partition);
                }
            }
        }
        let pending = t.offsets.entry(req.group_id).or_default();
        for o in req.offsets {
            pending.retain(|p| !(p.topic == o.topic && p.partition == o.partition));
            pending.push(o);
        }
        t.last_update_ms = now_ms;
        self.write(
            t,
            TxnCompletion::Changed {
                transactional_id: req.transactional_id,
                reply: Some((token, TxnReply::Done(Ok(())))),
            },
        )
    }

    /// EndTxn: commit or abort the open transaction; answered once it is complete, with the
    /// producer id and epoch the producer goes on with (transactions v2 bumps the epoch with
    /// every end, and moves to a new producer id when the epoch is exhausted).
    pub fn end_txn(&mut self, now_ms: i64, token: Token, req: EndTxn) -> TxnOutputs {
        let reply = |r| TxnOutputs::reply(token, TxnReply::Ended(r));
        if req.transactional_id.is_empty() {
            return reply(Err(ErrorCode::InvalidRequest));
        }
        let Some(t) = self.txns.get(&req.transactional_id) else {
            return reply(Err(ErrorCode::InvalidProducerIdMapping));
        };
        let stored = (t.producer_id, t.producer_epoch);
        let mut t = t.clone();
        if req.tv2 {
            match end_transition_v2(&t, req.producer_id, req.producer_epoch, req.commit) {
                Err(e) => return reply(Err(e)),
                Ok(EndV2::Retried) => return reply(Ok(stored)),
                Ok(EndV2::Prepare { state, empty }) => {
                    if empty {
                        // Aborting a transaction that added nothing: its start is now.
                        t.partitions.clear();
                        t.offsets.clear();
                        t.start_ms = now_ms;
                    }
                    match t.next_epoch() {
                        Some(epoch) => t.producer_epoch = epoch,
                        None => {
                            // Exhausted: the markers carry the last epoch, and the producer
                            // goes on with a new id once the transaction completes.
                            let Some(next) = self.producer_ids.next_id() else {
                                return reply(Err(ErrorCode::CoordinatorLoadInProgress));
                            };
                            t.next_producer_id = next;
                            t.producer_epoch = t.producer_epoch.saturating_add(1);
                        }
                    }
                    t.client_tv = 2;
                    t.state = state;
                }
            }
        } else {
            if let Err(e) = t.check_producer(req.producer_id, req.producer_epoch) {
                return reply(Err(e));
            }
            if t.pending {
                return reply(Err(ErrorCode::ConcurrentTransactions));
            }
            match end_transition(t.state, req.commit) {
                Err(e) => return reply(Err(e)),
                // A retry of an end that already completed the same way.
                Ok(None) => return reply(Ok(stored)),
                Ok(Some(prepare)) => t.state = prepare,
            }
        }
        t.last_update_ms = now_ms;
        self.write(
            t,
            TxnCompletion::Prepared {
                transactional_id: req.transactional_id,
                reply: Some(token),
            },
        )
    }
}
