//! The group coordinator task: the one owner of [`Groups`], fed through a bounded mailbox.
//! It persists the records a call returns to `__consumer_offsets` (partition =
//! `hash(group_id) % offsets.topic.num.partitions`, Kafka's partitioning) and only then sends
//! the replies, so an acknowledged commit is on disk (in the page cache, like any produce).
//! Records gather for `group.coordinator.append.linger.ms` (Kafka 4.x: 5 ms) into one write;
//! a leader's SyncGroup completes when its assignment is written, so followers whose
//! SyncGroup arrives meanwhile are answered with it instead of being sent to rejoin.
//! Parked JoinGroup/SyncGroup requests wait on their oneshot until a later call or timer
//! releases them; shutdown releases all of them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use strom_codec::ErrorCode;
use strom_coordinator::group::Token;
use strom_coordinator::groups::{Completion, Groups, Outputs, Reply};
use strom_coordinator::records::{partition_for, Record};
use strom_storage::batch;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::topics::{Topic, Topics};

/// Name of Kafka's internal offsets topic.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
/// Requests waiting for the coordinator task at most (then callers wait: backpressure).
pub const COORDINATOR_MAILBOX_MAX: usize = 1024;
/// How often timers (sessions, rebalance timeouts) are checked.
const TICK: Duration = Duration::from_millis(100);

type Job = Box<dyn FnOnce(&mut Groups, i64, i64, Token) -> Outputs + Send>;
type Query = Box<dyn FnOnce(&mut Groups) -> Vec<Record> + Send>;

enum Command {
    /// A request whose reply may be parked.
    Call {
        job: Job,
        reply: oneshot::Sender<Reply>,
    },
    /// A read or admin change; the closure answers through its own channel after the
    /// returned records are persisted (it is called, then records are written, then
    /// `done` runs).
    Query {
        job: Query,
        done: oneshot::Sender<bool>,
    },
}

/// Handle to the coordinator task.
#[derive(Debug, Clone)]
pub struct GroupCoordinator {
    tx: mpsc::Sender<Command>,
    /// `offsets.topic.num.partitions`.
    offsets_partitions: i32,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

/// Monotonic milliseconds since the coordinator started.
fn monotonic(start: Instant) -> i64 {
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}

impl GroupCoordinator {
    /// Replays `__consumer_offsets` (when it exists) and starts the task.
    /// Starts the task over `groups` (already replayed with [`replay`]).
    pub fn start(
        topics: Arc<Topics>,
        groups: Groups,
        segment_bytes: u64,
        shutdown: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(COORDINATOR_MAILBOX_MAX);
        let partitions = groups.config().offsets_partitions;
        let store = Store {
            topics,
            partitions,
            segment_bytes,
        };
        let handle = tokio::spawn(run(store, groups, rx, shutdown));
        (
            Self {
                tx,
                offsets_partitions: partitions,
            },
            handle,
        )
    }

    /// `offsets.topic.num.partitions`: where a group's records go.
    pub fn offsets_partitions(&self) -> i32 {
        self.offsets_partitions
    }

    /// Runs `job` in the coordinator and waits for its (possibly parked) reply.
    pub async fn call(
        &self,
        job: impl FnOnce(&mut Groups, i64, i64, Token) -> Outputs + Send + 'static,
    ) -> Option<Reply> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Call {
                job: Box::new(job),
                reply,
            })
            .await
            .ok()?;
        rx.await.ok()
    }

    /// Runs `job` (which returns records to persist and its result) in the coordinator.
    /// `None` when the coordinator is gone or persisting failed.
    pub async fn query<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Groups) -> (T, Vec<Record>) + Send + 'static,
    ) -> Option<T> {
        let (result_tx, result_rx) = oneshot::channel();
        let (done, done_rx) = oneshot::channel();
        let job: Query = Box::new(move |groups| {
            let (result, records) = job(groups);
            let _ = result_tx.send(result);
            records
        });
        self.tx.send(Command::Query { job, done }).await.ok()?;
        let persisted = done_rx.await.ok()?;
        let result = result_rx.await.ok()?;
        persisted.then_some(result)
    }
}

/// Where group records go.
struct Store {
    topics: Arc<Topics>,
    partitions: i32,
    /// `offsets.topic.segment.bytes`.
    segment_bytes: u64,
}

fn offsets_topic(topics: &Topics, partitions: i32, segment_bytes: u64) -> Option<Arc<Topic>> {
    if let Some(t) = topics.get(OFFSETS_TOPIC) {
        return Some(t);
    }
    let mut configs = BTreeMap::new();
    configs.insert("cleanup.policy".to_string(), "compact".to_string());
    configs.insert("segment.bytes".to_string(), segment_bytes.to_string());
    match topics.create(OFFSETS_TOPIC, partitions, configs, true) {
        Ok(t) => Some(t),
        Err(crate::topics::TopicError::AlreadyExists(_)) => topics.get(OFFSETS_TOPIC),
        Err(e) => {
            tracing::error!(error = %e, "cannot create {OFFSETS_TOPIC}");
            None
        }
    }
}

/// Appends records, one batch per offsets partition.
fn persist(store: &Store, records: &[Record]) -> bool {
    if records.is_empty() {
        return true;
    }
    let Some(topic) = offsets_topic(&store.topics, store.partitions, store.segment_bytes) else {
        return false;
    };
    let mut by_partition: BTreeMap<i32, Vec<batch::KeyValue<'_>>> = BTreeMap::new();
    for r in records {
        by_partition
            .entry(partition_for(
                &r.group_id,
                topic.partitions.len().try_into().unwrap_or(i32::MAX),
            ))
            .or_default()
            .push((Some(&r.key[..]), r.value.as_deref()));
    }
    for (partition, entries) in by_partition {
        let Some(p) = topic.partition(partition) else {
            return false;
        };
        let bytes = batch::build_batch(&entries, now_ms(), 0, None);
        if let Err(e) = p.append(&bytes) {
            tracing::error!(partition, error = %e, "cannot persist group records");
            return false;
        }
    }
    true
}

/// Reads every record of the offsets topic into `groups`; returns how many were applied per
/// partition.
pub fn replay(topics: &Topics, groups: &mut Groups) -> Vec<usize> {
    let Some(topic) = topics.get(OFFSETS_TOPIC) else {
        return Vec::new();
    };
    let mut counts = Vec::new();
    for p in &topic.partitions {
        let mut applied = 0;
        let (start, end) = p.offsets();
        let mut offset = start;
        while offset < end {
            let slice = match p.read(offset, 8 * 1024 * 1024, false) {
                Ok(outcome) => outcome.slice,
                Err(e) => {
                    tracing::error!(partition = p.index, offset, error = %e, "cannot replay offsets");
                    break;
                }
            };
            let Some(slice) = slice else { break };
            let Ok(bytes) = slice.read() else { break };
            let mut at = 0usize;
            let before = offset;
            while let Ok(header) = batch::check_framing(bytes.get(at..).unwrap_or_default()) {
                let len = usize::try_from(header.total_bytes()).unwrap_or(usize::MAX);
                let body = bytes
                    .get(at + batch::HEADER_BYTES..at + len)
                    .unwrap_or_default();
                if header.compression() == 0 && !header.is_control() {
                    for r in batch::parse_records(body).unwrap_or_default() {
                        if header.base_offset + r.offset_delta >= offset {
                            if let Some(key) = r.key {
                                groups.replay(0, key, r.value);
                                applied += 1;
                            }
                        }
                    }
                }
                offset = header.last_offset() + 1;
                at += len;
            }
            if offset == before {
                break;
            }
        }
        counts.push(applied);
    }
    counts
}

/// Records waiting for `group.coordinator.append.linger.ms` to pass, with the replies and
/// completions that must wait for them (Kafka's coordinator batches its writes the same
/// way and completes requests when their batch is written).
#[derive(Default)]
struct Batch {
    /// When the batch is written: its first record's arrival plus the linger.
    deadline: Option<Instant>,
    outputs: Outputs,
    bytes: usize,
}

/// A batch that has grown this large is written at once instead of waiting out the linger.
const BATCH_BYTES_MAX: usize = 512 * 1024;

/// The coordinator's state and the I/O around it.
struct Coordinator {
    store: Store,
    groups: Groups,
    start: Instant,
    linger: Duration,
    waiters: HashMap<Token, oneshot::Sender<Reply>>,
    batch: Batch,
}

impl Coordinator {
    /// Takes what a call returned: with records it joins the batch (written after the
    /// linger); without, its replies go at once unless a batch is waiting, in which case
    /// they follow it (as Kafka answers a write that adds no record once the earlier ones
    /// are committed), so no reply gets ahead of a write it may depend on.
    fn submit(&mut self, outputs: Outputs) {
        if outputs.records.is_empty() && self.batch.deadline.is_none() {
            self.send(outputs.replies, true);
            self.complete(outputs.completions, true);
            return;
        }
        if self.batch.deadline.is_none() && !outputs.records.is_empty() {
            self.batch.deadline = Some(Instant::now() + self.linger);
        }
        self.batch.bytes += outputs
            .records
            .iter()
            .map(|r| r.key.len() + r.value.as_ref().map_or(0, |v| v.len()))
            .sum::<usize>();
        self.batch.outputs.extend(outputs);
        if self.linger.is_zero() || self.batch.bytes >= BATCH_BYTES_MAX {
            self.flush();
        }
    }

    /// Writes the waiting batch, then answers and completes what waited for it.
    fn flush(&mut self) {
        if self.batch.deadline.is_none() {
            return;
        }
        let batch = std::mem::take(&mut self.batch);
        let ok = persist(&self.store, &batch.outputs.records);
        self.send(batch.outputs.replies, ok);
        // What the completions return goes through `submit`: a new batch of its own (written
        // at once when the linger is 0).
        self.complete(batch.outputs.completions, ok);
    }

    fn complete(&mut self, completions: Vec<Completion>, ok: bool) {
        for completion in completions {
            let outputs = self
                .groups
                .stored(monotonic(self.start), now_ms(), completion, ok);
            self.submit(outputs);
        }
    }

    fn send(&mut self, replies: Vec<(Token, Reply)>, ok: bool) {
        for (token, reply) in replies {
            let reply = if ok {
                reply
            } else {
                reply.failed(ErrorCode::CoordinatorNotAvailable)
            };
            if let Some(tx) = self.waiters.remove(&token) {
                let _ = tx.send(reply);
            }
        }
    }
}

async fn run(
    store: Store,
    groups: Groups,
    mut rx: mpsc::Receiver<Command>,
    shutdown: CancellationToken,
) {
    let linger = Duration::from_millis(groups.config().append_linger_ms.max(0).unsigned_abs());
    let mut c = Coordinator {
        store,
        groups,
        start: Instant::now(),
        linger,
        waiters: HashMap::new(),
        batch: Batch::default(),
    };
    let mut next_token: Token = 0;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = c.batch.deadline;
        let outputs = tokio::select! {
            () = shutdown.cancelled() => {
                c.flush();
                let out = c.groups.shutdown();
                c.linger = Duration::ZERO;
                c.submit(out);
                return;
            }
            () = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                c.flush();
                continue;
            }
            _ = ticker.tick() => c.groups.tick(monotonic(c.start), now_ms()),
            command = rx.recv() => match command {
                None => {
                    c.flush();
                    return;
                }
                Some(Command::Call { job, reply }) => {
                    next_token += 1;
                    c.waiters.insert(next_token, reply);
                    job(&mut c.groups, monotonic(c.start), now_ms(), next_token)
                }
                Some(Command::Query { job, done }) => {
                    // Reads and admin changes see every earlier write, and are not batched
                    // (like Kafka's transactional writes).
                    c.flush();
                    let records = job(&mut c.groups);
                    let _ = done.send(persist(&c.store, &records));
                    continue;
                }
            },
        };
        c.submit(outputs);
        // Drop waiters whose requester went away (connection closed).
        c.waiters.retain(|_, tx| !tx.is_closed());
    }
}
