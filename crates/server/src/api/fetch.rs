//! Fetch (API key 1, v4–v16; topic ids from v13): long polling woken by the append that
//! satisfies it, `max_wait_ms`, `min_bytes`, response and partition byte limits, at least
//! one whole batch for the first partition with data (KIP-74). Fetch sessions (KIP-227) are
//! declined with session id 0, which Kafka allows; clients then send full fetches.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::select_all;
use strom_codec::chunked::ExternalRecords;
use strom_codec::kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use strom_codec::kafka_protocol::messages::{FetchRequest, FetchResponse, ProducerId};
use strom_codec::ErrorCode;
use strom_storage::FileSlice;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::connection::ConnectionContext;
use crate::error::storage_error_code;
use crate::topics::Partition;

/// Longest a fetch may wait, whatever it asks: bounds parked requests.
pub const FETCH_MAX_WAIT_MS_MAX: i32 = 300_000;
/// `isolation_level` value of read_committed.
const READ_COMMITTED: i8 = 1;

struct Wanted {
    partition: Option<Arc<Partition>>,
    index: i32,
    fetch_offset: i64,
    partition_max_bytes: i32,
    unknown_error: ErrorCode,
    /// What the last [`plan`] decided for this partition.
    planned: Planned,
}

struct TopicWanted {
    /// As the request names it (empty from v13, where only the id is sent back).
    name: strom_codec::kafka_protocol::messages::TopicName,
    id: uuid::Uuid,
    topic: Option<Arc<crate::topics::Topic>>,
    partitions: Vec<Wanted>,
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

/// The response, and the record sets it refers to by placeholder.
pub type Answer = (FetchResponse, ExternalRecords<FileSlice>);

pub async fn handle(ctx: &ConnectionContext, version: i16, request: FetchRequest) -> Answer {
    if request.session_id != 0 {
        // We never hand out sessions, so an incremental fetch names one we do not know.
        return (
            FetchResponse::default()
                .with_error_code(ErrorCode::FetchSessionIdNotFound.code())
                .with_session_id(0),
            ExternalRecords::default(),
        );
    }
    // The topic list is collected in place of the request's; each partition list is a new
    // allocation (a `Wanted` with its plan is larger than the request's partition entry).
    let mut topics: Vec<TopicWanted> = request
        .topics
        .into_iter()
        .map(|t| {
            let (topic, unknown_error) = if version >= 13 {
                (
                    ctx.state.topics.get_by_id(&t.topic_id),
                    ErrorCode::UnknownTopicId,
                )
            } else {
                (
                    ctx.state.topics.get(t.topic.0.as_str()),
                    ErrorCode::UnknownTopicOrPartition,
                )
            };
            TopicWanted {
                name: t.topic,
                id: topic.as_ref().map_or(t.topic_id, |tp| tp.id),
                partitions: t
                    .partitions
                    .into_iter()
                    .map(|p| Wanted {
                        partition: topic
                            .as_ref()
                            .and_then(|tp| tp.partition(p.partition))
                            .cloned(),
                        index: p.partition,
                        fetch_offset: p.fetch_offset,
                        partition_max_bytes: p.partition_max_bytes,
                        unknown_error,
                        planned: Planned::default(),
                    })
                    .collect(),
                topic,
            }
        })
        .collect();
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
        plan(&mut topics, response_max, read_committed);
        let planned = || {
            topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .map(|w| &w.planned)
        };
        let bytes: i64 = planned()
            .map(|p| p.slice.as_ref().map_or(0, |s| i64::from(s.len)))
            .sum();
        let errored = planned().any(|p| p.error.is_some());
        let waited_out = Instant::now() >= deadline;
        if bytes >= min_bytes.max(1) || errored || waited_out || ctx.state.shutdown.is_cancelled() {
            return respond(&ctx.state.metrics, topics, read_committed);
        }
        let mut moved = false;
        let receivers = receivers.get_or_insert_with(|| subscribe(&topics, &mut moved));
        if moved {
            continue;
        }
        if receivers.is_empty() {
            // Nothing that an append could satisfy (a fetch naming no partition).
            return respond(&ctx.state.metrics, topics, read_committed);
        }
        let changed = select_all(receivers.iter_mut().map(|rx| Box::pin(rx.changed())));
        tokio::select! {
            _ = changed => {}
            () = tokio::time::sleep_until(deadline) => {}
            () = ctx.state.shutdown.cancelled() => {}
        }
    }
}

/// Watches the log end of every partition the fetch names; sets `moved` when one is no
/// longer where the last [`plan`] read it.
fn subscribe(topics: &[TopicWanted], moved: &mut bool) -> Vec<watch::Receiver<i64>> {
    topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .filter_map(|w| {
            let rx = w.partition.as_ref()?.subscribe();
            *moved |= *rx.borrow() != w.planned.high_watermark;
            Some(rx)
        })
        .collect()
}

/// Decides what each partition returns, without reading bytes.
fn plan(topics: &mut [TopicWanted], response_max: i64, read_committed: bool) {
    let mut remaining = response_max;
    let mut first_with_data = true;
    for w in topics.iter_mut().flat_map(|t| t.partitions.iter_mut()) {
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
        Err(e) => {
            let (log_start_offset, high_watermark) = partition.offsets();
            Planned {
                error: Some(storage_error_code(&e)),
                slice: None,
                high_watermark,
                last_stable_offset: high_watermark,
                log_start_offset,
                aborted: Vec::new(),
            }
        }
    }
}

/// What goes in a partition's `records` field: a placeholder for a record set that leaves
/// with sendfile, or the bytes themselves for a small one.
fn records_field(
    slice: FileSlice,
    external: &mut ExternalRecords<FileSlice>,
) -> std::io::Result<Bytes> {
    let slice = if slice.len >= SENDFILE_BYTES_MIN {
        let len = slice.len as usize;
        match external.add(slice, len) {
            Ok(placeholder) => return Ok(placeholder),
            Err(slice) => slice,
        }
    } else {
        slice
    };
    slice.read().map(Bytes::from)
}

fn respond(
    metrics: &crate::metrics::Metrics,
    topics: Vec<TopicWanted>,
    read_committed: bool,
) -> Answer {
    let large = topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .filter(|w| {
            w.planned
                .slice
                .as_ref()
                .is_some_and(|s| s.len >= SENDFILE_BYTES_MIN)
        })
        .count();
    let mut external = ExternalRecords::with_capacity(large);
    let responses = topics
        .into_iter()
        .map(|t| {
            let metrics_name = t.topic.as_ref().map_or(t.name.0.as_str(), |tp| tp.name.as_str());
            let partitions = t
                .partitions
                .into_iter()
                .map(|w| {
                    let p = w.planned;
                    let mut error = p.error;
                    let records = match p.slice {
                        Some(slice) => {
                            metrics.fetched(metrics_name, u64::from(slice.len));
                            records_field(slice, &mut external).unwrap_or_else(|e| {
                                tracing::error!(partition = w.index, error = %e, "reading a segment failed");
                                error = Some(ErrorCode::KafkaStorageError);
                                Bytes::new()
                            })
                        }
                        None => Bytes::new(),
                    };
                    PartitionData::default()
                        .with_partition_index(w.index)
                        .with_error_code(crate::error::code(error))
                        .with_high_watermark(p.high_watermark)
                        .with_last_stable_offset(p.last_stable_offset)
                        .with_log_start_offset(p.log_start_offset)
                        .with_aborted_transactions(read_committed.then(|| {
                            p.aborted
                                .iter()
                                .map(|a| {
                                    AbortedTransaction::default()
                                        .with_producer_id(ProducerId(a.producer_id))
                                        .with_first_offset(a.first_offset)
                                })
                                .collect()
                        }))
                        .with_preferred_read_replica((-1).into())
                        .with_records(Some(records))
                })
                .collect();
            FetchableTopicResponse::default().with_topic(t.name).with_topic_id(t.id).with_partitions(partitions)
        })
        .collect();
    (
        FetchResponse::default()
            .with_session_id(0)
            .with_responses(responses),
        external,
    )
}
