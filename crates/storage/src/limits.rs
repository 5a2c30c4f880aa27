//! Named limits of the storage layer. Config may lower them, never remove them.

/// Largest `segment.bytes`: positions in the offset index are `u32` and Kafka caps it at 1 GiB.
pub const SEGMENT_BYTES_MAX: u64 = 1024 * 1024 * 1024;
/// Smallest `segment.bytes` Kafka accepts (`LogConfig`: at least 14 bytes, the record
/// overhead; we require room for one batch header).
pub const SEGMENT_BYTES_MIN: u64 = 14;
/// Largest `segment.index.bytes` (Kafka's default, 10 MiB): the index lives in memory.
pub const INDEX_BYTES_MAX: usize = 10 * 1024 * 1024;
/// Largest `max.message.bytes` we accept for a topic: a batch must fit one frame.
pub const BATCH_BYTES_MAX: u32 = 100 * 1024 * 1024 - 1024;
/// Idempotent producers remembered per partition; the least recently used beyond this is
/// forgotten (Kafka expires them after `producer.id.expiration.ms` instead).
pub const PRODUCERS_PER_PARTITION_MAX: usize = 10_000;
/// Batches remembered per producer for duplicate detection: Kafka's
/// `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`, matching `max.in.flight.requests.per.connection` ≤ 5.
pub const PRODUCER_BATCHES_RETAINED: usize = 5;
/// Files and directories waiting for the background reaper (see [`crate::reaper`]); past
/// this, the caller removes them itself.
pub const REAPER_QUEUE_MAX: usize = 1024;
/// Rolled segments waiting for the background fsync (see [`crate::flusher`]); past this,
/// the appender that rolled fsyncs the segment itself.
pub const FLUSH_QUEUE_MAX: usize = 1024;

const _: () = assert!(SEGMENT_BYTES_MAX <= u32::MAX as u64);
const _: () = assert!((BATCH_BYTES_MAX as u64) < SEGMENT_BYTES_MAX);

/// Most bytes one compressed batch may decompress to (a bound against decompression bombs
/// when the cleaner or the keyless-record check reads inside compressed batches).
pub const DECOMPRESSED_BATCH_BYTES_MAX: usize = 256 * 1024 * 1024;
/// Default memory for the cleaner's key map (Kafka's `log.cleaner.dedupe.buffer.size`):
/// key bytes plus per-entry overhead of one cleaning pass.
pub const CLEANER_DEDUPE_BYTES_MAX: usize = 128 * 1024 * 1024;
