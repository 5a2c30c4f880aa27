//! What removes data from the front of a log: retention by time and size (`retention.ms`,
//! `retention.bytes`), DeleteRecords, and compaction's swap of cleaned segments (see
//! [`crate::cleaner`]).

use crate::cleaner;
use crate::segment::Segment;
use crate::Error;

use super::local::{io, LocalLog};

impl LocalLog {
    /// Deletes segments past `retention.ms` (by their largest timestamp) or beyond
    /// `retention.bytes`, oldest first, and moves the log start offset. Only segments wholly
    /// below the high watermark go. When every segment is due, a new empty active segment is
    /// rolled first so the log end offset stays. Returns how many segments were deleted.
    pub(super) fn enforce_retention(&mut self, now_ms: i64) -> Result<usize, Error> {
        if !self
            .config
            .cleanup_policy
            .split(',')
            .any(|p| p.trim() == "delete")
        {
            return Ok(0);
        }
        let mut deletable = Vec::new();
        let mut total: u64 = self.segments.values().map(Segment::size).sum();
        let retention_ms = self.config.retention_ms;
        let retention_bytes = self.config.retention_bytes;
        for (base, segment) in &self.segments {
            if segment.size() == 0 || segment.next_offset() > self.high_watermark {
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
        let first = self.segments.keys().next().copied().unwrap_or(0);
        self.move_log_start(first)?;
        self.segments_changed();
        Ok(count)
    }

    /// DeleteRecords: makes `offset` the new log start (records below it are gone for
    /// readers) and deletes the segments wholly below it. `offset` may be the high watermark
    /// (everything readable deleted). Returns the new log start; the caller makes it durable
    /// (the log directory's `log-start-offset-checkpoint`).
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`] beyond the high watermark; I/O.
    pub(super) fn delete_records_before(&mut self, offset: i64) -> Result<i64, Error> {
        self.check_writable()?;
        if offset > self.high_watermark || offset < 0 {
            return Err(Error::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.high_watermark,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        self.move_log_start(offset)?;
        if offset == self.log_end_offset() && self.active().size() > 0 {
            self.roll()?;
        }
        let active = self.active_base();
        let doomed: Vec<i64> = self
            .segments
            .iter()
            .filter(|(base, s)| **base != active && s.next_offset() <= offset)
            .map(|(b, _)| *b)
            .collect();
        for base in doomed {
            if let Some(segment) = self.segments.remove(&base) {
                segment.delete()?;
            }
        }
        self.segments_changed();
        Ok(offset)
    }

    /// A compaction pass for this log if one is due (see [`crate::cleaner`]); `None` when the
    /// log is not compacted, has no cleanable segment, or is not dirty enough yet.
    pub(super) fn clean_plan(
        &self,
        now_ms: i64,
        dedupe_bytes_max: usize,
    ) -> Option<cleaner::CleanPlan> {
        if !self.config.is_compacted() || self.poisoned {
            return None;
        }
        // Nothing at or past the last stable offset is cleaned (an open transaction may
        // still abort), and aborted transactional records never supersede committed ones.
        let lso = self.last_stable_offset();
        let aborted: Vec<_> = self
            .txns
            .aborted()
            .iter()
            .filter(|a| a.first_offset < lso)
            .copied()
            .collect();
        let c = &self.config;
        let active_base = self.active_base();
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
        let dirty_start = self.cleaner_checkpoint;
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

    /// Swaps cleaned segments in (see [`crate::cleaner`]) and moves the cleaner's
    /// checkpoint. A segment that changed or went away meanwhile (retention, DeleteRecords)
    /// is skipped and its cleaned file removed.
    pub(super) fn install_cleaned(&mut self, output: cleaner::CleanOutput) -> Result<(), Error> {
        let settings = Self::settings(&self.config);
        let active_base = self.active_base();
        for c in output.cleaned {
            let current = self.segments.get(&c.base_offset).map(Segment::size);
            if current != Some(c.original_size) || active_base == c.base_offset {
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
                old.flush_indexes()?;
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
                self.segments_changed();
                return Err(io(&target)(e));
            }
            std::fs::File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io(&self.dir))?;
            let segment = Segment::open_sealed(&self.dir, c.base_offset, settings)?;
            self.segments.insert(c.base_offset, segment);
        }
        self.segments_changed();
        self.cleaner_checkpoint = self.cleaner_checkpoint.max(output.checkpoint);
        Ok(())
    }
}
