//! The log of one partition, as Kafka's `UnifiedLog`: the writer's state ([`LocalLog`]) behind
//! one lock, and the [`ReadState`] it publishes after every change behind another that is
//! held only to copy it. Appends, rolls, retention and truncation take the writer's lock;
//! readers take the published state and read segment files without any lock, so a consumer
//! never waits for a producer, the flusher or the disk. An fsync (`flush.messages`,
//! `flush.ms`, a clean stop) runs outside the writer's lock too.
//!
//! Lock order: the writer's lock, then the published state's; nothing else is taken while
//! either is held, and neither is held across an fsync.

mod local;
mod open;
mod read;
mod retention;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock};

use crate::cleaner;
use crate::config::LogConfig;
use crate::producer::ActiveProducer;
use crate::segment::sync_files;
use crate::{Error, TopicPartition};

pub(crate) use local::LocalLog;
pub use local::{AppendInfo, Marker};
pub use open::LogOptions;
pub use read::{ReadState, StoredRecord};

/// One partition's log, shared by the replica that serves it and the log manager.
#[derive(Debug)]
pub struct Log {
    topic_partition: TopicPartition,
    dir: PathBuf,
    local: Mutex<LocalLog>,
    published: RwLock<ReadState>,
}

impl Log {
    /// Opens (or creates) the log of `topic_partition` in `dir`; see [`LocalLog::open`] for
    /// what recovery does.
    ///
    /// # Errors
    /// The directory or a segment cannot be read or repaired.
    pub fn open(
        topic_partition: TopicPartition,
        dir: &Path,
        options: LogOptions,
    ) -> Result<Self, Error> {
        let local = LocalLog::open(dir, options)?;
        let published = RwLock::new(local.read_state());
        Ok(Self {
            topic_partition,
            dir: dir.to_path_buf(),
            local: Mutex::new(local),
            published,
        })
    }

    pub fn topic_partition(&self) -> &TopicPartition {
        &self.topic_partition
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, LocalLog> {
        // A panic while appending leaves the on-disk log recoverable; the in-memory state is
        // what was last published, so serving goes on.
        self.local
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn publish(&self, local: &LocalLog) {
        let state = local.read_state();
        debug_assert!(
            state.log_start_offset <= state.last_stable_offset
                && state.last_stable_offset <= state.high_watermark
                && state.high_watermark <= state.log_end_offset,
            "published offsets out of order: {state:?}"
        );
        *self
            .published
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = state;
    }

    /// Runs `f` on the writer's state, then publishes what it changed.
    fn write<R>(&self, f: impl FnOnce(&mut LocalLog) -> R) -> R {
        let mut local = self.lock();
        let result = f(&mut local);
        self.publish(&local);
        result
    }

    /// The log as readers see it now.
    pub fn read_state(&self) -> ReadState {
        self.published
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Validates and appends a produce request's batches as the leader of `leader_epoch`,
    /// then, when `flush.messages` is reached, fsyncs them (outside the lock) before
    /// returning. The high watermark does not move: the replica does that.
    ///
    /// # Errors
    /// See [`LocalLog::append`]; an fsync failure poisons the log.
    pub fn append_as_leader(
        &self,
        records: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo, Error> {
        let (info, flush) = self.write(|local| {
            local
                .append(records, leader_epoch, now_ms)
                .map(|info| (info, local.flush_needed()))
        })?;
        if flush {
            self.flush(now_ms)?;
        }
        Ok(info)
    }

    /// Appends a COMMIT or ABORT marker (the transaction coordinator's); returns its offset.
    ///
    /// # Errors
    /// I/O, or a poisoned log.
    pub fn append_marker(
        &self,
        marker: Marker,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<i64, Error> {
        let (offset, flush) = self.write(|local| {
            local
                .append_marker(marker, leader_epoch, now_ms)
                .map(|o| (o, local.flush_needed()))
        })?;
        if flush {
            self.flush(now_ms)?;
        }
        Ok(offset)
    }

    /// Moves the high watermark (clamped to the log); returns where it is.
    pub fn update_high_watermark(&self, offset: i64) -> i64 {
        self.write(|local| local.update_high_watermark(offset))
    }

    /// Records that this replica leads `epoch` from the log end on (Kafka's `makeLeader`).
    ///
    /// # Errors
    /// The leader-epoch checkpoint cannot be written.
    pub fn become_leader(&self, epoch: i32) -> Result<(), Error> {
        self.write(|local| {
            let end = local.log_end_offset();
            local.epochs.assign(epoch, end)
        })
    }

    /// Where `epoch` ended (OffsetForLeaderEpoch): `(epoch, end_offset)`, see
    /// [`crate::leader_epoch::LeaderEpochCache::end_offset_for`].
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let local = self.lock();
        local.epochs.end_offset_for(epoch, local.log_end_offset())
    }

    /// The latest leader epoch that wrote to this log, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.lock().epochs.latest_epoch()
    }

    /// DeleteRecords: moves the log start to `offset` (-1: the high watermark); returns the
    /// new log start. The caller makes it durable with the log manager's checkpoint.
    ///
    /// # Errors
    /// See [`LocalLog::delete_records_before`].
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, Error> {
        self.write(|local| {
            let target = if offset == -1 {
                local.high_watermark
            } else {
                offset
            };
            local.delete_records_before(target)
        })
    }

    /// Cuts the log so that it ends before `offset`.
    ///
    /// # Errors
    /// I/O.
    pub fn truncate_to(&self, offset: i64) -> Result<(), Error> {
        self.write(|local| local.truncate_to(offset))
    }

    /// Applies retention; returns how many segments were deleted.
    ///
    /// # Errors
    /// I/O.
    pub fn enforce_retention(&self, now_ms: i64) -> Result<usize, Error> {
        self.write(|local| local.enforce_retention(now_ms))
    }

    /// Whether `flush.ms` has passed since the last flush with appends waiting.
    pub fn flush_due(&self, now_ms: i64) -> bool {
        self.lock().flush_due(now_ms)
    }

    /// fsyncs every segment that may hold data not yet on disk, without holding the lock
    /// while the disk works, then moves the recovery point. A failed fsync poisons the log:
    /// it refuses writes until restart, since the kernel may have dropped the dirty pages.
    ///
    /// # Errors
    /// The fsync failed, or the log was poisoned before.
    pub fn flush(&self, now_ms: i64) -> Result<(), Error> {
        let (job, point) = {
            let mut local = self.lock();
            let Some(job) = local.unflushed_files(now_ms)? else {
                return Ok(());
            };
            (job, std::sync::Arc::clone(&local.recovery))
        };
        if let Err(e) = sync_files(&job.files) {
            self.lock().poisoned = true;
            tracing::error!(log = %self.dir.display(), error = %e, "fsync failed; partition refuses writes until restart");
            return Err(e);
        }
        point.advance(job.end_offset);
        Ok(())
    }

    /// The offset below which the log is known to be on disk.
    pub fn recovery_point(&self) -> i64 {
        self.lock().recovery.get()
    }

    /// Offsets below it were cleaned by an earlier compaction pass.
    pub fn cleaner_checkpoint(&self) -> i64 {
        self.lock().cleaner_checkpoint
    }

    pub fn config(&self) -> LogConfig {
        self.lock().config.clone()
    }

    /// Replaces the config (takes effect for the next append or retention pass).
    pub fn set_config(&self, config: LogConfig) {
        self.lock().config = config;
    }

    /// A compaction pass if one is due (see [`crate::cleaner`]).
    pub fn clean_plan(&self, now_ms: i64, dedupe_bytes_max: usize) -> Option<cleaner::CleanPlan> {
        self.lock().clean_plan(now_ms, dedupe_bytes_max)
    }

    /// Swaps a pass's cleaned segments in.
    ///
    /// # Errors
    /// I/O.
    pub fn install_cleaned(&self, output: cleaner::CleanOutput) -> Result<(), Error> {
        self.write(|local| local.install_cleaned(output))
    }

    /// The idempotent producers that wrote to this log.
    ///
    /// # Errors
    /// A segment cannot be read.
    pub fn active_producers(&self) -> Result<Vec<ActiveProducer>, Error> {
        self.lock().active_producers()
    }

    /// Writes index buffers out, and with `durable` fsyncs everything and moves the recovery
    /// point to the log end (as Kafka's clean shutdown), so that a power loss after a clean
    /// stop cannot leave torn data behind a clean-shutdown marker.
    ///
    /// # Errors
    /// I/O.
    pub fn close(&self, durable: bool, now_ms: i64) -> Result<(), Error> {
        self.lock().flush_indexes()?;
        if durable {
            self.flush(now_ms)?;
        }
        Ok(())
    }

    /// Removes the per-partition files an earlier Strom kept, once the log directory's
    /// checkpoints hold their values.
    pub fn remove_legacy_files(&self) {
        self.lock().remove_legacy_files();
    }

    /// The directory is about to be removed: from now on no background work (a rolled
    /// segment's fsync) moves its recovery point.
    pub fn retire(&self) {
        self.lock().recovery.retire();
    }
}
