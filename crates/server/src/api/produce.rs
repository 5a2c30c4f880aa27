//! Produce (API key 0, v0–v13): validate each partition's batches and append them. v0–v2 may
//! carry message sets of magic 0 or 1, converted into one batch each on append, as Kafka 3.9
//! converts them (Kafka 4 refuses these versions). acks 0/1/-1 all mean "in the page cache" on one
//! broker; acks=0 gets no response. Errors are per partition. v13 names topics by id.
//!
//! A transactional batch must belong to its producer's open transaction (KIP-890's
//! verification, against the coordinator's published view). A partition the transaction has
//! not added is INVALID_TXN_STATE up to v10 and TRANSACTION_ABORTABLE at v11; from v12
//! (transactions v2) the broker adds it to the transaction itself, as Kafka's broker does by
//! sending AddPartitionsToTxn to the coordinator, before appending.
//!
//! The request is read in place and the response written straight into the connection's
//! buffer. Appends (page-cache writes, and an fsync with `flush.messages`) run on the
//! blocking pool, all of a request's partitions in one hand-off, never on an async worker.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use strom_codec::produce::{PartitionResponse, ProduceRequestView, ProduceResponseWriter};
use strom_codec::ErrorCode;
use strom_coordinator::transactions::{AddPartitions, SupportedOperation};
use strom_storage::AppendInfo;

use crate::context::RequestContext;
use crate::coordinators::transactions::ProduceCheck;
use crate::error::storage_error_code;
use crate::topics::Partition;

/// The versions answered.
pub const VERSIONS: RangeInclusive<i16> = 0..=13;
/// The versions ApiVersions lists.
pub const ADVERTISED: RangeInclusive<i16> = 0..=13;
/// How long a v12+ produce retries adding its partitions while the producer's previous
/// transaction is still being ended (Kafka's `add.partitions.to.txn.retry.backoff.max.ms`,
/// capped by the request's timeout), and how long it waits between tries
/// (`add.partitions.to.txn.retry.backoff.ms`).
const ADD_RETRY_MAX: Duration = Duration::from_millis(100);
const ADD_RETRY_BACKOFF: Duration = Duration::from_millis(20);
/// Partitions' worth of scratch a connection keeps between produce requests.
const SCRATCH_PARTITIONS_KEPT: usize = 1024;

/// What the connection needs besides the bytes written.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// 0: the client wants no response (the caller drops what was written).
    pub acks: i16,
    /// The first partition error, for the request metrics (0 if none).
    pub first_error: i16,
}

/// Memory a connection's produce requests reuse from one to the next.
#[derive(Debug, Default)]
pub struct ProduceScratch {
    /// One entry per partition of the request, in request order.
    planned: Vec<Planned>,
    /// The appends to run, and then their results, in the order of `planned`'s appends.
    appends: Vec<Append>,
}

impl ProduceScratch {
    fn clear(&mut self) {
        self.planned.clear();
        self.appends.clear();
        self.planned.shrink_to(SCRATCH_PARTITIONS_KEPT);
        self.appends.shrink_to(SCRATCH_PARTITIONS_KEPT);
    }
}

/// What was decided for one partition before anything was written.
#[derive(Debug)]
enum Planned {
    Refused(ErrorCode, &'static str),
    /// The index into `appends` of its append.
    Append(usize),
}

#[derive(Debug)]
struct Append {
    partition: Arc<Partition>,
    records: Bytes,
    /// A message set of magic 0 or 1 (Produce v0–v2), converted before it is appended.
    legacy: bool,
    result: Option<Result<AppendInfo, strom_storage::Error>>,
}

fn failed<'a>(index: i32, error: ErrorCode, message: Option<&'a str>) -> PartitionResponse<'a> {
    PartitionResponse {
        index,
        error_code: error.code(),
        base_offset: -1,
        log_append_time_ms: -1,
        log_start_offset: -1,
        record_errors: &[],
        error_message: message,
    }
}

const KEYLESS_MESSAGE: &str = "Compacted topic cannot accept message without key";
const OUTSIDE_TRANSACTION: &str = "transactional batch outside the producer's open transaction";

/// What a Produce version does with a partition the transaction has not added (Kafka's
/// `produceRequestVersionToTransactionSupportedOperation`).
fn operation(version: i16) -> SupportedOperation {
    match version {
        12.. => SupportedOperation::AddPartition,
        11 => SupportedOperation::GenericErrorSupported,
        _ => SupportedOperation::DefaultError,
    }
}

/// A transactional batch's producer id and epoch (`None` for any other batch).
fn transactional(records: &[u8]) -> Option<(i64, i16)> {
    let header = strom_storage::batch::BatchHeader::parse(records).ok()?;
    header
        .is_transactional()
        .then_some((header.producer_id, header.producer_epoch))
}

/// For a transactional batch: why it is refused, if it is, with the error Kafka's broker
/// gives the request's version (after the v12+ implicit add was tried, whose failure is
/// `add_error`).
fn transactional_refusal(
    ctx: &RequestContext<'_>,
    records: &[u8],
    (topic, partition): (&str, i32),
    version: i16,
    add_error: Option<ErrorCode>,
) -> Option<ErrorCode> {
    let (producer_id, epoch) = transactional(records)?;
    if producer_id < 0 {
        return Some(ErrorCode::InvalidRecord);
    }
    let adds = operation(version) == SupportedOperation::AddPartition;
    match ctx
        .state
        .txns
        .check_produce(producer_id, epoch, topic, partition)
    {
        ProduceCheck::Ok => None,
        ProduceCheck::Refused(e) => Some(e),
        ProduceCheck::NotAdded | ProduceCheck::Ending if adds && add_error.is_some() => add_error,
        ProduceCheck::NotAdded => Some(match operation(version) {
            SupportedOperation::GenericErrorSupported => ErrorCode::TransactionAbortable,
            // Up to v10; and from v12 a partition the transaction lost again after it was
            // added (it ended meanwhile).
            _ => ErrorCode::InvalidTxnState,
        }),
        // Kafka's broker turns the coordinator's CONCURRENT_TRANSACTIONS into a retriable
        // NOT_ENOUGH_REPLICAS for clients that predate transactions v2.
        ProduceCheck::Ending if adds => Some(ErrorCode::ConcurrentTransactions),
        ProduceCheck::Ending => Some(ErrorCode::NotEnoughReplicas),
    }
}

/// Produce v12+: adds every partition of the request that the producer's transaction has not
/// added yet, in one call to the transaction coordinator, retrying for a while when the
/// previous transaction is still being ended. Returns the error (as Kafka's broker maps it
/// for the producer) when the add failed.
async fn add_to_transaction(
    ctx: &RequestContext<'_>,
    request: &ProduceRequestView,
) -> Option<ErrorCode> {
    let transactional_id = request.transactional_id()?;
    // As Kafka, invalid acks refuse the request before any partition joins a transaction.
    if operation(request.version()) != SupportedOperation::AddPartition
        || !matches!(request.acks, -1..=1)
    {
        return None;
    }
    let by_id = request.version() >= 13;
    let mut producer: Option<(i64, i16)> = None;
    let mut partitions = Vec::new();
    for topic_data in request.topics() {
        let Some(topic) = ctx
            .state
            .topics
            .get_named(topic_data.name, topic_data.topic_id, by_id)
        else {
            continue;
        };
        for data in topic_data.partitions {
            let Some((pid, epoch)) = data.records.as_deref().and_then(transactional) else {
                continue;
            };
            if topic.partition(data.index).is_none()
                || *producer.get_or_insert((pid, epoch)) != (pid, epoch)
            {
                continue;
            }
            if matches!(
                ctx.state
                    .txns
                    .check_produce(pid, epoch, &topic.name, data.index),
                ProduceCheck::NotAdded | ProduceCheck::Ending
            ) {
                partitions.push((topic.name.clone(), data.index));
            }
        }
    }
    let (producer_id, producer_epoch) = producer?;
    if partitions.is_empty() {
        return None;
    }
    let timeout = Duration::from_millis(u64::try_from(request.timeout_ms).unwrap_or(0));
    let give_up = tokio::time::Instant::now() + ADD_RETRY_MAX.min(timeout);
    loop {
        let result = ctx
            .state
            .txns
            .add_partitions(AddPartitions {
                transactional_id: transactional_id.to_string(),
                producer_id,
                producer_epoch,
                partitions: partitions.clone(),
                tv2: true,
            })
            .await;
        match result {
            Ok(()) => return None,
            Err(ErrorCode::ConcurrentTransactions)
                if tokio::time::Instant::now() + ADD_RETRY_BACKOFF <= give_up =>
            {
                tokio::time::sleep(ADD_RETRY_BACKOFF).await;
            }
            Err(e) => {
                tracing::debug!(peer = %ctx.peer, transactional_id, error = ?e, "implicit add to the transaction refused");
                return Some(match e {
                    ErrorCode::ProducerFenced => ErrorCode::InvalidProducerEpoch,
                    ErrorCode::CoordinatorNotAvailable
                    | ErrorCode::CoordinatorLoadInProgress
                    | ErrorCode::NotCoordinator
                    | ErrorCode::NetworkException => ErrorCode::NotEnoughReplicas,
                    other => other,
                });
            }
        }
    }
}

/// Decides, partition by partition in request order, what is refused and what is appended.
fn plan(
    ctx: &RequestContext<'_>,
    request: &ProduceRequestView,
    scratch: &mut ProduceScratch,
    add_error: Option<ErrorCode>,
) {
    let acks_valid = matches!(request.acks, -1..=1);
    let version = request.version();
    let by_id = request.version() >= 13;
    for topic_data in request.topics() {
        let topic = ctx
            .state
            .topics
            .get_named(topic_data.name, topic_data.topic_id, by_id);
        let name = topic.as_ref().map_or(topic_data.name, |t| t.name.as_str());
        for data in topic_data.partitions {
            // As Kafka: an unknown topic or partition is answered as such before the acks are
            // looked at.
            let partition = topic.as_ref().and_then(|t| t.partition(data.index));
            let planned = if partition.is_some() && !acks_valid {
                Planned::Refused(ErrorCode::InvalidRequiredAcks, "acks must be -1, 0 or 1")
            } else if let Some(partition) = partition {
                match data.records.filter(|r| !r.is_empty()) {
                    None => Planned::Refused(ErrorCode::InvalidRecord, "no records"),
                    Some(records) => {
                        // Message sets of magic 0/1 have no producer id or transaction.
                        let legacy = request.version() < 3
                            && strom_storage::legacy::magic(&records).is_some_and(|m| m < 2);
                        let refusal = (!legacy)
                            .then(|| {
                                transactional_refusal(
                                    ctx,
                                    &records,
                                    (name, data.index),
                                    version,
                                    add_error,
                                )
                            })
                            .flatten();
                        if let Some(e) = refusal {
                            Planned::Refused(e, OUTSIDE_TRANSACTION)
                        } else {
                            scratch.appends.push(Append {
                                partition: Arc::clone(partition),
                                records,
                                legacy,
                                result: None,
                            });
                            Planned::Append(scratch.appends.len() - 1)
                        }
                    }
                }
            } else if by_id && topic.is_none() {
                Planned::Refused(ErrorCode::UnknownTopicId, "")
            } else {
                Planned::Refused(ErrorCode::UnknownTopicOrPartition, "")
            };
            scratch.planned.push(planned);
        }
    }
}

/// Runs the appends off the async workers; their results land in `appends`. On a
/// multi-threaded runtime the worker becomes a blocking thread for the duration
/// (`block_in_place`: its other tasks move to another worker, and the request's bytes stay in
/// this core's cache); elsewhere the appends go to the blocking pool.
async fn append_all(appends: &mut Vec<Append>) {
    if appends.is_empty() {
        return;
    }
    let run = |work: &mut Vec<Append>| {
        for a in work {
            a.result = Some(if a.legacy {
                strom_storage::legacy::to_batch(&a.records).and_then(|b| a.partition.append(&b))
            } else {
                a.partition.append(&a.records)
            });
        }
    };
    if super::can_block_in_place() {
        tokio::task::block_in_place(|| run(appends));
        return;
    }
    let mut work = std::mem::take(appends);
    let done = tokio::task::spawn_blocking(move || {
        run(&mut work);
        work
    })
    .await;
    match done {
        Ok(work) => *appends = work,
        Err(e) => {
            // The blocking task panicked or was cancelled at shutdown: nothing is known of
            // the appends, so none is acknowledged.
            tracing::error!(error = %e, "append task failed");
        }
    }
}

/// Appends every partition's batches and writes the response body into `out` (after the
/// header the caller wrote), one partition at a time, in request order.
pub async fn handle(
    ctx: &RequestContext<'_>,
    request: &ProduceRequestView,
    scratch: &mut ProduceScratch,
    out: &mut BytesMut,
) -> Outcome {
    scratch.clear();
    let add_error = add_to_transaction(ctx, request).await;
    plan(ctx, request, scratch, add_error);
    append_all(&mut scratch.appends).await;
    let version = request.version();
    let mut first_error = 0;
    let mut planned = scratch.planned.iter();
    let mut w = ProduceResponseWriter::new(out, version, request.topic_count());
    for topic_data in request.topics() {
        w.topic(
            topic_data.name,
            topic_data.topic_id,
            topic_data.partitions.len(),
        );
        for data in topic_data.partitions {
            let index = data.index;
            let error_message;
            let record_errors: Vec<(i32, &str)>;
            let response = match planned.next() {
                None => failed(index, ErrorCode::UnknownServerError, None),
                Some(Planned::Refused(e, "")) => failed(index, *e, None),
                Some(Planned::Refused(e, message)) => failed(index, *e, Some(message)),
                Some(Planned::Append(i)) => match scratch.appends.get(*i) {
                    Some(Append {
                        partition,
                        records,
                        result: Some(Ok(info)),
                        ..
                    }) => {
                        if !info.duplicate {
                            ctx.state.metrics.produced(
                                &partition.topic,
                                records.len() as u64,
                                u64::try_from(info.last_offset - info.base_offset + 1).unwrap_or(0),
                            );
                        }
                        PartitionResponse {
                            index,
                            error_code: 0,
                            base_offset: info.base_offset,
                            log_append_time_ms: info.log_append_time,
                            log_start_offset: info.log_start_offset,
                            record_errors: &[],
                            error_message: None,
                        }
                    }
                    Some(Append {
                        partition,
                        result: Some(Err(e)),
                        ..
                    }) => {
                        tracing::debug!(peer = %ctx.peer, topic = %partition.topic, partition = index, error = %e, "produce refused");
                        error_message = e.to_string();
                        let mut response =
                            failed(index, storage_error_code(e), Some(&error_message));
                        // As Kafka: a batch the log refused after reading it (a bad record
                        // or timestamp, a sequence or epoch it does not accept) is answered
                        // with the log start offset; one it could not take at all (corrupt,
                        // too large, storage failure) with -1.
                        if matches!(
                            e,
                            strom_storage::Error::InvalidBatch(_)
                                | strom_storage::Error::KeylessRecords { .. }
                                | strom_storage::Error::InvalidTimestamp(_)
                                | strom_storage::Error::OutOfOrderSequence { .. }
                                | strom_storage::Error::InvalidProducerEpoch { .. }
                        ) {
                            response.log_start_offset = partition.offsets().0;
                        }
                        if let strom_storage::Error::KeylessRecords { record_indexes } = e {
                            // v8+: which records were bad; clients fail the others of the
                            // batch with INVALID_DIFFERENT_RECORD (KIP-467).
                            record_errors = record_indexes
                                .iter()
                                .map(|i| (*i, KEYLESS_MESSAGE))
                                .collect();
                            response.record_errors = &record_errors;
                        }
                        response
                    }
                    // The append task failed: not written as far as anyone knows.
                    _ => failed(index, ErrorCode::KafkaStorageError, None),
                },
            };
            if first_error == 0 {
                first_error = response.error_code;
            }
            w.partition(&response);
        }
    }
    w.finish(0);
    // Records and partitions are not held past the request.
    scratch.clear();
    Outcome {
        acks: request.acks,
        first_error,
    }
}
