//! The group coordinator actor: the one owner of [`Groups`], fed typed messages through a
//! bounded mailbox (each with a `oneshot` for its answer). It performs what the state machine
//! asks: records are appended to `__consumer_offsets` (partition = `hash(group_id) %
//! offsets.topic.num.partitions`, Kafka's partitioning) on the blocking pool, and only then are
//! the replies that depend on them sent, so an acknowledged commit is in the log. Records
//! gather for `group.coordinator.append.linger.ms` (Kafka 4.x: 5 ms) into one write; a leader's
//! SyncGroup completes when its assignment is written. Timers (sessions, rebalance timeouts)
//! fire at the state machine's next deadline, read from the broker's [`Clock`]; parked
//! JoinGroup and SyncGroup requests are released at shutdown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use strom_codec::ErrorCode;
use strom_coordinator::consumer_group::TopicsView;
use strom_coordinator::group::Token;
use strom_coordinator::groups::{
    CommitRequest, CommitResponse, CommittedOffset, Completion, ConsumerGroupDescription,
    ConsumerHeartbeat, ConsumerHeartbeatResponse, GroupDescription, GroupListing, Groups,
    HeartbeatRequest, JoinRequest, JoinResponse, LeaveRequest, LeaveResponse, Outputs,
    PartitionErrors, Reply, SyncRequest, SyncResponse,
};
use strom_coordinator::records::partition_for;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::internal_log::InternalTopic;
use crate::clock::Clock;
use crate::topics::Topics;

/// Requests waiting for the coordinator at most (then callers wait: backpressure).
pub const COORDINATOR_MAILBOX_MAX: usize = 1024;
/// A batch that has grown this large is written at once instead of waiting out the linger.
const BATCH_BYTES_MAX: usize = 512 * 1024;
/// How often, at most, expired offsets of empty groups are looked for when no member deadline
/// is due sooner (Kafka's `offsets.retention.check.interval.ms` default is 600 000).
const RETENTION_CHECK_MS: i64 = 60_000;

/// Offsets a transaction commits for one partition: (topic, partition, offset, leader epoch,
/// metadata).
pub type TxnOffsetCommit = (String, i32, i64, i32, Option<String>);

/// What the coordinator is asked; every message carries where its answer goes.
#[derive(Debug)]
enum Message {
    Join(JoinRequest, oneshot::Sender<JoinResponse>),
    Sync(SyncRequest, oneshot::Sender<SyncResponse>),
    Heartbeat(HeartbeatRequest, oneshot::Sender<Option<ErrorCode>>),
    Leave(LeaveRequest, oneshot::Sender<LeaveResponse>),
    Commit(CommitRequest, oneshot::Sender<CommitResponse>),
    ConsumerHeartbeat(
        ConsumerHeartbeat,
        Arc<TopicsView>,
        oneshot::Sender<ConsumerHeartbeatResponse>,
    ),
    ValidateOffsetFetch {
        group_id: String,
        member_id: Option<String>,
        member_epoch: i32,
        reply: oneshot::Sender<Option<ErrorCode>>,
    },
    ConsumerDescribe {
        group_ids: Vec<String>,
        reply: oneshot::Sender<Vec<ConsumerGroupDescription>>,
    },
    FetchOffsets {
        group_id: String,
        partitions: Option<Vec<(String, i32)>>,
        reply: oneshot::Sender<Vec<CommittedOffset>>,
    },
    /// Every group's committed offsets (the lag metrics).
    AllOffsets {
        reply: oneshot::Sender<Vec<(String, Vec<CommittedOffset>)>>,
    },
    List {
        states: Vec<String>,
        types: Vec<String>,
        reply: oneshot::Sender<Vec<GroupListing>>,
    },
    Describe {
        group_ids: Vec<String>,
        reply: oneshot::Sender<Vec<GroupDescription>>,
    },
    Delete {
        group_ids: Vec<String>,
        reply: oneshot::Sender<Vec<(String, Option<ErrorCode>)>>,
    },
    DeleteOffsets {
        group_id: String,
        partitions: Vec<(String, i32)>,
        reply: oneshot::Sender<(Option<ErrorCode>, PartitionErrors)>,
    },
    ValidateTxnCommit {
        group_id: String,
        generation_id: i32,
        member_id: String,
        group_instance_id: Option<String>,
        api_version: i16,
        reply: oneshot::Sender<Option<ErrorCode>>,
    },
    MaterializeTxnOffsets {
        group_id: String,
        offsets: Vec<TxnOffsetCommit>,
        reply: oneshot::Sender<bool>,
    },
}

/// Handle to the coordinator actor.
#[derive(Debug, Clone)]
pub struct GroupCoordinator {
    tx: mpsc::Sender<Message>,
    /// `offsets.topic.num.partitions`.
    offsets_partitions: i32,
}

impl GroupCoordinator {
    /// Starts the actor over `groups` (already replayed from `__consumer_offsets`).
    pub fn start(
        topics: Arc<Topics>,
        groups: Groups,
        log: InternalTopic,
        clock: Clock,
        shutdown: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(COORDINATOR_MAILBOX_MAX);
        let offsets_partitions = groups.config().offsets_partitions;
        let linger_ms = groups.config().append_linger_ms.max(0);
        let actor = Actor {
            topics,
            log,
            groups,
            clock,
            linger: Duration::from_millis(linger_ms.unsigned_abs()),
            waiters: HashMap::new(),
            next_token: 0,
            batch: Batch::default(),
            last_retention_check: 0,
        };
        let handle = tokio::spawn(actor.run(rx, shutdown));
        (
            Self {
                tx,
                offsets_partitions,
            },
            handle,
        )
    }

    /// `offsets.topic.num.partitions`: where a group's records go.
    pub fn offsets_partitions(&self) -> i32 {
        self.offsets_partitions
    }

    /// Sends a message and waits for its answer; `None` when the coordinator is gone.
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Message) -> Option<T> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(make(reply)).await.ok()?;
        answer.await.ok()
    }

    pub async fn join(&self, request: JoinRequest) -> Option<JoinResponse> {
        self.ask(|r| Message::Join(request, r)).await
    }

    pub async fn sync(&self, request: SyncRequest) -> Option<SyncResponse> {
        self.ask(|r| Message::Sync(request, r)).await
    }

    pub async fn heartbeat(&self, request: HeartbeatRequest) -> Option<Option<ErrorCode>> {
        self.ask(|r| Message::Heartbeat(request, r)).await
    }

    pub async fn leave(&self, request: LeaveRequest) -> Option<LeaveResponse> {
        self.ask(|r| Message::Leave(request, r)).await
    }

    pub async fn commit(&self, request: CommitRequest) -> Option<CommitResponse> {
        self.ask(|r| Message::Commit(request, r)).await
    }

    /// A KIP-848 ConsumerGroupHeartbeat, resolved against `view`.
    pub async fn consumer_heartbeat(
        &self,
        request: ConsumerHeartbeat,
        view: Arc<TopicsView>,
    ) -> Option<ConsumerHeartbeatResponse> {
        self.ask(|r| Message::ConsumerHeartbeat(request, view, r))
            .await
    }

    /// OffsetFetch v9's member checks (KIP-848 groups).
    pub async fn validate_offset_fetch(
        &self,
        group_id: String,
        member_id: Option<String>,
        member_epoch: i32,
    ) -> Option<Option<ErrorCode>> {
        self.ask(|reply| Message::ValidateOffsetFetch {
            group_id,
            member_id,
            member_epoch,
            reply,
        })
        .await
    }

    /// ConsumerGroupDescribe.
    pub async fn consumer_describe(
        &self,
        group_ids: Vec<String>,
    ) -> Option<Vec<ConsumerGroupDescription>> {
        self.ask(|reply| Message::ConsumerDescribe { group_ids, reply })
            .await
    }

    /// Committed offsets of `group_id` (all when `partitions` is `None`).
    pub async fn fetch_offsets(
        &self,
        group_id: String,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Option<Vec<CommittedOffset>> {
        self.ask(|reply| Message::FetchOffsets {
            group_id,
            partitions,
            reply,
        })
        .await
    }

    /// Every group's committed offsets.
    pub async fn all_offsets(&self) -> Option<Vec<(String, Vec<CommittedOffset>)>> {
        self.ask(|reply| Message::AllOffsets { reply }).await
    }

    pub async fn list(&self, states: Vec<String>, types: Vec<String>) -> Option<Vec<GroupListing>> {
        self.ask(|reply| Message::List {
            states,
            types,
            reply,
        })
        .await
    }

    pub async fn describe(&self, group_ids: Vec<String>) -> Option<Vec<GroupDescription>> {
        self.ask(|reply| Message::Describe { group_ids, reply })
            .await
    }

    /// Deletes empty groups; per group, its error. Answered once the tombstones are written.
    pub async fn delete(&self, group_ids: Vec<String>) -> Option<Vec<(String, Option<ErrorCode>)>> {
        self.ask(|reply| Message::Delete { group_ids, reply }).await
    }

    /// Deletes committed offsets of partitions the group does not subscribe to.
    pub async fn delete_offsets(
        &self,
        group_id: String,
        partitions: Vec<(String, i32)>,
    ) -> Option<(Option<ErrorCode>, PartitionErrors)> {
        self.ask(|reply| Message::DeleteOffsets {
            group_id,
            partitions,
            reply,
        })
        .await
    }

    /// Checks a TxnOffsetCommit's group fields (member, generation, instance).
    pub async fn validate_txn_commit(
        &self,
        group_id: String,
        generation_id: i32,
        member_id: String,
        group_instance_id: Option<String>,
        api_version: i16,
    ) -> Option<Option<ErrorCode>> {
        self.ask(|reply| Message::ValidateTxnCommit {
            group_id,
            generation_id,
            member_id,
            group_instance_id,
            api_version,
            reply,
        })
        .await
    }

    /// Makes a committed transaction's offsets visible; `true` once they are written.
    pub async fn materialize_txn_offsets(
        &self,
        group_id: String,
        offsets: Vec<TxnOffsetCommit>,
    ) -> bool {
        self.ask(|reply| Message::MaterializeTxnOffsets {
            group_id,
            offsets,
            reply,
        })
        .await
        .unwrap_or(false)
    }
}

/// Where a parked or deferred reply goes.
#[derive(Debug)]
enum Waiter {
    Join(oneshot::Sender<JoinResponse>),
    Sync(oneshot::Sender<SyncResponse>),
    Heartbeat(oneshot::Sender<Option<ErrorCode>>),
    Leave(oneshot::Sender<LeaveResponse>),
    Commit(oneshot::Sender<CommitResponse>),
}

impl Waiter {
    fn is_closed(&self) -> bool {
        match self {
            Waiter::Join(tx) => tx.is_closed(),
            Waiter::Sync(tx) => tx.is_closed(),
            Waiter::Heartbeat(tx) => tx.is_closed(),
            Waiter::Leave(tx) => tx.is_closed(),
            Waiter::Commit(tx) => tx.is_closed(),
        }
    }

    /// Sends `reply`, which the state machine made for this waiter's kind of request.
    fn send(self, reply: Reply) {
        // A dropped receiver is a client that went away: nothing to do.
        let matched = match (self, reply) {
            (Waiter::Join(tx), Reply::Join(r)) => {
                let _ = tx.send(r);
                true
            }
            (Waiter::Sync(tx), Reply::Sync(r)) => {
                let _ = tx.send(r);
                true
            }
            (Waiter::Heartbeat(tx), Reply::Heartbeat(r)) => {
                let _ = tx.send(r);
                true
            }
            (Waiter::Leave(tx), Reply::Leave(r)) => {
                let _ = tx.send(r);
                true
            }
            (Waiter::Commit(tx), Reply::Commit(r)) => {
                let _ = tx.send(r);
                true
            }
            _ => false,
        };
        debug_assert!(matched, "a reply of another kind than its request");
    }
}

/// A reply sent once the write it depends on is done.
#[derive(Debug)]
enum AfterWrite {
    Delete(
        oneshot::Sender<Vec<(String, Option<ErrorCode>)>>,
        Vec<(String, Option<ErrorCode>)>,
    ),
    DeleteOffsets(
        oneshot::Sender<(Option<ErrorCode>, PartitionErrors)>,
        (Option<ErrorCode>, PartitionErrors),
    ),
    Materialized(oneshot::Sender<bool>),
}

impl AfterWrite {
    fn send(self, ok: bool) {
        let failed = Some(ErrorCode::CoordinatorNotAvailable);
        // A dropped receiver is a client that went away: nothing to do.
        match self {
            AfterWrite::Delete(tx, results) => {
                let results = if ok {
                    results
                } else {
                    results.into_iter().map(|(g, _)| (g, failed)).collect()
                };
                let _ = tx.send(results);
            }
            AfterWrite::DeleteOffsets(tx, result) => {
                let _ = tx.send(if ok { result } else { (failed, Vec::new()) });
            }
            AfterWrite::Materialized(tx) => {
                let _ = tx.send(ok);
            }
        }
    }
}

/// Records waiting for `group.coordinator.append.linger.ms`, with what waits for them
/// (Kafka's coordinator batches its writes the same way and completes requests when their
/// batch is written).
#[derive(Debug, Default)]
struct Batch {
    /// When the batch is written: its first record's arrival plus the linger.
    deadline: Option<Instant>,
    outputs: Outputs,
    after: Vec<AfterWrite>,
    bytes: usize,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.deadline.is_none()
    }
}

struct Actor {
    topics: Arc<Topics>,
    log: InternalTopic,
    groups: Groups,
    clock: Clock,
    linger: Duration,
    waiters: HashMap<Token, Waiter>,
    next_token: Token,
    batch: Batch,
    /// Monotonic ms of the last periodic tick.
    last_retention_check: i64,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::Receiver<Message>, shutdown: CancellationToken) {
        loop {
            let linger = self.batch.deadline;
            let timer = self.next_timer();
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep_until(linger.unwrap_or_else(Instant::now)), if linger.is_some() => {
                    self.flush().await;
                }
                () = tokio::time::sleep_until(timer) => {
                    let now = self.clock.monotonic_ms();
                    self.last_retention_check = now;
                    let out = self.groups.tick(now, self.clock.wall_ms());
                    self.submit(out, Vec::new()).await;
                }
                message = rx.recv() => match message {
                    None => break,
                    Some(m) => self.handle(m).await,
                },
            }
            // Drop waiters whose requester went away (connection closed).
            self.waiters.retain(|_, w| !w.is_closed());
        }
        self.flush().await;
        let out = self.groups.shutdown();
        self.linger = Duration::ZERO;
        self.submit(out, Vec::new()).await;
    }

    /// When the state machine next has timed work: its earliest deadline, at most a retention
    /// check interval away.
    fn next_timer(&self) -> Instant {
        let periodic = self.last_retention_check + RETENTION_CHECK_MS;
        let at = self
            .groups
            .next_deadline()
            .map_or(periodic, |d| d.min(periodic));
        self.clock.instant_at(at)
    }

    fn token(&mut self, waiter: Waiter) -> Token {
        self.next_token += 1;
        self.waiters.insert(self.next_token, waiter);
        self.next_token
    }

    async fn handle(&mut self, message: Message) {
        let now = self.clock.monotonic_ms();
        let wall = self.clock.wall_ms();
        let out = match message {
            Message::Join(req, tx) => {
                let token = self.token(Waiter::Join(tx));
                self.groups.join(now, wall, token, req)
            }
            Message::Sync(req, tx) => {
                let token = self.token(Waiter::Sync(tx));
                self.groups.sync(now, token, req)
            }
            Message::Heartbeat(req, tx) => {
                let token = self.token(Waiter::Heartbeat(tx));
                self.groups.heartbeat(now, token, req)
            }
            Message::Leave(req, tx) => {
                let token = self.token(Waiter::Leave(tx));
                self.groups.leave(now, wall, token, req)
            }
            Message::Commit(req, tx) => {
                let token = self.token(Waiter::Commit(tx));
                self.groups.commit(now, wall, token, req)
            }
            Message::ConsumerHeartbeat(req, view, reply) => {
                let _ = reply.send(self.groups.consumer_heartbeat(now, wall, req, &view));
                return;
            }
            Message::ValidateOffsetFetch {
                group_id,
                member_id,
                member_epoch,
                reply,
            } => {
                let _ = reply.send(self.groups.validate_offset_fetch(
                    &group_id,
                    member_id.as_deref(),
                    member_epoch,
                ));
                return;
            }
            Message::ConsumerDescribe { group_ids, reply } => {
                let _ = reply.send(
                    group_ids
                        .iter()
                        .map(|id| self.groups.consumer_describe(id))
                        .collect(),
                );
                return;
            }
            Message::FetchOffsets {
                group_id,
                partitions,
                reply,
            } => {
                let _ = reply.send(self.groups.fetch_offsets(&group_id, partitions.as_deref()));
                return;
            }
            Message::List {
                states,
                types,
                reply,
            } => {
                let _ = reply.send(self.groups.list(&states, &types));
                return;
            }
            Message::AllOffsets { reply } => {
                let all = self
                    .groups
                    .list(&[], &[])
                    .into_iter()
                    .map(|g| {
                        let offsets = self.groups.fetch_offsets(&g.group_id, None);
                        (g.group_id, offsets)
                    })
                    .collect();
                let _ = reply.send(all);
                return;
            }
            Message::Describe { group_ids, reply } => {
                let _ = reply.send(
                    group_ids
                        .iter()
                        .map(|id| self.groups.describe(id))
                        .collect(),
                );
                return;
            }
            Message::ValidateTxnCommit {
                group_id,
                generation_id,
                member_id,
                group_instance_id,
                api_version,
                reply,
            } => {
                let _ = reply.send(self.groups.validate_txn_commit(
                    &group_id,
                    generation_id,
                    &member_id,
                    group_instance_id.as_deref(),
                    api_version,
                ));
                return;
            }
            Message::Delete { group_ids, reply } => {
                let mut records = Vec::new();
                let mut results = Vec::new();
                for id in group_ids {
                    let (error, tombstones) = self.groups.delete(&id);
                    records.extend(tombstones);
                    results.push((id, error));
                }
                let out = Outputs {
                    records,
                    ..Outputs::default()
                };
                return self
                    .submit_now(out, vec![AfterWrite::Delete(reply, results)])
                    .await;
            }
            Message::DeleteOffsets {
                group_id,
                partitions,
                reply,
            } => {
                let (error, results, records) = self.groups.delete_offsets(&group_id, &partitions);
                let out = Outputs {
                    records,
                    ..Outputs::default()
                };
                return self
                    .submit_now(
                        out,
                        vec![AfterWrite::DeleteOffsets(reply, (error, results))],
                    )
                    .await;
            }
            Message::MaterializeTxnOffsets {
                group_id,
                offsets,
                reply,
            } => {
                let out = self
                    .groups
                    .materialize_txn_offsets(wall, &group_id, offsets);
                return self
                    .submit_now(out, vec![AfterWrite::Materialized(reply)])
                    .await;
            }
        };
        self.submit(out, Vec::new()).await;
    }

    /// Takes what a call returned: with records it joins the batch (written after the
    /// linger); without, its replies go at once unless a batch is waiting, in which case
    /// they follow it (as Kafka answers a write that adds no record once the earlier ones
    /// are committed), so no reply gets ahead of a write it may depend on.
    async fn submit(&mut self, outputs: Outputs, after: Vec<AfterWrite>) {
        if outputs.records.is_empty() && self.batch.is_empty() {
            self.send(outputs.replies, true);
            for a in after {
                a.send(true);
            }
            self.complete(outputs.completions, true).await;
            return;
        }
        if self.batch.deadline.is_none() {
            self.batch.deadline = Some(Instant::now() + self.linger);
        }
        self.batch.bytes += outputs
            .records
            .iter()
            .map(|r| r.key.len() + r.value.as_ref().map_or(0, Bytes::len))
            .sum::<usize>();
        self.batch.outputs.extend(outputs);
        self.batch.after.extend(after);
        if self.linger.is_zero() || self.batch.bytes >= BATCH_BYTES_MAX {
            self.flush().await;
        }
    }

    /// Reads and admin changes see every earlier write and are not batched (as Kafka's
    /// non-atomic writes of admin APIs).
    async fn submit_now(&mut self, outputs: Outputs, after: Vec<AfterWrite>) {
        self.flush().await;
        let linger = std::mem::replace(&mut self.linger, Duration::ZERO);
        self.submit(outputs, after).await;
        self.linger = linger;
    }

    /// Writes the waiting batch on the blocking pool, then answers and completes what waited
    /// for it. One write at a time: messages arriving meanwhile wait in the mailbox.
    async fn flush(&mut self) {
        // Completions can produce more records: written in turn, a bounded number of times.
        for _ in 0..8 {
            if self.batch.is_empty() {
                return;
            }
            let batch = std::mem::take(&mut self.batch);
            let ok = self.write(&batch.outputs).await;
            self.send(batch.outputs.replies, ok);
            for a in batch.after {
                a.send(ok);
            }
            let completions = batch.outputs.completions;
            let linger = std::mem::replace(&mut self.linger, Duration::ZERO);
            self.complete_into_batch(completions, ok);
            self.linger = linger;
        }
    }

    /// Appends `outputs`' records to `__consumer_offsets`.
    async fn write(&self, outputs: &Outputs) -> bool {
        if outputs.records.is_empty() {
            return true;
        }
        let partitions = self.groups.config().offsets_partitions;
        let records: Vec<(i32, Bytes, Option<Bytes>)> = outputs
            .records
            .iter()
            .map(|r| {
                (
                    partition_for(&r.group_id, partitions),
                    r.key.clone(),
                    r.value.clone(),
                )
            })
            .collect();
        self.log
            .write(&self.topics, records, self.clock.wall_ms())
            .await
    }

    /// Hands completions to the state machine; what they return joins the next batch.
    fn complete_into_batch(&mut self, completions: Vec<Completion>, ok: bool) {
        for completion in completions {
            let out = self.groups.stored(
                self.clock.monotonic_ms(),
                self.clock.wall_ms(),
                completion,
                ok,
            );
            if out.records.is_empty() {
                self.send(out.replies, true);
                self.batch.outputs.completions.extend(out.completions);
                continue;
            }
            if self.batch.deadline.is_none() {
                self.batch.deadline = Some(Instant::now());
            }
            self.batch.outputs.extend(out);
        }
    }

    async fn complete(&mut self, completions: Vec<Completion>, ok: bool) {
        if completions.is_empty() {
            return;
        }
        self.complete_into_batch(completions, ok);
        if !self.batch.is_empty() {
            self.flush().await;
        }
    }

    fn send(&mut self, replies: Vec<(Token, Reply)>, ok: bool) {
        for (token, reply) in replies {
            let reply = if ok {
                reply
            } else {
                reply.failed(ErrorCode::CoordinatorNotAvailable)
            };
            if let Some(waiter) = self.waiters.remove(&token) {
                waiter.send(reply);
            }
        }
    }
}

/// Reads every record of `__consumer_offsets` into `groups` (blocking); returns how many.
pub fn replay(topics: &Topics, log: &InternalTopic, groups: &mut Groups, now_ms: i64) -> usize {
    let partitions = groups.config().offsets_partitions;
    let misplaced = |partition: i32, key: &[u8]| {
        let group_id = match strom_coordinator::records::decode_key(key) {
            Some(
                strom_coordinator::records::Key::Offset { group_id, .. }
                | strom_coordinator::records::Key::Group { group_id },
            ) => group_id,
            None => return false,
        };
        strom_coordinator::records::misplaced(&group_id, partition, partitions)
    };
    log.replay(topics, misplaced, |_, key, value| {
        groups.replay(now_ms, key, value);
    })
}
