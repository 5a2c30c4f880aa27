//! The log of one partition: an ordered set of segments, the last one active, as Kafka's
//! `UnifiedLog`/`LocalLog`. The owner serialises calls (one lock per partition); reads hand
//! back [`FileSlice`]s so the bytes can be read after the lock is released.
//!
//! Invariants: at least one segment exists; segments are ordered by base offset and the last
//! one is the only one written; `log_start_offset <= log_end_offset`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{self, patched_header, HEADER_BYTES};
use crate::cleaner;
use crate::config::{LogConfig, TimestampType};
use crate::flusher::{self, RecoveryPoint};
use crate::offset_file;
use crate::producer::{ProducerStates, SequenceCheck};
use crate::segment::{self, FileSlice, Segment, SegmentSettings};
use crate::txn::{self, AbortedTxn, TxnIndex};
use crate::Error;

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

#[derive(Debug)]
pub struct Log {
    dir: PathBuf,
    config: LogConfig,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    /// Built on the first idempotent append (from the batch headers on disk), so a clean
    /// start does no work proportional to data.
    producers: Option<ProducerStates>,
    /// Open and aborted transactions, built on first use (see [`crate::txn`]).
    txns: Option<TxnIndex>,
    /// The `transactional` marker file is known to exist.
    transactional_marked: bool,
    unflushed_messages: i64,
    last_flush_ms: i64,
    poisoned: bool,
    /// Everything below it is on disk (see [`crate::flusher`]).
    recovery: Arc<RecoveryPoint>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// File in the partition directory holding a log start moved by DeleteRecords.
const LOG_START_FILE: &str = "log-start-offset";

/// Present in a partition directory once it has held a transactional batch.
const TRANSACTIONAL_MARKER: &str = "transactional";

impl Log {
    fn settings(config: &LogConfig) -> SegmentSettings {
        SegmentSettings {
            index_interval_bytes: u64::from(config.index_interval_bytes),
            index_bytes_max: config.segment_index_bytes as usize,
        }
    }

    /// Opens the log in `dir`, creating it when missing. With `recover` (after an unclean
    /// stop) every segment that ends after the recovery point (see [`crate::flusher`]),
    /// the active one always among them, is re-validated batch by batch and cut at the
    /// first torn or corrupt one; as in Kafka, the segments after a cut one are removed.
    /// Segments wholly below the recovery point, and all of them after a clean stop, have
    /// only the batches after their last index entry checked.
    pub fn open(dir: &Path, config: LogConfig, recover: bool, now_ms: i64) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut bases = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io(dir))? {
            let entry = entry.map_err(io(dir))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".log") {
                if let Ok(base) = stem.parse::<i64>() {
                    bases.push(base);
                }
            } else if name.ends_with(crate::reaper::DOOMED_SUFFIX) {
                crate::reaper::remove_doomed(entry.path());
            } else if name.ends_with(".cleaned") || name.ends_with(".swap") {
                let _ = crate::reaper::remove_file(&entry.path());
            }
        }
        bases.sort_unstable();
        let settings = Self::settings(&config);
        let recovery = RecoveryPoint::load(dir);
        let recovery_point = recovery.get();
        let mut segments = BTreeMap::new();
        for (i, &base) in bases.iter().enumerate() {
            let last = i + 1 == bases.len();
            // A segment that ends after the recovery point may have lost writes.
            let check = recover && bases.get(i + 1).is_none_or(|&next| next > recovery_point);
            // Only the last segment is appended to; the others are sealed (no index
            // entries read or held).
            let (mut segment, cut) = match (check, last) {
                (true, _) => Segment::open_recovering(dir, base, settings)?,
                (false, true) => (Segment::open(dir, base, settings, false)?, false),
                (false, false) => (Segment::open_sealed(dir, base, settings)?, false),
            };
            if cut && !last {
                // What follows a cut segment would not continue it: as Kafka's recovery,
                // the later segments go and this one is appended to again.
                let later = bases.get(i + 1..).unwrap_or_default();
                tracing::warn!(
                    log = %dir.display(),
                    segment = base,
                    removed_segments = later.len(),
                    "a segment before the log end was torn by the unclean stop; the segments after it are removed"
                );
                for &gone in later {
                    segment::remove_files(dir, gone)?;
                }
                segments.insert(base, segment);
                break;
            }
            if check && !last {
                segment.seal()?;
            }
            segments.insert(base, segment);
        }
        if segments.is_empty() {
            segments.insert(0, Segment::create(dir, 0, settings)?);
        }
        let first_base = segments.keys().next().copied().unwrap_or(0);
        let end = segments
            .values()
            .next_back()
            .map_or(0, Segment::next_offset);
        // DeleteRecords may have moved the start inside the first segment.
        let log_start_offset = offset_file::read(dir, LOG_START_FILE)
            .unwrap_or(first_base)
            .clamp(first_base, end.max(first_base));
        let mut log = Self {
            dir: dir.to_path_buf(),
            config,
            segments,
            log_start_offset,
            producers: None,
            txns: None,
            transactional_marked: false,
            unflushed_messages: 0,
            last_flush_ms: now_ms,
            poisoned: false,
            recovery,
        };
        log.drop_empty_tail_gap()?;
        if log.log_end_offset() < recovery_point {
            // Cut below what was on disk (the files were changed outside the broker).
            log.recovery.reset(log.log_end_offset())?;
        }
        Ok(log)
    }

    /// After recovery an older segment may have lost its tail; later segments still start
    /// at their own base offsets, so nothing needs to move. An empty non-active segment is
    /// removed.
    fn drop_empty_tail_gap(&mut self) -> Result<(), Error> {
        let active = self.active_base();
        let empty: Vec<i64> = self
            .segments
            .iter()
            .filter(|(base, s)| **base != active && s.size() == 0)
            .map(|(base, _)| *base)
            .collect();
        for base in empty {
            if let Some(s) = self.segments.remove(&base) {
                s.delete()?;
            }
        }
        let first = self.segments.keys().next().copied().unwrap_or(0);
        self.log_start_offset = self.log_start_offset.max(first);
        Ok(())
    }

    fn active_base(&self) -> i64 {
        self.segments.keys().next_back().copied().unwrap_or(0)
    }

    fn active(&self) -> Option<&Segment> {
        self.segments.values().next_back()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Replaces the config (takes effect for the next append or retention pass).
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// Offset the next record will get (the high watermark on a single broker).
    pub fn log_end_offset(&self) -> i64 {
        self.active().map_or(0, Segment::next_offset)
    }

    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Validates and appends the batches in `records`, assigning offsets from the log end.
    ///
    /// # Errors
    /// Corrupt or invalid batches, size and timestamp limits, producer sequence and epoch
    /// checks, I/O. Nothing is written when a check fails.
    pub fn append(&mut self, records: &[u8], now_ms: i64) -> Result<AppendInfo, Error> {
        if self.poisoned {
            return Err(Error::Poisoned {
                path: self.dir.clone(),
            });
        }
        let batches = batch::split_and_validate(records)?;
        let mut idempotent = false;
        let mut transactional = false;
        for (header, range) in &batches {
            idempotent |= header.producer_id >= 0;
            transactional |= header.is_transactional();
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
            if self.config.timestamp_type == TimestampType::CreateTime {
                self.check_timestamps(&header, now_ms)?;
            }
            if self.is_compacted() && !header.is_control() {
                // As Kafka's LogValidator: a compacted topic keeps the latest value per key,
                // so a record without one is refused (compressed batches are decoded).
                let body = records
                    .get(range.start + HEADER_BYTES..range.end)
                    .unwrap_or_default();
                let plain;
                let body = if header.compression() == 0 {
                    body
                } else {
                    plain = crate::compress::decompress(header.compression(), body)?;
                    &plain
                };
                let keyless = batch::keyless_records(body).unwrap_or_default();
                if !keyless.is_empty() {
                    return Err(Error::KeylessRecords {
                        record_indexes: keyless,
                    });
                }
            }
        }
        if idempotent && self.producers.is_none() {
            self.producers = Some(self.rebuild_producer_state()?);
        }
        if transactional {
            self.mark_transactional()?;
            self.ensure_txns()?;
        }
        let mut first: Option<AppendInfo> = None;
        let mut last_offset = self.log_end_offset() - 1;
        let log_append_time = match self.config.timestamp_type {
            TimestampType::LogAppendTime => Some(now_ms),
            TimestampType::CreateTime => None,
        };
        for (header, range) in &batches {
            if header.producer_id >= 0 {
                if let Some(states) = self.producers.as_ref() {
                    if let SequenceCheck::Duplicate(meta) = states.check(&header)? {
                        let info = AppendInfo {
                            base_offset: meta.base_offset,
                            last_offset: meta.last_offset,
                            log_append_time: log_append_time.map_or(-1, |_| meta.timestamp),
                            log_start_offset: self.log_start_offset,
                            duplicate: true,
                        };
                        first.get_or_insert(info);
                        continue;
                    }
                }
            }
            let bytes = records.get(range).unwrap_or_default();
            let base_offset = self.log_end_offset();
            let head = patched_header(bytes, base_offset, log_append_time)?;
            let written = batch::BatchHeader::parse(&head)?;
            self.maybe_roll(bytes.len() as u64, written.last_offset(), now_ms)?;
            let settings = Self::settings(&self.config);
            let base = self.active_base();
            let segment = match self.segments.get_mut(&base) {
                Some(s) => s,
                None => {
                    self.segments
                        .insert(base, Segment::create(&self.dir, base, settings)?);
                    self.segments
                        .get_mut(&base)
                        .ok_or_else(|| Error::Poisoned {
                            path: self.dir.clone(),
                        })?
                }
            };
            segment.append(
                &head,
                &written,
                bytes.get(HEADER_BYTES..).unwrap_or_default(),
            )?;
            if let Some(states) = self.producers.as_mut() {
                states.update(&written);
            }
            if let Some(t) = self.txns.as_mut() {
                t.on_batch(&written, None);
            }
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
        if self.unflushed_messages >= self.config.flush_messages {
            self.flush(now_ms)?;
        }
        let mut info = first.ok_or_else(|| Error::InvalidBatch("no batch".into()))?;
        if !info.duplicate {
            info.last_offset = last_offset;
        }
        Ok(info)
    }

    /// Creates (once, fsynced) the file that says this partition has seen transactional
    /// batches, before the first one is written: without it the transaction index is known
    /// to be empty and never scanned for.
    fn mark_transactional(&mut self) -> Result<(), Error> {
        if self.transactional_marked {
            return Ok(());
        }
        let path = self.dir.join(TRANSACTIONAL_MARKER);
        if path.exists() {
            self.transactional_marked = true;
            return Ok(());
        }
        std::fs::File::create(&path)
            .and_then(|f| f.sync_all())
            .map_err(io(&path))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        self.transactional_marked = true;
        Ok(())
    }

    /// Builds the transaction index from the batch headers (and control records) on disk,
    /// unless this partition never held a transactional batch.
    fn ensure_txns(&mut self) -> Result<&mut TxnIndex, Error> {
        if self.txns.is_none() {
            let mut index = TxnIndex::default();
            if self.dir.join(TRANSACTIONAL_MARKER).exists() {
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
                        index.on_batch(&header, control);
                        position += header.total_bytes();
                    }
                }
                index.trim_before(self.log_start_offset);
            }
            self.txns = Some(index);
        }
        self.txns.as_mut().ok_or_else(|| Error::Poisoned {
            path: self.dir.clone(),
        })
    }

    /// Appends the transaction coordinator's COMMIT or ABORT marker for a producer; returns
    /// its offset.
    pub fn append_marker(
        &mut self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        coordinator_epoch: i32,
        now_ms: i64,
    ) -> Result<i64, Error> {
        if self.poisoned {
            return Err(Error::Poisoned {
                path: self.dir.clone(),
            });
        }
        self.mark_transactional()?;
        self.ensure_txns()?;
        let bytes = txn::control_batch(producer_id, epoch, commit, coordinator_epoch, now_ms);
        let base_offset = self.log_end_offset();
        let head = patched_header(&bytes, base_offset, None)?;
        let written = batch::BatchHeader::parse(&head)?;
        self.maybe_roll(bytes.len() as u64, written.last_offset(), now_ms)?;
        let base = self.active_base();
        let settings = Self::settings(&self.config);
        if !self.segments.contains_key(&base) {
            self.segments
                .insert(base, Segment::create(&self.dir, base, settings)?);
        }
        if let Some(segment) = self.segments.get_mut(&base) {
            segment.append(
                &head,
                &written,
                bytes.get(HEADER_BYTES..).unwrap_or_default(),
            )?;
        }
        let kind = if commit {
            txn::CONTROL_COMMIT
        } else {
            txn::CONTROL_ABORT
        };
        if let Some(t) = self.txns.as_mut() {
            t.on_batch(&written, Some(kind));
        }
        self.unflushed_messages += 1;
        Ok(base_offset)
    }

    /// The last stable offset: where `read_committed` consumers stop.
    pub fn last_stable_offset(&mut self) -> Result<i64, Error> {
        let end = self.log_end_offset();
        Ok(self.ensure_txns()?.last_stable_offset(end))
    }

    /// Whether `producer_id` has an open transaction in this partition.
    pub fn has_open_transaction(&mut self, producer_id: i64) -> Result<bool, Error> {
        Ok(self.ensure_txns()?.is_open(producer_id))
    }

    /// Aborted transactions overlapping `[from, to)`.
    pub fn aborted_transactions(&mut self, from: i64, to: i64) -> Result<Vec<AbortedTxn>, Error> {
        Ok(self.ensure_txns()?.aborted_between(from, to))
    }

    /// Like [`Log::read`], but never past `end` (the last stable offset for
    /// `read_committed`): the slice stops before the batch that starts at or after it.
    pub fn read_upto(
        &self,
        offset: i64,
        max_bytes: u32,
        end: i64,
    ) -> Result<Option<FileSlice>, Error> {
        // Out-of-range offsets fail as in `read` (consumers reset on that error); an offset
        // in range but at or past `end` just has nothing to read yet.
        let Some(mut slice) = self.read(offset, max_bytes)? else {
            return Ok(None);
        };
        if offset >= end {
            return Ok(None);
        }
        if end < self.log_end_offset() {
            if let Some((_, segment)) = self.segments.range(..=end).next_back() {
                if let Some((position, header)) = segment.find_batch(end)? {
                    let same_file = std::sync::Arc::ptr_eq(&slice.file, &segment.file());
                    if same_file && header.base_offset >= end && position >= slice.position {
                        let cut = position - slice.position;
                        slice.len = slice.len.min(u32::try_from(cut).unwrap_or(u32::MAX));
                    }
                }
            }
            if slice.len == 0 {
                return Ok(None);
            }
        }
        Ok(Some(slice))
    }

    /// Whether `cleanup.policy` includes `compact`.
    pub fn is_compacted(&self) -> bool {
        self.config.is_compacted()
    }

    fn check_timestamps(&self, header: &batch::BatchHeader, now_ms: i64) -> Result<(), Error> {
        let before = self.config.timestamp_before_max_ms;
        let after = self.config.timestamp_after_max_ms;
        if header.base_timestamp >= 0 && now_ms.saturating_sub(header.base_timestamp) > before {
            return Err(Error::InvalidTimestamp(format!(
                "timestamp {} is more than message.timestamp.before.max.ms={before} before now ({now_ms})",
                header.base_timestamp
            )));
        }
        if header.max_timestamp.saturating_sub(now_ms) > after {
            return Err(Error::InvalidTimestamp(format!(
                "timestamp {} is more than message.timestamp.after.max.ms={after} after now ({now_ms})",
                header.max_timestamp
            )));
        }
        Ok(())
    }

    fn maybe_roll(&mut self, bytes: u64, last_offset: i64, now_ms: i64) -> Result<(), Error> {
        let Some(active) = self.active() else {
            return Ok(());
        };
        let aged = active
            .first_batch_timestamp()
            .is_some_and(|t| now_ms.saturating_sub(t) >= self.config.segment_ms);
        if active.fits(bytes, last_offset, self.config.segment_bytes) && !aged {
            return Ok(());
        }
        if active.size() == 0 {
            return Ok(());
        }
        self.roll()
    }

    /// Starts a new active segment at the log end offset. The old one is flushed to the
    /// page cache now and fsynced in the background, after which the recovery point moves
    /// to its end (Kafka also flushes rolled segments asynchronously).
    pub fn roll(&mut self) -> Result<(), Error> {
        let next = self.log_end_offset();
        let base = self.active_base();
        if let Some(old) = self.segments.get_mut(&base) {
            // No longer appended to: its index entries leave memory.
            old.seal()?;
            flusher::sync_later(old.durable_files(), next, Arc::clone(&self.recovery));
        }
        let segment = Segment::create(&self.dir, next, Self::settings(&self.config))?;
        self.segments.insert(next, segment);
        Ok(())
    }

    /// Bytes starting at the batch that contains `offset`, up to `max_bytes` (at least one
    /// whole batch), from one segment. `Ok(None)` when `offset` is the log end.
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`] when `offset` is below the log start or past the end.
    pub fn read(&self, offset: i64, max_bytes: u32) -> Result<Option<FileSlice>, Error> {
        let end = self.log_end_offset();
        if offset < self.log_start_offset || offset > end {
            return Err(Error::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: end,
            });
        }
        if offset == end {
            return Ok(None);
        }
        for (_, segment) in self
            .segments
            .range(..=offset)
            .next_back()
            .into_iter()
            .chain(self.segments.range(offset + 1..))
        {
            if let Some(slice) = segment.read(offset, max_bytes)? {
                return Ok(Some(slice));
            }
        }
        Ok(None)
    }

    /// The first offset whose timestamp is ≥ `timestamp`, and that timestamp (ListOffsets
    /// by time). `None` when every record is older.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, Error> {
        for segment in self.segments.values() {
            if segment.max_timestamp() >= timestamp {
                if let Some(found) = segment.find_offset_by_timestamp(timestamp)? {
                    let offset = found.0.max(self.log_start_offset);
                    return Ok(Some((offset, found.1)));
                }
            }
        }
        Ok(None)
    }

    /// Offset and timestamp of the record with the largest timestamp (KIP-734), or
    /// `(-1, -1)` for an empty log.
    pub fn max_timestamp(&self) -> (i64, i64) {
        let mut best: Option<&Segment> = None;
        for s in self.segments.values() {
            if s.max_timestamp() > best.map_or(-1, Segment::max_timestamp) {
                best = Some(s);
            }
        }
        best.map_or((-1, -1), |s| {
            let offset = s
                .exact_offset_of_max_timestamp()
                .unwrap_or_else(|_| s.offset_of_max_timestamp());
            (offset, s.max_timestamp())
        })
    }

    /// A compaction pass for this log if one is due (see [`crate::cleaner`]); `None` when the
    /// log is not compacted, has no cleanable segment, or is not dirty enough yet.
    pub fn clean_plan(
        &mut self,
        now_ms: i64,
        dedupe_bytes_max: usize,
    ) -> Option<cleaner::CleanPlan> {
        if !self.config.is_compacted() || self.poisoned {
            return None;
        }
        // Nothing at or past the last stable offset is cleaned (an open transaction may
        // still abort), and aborted transactional records never supersede committed ones.
        let lso = self.last_stable_offset().ok()?;
        let aborted = self.aborted_transactions(0, lso).ok()?;
        let c = &self.config;
        let active_base = self.segments.keys().next_back().copied()?;
        let lag_limit = now_ms.saturating_sub(c.min_compaction_lag_ms);
        let mut segments = Vec::new();
        for (base, s) in &self.segments {
            if *base == active_base || s.size() == 0 {
                break;
            }
            if c.min_compaction_lag_ms > 0 && s.max_timestamp() > lag_limit {
                break;
            }
            if s.next_offset() > lso {
                break;
            }
            segments.push(cleaner::PlannedSegment {
                base_offset: *base,
                next_offset: s.next_offset(),
                size: s.size(),
                file: s.file(),
            });
        }
        if segments.is_empty() {
            return None;
        }
        let dirty_start = cleaner::read_checkpoint(&self.dir);
        let (mut clean, mut dirty) = (0u64, 0u64);
        let mut overdue = false;
        let max_lag_limit = now_ms.saturating_sub(c.max_compaction_lag_ms);
        for s in &segments {
            if s.next_offset <= dirty_start {
                clean += s.size;
            } else {
                dirty += s.size;
                let first_ts = self
                    .segments
                    .get(&s.base_offset)
                    .and_then(Segment::first_batch_timestamp)
                    .unwrap_or(i64::MAX);
                overdue |= first_ts < max_lag_limit;
            }
        }
        if dirty == 0 {
            return None;
        }
        let ratio = dirty as f64 / (clean + dirty) as f64;
        if ratio < c.min_cleanable_dirty_ratio && !overdue {
            return None;
        }
        Some(cleaner::CleanPlan {
            dir: self.dir.clone(),
            segments,
            dirty_start,
            tombstone_horizon_ms: now_ms.saturating_sub(c.delete_retention_ms),
            dedupe_bytes_max,
            aborted,
        })
    }

    /// Swaps cleaned segments in (see [`crate::cleaner`]) and moves the checkpoint. A
    /// segment that changed or went away meanwhile (retention, DeleteRecords) is skipped
    /// and its cleaned file removed.
    pub fn install_cleaned(&mut self, output: cleaner::CleanOutput) -> Result<(), Error> {
        let settings = Self::settings(&self.config);
        let active_base = self.segments.keys().next_back().copied();
        for c in output.cleaned {
            let current = self.segments.get(&c.base_offset).map(Segment::size);
            if current != Some(c.original_size) || active_base == Some(c.base_offset) {
                let _ = crate::reaper::remove_file(&c.path);
                continue;
            }
            if c.size == 0 {
                if let Some(old) = self.segments.remove(&c.base_offset) {
                    old.delete()?;
                }
                let _ = crate::reaper::remove_file(&c.path);
                continue;
            }
            // Drop the old segment (its indexes flush to their files), remove those stale
            // indexes, then atomically replace the log file; the indexes are rebuilt on open.
            if let Some(old) = self.segments.remove(&c.base_offset) {
                drop(old);
            }
            for suffix in ["index", "timeindex"] {
                let p = self
                    .dir
                    .join(crate::segment::file_name(c.base_offset, suffix));
                let _ = crate::reaper::remove_file(&p);
            }
            let target = self
                .dir
                .join(crate::segment::file_name(c.base_offset, "log"));
            // The old file keeps a second name until the reaper drops it, so the rename
            // below does not free its blocks under the partition lock.
            crate::reaper::unlink_later(&target).map_err(io(&target))?;
            if let Err(e) = std::fs::rename(&c.path, &target) {
                // Keep serving the old segment (its indexes are rebuilt) and report.
                let _ = crate::reaper::remove_file(&c.path);
                let old = Segment::open_sealed(&self.dir, c.base_offset, settings)?;
                self.segments.insert(c.base_offset, old);
                return Err(io(&target)(e));
            }
            std::fs::File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io(&self.dir))?;
            let segment = Segment::open_sealed(&self.dir, c.base_offset, settings)?;
            self.segments.insert(c.base_offset, segment);
        }
        cleaner::write_checkpoint(&self.dir, output.checkpoint)
    }

    /// The idempotent producers that wrote to this log (state rebuilt from the batch
    /// headers on first use after start-up).
    pub fn active_producers(&mut self) -> Result<Vec<crate::producer::ActiveProducer>, Error> {
        if self.producers.is_none() {
            self.producers = Some(self.rebuild_producer_state()?);
        }
        Ok(self
            .producers
            .as_ref()
            .map(ProducerStates::active)
            .unwrap_or_default())
    }

    fn rebuild_producer_state(&self) -> Result<ProducerStates, Error> {
        let mut states = ProducerStates::default();
        for segment in self.segments.values() {
            let mut position = 0;
            while position < segment.size() {
                let header = segment.header_at(position)?;
                states.update(&header);
                position += header.total_bytes();
            }
        }
        Ok(states)
    }

    /// Deletes segments past `retention.ms` (by their largest timestamp) or beyond
    /// `retention.bytes`, oldest first, and moves the log start offset. When every segment
    /// is due, a new empty active segment is rolled first so the log end offset stays.
    /// Returns how many segments were deleted.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<usize, Error> {
        if !self.config.cleanup_policy.split(',').any(|p| p == "delete") {
            return Ok(0);
        }
        let mut deletable = Vec::new();
        let mut total = self.size_bytes();
        let retention_ms = self.config.retention_ms;
        let retention_bytes = self.config.retention_bytes;
        for (base, segment) in &self.segments {
            if segment.size() == 0 {
                break;
            }
            let expired =
                retention_ms >= 0 && now_ms.saturating_sub(segment.max_timestamp()) > retention_ms;
            // As Kafka: delete while what remains would still be at least retention.bytes.
            let oversize = u64::try_from(retention_bytes)
                .is_ok_and(|limit| total.saturating_sub(segment.size()) >= limit);
            if !(expired || oversize) {
                break;
            }
            total -= segment.size();
            deletable.push(*base);
        }
        if deletable.is_empty() {
            return Ok(0);
        }
        if deletable.len() == self.segments.len() {
            self.roll()?;
        }
        let count = deletable.len();
        for base in deletable {
            if let Some(segment) = self.segments.remove(&base) {
                tracing::info!(segment = %segment.log_path().display(), "deleting segment past retention");
                segment.delete()?;
            }
        }
        self.log_start_offset = self
            .segments
            .keys()
            .next()
            .copied()
            .unwrap_or(0)
            .max(self.log_start_offset);
        Ok(count)
    }

    /// Deletes every segment below the one starting at `base_offset` (which must exist) and
    /// moves the log start offset there. Returns how many segments were deleted.
    pub fn delete_segments_before(&mut self, base_offset: i64) -> Result<usize, Error> {
        if !self.segments.contains_key(&base_offset) {
            return Ok(0);
        }
        let doomed: Vec<i64> = self
            .segments
            .range(..base_offset)
            .map(|(b, _)| *b)
            .collect();
        for base in &doomed {
            if let Some(segment) = self.segments.remove(base) {
                segment.delete()?;
            }
        }
        self.log_start_offset = self.log_start_offset.max(base_offset);
        Ok(doomed.len())
    }

    /// DeleteRecords: makes `offset` the new log start (records below it are gone for
    /// readers), deletes the segments wholly below it, and records the start durably.
    /// `offset` may be the log end (everything deleted). Returns the new log start.
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`] beyond the log end; I/O.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, Error> {
        let end = self.log_end_offset();
        if offset > end || offset < 0 {
            return Err(Error::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: end,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        offset_file::write(&self.dir, LOG_START_FILE, offset)?;
        self.log_start_offset = offset;
        if offset == end && self.active().is_some_and(|a| a.size() > 0) {
            self.roll()?;
        }
        let doomed: Vec<i64> = self
            .segments
            .iter()
            .filter(|(base, s)| **base != self.active_base() && s.next_offset() <= offset)
            .map(|(b, _)| *b)
            .collect();
        for base in doomed {
            if let Some(segment) = self.segments.remove(&base) {
                segment.delete()?;
            }
        }
        Ok(offset)
    }

    /// Base offset of the active segment.
    pub fn active_segment_base(&self) -> i64 {
        self.active_base()
    }

    /// Whether `flush.ms` has passed since the last flush.
    pub fn flush_due(&self, now_ms: i64) -> bool {
        self.unflushed_messages > 0
            && now_ms.saturating_sub(self.last_flush_ms) >= self.config.flush_ms
    }

    /// fsyncs every segment that may hold data not yet on disk (the active one, and rolled
    /// ones whose background fsync has not finished) with their indexes. A failed fsync
    /// poisons the log: it refuses writes until restart, since the kernel may have dropped
    /// the dirty pages.
    pub fn flush(&mut self, now_ms: i64) -> Result<(), Error> {
        if let Err(e) = self.sync_unflushed() {
            self.poisoned = true;
            tracing::error!(log = %self.dir.display(), error = %e, "fsync failed; partition refuses writes until restart");
            return Err(e);
        }
        self.unflushed_messages = 0;
        self.last_flush_ms = now_ms;
        Ok(())
    }

    /// fsyncs the segments that end after the recovery point: from the one holding it (or
    /// the first) on, not every segment of the log.
    fn sync_unflushed(&mut self) -> Result<(), Error> {
        let point = self.recovery.get();
        let from = self
            .segments
            .range(..=point)
            .next_back()
            .map_or(i64::MIN, |(base, _)| *base);
        for segment in self.segments.range_mut(from..).map(|(_, s)| s) {
            if segment.next_offset() > point {
                segment.sync()?;
            }
        }
        Ok(())
    }

    /// Writes index buffers out so a clean restart can trust them. With `durable`, every
    /// segment is also fsynced and the recovery point moved to the log end (as Kafka's
    /// clean shutdown), so that a power loss after a clean stop cannot leave torn data
    /// behind a clean-shutdown marker.
    pub fn close(&mut self, durable: bool) -> Result<(), Error> {
        for segment in self.segments.values_mut() {
            segment.flush_indexes()?;
        }
        if durable {
            self.sync_unflushed()?;
            self.recovery.advance(self.log_end_offset())?;
        }
        Ok(())
    }

    /// The directory is about to be removed by the caller: from now on no background work
    /// (a rolled segment's fsync) writes into it, where a new partition of the same name
    /// may soon live.
    pub fn retire(&self) {
        self.recovery.retire();
    }

    /// Removes the whole log directory (in the background: see [`crate::reaper`]).
    pub fn delete(self) -> Result<(), Error> {
        let dir = self.dir.clone();
        // A pending background fsync must not write into the directory once it is gone.
        self.recovery.retire();
        drop(self);
        crate::reaper::remove_dir_all(&dir).map_err(|source| Error::Io { path: dir, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::tests::batch;
    use std::io::Write;

    fn config() -> LogConfig {
        LogConfig {
            timestamp_after_max_ms: i64::MAX,
            ..LogConfig::default()
        }
    }

    fn read_all(log: &Log, from: i64) -> Vec<batch::BatchHeader> {
        let mut out = Vec::new();
        let mut offset = from;
        while let Ok(Some(slice)) = log.read(offset, 1 << 20) {
            let bytes = slice.read().unwrap();
            let mut at = 0;
            while let Ok(h) = batch::check_framing(&bytes[at..]) {
                at += usize::try_from(h.total_bytes()).unwrap();
                offset = h.last_offset() + 1;
                out.push(h);
            }
        }
        out
    }

    #[test]
    fn append_assigns_offsets_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
        let a = log.append(&batch(&[b"a", b"b"], 10, None), 100).unwrap();
        let b = log.append(&batch(&[b"c"], 12, None), 100).unwrap();
        assert_eq!((a.base_offset, a.last_offset), (0, 1));
        assert_eq!((b.base_offset, b.last_offset), (2, 2));
        assert_eq!(log.log_end_offset(), 3);
        let headers = read_all(&log, 0);
        assert_eq!(
            headers.iter().map(|h| h.base_offset).collect::<Vec<_>>(),
            vec![0, 2]
        );
        // A fetch inside a batch returns that whole batch.
        let slice = log.read(1, 1).unwrap().unwrap();
        assert_eq!(
            batch::check_framing(&slice.read().unwrap())
                .unwrap()
                .base_offset,
            0
        );
        assert!(log.read(3, 100).unwrap().is_none());
        assert!(matches!(
            log.read(4, 100),
            Err(Error::OffsetOutOfRange { .. })
        ));
    }

    #[test]
    fn segments_roll_by_size_and_reads_cross_them() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            segment_bytes: 200,
            ..config()
        };
        let mut log = Log::open(dir.path(), cfg, false, 0).unwrap();
        for i in 0..10 {
            log.append(&batch(&[&[b'x'; 100]], i, None), 0).unwrap();
        }
        assert_eq!(log.segment_count(), 10);
        assert_eq!(read_all(&log, 0).len(), 10);
        assert_eq!(read_all(&log, 7).first().map(|h| h.base_offset), Some(7));
    }

    #[test]
    fn message_too_large_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            max_message_bytes: 100,
            ..config()
        };
        let mut log = Log::open(dir.path(), cfg, false, 0).unwrap();
        assert!(matches!(
            log.append(&batch(&[&[0u8; 200]], 0, None), 0),
            Err(Error::MessageTooLarge { .. })
        ));
        assert_eq!(log.log_end_offset(), 0);
    }

    #[test]
    fn future_timestamps_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), LogConfig::default(), false, 0).unwrap();
        assert!(matches!(
            log.append(&batch(&[b"x"], 10_000_000, None), 0),
            Err(Error::InvalidTimestamp(_))
        ));
    }

    #[test]
    fn compacted_topics_refuse_keyless_records() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            cleanup_policy: "compact".into(),
            ..config()
        };
        let mut log = Log::open(dir.path(), cfg, false, 0).unwrap();
        assert!(matches!(
            log.append(&batch(&[b"x", b"y"], 0, None), 0),
            Err(Error::KeylessRecords { record_indexes }) if record_indexes == vec![0, 1]
        ));
        assert_eq!(log.log_end_offset(), 0);
    }

    #[test]
    fn compacted_topics_refuse_keyless_records_in_compressed_batches_too() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            cleanup_policy: "compact".into(),
            ..config()
        };
        let mut log = Log::open(dir.path(), cfg, false, 0).unwrap();
        let plain = batch(&[b"x", b"y"], 0, None);
        let body = crate::compress::compress(crate::compress::GZIP, &plain[HEADER_BYTES..], false)
            .unwrap();
        let gzipped = batch::assemble(crate::compress::GZIP, 1, 0, 1, (-1, -1, -1), 2, &body);
        assert!(matches!(
            log.append(&gzipped, 0),
            Err(Error::KeylessRecords { record_indexes }) if record_indexes == vec![0, 1]
        ));
    }

    #[test]
    fn log_append_time_is_stamped() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            timestamp_type: TimestampType::LogAppendTime,
            ..config()
        };
        let mut log = Log::open(dir.path(), cfg, false, 0).unwrap();
        let info = log.append(&batch(&[b"x"], 5, None), 777).unwrap();
        assert_eq!(info.log_append_time, 777);
        assert_eq!(read_all(&log, 0)[0].max_timestamp, 777);
    }

    #[test]
    fn restart_keeps_data_and_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            index_interval_bytes: 1,
            ..config()
        };
        {
            let mut log = Log::open(dir.path(), cfg.clone(), false, 0).unwrap();
            for i in 0..20 {
                log.append(&batch(&[b"v"], i, None), 0).unwrap();
            }
            log.close(true).unwrap();
        }
        let log = Log::open(dir.path(), cfg, false, 0).unwrap();
        assert_eq!(log.log_end_offset(), 20);
        assert_eq!(read_all(&log, 13).first().map(|h| h.base_offset), Some(13));
        assert_eq!(log.offset_for_timestamp(15).unwrap(), Some((15, 15)));
    }

    #[test]
    fn recovery_truncates_a_batch_cut_in_half() {
        let dir = tempfile::tempdir().unwrap();
        let path;
        {
            let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
            log.append(&batch(&[b"one"], 1, None), 0).unwrap();
            log.append(&batch(&[b"two", b"three"], 2, None), 0).unwrap();
            path = dir.path().join(crate::segment::file_name(0, "log"));
        }
        let len = std::fs::metadata(&path).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(len - 5)
            .unwrap();
        let mut log = Log::open(dir.path(), config(), true, 0).unwrap();
        assert_eq!(log.log_end_offset(), 1);
        assert_eq!(read_all(&log, 0).len(), 1);
        // and the log keeps working from there
        assert_eq!(
            log.append(&batch(&[b"again"], 3, None), 0)
                .unwrap()
                .base_offset,
            1
        );
    }

    #[test]
    fn recovery_truncates_garbage_appended() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
            log.append(&batch(&[b"one"], 1, None), 0).unwrap();
            log.append(&batch(&[b"two"], 2, None), 0).unwrap();
        }
        let path = dir.path().join(crate::segment::file_name(0, "log"));
        let good = std::fs::metadata(&path).unwrap().len();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[0xAB; 300]).unwrap();
        drop(f);
        let log = Log::open(dir.path(), config(), true, 0).unwrap();
        assert_eq!(log.log_end_offset(), 2);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
    }

    #[test]
    fn recovery_stops_at_a_corrupt_batch_in_the_middle() {
        let dir = tempfile::tempdir().unwrap();
        let first_len;
        {
            let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
            let b = batch(&[b"one"], 1, None);
            first_len = b.len();
            log.append(&b, 0).unwrap();
            log.append(&batch(&[b"two"], 2, None), 0).unwrap();
            log.append(&batch(&[b"three"], 3, None), 0).unwrap();
        }
        let path = dir.path().join(crate::segment::file_name(0, "log"));
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[first_len + 70] ^= 0xff; // inside the second batch's records
        std::fs::write(&path, &bytes).unwrap();
        let log = Log::open(dir.path(), config(), true, 0).unwrap();
        assert_eq!(log.log_end_offset(), 1);
    }

    /// Three segments of two 1-record batches each (offsets 0-1, 2-3, 4-5); returns the
    /// length of one batch.
    fn three_segments(dir: &Path) -> usize {
        let cfg = LogConfig {
            segment_bytes: 400,
            index_interval_bytes: 1,
            ..config()
        };
        let mut log = Log::open(dir, cfg, false, 0).unwrap();
        let mut len = 0;
        for i in 0..6 {
            let b = batch(&[&[b'x'; 100]], i, None);
            len = b.len();
            log.append(&b, 0).unwrap();
        }
        assert_eq!(log.segment_count(), 3);
        // The two rolls' background fsyncs move the point to the active segment's base;
        // tests change it only after that.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while flusher::RecoveryPoint::load(dir).get() < 4 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(flusher::RecoveryPoint::load(dir).get(), 4);
        len
    }

    fn flip_byte(path: &Path, at: usize) {
        let mut bytes = std::fs::read(path).unwrap();
        bytes[at] ^= 0xff;
        std::fs::write(path, &bytes).unwrap();
    }

    #[test]
    fn an_unclean_stop_revalidates_from_the_recovery_point_and_drops_what_follows_a_cut() {
        let dir = tempfile::tempdir().unwrap();
        let len = three_segments(dir.path());
        // Segment 2 (offsets 2-3) was not known to be on disk; its second batch is torn.
        flusher::RecoveryPoint::load(dir.path()).reset(2).unwrap();
        flip_byte(&dir.path().join(segment::file_name(2, "log")), len + 70);
        let mut log = Log::open(dir.path(), config(), true, 0).unwrap();
        assert_eq!(log.log_end_offset(), 3, "cut after offset 2");
        assert_eq!(log.segment_count(), 2, "the segment after the cut is gone");
        assert!(!dir.path().join(segment::file_name(4, "log")).exists());
        let info = log.append(&batch(&[b"next"], 9, None), 0).unwrap();
        assert_eq!(info.base_offset, 3, "appends continue the cut segment");
        let offsets: Vec<i64> = read_all(&log, 0).iter().map(|h| h.base_offset).collect();
        assert_eq!(offsets, vec![0, 1, 2, 3]);
    }

    #[test]
    fn segments_below_the_recovery_point_are_trusted_after_an_unclean_stop() {
        let dir = tempfile::tempdir().unwrap();
        three_segments(dir.path());
        // A byte changed inside the first batch of a segment known to be on disk, before
        // its last index entry, is not looked for (no start-up work proportional to the
        // data already made durable) ...
        flip_byte(&dir.path().join(segment::file_name(0, "log")), 70);
        let log = Log::open(dir.path(), config(), true, 0).unwrap();
        assert_eq!(log.log_end_offset(), 6);
        assert_eq!(log.segment_count(), 3);
        drop(log);
        // ... but without a recovery point everything is re-validated.
        std::fs::remove_file(dir.path().join(flusher::RECOVERY_POINT_FILE)).unwrap();
        let log = Log::open(dir.path(), config(), true, 0).unwrap();
        assert_eq!(log.log_end_offset(), 0);
        assert_eq!(log.segment_count(), 1);
    }

    #[test]
    fn rolls_and_a_durable_close_move_the_recovery_point() {
        let dir = tempfile::tempdir().unwrap();
        three_segments(dir.path());
        let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
        log.close(false).unwrap();
        assert_eq!(flusher::RecoveryPoint::load(dir.path()).get(), 4);
        log.close(true).unwrap();
        assert_eq!(flusher::RecoveryPoint::load(dir.path()).get(), 6);
    }

    #[test]
    fn retention_by_bytes_and_time_moves_log_start() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            segment_bytes: 200,
            retention_bytes: 250,
            ..config()
        };
        let mut log = Log::open(dir.path(), cfg, false, 0).unwrap();
        for i in 0..6 {
            log.append(&batch(&[&[b'x'; 100]], i, None), 0).unwrap();
        }
        assert_eq!(log.segment_count(), 6);
        let deleted = log.enforce_retention(0).unwrap();
        assert_eq!(deleted, 4);
        assert_eq!(log.log_start_offset(), 4);
        assert!(matches!(
            log.read(0, 10),
            Err(Error::OffsetOutOfRange { .. })
        ));
        assert_eq!(read_all(&log, 4).len(), 2);

        let mut c = log.config().clone();
        c.retention_bytes = -1;
        c.retention_ms = 1000;
        log.set_config(c);
        assert_eq!(log.enforce_retention(500).unwrap(), 0);
        assert_eq!(log.enforce_retention(10_000).unwrap(), 2);
        assert_eq!(log.log_start_offset(), 6);
        assert_eq!(log.log_end_offset(), 6);
        assert_eq!(
            log.append(&batch(&[b"y"], 10_000, None), 10_000)
                .unwrap()
                .base_offset,
            6
        );
    }

    #[test]
    fn delete_records_moves_the_start_durably() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            segment_bytes: 200,
            ..config()
        };
        {
            let mut log = Log::open(dir.path(), cfg.clone(), false, 0).unwrap();
            for i in 0..5 {
                log.append(&batch(&[&[b'x'; 100]], i, None), 0).unwrap();
            }
            assert_eq!(log.delete_records_before(3).unwrap(), 3);
            assert_eq!(log.segment_count(), 2, "segments wholly below 3 are gone");
            assert!(matches!(
                log.read(2, 100),
                Err(Error::OffsetOutOfRange { .. })
            ));
            assert!(log.delete_records_before(9).is_err());
            log.close(true).unwrap();
        }
        let mut log = Log::open(dir.path(), cfg, false, 0).unwrap();
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (3, 5));
        assert_eq!(log.delete_records_before(5).unwrap(), 5);
        assert_eq!(
            log.append(&batch(&[b"y"], 0, None), 0).unwrap().base_offset,
            5
        );
    }

    #[test]
    fn segments_before_a_base_can_be_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            segment_bytes: 200,
            ..config()
        };
        let mut log = Log::open(dir.path(), cfg, false, 0).unwrap();
        for i in 0..4 {
            log.append(&batch(&[&[b'x'; 100]], i, None), 0).unwrap();
        }
        log.roll().unwrap();
        let base = log.active_segment_base();
        assert_eq!(base, 4);
        assert_eq!(log.delete_segments_before(base).unwrap(), 4);
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (4, 4));
        assert_eq!(
            log.append(&batch(&[b"y"], 0, None), 0).unwrap().base_offset,
            4
        );
        assert_eq!(log.delete_segments_before(999).unwrap(), 0);
    }

    #[test]
    fn idempotent_retry_is_not_written_twice_even_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
            log.append(&batch(&[b"a"], 1, None), 0).unwrap();
            let first = log
                .append(&batch(&[b"b", b"c"], 1, Some((42, 0, 0))), 0)
                .unwrap();
            assert_eq!(first.base_offset, 1);
            let retry = log
                .append(&batch(&[b"b", b"c"], 1, Some((42, 0, 0))), 0)
                .unwrap();
            assert!(retry.duplicate);
            assert_eq!((retry.base_offset, retry.last_offset), (1, 2));
            assert!(matches!(
                log.append(&batch(&[b"z"], 1, Some((42, 0, 5))), 0),
                Err(Error::OutOfOrderSequence { expected: 2, .. })
            ));
        }
        let mut log = Log::open(dir.path(), config(), true, 0).unwrap();
        let retry = log
            .append(&batch(&[b"b", b"c"], 1, Some((42, 0, 0))), 0)
            .unwrap();
        assert!(retry.duplicate);
        assert_eq!(log.log_end_offset(), 3);
        assert_eq!(
            log.append(&batch(&[b"d"], 1, Some((42, 0, 2))), 0)
                .unwrap()
                .base_offset,
            3
        );
    }

    fn transactional(values: &[&[u8]], producer: (i64, i16, i32)) -> Vec<u8> {
        let mut b = batch(values, 1000, Some(producer));
        let attrs = i16::from_be_bytes([b[21], b[22]]) | 0x10;
        b[21..23].copy_from_slice(&attrs.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn transactions_set_the_lso_and_aborted_ranges_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
        log.append(&batch(&[b"plain"], 1000, None), 1000).unwrap(); // 0
        assert_eq!(log.last_stable_offset().unwrap(), 1);
        log.append(&transactional(&[b"a", b"b"], (5, 0, 0)), 1000)
            .unwrap(); // 1-2
        log.append(&transactional(&[b"c"], (6, 0, 0)), 1000)
            .unwrap(); // 3
        assert_eq!(log.last_stable_offset().unwrap(), 1);
        assert!(log.read_upto(1, 1 << 20, 1).unwrap().is_none());
        assert!(
            matches!(
                log.read_upto(99, 1 << 20, 1),
                Err(Error::OffsetOutOfRange { .. })
            ),
            "out of range stays an error for read_committed"
        );
        let upto = log.read_upto(0, 1 << 20, 1).unwrap().unwrap();
        assert_eq!(read_all_bytes(&upto).len(), 1, "only the plain batch");
        assert_eq!(log.append_marker(5, 0, false, 0, 1000).unwrap(), 4); // abort pid 5
        assert_eq!(log.last_stable_offset().unwrap(), 3);
        assert_eq!(log.append_marker(6, 0, true, 0, 1000).unwrap(), 5); // commit pid 6
        assert_eq!(log.last_stable_offset().unwrap(), 6);
        let aborted = log.aborted_transactions(0, 6).unwrap();
        assert_eq!(aborted.len(), 1);
        assert_eq!(
            (
                aborted[0].producer_id,
                aborted[0].first_offset,
                aborted[0].last_offset
            ),
            (5, 1, 4)
        );
        // Clients cannot write control batches.
        let marker = crate::txn::control_batch(5, 0, true, 0, 1000);
        assert!(log.append(&marker, 1000).is_err());
        drop(log);
        let mut log = Log::open(dir.path(), config(), true, 0).unwrap();
        assert_eq!(log.last_stable_offset().unwrap(), 6);
        assert_eq!(log.aborted_transactions(0, 6).unwrap().len(), 1);
        // A partition that never saw a transaction does not scan for one.
        let other = tempfile::tempdir().unwrap();
        let mut plain = Log::open(other.path(), config(), false, 0).unwrap();
        plain.append(&batch(&[b"x"], 1000, None), 1000).unwrap();
        assert_eq!(plain.last_stable_offset().unwrap(), 1);
        assert!(!other.path().join(TRANSACTIONAL_MARKER).exists());
    }

    fn read_all_bytes(slice: &FileSlice) -> Vec<batch::BatchHeader> {
        let bytes = slice.read().unwrap();
        let mut out = Vec::new();
        let mut at = 0;
        while at + HEADER_BYTES <= bytes.len() {
            let h = batch::BatchHeader::parse(&bytes[at..]).unwrap();
            at += usize::try_from(h.total_bytes()).unwrap();
            out.push(h);
        }
        out
    }

    #[test]
    fn time_lookup_and_max_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), config(), false, 0).unwrap();
        log.append(&batch(&[b"a", b"b", b"c"], 100, None), 0)
            .unwrap(); // ts 100..102
        log.append(&batch(&[b"d"], 500, None), 0).unwrap();
        assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 100)));
        assert_eq!(log.offset_for_timestamp(101).unwrap(), Some((1, 101)));
        assert_eq!(log.offset_for_timestamp(103).unwrap(), Some((3, 500)));
        assert_eq!(log.offset_for_timestamp(501).unwrap(), None);
        assert_eq!(log.max_timestamp(), (3, 500));
        // Timestamps out of order inside one batch: the exact record, not the batch's end.
        let kv: Vec<batch::KeyValue<'_>> = vec![(None, Some(b"x")); 3];
        log.append(&batch::build_batch(&kv, 900, -100, None), 0)
            .unwrap(); // ts 900, 800, 700 at offsets 4..6
        assert_eq!(log.max_timestamp(), (4, 900));
    }

    #[test]
    fn older_segments_open_sealed_and_answer_from_their_index_files() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            index_interval_bytes: 1,
            segment_bytes: 2000,
            ..config()
        };
        let expected: Vec<i64>;
        {
            let mut log = Log::open(dir.path(), cfg.clone(), false, 0).unwrap();
            for i in 0..200 {
                log.append(&batch(&[b"value", b"other"], 1000 + i * 10, None), 0)
                    .unwrap();
            }
            assert!(log.segment_count() > 5);
            // Rolled segments were sealed as they were left behind.
            let sealed = log.segments.values().filter(|s| s.is_sealed()).count();
            assert_eq!(sealed, log.segment_count() - 1);
            expected = (0..400)
                .step_by(13)
                .map(|o| read_all(&log, o)[0].base_offset)
                .collect();
            log.close(true).unwrap();
        }
        let log = Log::open(dir.path(), cfg, false, 0).unwrap();
        let (active, older): (Vec<_>, Vec<_>) = log.segments.values().partition(|s| !s.is_sealed());
        assert_eq!(
            active.len(),
            1,
            "only the last segment holds its index in memory"
        );
        assert!(!older.is_empty());
        assert_eq!(log.log_end_offset(), 400);
        let found: Vec<i64> = (0..400)
            .step_by(13)
            .map(|o| read_all(&log, o)[0].base_offset)
            .collect();
        assert_eq!(found, expected);
        // Timestamps: batch i holds 1000 + 10 i and 1001 + 10 i at offsets 2i and 2i + 1.
        assert_eq!(log.offset_for_timestamp(1001).unwrap(), Some((1, 1001)));
        assert_eq!(log.offset_for_timestamp(1500).unwrap(), Some((100, 1500)));
        assert_eq!(log.offset_for_timestamp(2991).unwrap(), Some((399, 2991)));
        assert_eq!(log.max_timestamp(), (399, 2991));
    }
}
