//! The writer's side of a partition log (Kafka's `LocalLog` with the producer and transaction
//! state `UnifiedLog` keeps beside it): an ordered set of segments, the last one active, and
//! what appends, rolls, truncations and deletions change. It lives behind its [`Log`]'s lock;
//! after each change the log publishes [`LocalLog::read_state`] for readers.
//!
//! Invariants: at least one segment exists; segments are ordered by base offset and the last
//! one is the only one written; `log_start_offset <= high_watermark <= log_end_offset`.
//!
//! [`Log`]: super::Log

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{self, patched_header, BatchHeader, MaxTimestamp, HEADER_BYTES};
use crate::config::{LogConfig, TimestampType};
use crate::flusher::{self, RecoveryPoint};
use crate::leader_epoch::LeaderEpochCache;
use crate::producer::{ProducerStates, SequenceCheck};
use crate::segment::{self, Segment, SegmentSettings, SegmentView};
use crate::txn::{self, AbortedTxn, TxnIndex};
use crate::Error;

use super::read::ReadState;

/// The outcome of an append, for the Produce response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// The broker's time for `LogAppendTime` topics, otherwise -1.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    /// The batch was a retry of one already written.
    pub duplicate: bool,
}

/// What the checks of a produce request's batches found.
#[derive(Debug, Default)]
struct Checked {
    idempotent: bool,
    transactional: bool,
    /// For each batch in order, how its max timestamp is written.
    max_timestamps: Vec<MaxTimestamp>,
}

/// Present in a partition directory once it has held a transactional batch: without it the
/// transaction index is known to be empty and is never scanned for.
pub(super) const TRANSACTIONAL_MARKER: &str = "transactional";

pub(super) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug)]
pub(crate) struct LocalLog {
    pub(super) dir: PathBuf,
    pub(super) config: LogConfig,
    pub(super) segments: BTreeMap<i64, Segment>,
    pub(super) log_start_offset: i64,
    pub(super) high_watermark: i64,
    /// Built on the first idempotent append (from the batch headers on disk), so a clean
    /// start does no work proportional to data.
    pub(super) producers: Option<ProducerStates>,
    /// Open and aborted transactions (see [`crate::txn`]); built when the log opens if it
    /// ever held a transactional batch.
    pub(super) txns: TxnIndex,
    /// The `transactional` marker file is known to exist.
    pub(super) transactional_marked: bool,
    pub(super) epochs: LeaderEpochCache,
    pub(super) unflushed_messages: i64,
    pub(super) last_flush_ms: i64,
    pub(super) poisoned: bool,
    /// Everything below it is on disk (see [`crate::flusher`]).
    pub(super) recovery: Arc<RecoveryPoint>,
    /// Offsets below it were cleaned by an earlier compaction pass.
    pub(super) cleaner_checkpoint: i64,
    /// What readers see of every segment but the active one; rebuilt when that set changes.
    pub(super) sealed_views: Arc<Vec<SegmentView>>,
    /// Aborted transactions as readers see them; rebuilt when that list changes.
    pub(super) aborted_view: Arc<Vec<AbortedTxn>>,
    /// When the active segment was created or opened (set by the first append after it),
    /// for time-based rolling of batches without timestamps.
    pub(super) active_since_ms: Option<i64>,
}

impl LocalLog {
    pub(super) fn settings(config: &LogConfig) -> SegmentSettings {
        SegmentSettings {
            index_interval_bytes: u64::from(config.index_interval_bytes),
            index_bytes_max: config.segment_index_bytes as usize,
        }
    }

    pub(super) fn active_base(&self) -> i64 {
        self.segments.keys().next_back().copied().unwrap_or(0)
    }

    pub(super) fn active(&self) -> &Segment {
        // At least one segment always exists (see the invariants).
        match self.segments.values().next_back() {
            Some(s) => s,
            None => unreachable!("a log always has an active segment"),
        }
    }

    fn active_mut(&mut self) -> &mut Segment {
        match self.segments.values_mut().next_back() {
            Some(s) => s,
            None => unreachable!("a log always has an active segment"),
        }
    }

    /// Offset the next record will get.
    pub(super) fn log_end_offset(&self) -> i64 {
        self.active().next_offset()
    }

    /// The last stable offset: where `read_committed` consumers stop (Kafka: the first
    /// offset of the oldest open transaction, at most the high watermark).
    pub(super) fn last_stable_offset(&self) -> i64 {
        self.txns.last_stable_offset(self.high_watermark)
    }

    /// Rebuilds what readers see of the sealed segments (after a roll, a deletion, a clean).
    pub(super) fn segments_changed(&mut self) {
        let active = self.active_base();
        self.sealed_views = Arc::new(
            self.segments
                .iter()
                .filter(|(base, _)| **base != active)
                .map(|(_, s)| s.view())
                .collect(),
        );
    }

    fn aborted_changed(&mut self) {
        self.aborted_view = Arc::new(self.txns.aborted().to_vec());
    }

    /// What a reader may see now.
    pub(super) fn read_state(&self) -> ReadState {
        ReadState {
            sealed: Arc::clone(&self.sealed_views),
            active: self.active().view(),
            log_start_offset: self.log_start_offset,
            log_end_offset: self.log_end_offset(),
            high_watermark: self.high_watermark,
            last_stable_offset: self.last_stable_offset(),
            aborted: Arc::clone(&self.aborted_view),
        }
    }

    pub(super) fn check_writable(&self) -> Result<(), Error> {
        if self.poisoned {
            return Err(Error::Poisoned {
                path: self.dir.clone(),
            });
        }
        Ok(())
    }

    /// Checks every batch of a produce request against the log's config before any is
    /// written. Returns whether any is idempotent, whether any is transactional, and how
    /// each batch's max timestamp is to be written.
    fn check_batches(
        &self,
        records: &[u8],
        batches: &batch::Batches<'_>,
        now_ms: i64,
    ) -> Result<Checked, Error> {
        let mut checked = Checked::default();
        for (header, range) in batches {
            checked.idempotent |= header.producer_id >= 0;
            checked.transactional |= header.is_transactional();
            if header.is_control() {
                return Err(Error::InvalidBatch(
                    "control batches are written by the transaction coordinator only".into(),
                ));
            }
            let bytes = (range.end - range.start) as u64;
            if bytes > u64::from(self.config.max_message_bytes) {
                return Err(Error::MessageTooLarge {
                    bytes,
                    max: self.config.max_message_bytes,
                });
            }
            let stamp = match self.config.timestamp_type {
                TimestampType::CreateTime => {
                    let batch = records.get(range.clone()).unwrap_or_default();
                    let (min, max) = batch::record_timestamp_range(&header, batch)?;
                    self.check_timestamps(min, max, now_ms)?;
                    MaxTimestamp::Create(max)
                }
                TimestampType::LogAppendTime => MaxTimestamp::LogAppend(now_ms),
            };
            checked.max_timestamps.push(stamp);
            if self.config.is_compacted() {
                check_keys(records, &header, range)?;
            }
        }
        Ok(checked)
    }

    /// Validates and appends the batches in `records` as the leader of `leader_epoch`,
    /// assigning offsets from the log end.
    ///
    /// # Errors
    /// Corrupt or invalid batches, size and timestamp limits, producer sequence and epoch
    /// checks, I/O. Nothing is written when a check fails.
    pub(super) fn append(
        &mut self,
        records: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, Error> {
        self.check_writable()?;
        let batches = batch::split_and_validate(records)?;
        let checked = self.check_batches(records, &batches, now_ms)?;
        if checked.idempotent && self.producers.is_none() {
            self.producers = Some(self.rebuild_producer_state()?);
        }
        if checked.transactional {
            self.mark_transactional()?;
        }
        let mut first: Option<AppendInfo> = None;
        let mut last_offset = self.log_end_offset() - 1;
        let log_append_time = match self.config.timestamp_type {
            TimestampType::LogAppendTime => Some(now_ms),
            TimestampType::CreateTime => None,
        };
        for ((header, range), stamp) in batches.iter().zip(checked.max_timestamps) {
            if header.producer_id >= 0 {
                if let Some(states) = self.producers.as_ref() {
                    if let SequenceCheck::Duplicate(meta) = states.check(&header)? {
                        first.get_or_insert(AppendInfo {
                            base_offset: meta.base_offset,
                            last_offset: meta.last_offset,
                            log_append_time: log_append_time.map_or(-1, |_| meta.timestamp),
                            log_start_offset: self.log_start_offset,
                            duplicate: true,
                        });
                        continue;
                    }
                }
            }
            let bytes = records.get(range).unwrap_or_default();
            let base_offset = self.log_end_offset();
            let head = patched_header(bytes, base_offset, leader_epoch, stamp)?;
            let written = BatchHeader::parse(&head)?;
            self.write_batch(&head, &written, bytes, leader_epoch, now_ms)?;
            if let Some(states) = self.producers.as_mut() {
                states.update(&written);
            }
            self.txns.on_batch(&written, None);
            self.unflushed_messages += i64::from(written.records_count);
            last_offset = written.last_offset();
            first.get_or_insert(AppendInfo {
                base_offset,
                last_offset,
                log_append_time: log_append_time.unwrap_or(-1),
                log_start_offset: self.log_start_offset,
                duplicate: false,
            });
        }
        let mut info = first.ok_or_else(|| Error::InvalidBatch("no batch".into()))?;
        if !info.duplicate {
            info.last_offset = last_offset;
        }
        Ok(info)
    }

    /// Writes one batch whose header is already patched at the log end, rolling first when
    /// it does not fit the active segment, and records its epoch.
    fn write_batch(
        &mut self,
        head: &[u8; HEADER_BYTES],
        written: &BatchHeader,
        bytes: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<(), Error> {
        // An append elsewhere than at the log end would give two batches one offset.
        assert_eq!(
            written.base_offset,
            self.log_end_offset(),
            "a batch must be written at the log end"
        );
        self.maybe_roll(bytes.len() as u64, written, now_ms)?;
        self.epochs.assign(leader_epoch, written.base_offset)?;
        self.active_mut()
            .append(head, written, bytes.get(HEADER_BYTES..).unwrap_or_default())
    }

    /// Creates (once, fsynced) the file that says this partition has seen transactional
    /// batches, before the first one is written.
    fn mark_transactional(&mut self) -> Result<(), Error> {
        if self.transactional_marked {
            return Ok(());
        }
        let path = self.dir.join(TRANSACTIONAL_MARKER);
        if !path.exists() {
            std::fs::File::create(&path)
                .and_then(|f| f.sync_all())
                .map_err(io(&path))?;
            std::fs::File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io(&self.dir))?;
        }
        self.transactional_marked = true;
        Ok(())
    }

    /// Appends the transaction coordinator's COMMIT or ABORT marker for a producer; returns
    /// its offset.
    pub(super) fn append_marker(
        &mut self,
        marker: Marker,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<i64, Error> {
        self.check_writable()?;
        self.mark_transactional()?;
        let bytes = txn::control_batch(
            marker.producer_id,
            marker.producer_epoch,
            marker.commit,
            marker.coordinator_epoch,
            now_ms,
        );
        let base_offset = self.log_end_offset();
        let head = patched_header(&bytes, base_offset, leader_epoch, MaxTimestamp::AsSent)?;
        let written = BatchHeader::parse(&head)?;
        self.write_batch(&head, &written, &bytes, leader_epoch, now_ms)?;
        if let Some(states) = self.producers.as_mut() {
            states.update(&written);
        }
        let kind = if marker.commit {
            txn::CONTROL_COMMIT
        } else {
            txn::CONTROL_ABORT
        };
        self.txns.on_batch(&written, Some(kind));
        if !marker.commit {
            self.aborted_changed();
        }
        self.unflushed_messages += 1;
        Ok(base_offset)
    }

    /// Kafka's `message.timestamp.before.max.ms` / `after.max.ms` checks, on the smallest and
    /// largest of a batch's record timestamps.
    fn check_timestamps(&self, min: i64, max: i64, now_ms: i64) -> Result<(), Error> {
        let before = self.config.timestamp_before_max_ms;
        let after = self.config.timestamp_after_max_ms;
        if min >= 0 && now_ms.saturating_sub(min) > before {
            return Err(Error::InvalidTimestamp(format!(
                "timestamp {min} is more than message.timestamp.before.max.ms={before} before now ({now_ms})"
            )));
        }
        if max.saturating_sub(now_ms) > after {
            return Err(Error::InvalidTimestamp(format!(
                "timestamp {max} is more than message.timestamp.after.max.ms={after} after now ({now_ms})"
            )));
        }
        Ok(())
    }

    /// Rolls before `batch` when it does not fit the active segment or when the segment
    /// has waited `segment.ms`. As Kafka's `LogSegment.shouldRoll`, the wait is measured in
    /// record time (the batch's max timestamp minus the first batch's) when the segment's
    /// first batch has a timestamp, so records produced with old timestamps (a replay, a
    /// mirror) do not roll a segment per batch; otherwise in wall time since the segment was
    /// created or opened.
    fn maybe_roll(&mut self, bytes: u64, batch: &BatchHeader, now_ms: i64) -> Result<(), Error> {
        let since = *self.active_since_ms.get_or_insert(now_ms);
        let active = self.active();
        let waited = match active.first_batch_timestamp() {
            Some(first) if first >= 0 => batch.max_timestamp.saturating_sub(first),
            _ => now_ms.saturating_sub(since),
        };
        let aged = waited > self.config.segment_ms;
        if active.fits(bytes, batch.last_offset(), self.config.segment_bytes) && !aged {
            return Ok(());
        }
        if active.size() == 0 {
            return Ok(());
        }
        self.roll()?;
        self.active_since_ms = Some(now_ms);
        Ok(())
    }

    /// Starts a new active segment at the log end offset. The old one is flushed to the
    /// page cache now and fsynced in the background, after which the recovery point moves
    /// to its end (Kafka also flushes rolled segments asynchronously).
    pub(super) fn roll(&mut self) -> Result<(), Error> {
        let next = self.log_end_offset();
        let old = self.active_mut();
        // No longer appended to: its index entries leave memory.
        old.seal()?;
        let files = old.durable_files()?;
        flusher::sync_later(files, next, Arc::clone(&self.recovery));
        let segment = Segment::create(&self.dir, next, Self::settings(&self.config))?;
        self.segments.insert(next, segment);
        self.active_since_ms = None;
        self.segments_changed();
        Ok(())
    }

    /// The idempotent producers that wrote to this log (state rebuilt from the batch
    /// headers on first use after start-up).
    pub(super) fn active_producers(
        &mut self,
    ) -> Result<Vec<crate::producer::ActiveProducer>, Error> {
        if self.producers.is_none() {
            self.producers = Some(self.rebuild_producer_state()?);
        }
        let mut active = self
            .producers
            .as_ref()
            .map(ProducerStates::active)
            .unwrap_or_default();
        for p in &mut active {
            p.current_txn_start_offset = self.txns.open_since(p.producer_id).unwrap_or(-1);
        }
        Ok(active)
    }

    fn rebuild_producer_state(&self) -> Result<ProducerStates, Error> {
        let mut states = ProducerStates::default();
        self.for_each_header(|header, _| {
            states.update(header);
            Ok(())
        })?;
        Ok(states)
    }

    /// Calls `f` with every batch header of the log in order, and for control batches their
    /// control record type.
    pub(super) fn for_each_header(
        &self,
        mut f: impl FnMut(&BatchHeader, Option<i16>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        for segment in self.segments.values() {
            let mut position = 0;
            while position < segment.size() {
                let header = segment.header_at(position)?;
                let control = if header.is_control() {
                    segment
                        .batch_bytes_at(position, &header)
                        .ok()
                        .and_then(|b| txn::control_type(&b))
                } else {
                    None
                };
                f(&header, control)?;
                position += header.total_bytes();
            }
        }
        Ok(())
    }

    /// Moves the high watermark to `offset` clamped to `[log_start, log_end]`; returns it.
    pub(super) fn update_high_watermark(&mut self, offset: i64) -> i64 {
        self.high_watermark = offset.clamp(self.log_start_offset, self.log_end_offset());
        self.high_watermark
    }

    /// Moves the log start to `offset` (DeleteRecords, retention), trimming what depends on
    /// it.
    pub(super) fn move_log_start(&mut self, offset: i64) -> Result<(), Error> {
        if offset <= self.log_start_offset {
            return Ok(());
        }
        self.log_start_offset = offset;
        self.high_watermark = self.high_watermark.max(offset);
        self.epochs.truncate_from_start(offset)?;
        self.txns.trim_before(offset);
        self.aborted_changed();
        Ok(())
    }

    /// Cuts the log so that it ends before `offset` (a follower diverging from its leader, a
    /// replicated metadata log replacing its tail). Whole segments after it go.
    pub(super) fn truncate_to(&mut self, offset: i64) -> Result<(), Error> {
        if offset >= self.log_end_offset() {
            return Ok(());
        }
        let offset = offset.max(self.log_start_offset);
        let doomed: Vec<i64> = self.segments.range(offset + 1..).map(|(b, _)| *b).collect();
        for base in doomed {
            if let Some(s) = self.segments.remove(&base) {
                s.delete()?;
            }
        }
        // The log start lies in a segment at or below it, so one remains and holds `offset`.
        self.active_mut().truncate_to(offset)?;
        self.epochs.truncate_from_end(offset)?;
        self.high_watermark = self.high_watermark.min(self.log_end_offset());
        self.recovery
            .reset(self.recovery.get().min(self.log_end_offset()));
        // Producer and transaction state are rebuilt from what is left.
        self.producers = None;
        self.txns = TxnIndex::default();
        if self.transactional_marked {
            let mut txns = TxnIndex::default();
            self.for_each_header(|h, control| {
                txns.on_batch(h, control);
                Ok(())
            })?;
            self.txns = txns;
        }
        self.aborted_changed();
        self.segments_changed();
        Ok(())
    }

    /// Whether `flush.ms` has passed since the last flush.
    pub(super) fn flush_due(&self, now_ms: i64) -> bool {
        self.unflushed_messages > 0
            && now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms
    }

    /// Whether `flush.messages` appends are waiting for an fsync.
    pub(super) fn flush_needed(&self) -> bool {
        self.unflushed_messages >= self.config.flush_messages
    }

    /// The files of every segment that may hold data not yet on disk (from the one holding
    /// the recovery point on), with the log end they cover: to be fsynced without the lock.
    /// `None` when everything is on disk already.
    pub(super) fn unflushed_files(&mut self, now_ms: i64) -> Result<Option<FlushJob>, Error> {
        self.check_writable()?;
        self.unflushed_messages = 0;
        self.last_flush_ms = now_ms;
        let point = self.recovery.get();
        if point >= self.log_end_offset() {
            return Ok(None);
        }
        let from = self
            .segments
            .range(..=point)
            .next_back()
            .map_or(i64::MIN, |(base, _)| *base);
        let mut files = Vec::new();
        for segment in self.segments.range(from..).map(|(_, s)| s) {
            if segment.next_offset() > point {
                files.extend(segment.durable_files()?);
            }
        }
        Ok(Some(FlushJob {
            files,
            end_offset: self.log_end_offset(),
        }))
    }

    /// Writes index buffers out so a clean restart can trust them.
    pub(super) fn flush_indexes(&self) -> Result<(), Error> {
        for segment in self.segments.values() {
            segment.flush_indexes()?;
        }
        Ok(())
    }
}

/// A COMMIT or ABORT marker to write (Kafka's `WriteTxnMarkers` entry for one partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// Files to fsync outside the log's lock, and the log end they make durable.
#[derive(Debug)]
pub(super) struct FlushJob {
    pub(super) files: Vec<(PathBuf, std::fs::File)>,
    pub(super) end_offset: i64,
}

/// As Kafka's `LogValidator`: a compacted topic keeps the latest value per key, so a record
/// without one is refused (compressed batches are decompressed to look).
fn check_keys(
    records: &[u8],
    header: &BatchHeader,
    range: std::ops::Range<usize>,
) -> Result<(), Error> {
    let body = records
        .get(range.start + HEADER_BYTES..range.end)
        .unwrap_or_default();
    let body = crate::compress::plain(header.compression(), body)?;
    let keyless = batch::keyless_records(&body).unwrap_or_default();
    if keyless.is_empty() {
        Ok(())
    } else {
        Err(Error::KeylessRecords {
            record_indexes: keyless,
        })
    }
}

/// Removes the files of segment `base` in `dir` (the segments after a cut one at recovery).
pub(super) fn remove_segment_files(dir: &Path, base: i64) -> Result<(), Error> {
    segment::remove_files(dir, base)
}
