//! The transaction coordinator actor: the one owner of [`Transactions`], fed typed messages
//! through a bounded mailbox. It performs what the state machine asks: records go to
//! `__transaction_state` on the blocking pool before the replies that depend on them; marker
//! jobs run as tasks of their own (markers appended to every partition of the transaction on
//! the blocking pool, committed offsets handed to the group coordinator) and report back
//! through the actor's own channel, so that one transaction's end never stops the others.
//! Producer-id blocks come from the controller when the current block runs low. Time comes
//! from the broker's [`Clock`].
//!
//! The produce path checks transactional batches against a published view of every
//! producer's epoch and open partitions ([`TxnCoordinator::check_produce`]), updated by the
//! actor after each change, so that a produce never waits for the actor.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use strom_codec::ErrorCode;
use strom_coordinator::group::Token;
use strom_coordinator::producer_ids::BLOCK_SIZE;
use strom_coordinator::transactions::{
    AddOffsets, AddPartitions, EndTxn, InitProducerId, MarkerJob, ProducerView, Transactions,
    TxnCompletion, TxnMetadata, TxnOffsetCommit, TxnOutputs, TxnReply,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::groups::GroupCoordinator;
use super::internal_log::InternalTopic;
use crate::clock::Clock;
use crate::topics::Topics;

/// Requests waiting for the coordinator at most (then callers wait: backpressure).
pub const TXN_MAILBOX_MAX: usize = 1024;
/// Marker jobs and block requests reporting back at most at once.
const INTERNAL_QUEUE_MAX: usize = 1024;
/// How often transactions are checked for their timeout (Kafka's
/// `transaction.abort.timed.out.transaction.cleanup.interval.ms` is 10 s; a shorter check
/// makes a timed-out transaction's partitions readable sooner).
const TICK: Duration = Duration::from_millis(1000);

#[derive(Debug)]
enum Message {
    InitProducerId {
        /// `None`: an idempotent producer, which only needs an id.
        request: Option<InitProducerId>,
        reply: oneshot::Sender<Result<(i64, i16), ErrorCode>>,
    },
    AddPartitions(AddPartitions, oneshot::Sender<Result<(), ErrorCode>>),
    AddOffsets(AddOffsets, oneshot::Sender<Result<(), ErrorCode>>),
    TxnOffsetCommit(TxnOffsetCommit, oneshot::Sender<Result<(), ErrorCode>>),
    EndTxn(EndTxn, oneshot::Sender<Result<(i64, i16), ErrorCode>>),
    Verify {
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<(String, i32)>,
        reply: oneshot::Sender<Result<Vec<Option<ErrorCode>>, ErrorCode>>,
    },
    PendingOffsets {
        group_id: String,
        reply: oneshot::Sender<BTreeSet<(String, i32)>>,
    },
    List {
        reply: oneshot::Sender<Vec<TxnMetadata>>,
    },
}

/// What the actor's own tasks report.
#[derive(Debug)]
enum Internal {
    Block(Result<(i64, i64), String>),
    Markers(MarkerJob, bool),
}

/// Every producer's epoch and open partitions, for the produce path.
type Views = Arc<RwLock<HashMap<i64, ProducerView>>>;

/// Handle to the coordinator actor.
#[derive(Debug, Clone)]
pub struct TxnCoordinator {
    tx: mpsc::Sender<Message>,
    views: Views,
}

/// What the actor needs besides its state machine.
pub struct TxnContext {
    pub topics: Arc<Topics>,
    pub log: InternalTopic,
    pub groups: GroupCoordinator,
    pub clock: Clock,
    /// Where producer-id blocks come from (the controller).
    pub metadata: Arc<crate::metadata::Metadata>,
    /// This broker, as it asks for blocks.
    pub broker_id: i32,
}

impl TxnCoordinator {
    /// Starts the actor over `txns` (already replayed from `__transaction_state`).
    pub fn start(
        txns: Transactions,
        context: TxnContext,
        shutdown: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(TXN_MAILBOX_MAX);
        let (internal_tx, internal_rx) = mpsc::channel(INTERNAL_QUEUE_MAX);
        let views: Views = Arc::default();
        let mut actor = Actor {
            txns,
            context,
            waiters: HashMap::new(),
            next_token: 0,
            internal: internal_tx,
            views: Arc::clone(&views),
            id_waiters: Vec::new(),
            parked_inits: Vec::new(),
        };
        actor.publish_all();
        let handle = tokio::spawn(actor.run(rx, internal_rx, shutdown));
        (Self { tx, views }, handle)
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Message) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(make(reply)).await.ok()?;
        answer.await.ok()
    }

    fn unavailable<T>(answer: Option<Result<T, ErrorCode>>) -> Result<T, ErrorCode> {
        answer.unwrap_or(Err(ErrorCode::CoordinatorNotAvailable))
    }

    /// InitProducerId: with a transactional id, the coordinator's id and epoch; without, a new
    /// id at epoch 0.
    pub async fn init_producer_id(
        &self,
        request: Option<InitProducerId>,
    ) -> Result<(i64, i16), ErrorCode> {
        Self::unavailable(
            self.ask(|reply| Message::InitProducerId { request, reply })
                .await,
        )
    }

    pub async fn add_partitions(&self, request: AddPartitions) -> Result<(), ErrorCode> {
        Self::unavailable(self.ask(|r| Message::AddPartitions(request, r)).await)
    }

    pub async fn add_offsets(&self, request: AddOffsets) -> Result<(), ErrorCode> {
        Self::unavailable(self.ask(|r| Message::AddOffsets(request, r)).await)
    }

    pub async fn txn_offset_commit(&self, request: TxnOffsetCommit) -> Result<(), ErrorCode> {
        Self::unavailable(self.ask(|r| Message::TxnOffsetCommit(request, r)).await)
    }

    /// EndTxn: the producer id and epoch the producer goes on with.
    pub async fn end_txn(&self, request: EndTxn) -> Result<(i64, i16), ErrorCode> {
        Self::unavailable(self.ask(|r| Message::EndTxn(request, r)).await)
    }

    /// AddPartitionsToTxn's verification (v4+, `VerifyOnly`): per partition, whether it is in
    /// the transaction (TRANSACTION_ABORTABLE if not), or the error for them all.
    pub async fn verify_partitions(
        &self,
        transactional_id: String,
        producer_id: i64,
        producer_epoch: i16,
        partitions: Vec<(String, i32)>,
    ) -> Result<Vec<Option<ErrorCode>>, ErrorCode> {
        Self::unavailable(
            self.ask(|reply| Message::Verify {
                transactional_id,
                producer_id,
                producer_epoch,
                partitions,
                reply,
            })
            .await,
        )
    }

    /// Partitions of `group_id` with offsets waiting on an open transaction.
    pub async fn pending_offsets(&self, group_id: String) -> BTreeSet<(String, i32)> {
        self.ask(|reply| Message::PendingOffsets { group_id, reply })
            .await
            .unwrap_or_default()
    }

    /// Every transactional id's state; `None` when the coordinator is not running.
    pub async fn list(&self) -> Option<Vec<TxnMetadata>> {
        self.ask(|reply| Message::List { reply }).await
    }

    /// Checks a transactional produce against the published view (KIP-890's verification,
    /// as Kafka's coordinator answers it): the producer must be known, at its current epoch,
    /// with the partition in its open transaction.
    pub fn check_produce(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> ProduceCheck {
        let views = self
            .views
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(view) = views.get(&producer_id) else {
            return ProduceCheck::Refused(ErrorCode::InvalidProducerIdMapping);
        };
        if epoch != view.producer_epoch {
            return ProduceCheck::Refused(ErrorCode::InvalidProducerEpoch);
        }
        if view.ending {
            return ProduceCheck::Ending;
        }
        if !view.ongoing || !view.partitions.contains(&(topic.to_string(), partition)) {
            return ProduceCheck::NotAdded;
        }
        ProduceCheck::Ok
    }
}

/// What [`TxnCoordinator::check_produce`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProduceCheck {
    /// The partition is in the producer's open transaction.
    Ok,
    Refused(ErrorCode),
    /// The partition is not in the producer's transaction (or none is open): the request's
    /// version decides (INVALID_TXN_STATE, TRANSACTION_ABORTABLE, or added).
    NotAdded,
    /// The producer's transaction is being ended (CONCURRENT_TRANSACTIONS at the
    /// coordinator).
    Ending,
}

/// Where an InitProducerId's answer goes.
type InitReply = oneshot::Sender<Result<(i64, i16), ErrorCode>>;

/// Where a reply goes.
#[derive(Debug)]
enum Waiter {
    Init(oneshot::Sender<Result<(i64, i16), ErrorCode>>),
    Done(oneshot::Sender<Result<(), ErrorCode>>),
    Ended(oneshot::Sender<Result<(i64, i16), ErrorCode>>),
}

struct Actor {
    txns: Transactions,
    context: TxnContext,
    waiters: HashMap<Token, Waiter>,
    next_token: Token,
    internal: mpsc::Sender<Internal>,
    views: Views,
    /// Producers waiting for the first block of ids (at start-up): idempotent ones, and
    /// transactional ones whose request is handled once it arrives.
    id_waiters: Vec<InitReply>,
    parked_inits: Vec<(InitProducerId, InitReply)>,
}

impl Actor {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<Message>,
        mut internal: mpsc::Receiver<Internal>,
        shutdown: CancellationToken,
    ) {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.maybe_request_block();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => {
                    let out = self.txns.tick(self.context.clock.wall_ms());
                    self.perform(out).await;
                }
                report = internal.recv() => match report {
                    Some(r) => self.report(r).await,
                    None => break,
                },
                message = rx.recv() => match message {
                    Some(m) => self.handle(m).await,
                    None => break,
                },
            }
            self.waiters.retain(|_, w| match w {
                Waiter::Init(tx) | Waiter::Ended(tx) => !tx.is_closed(),
                Waiter::Done(tx) => !tx.is_closed(),
            });
        }
    }

    fn token(&mut self, waiter: Waiter) -> Token {
        self.next_token += 1;
        self.waiters.insert(self.next_token, waiter);
        self.next_token
    }

    async fn handle(&mut self, message: Message) {
        let now = self.context.clock.wall_ms();
        let out = match message {
            Message::InitProducerId {
                request: None,
                reply,
            } => {
                match self.txns.allocate_producer_id() {
                    Some(id) => {
                        let _ = reply.send(Ok((id, 0)));
                    }
                    None => self.id_waiters.push(reply),
                }
                self.maybe_request_block();
                return;
            }
            Message::InitProducerId {
                request: Some(request),
                reply,
            } => {
                if !self.txns.producer_ids().has_id() {
                    // Until the first block arrives, answered then rather than retried.
                    self.parked_inits.push((request, reply));
                    self.maybe_request_block();
                    return;
                }
                let token = self.token(Waiter::Init(reply));
                let out = self.txns.init_producer_id(now, token, request);
                self.maybe_request_block();
                out
            }
            Message::AddPartitions(request, reply) => {
                let token = self.token(Waiter::Done(reply));
                self.txns.add_partitions(now, token, request)
            }
            Message::AddOffsets(request, reply) => {
                let token = self.token(Waiter::Done(reply));
                self.txns.add_offsets(now, token, request)
            }
            Message::TxnOffsetCommit(request, reply) => {
                let token = self.token(Waiter::Done(reply));
                self.txns.txn_offset_commit(now, token, request)
            }
            Message::EndTxn(request, reply) => {
                let token = self.token(Waiter::Ended(reply));
                self.txns.end_txn(now, token, request)
            }
            Message::Verify {
                transactional_id,
                producer_id,
                producer_epoch,
                partitions,
                reply,
            } => {
                let _ = reply.send(self.txns.verify_partitions(
                    &transactional_id,
                    producer_id,
                    producer_epoch,
                    &partitions,
                ));
                return;
            }
            Message::PendingOffsets { group_id, reply } => {
                let _ = reply.send(self.txns.pending_offsets(&group_id));
                return;
            }
            Message::List { reply } => {
                let _ = reply.send(self.txns.all().into_iter().cloned().collect());
                return;
            }
        };
        self.perform(out).await;
    }

    async fn report(&mut self, report: Internal) {
        match report {
            Internal::Block(Ok((start, len))) => {
                self.txns.producer_ids().add_block(start, len);
                tracing::debug!(start, len, "producer id block reserved");
                while !self.id_waiters.is_empty() {
                    let Some(id) = self.txns.allocate_producer_id() else {
                        break;
                    };
                    let waiter = self.id_waiters.remove(0);
                    let _ = waiter.send(Ok((id, 0)));
                }
                for (request, reply) in std::mem::take(&mut self.parked_inits) {
                    Box::pin(self.handle(Message::InitProducerId {
                        request: Some(request),
                        reply,
                    }))
                    .await;
                }
                self.maybe_request_block();
            }
            Internal::Block(Err(e)) => {
                tracing::error!(error = %e, "cannot reserve a producer id block");
                self.txns.producer_ids().block_failed();
                for waiter in self.id_waiters.drain(..) {
                    let _ = waiter.send(Err(ErrorCode::CoordinatorNotAvailable));
                }
                for (_, reply) in self.parked_inits.drain(..) {
                    let _ = reply.send(Err(ErrorCode::CoordinatorNotAvailable));
                }
            }
            Internal::Markers(job, ok) => {
                let id = job.transactional_id.clone();
                let out = self
                    .txns
                    .markers_written(self.context.clock.wall_ms(), job, ok);
                self.publish(&id);
                self.perform(out).await;
            }
        }
    }

    /// Asks the controller for the next block of producer ids when one is due.
    fn maybe_request_block(&mut self) {
        if !self.txns.producer_ids().wants_block() {
            return;
        }
        self.txns.producer_ids().block_requested();
        let metadata = Arc::clone(&self.context.metadata);
        let broker_id = self.context.broker_id;
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let block = metadata.allocate_producer_ids(broker_id, BLOCK_SIZE).await;
            let _ = internal.send(Internal::Block(block)).await;
        });
    }

    /// Does what `out` asks until nothing is left: records are written (and their
    /// completions told), marker jobs started, replies sent.
    async fn perform(&mut self, mut out: TxnOutputs) {
        // Each completion can ask for more: bounded, as each round moves a state forward.
        for _ in 0..16 {
            self.send(std::mem::take(&mut out.replies));
            for job in std::mem::take(&mut out.markers) {
                self.publish(&job.transactional_id);
                self.start_markers(job);
            }
            let completions = std::mem::take(&mut out.completions);
            if completions.is_empty() && out.records.is_empty() {
                return;
            }
            let ok = self.write(std::mem::take(&mut out.records)).await;
            let now = self.context.clock.wall_ms();
            for completion in completions {
                let id = match &completion {
                    TxnCompletion::Changed {
                        transactional_id, ..
                    }
                    | TxnCompletion::Prepared {
                        transactional_id, ..
                    }
                    | TxnCompletion::Completed {
                        transactional_id, ..
                    } => transactional_id.clone(),
                };
                out.extend(self.txns.written(now, completion, ok));
                self.publish(&id);
            }
        }
        debug_assert!(out.is_empty(), "transaction outputs left undone: {out:?}");
    }

    /// Appends records to `__transaction_state` (blocking pool).
    async fn write(&self, records: Vec<strom_coordinator::transactions::TxnRecord>) -> bool {
        if records.is_empty() {
            return true;
        }
        let records: Vec<(i32, Bytes, Option<Bytes>)> = records
            .into_iter()
            .map(|r| (r.partition, r.key, r.value))
            .collect();
        self.context
            .log
            .write(&self.context.topics, records, self.context.clock.wall_ms())
            .await
    }

    /// Runs a marker job as a task of its own: markers on the blocking pool, then committed
    /// offsets through the group coordinator; the outcome comes back as [`Internal::Markers`].
    fn start_markers(&self, job: MarkerJob) {
        let topics = Arc::clone(&self.context.topics);
        let groups = self.context.groups.clone();
        let internal = self.internal.clone();
        tokio::spawn(async move {
            let ok = write_markers(topics, groups, &job).await;
            if !ok {
                tracing::warn!(transactional_id = %job.transactional_id, "writing transaction markers failed; will retry");
            }
            let _ = internal.send(Internal::Markers(job, ok)).await;
        });
    }

    fn send(&mut self, replies: Vec<(Token, TxnReply)>) {
        for (token, reply) in replies {
            let matched = match (self.waiters.remove(&token), reply) {
                (Some(Waiter::Init(tx)), TxnReply::InitProducerId(r)) => {
                    let _ = tx.send(r);
                    true
                }
                (Some(Waiter::Done(tx)), TxnReply::Done(r)) => {
                    let _ = tx.send(r);
                    true
                }
                (Some(Waiter::Ended(tx)), TxnReply::Ended(r)) => {
                    let _ = tx.send(r);
                    true
                }
                // The requester went away.
                (None, _) => true,
                _ => false,
            };
            debug_assert!(matched, "a reply of another kind than its request");
        }
    }

    /// Publishes `transactional_id`'s producer view for the produce path.
    fn publish(&self, transactional_id: &str) {
        let Some(t) = self.txns.get(transactional_id) else {
            return;
        };
        let mut views = self
            .views
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match self.txns.producer_view(t.producer_id) {
            Some(view) => views.insert(t.producer_id, view),
            None => views.remove(&t.producer_id),
        };
    }

    fn publish_all(&mut self) {
        let ids: Vec<String> = self
            .txns
            .all()
            .into_iter()
            .map(|t| t.transactional_id.clone())
            .collect();
        for id in ids {
            self.publish(&id);
        }
    }
}

/// Writes `job`'s markers to every partition of its transaction and, for a commit, hands its
/// offsets to their groups. `false` when anything failed (the job is run again later; markers
/// written twice are harmless: a second marker closes nothing).
async fn write_markers(topics: Arc<Topics>, groups: GroupCoordinator, job: &MarkerJob) -> bool {
    let partitions = job.partitions.clone();
    let (pid, epoch, commit) = (job.producer_id, job.producer_epoch, job.commit);
    let written = tokio::task::spawn_blocking(move || {
        for (topic, index) in partitions {
            let Some(partition) = topics
                .get(&topic)
                .and_then(|tp| tp.partition(index).cloned())
            else {
                continue; // deleted meanwhile
            };
            partition.append_marker(pid, epoch, commit)?;
        }
        Ok::<(), strom_storage::Error>(())
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(transactional_id = %job.transactional_id, error = %e, "writing transaction markers failed");
            return false;
        }
        Err(_) => return false,
    }
    for (group, offsets) in &job.offsets {
        let offsets = offsets
            .iter()
            .map(|o| {
                (
                    o.topic.clone(),
                    o.partition,
                    o.offset,
                    o.leader_epoch,
                    o.metadata.clone(),
                )
            })
            .collect();
        if !groups.materialize_txn_offsets(group.clone(), offsets).await {
            return false;
        }
    }
    true
}

/// Reads every record of `__transaction_state` into `txns` (blocking); returns how many.
pub fn replay(topics: &Topics, log: &InternalTopic, txns: &mut Transactions) -> usize {
    let partitions = txns.config().log_partitions;
    let misplaced = |partition: i32, key: &[u8]| {
        strom_coordinator::transactions::decode_key(key)
            .is_some_and(|id| strom_coordinator::records::misplaced(&id, partition, partitions))
    };
    log.replay(topics, misplaced, |_, key, value| txns.replay(key, value))
}
