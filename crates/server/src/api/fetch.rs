//! Fetch (API key 1, v0–v18; topic ids from v13; v0–v3 get their batches converted down to
//! message sets of magic 0 or 1, as Kafka 3.9 answered them): long polling woken by the append that
//! satisfies it, `max_wait_ms`, `min_bytes`, response and partition byte limits, at least
//! one whole batch for the first partition with data (KIP-74). Fetch sessions (KIP-227) are
//! declined with session id 0, which Kafka allows; clients then send full fetches.
//!
//! The request is read in place and the response written straight into the connection's
//! buffer ([`strom_codec::fetch`]); large record sets are left out of it and listed in
//! [`FetchScratch::external`], for the connection to send from the segment file. What a
//! fetch needs per partition lives in a [`FetchScratch`] the connection keeps, so the steady
//! path allocates nothing per request.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use futures_util::future::select_all;
use strom_codec::fetch::{FetchRequestView, FetchResponseWriter, PartitionHead};
use strom_codec::ErrorCode;
use strom_storage::FileSlice;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::context::RequestContext;
use crate::error::storage_error_code;
use crate::topics::Partition;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=18;
/// The versions ApiVersions lists.
pub const ADVERTISED: RangeInclusive<i16> = VERSIONS;

/// Longest a fetch may wait, whatever it asks: bounds parked requests.
pub const FETCH_MAX_WAIT_MS_MAX: i32 = 300_000;
/// `isolation_level` value of read_committed.
const READ_COMMITTED: i8 = 1;
/// Partitions' worth of scratch a connection keeps between fetches; a larger fetch's
/// memory is given back when it has been answered.
const SCRATCH_PARTITIONS_KEPT: usize = 1024;

/// Memory a connection's fetches reuse from one request to the next.
#[derive(Default)]
pub struct FetchScratch {
    /// One entry per partition of the request, in request order.
    wanted: Vec<Wanted>,
    /// Record sets the response leaves out: where each belongs in the connection's
    /// buffer, and the file region to send there. In buffer order.
    pub external: Vec<(usize, FileSlice)>,
}

impl FetchScratch {
    /// Drops what the last fetch held (partitions, file regions), keeping the memory
    /// unless it grew past [`SCRATCH_PARTITIONS_KEPT`].
    pub fn clear(&mut self) {
        self.wanted.clear();
        self.external.clear();
        self.wanted.shrink_to(SCRATCH_PARTITIONS_KEPT);
        self.external.shrink_to(SCRATCH_PARTITIONS_KEPT);
    }
}

struct Wanted {
    partition: Option<Arc<Partition>>,
    fetch_offset: i64,
    partition_max_bytes: i32,
    unknown_error: ErrorCode,
    /// What the last [`plan`] decided for this partition.
    planned: Planned,
}

#[derive(Default)]
struct Planned {
    error: Option<ErrorCode>,
    slice: Option<FileSlice>,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
    aborted: Vec<strom_storage::txn::AbortedTxn>,
}

/// Record sets at least this large leave with `sendfile` from the segment file; smaller
/// ones are read into the response (a separate system call is not worth it for them).
pub const SENDFILE_BYTES_MIN: u32 = 16 * 1024;

/// Answers `request`, writing the response body into `out` (after the header the
/// connection wrote) and the record sets it leaves out into `scratch.external`. Returns
/// the first error code in the response, for metrics.
pub async fn handle(
    ctx: &RequestContext<'_>,
    request: &FetchRequestView,
    scratch: &mut FetchScratch,
    out: &mut BytesMut,
) -> i16 {
    let version = request.version();
    if request.session_id != 0 {
        // We never hand out sessions, so an incremental fetch names one we do not know.
        let code = ErrorCode::FetchSessionIdNotFound.code();
        FetchResponseWriter::new(out, version, 0, code, 0, 0).finish();
        return code;
    }
    scratch.clear();
    let wanted = &mut scratch.wanted;
    wanted.reserve(request.partition_count());
    for t in request.topics() {
        let by_id = version >= 13;
        let topic = ctx.state.topics.get_named(t.name, t.topic_id, by_id);
        // An unknown id is UNKNOWN_TOPIC_ID; a partition a known topic lacks is
        // UNKNOWN_TOPIC_OR_PARTITION, by id or by name.
        let unknown_error = if by_id && topic.is_none() {
            ErrorCode::UnknownTopicId
        } else {
            ErrorCode::UnknownTopicOrPartition
        };
        for p in t.partitions {
            wanted.push(Wanted {
                partition: topic
                    .as_ref()
                    .and_then(|tp| tp.partition(p.partition))
                    .cloned(),
                fetch_offset: p.fetch_offset,
                partition_max_bytes: p.partition_max_bytes,
                unknown_error,
                planned: Planned::default(),
            });
        }
    }
    let max_wait = Duration::from_millis(
        u64::try_from(request.max_wait_ms.clamp(0, FETCH_MAX_WAIT_MS_MAX)).unwrap_or(0),
    );
    let deadline = Instant::now() + max_wait;
    let response_max = i64::from(request.max_bytes.max(0)).min(ctx.state.config.fetch_max_bytes);
    let min_bytes = i64::from(request.min_bytes.max(0));
    let read_committed = request.isolation_level == READ_COMMITTED;
    // Appends are watched only once a fetch has to wait: one that can be answered at once
    // (a consumer catching up) subscribes to nothing. A log end that moved between the plan
    // and the subscription is caught by comparing the two, and planned again.
    let mut receivers: Option<Vec<watch::Receiver<i64>>> = None;
    loop {
        for rx in receivers.iter_mut().flatten() {
            rx.borrow_and_update();
        }
        plan(wanted, response_max, read_committed);
        let bytes: i64 = wanted
            .iter()
            .map(|w| w.planned.slice.as_ref().map_or(0, |s| i64::from(s.len)))
            .sum();
        let errored = wanted.iter().any(|w| w.planned.error.is_some());
        let waited_out = Instant::now() >= deadline;
        if bytes >= min_bytes.max(1) || errored || waited_out || ctx.state.shutdown.is_cancelled() {
            break;
        }
        let mut moved = false;
        let receivers = receivers.get_or_insert_with(|| subscribe(wanted, &mut moved));
        if moved {
            continue;
        }
        if receivers.is_empty() {
            // Nothing that an append could satisfy (a fetch naming no partition).
            break;
        }
        let changed = select_all(receivers.iter_mut().map(|rx| Box::pin(rx.changed())));
        tokio::select! {
            _ = changed => {}
            () = tokio::time::sleep_until(deadline) => {}
            () = ctx.state.shutdown.cancelled() => {}
        }
    }
    let mut answer = || respond(&ctx.state.metrics, request, scratch, read_committed, out);
    // Before v4 the answer converts batches down, reading and (de)compressing them: off the
    // async worker where the runtime allows it.
    if request.version() < 4 && super::can_block_in_place() {
        tokio::task::block_in_place(answer)
    } else {
        answer()
    }
}

/// Watches the log end of every partition the fetch names; sets `moved` when one is no
/// longer where the last [`plan`] read it.
fn subscribe(wanted: &[Wanted], moved: &mut bool) -> Vec<watch::Receiver<i64>> {
    wanted
        .iter()
        .filter_map(|w| {
            let rx = w.partition.as_ref()?.subscribe();
            *moved |= *rx.borrow() != w.planned.high_watermark;
            Some(rx)
        })
        .collect()
}

/// Decides what each partition returns, without reading bytes.
fn plan(wanted: &mut [Wanted], response_max: i64, read_committed: bool) {
    let mut remaining = response_max;
    let mut first_with_data = true;
    for w in wanted.iter_mut() {
        w.planned = plan_partition(w, &mut remaining, &mut first_with_data, read_committed);
    }
}

fn plan_partition(
    w: &Wanted,
    remaining: &mut i64,
    first_with_data: &mut bool,
    read_committed: bool,
) -> Planned {
    let Some(partition) = &w.partition else {
        return Planned {
            error: Some(w.unknown_error),
            slice: None,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted: Vec::new(),
        };
    };
    let limit = i64::from(w.partition_max_bytes.max(0)).min((*remaining).max(0));
    let limit = u32::try_from(limit).unwrap_or(u32::MAX);
    match partition.read(w.fetch_offset, limit, read_committed) {
        Ok(outcome) => {
            let mut slice = outcome.slice;
            if let Some(s) = &slice {
                // KIP-74: only the first partition with data may exceed the limits.
                if !*first_with_data && s.len > limit {
                    slice = None;
                }
            }
            if let Some(s) = &slice {
                *first_with_data = false;
                *remaining -= i64::from(s.len);
            }
            Planned {
                error: None,
                aborted: if slice.is_some() {
                    outcome.aborted
                } else {
                    Vec::new()
                },
                slice,
                high_watermark: outcome.high_watermark,
                last_stable_offset: outcome.last_stable_offset,
                log_start_offset: outcome.log_start_offset,
            }
        }
        // As Kafka, a partition that fails to read reports no offsets (-1).
        Err(e) => Planned {
            error: Some(storage_error_code(&e)),
            slice: None,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            aborted: Vec::new(),
        },
    }
}

/// Writes the response from the last plan.
fn respond(
    metrics: &crate::metrics::Metrics,
    request: &FetchRequestView,
    scratch: &mut FetchScratch,
    read_committed: bool,
    out: &mut BytesMut,
) -> i16 {
    let mut first_error = 0;
    let mut w = FetchResponseWriter::new(out, request.version(), 0, 0, 0, request.topic_count());
    let mut wanted = scratch.wanted.iter_mut();
    for topic in request.topics() {
        w.topic(topic.name, topic.topic_id, topic.partitions.len());
        for (p, wt) in topic.partitions.zip(&mut wanted) {
            let code = write_partition(
                &mut w,
                request.version(),
                p.partition,
                wt,
                read_committed,
                metrics,
                &mut scratch.external,
            );
            if first_error == 0 {
                first_error = code;
            }
        }
    }
    w.finish();
    first_error
}

/// Writes one partition's answer; returns its error code.
fn write_partition(
    w: &mut FetchResponseWriter<'_>,
    version: i16,
    index: i32,
    wanted: &mut Wanted,
    read_committed: bool,
    metrics: &crate::metrics::Metrics,
    external: &mut Vec<(usize, FileSlice)>,
) -> i16 {
    let p = &mut wanted.planned;
    let mut head = PartitionHead {
        index,
        error_code: crate::error::code(p.error),
        high_watermark: p.high_watermark,
        last_stable_offset: p.last_stable_offset,
        log_start_offset: p.log_start_offset,
        preferred_read_replica: -1,
    };
    // Null for read_uncommitted answers and failed reads, an empty list for a partition
    // the broker does not have (as Kafka writes them).
    let aborted = (read_committed || wanted.partition.is_none())
        .then(|| p.aborted.iter().map(|a| (a.producer_id, a.first_offset)));
    match p.slice.take() {
        None => w.partition(&head, aborted, Some(0)),
        Some(slice) if version < 4 => {
            // Before v4 a consumer reads message sets: magic 0 up to v1, magic 1 from v2.
            let magic = if version < 2 { 0 } else { 1 };
            let converted = slice
                .read()
                .map_err(|e| {
                    tracing::error!(partition = index, error = %e, "reading a segment failed");
                    ErrorCode::KafkaStorageError
                })
                .and_then(|batches| {
                    strom_storage::legacy::from_batches(&batches, magic)
                        .map_err(|e| storage_error_code(&e))
                });
            match converted {
                Ok(set) => {
                    if let Some(partition) = &wanted.partition {
                        metrics.fetched(&partition.topic, u64::from(slice.len));
                    }
                    w.partition(&head, aborted, Some(set.len()));
                    w.buf().extend_from_slice(&set);
                }
                Err(code) => {
                    head.error_code = code.code();
                    w.partition(&head, aborted, Some(0));
                }
            }
        }
        Some(slice) => {
            let len = slice.len as usize;
            let mark = w.buf().len();
            w.partition(&head, aborted.clone(), Some(len));
            if let Some(partition) = &wanted.partition {
                metrics.fetched(&partition.topic, u64::from(slice.len));
            }
            if slice.len >= SENDFILE_BYTES_MIN {
                // Sent with sendfile by the connection, at this place in the stream.
                external.push((w.buf().len(), slice));
            } else if let Err(e) = slice.read_into(w.buf()) {
                tracing::error!(partition = index, error = %e, "reading a segment failed");
                w.buf().truncate(mark);
                head.error_code = ErrorCode::KafkaStorageError.code();
                w.partition(&head, aborted, Some(0));
            }
        }
    }
    w.end_partition();
    head.error_code
}
