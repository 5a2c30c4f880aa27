//! Durability of rolled segments, and each partition's recovery point.
//!
//! A segment that stops being appended to (a roll) is fsynced in the background, as Kafka
//! does, so that no producer waits for it. One thread does it for every partition, in the
//! order the rolls happened; once a segment's files are on disk, the partition's
//! [`RecoveryPoint`] moves to the segment's end. The log manager writes every partition's
//! recovery point to the log directory's `recovery-point-offset-checkpoint` (Kafka's file)
//! on a schedule and at a clean stop.
//!
//! After an unclean stop, only the segments at or after the recovery point are re-validated
//! batch by batch ([`crate::Log::open`]); those wholly before it were on disk before the
//! stop. A checkpoint that lags the point in memory is safe: it only makes recovery check more.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::limits::FLUSH_QUEUE_MAX;
use crate::worker::Worker;

/// The per-partition file that held the recovery point before the log-dir checkpoint
/// (data directories written by Strom before the log manager); read once, then removed.
pub const LEGACY_RECOVERY_POINT_FILE: &str = "recovery-point";

/// The offset below which a partition's log is known to be on disk.
#[derive(Debug)]
pub struct RecoveryPoint {
    /// `None` once the log is deleted: it no longer moves.
    offset: Mutex<Option<i64>>,
}

impl RecoveryPoint {
    /// A recovery point at `offset` (0: recover everything).
    pub fn new(offset: i64) -> Arc<Self> {
        Arc::new(Self {
            offset: Mutex::new(Some(offset.max(0))),
        })
    }

    /// The recovery point a partition directory written before the log-dir checkpoint kept
    /// in its own file, if any.
    pub fn read_legacy(dir: &Path) -> Option<i64> {
        crate::offset_file::read(dir, LEGACY_RECOVERY_POINT_FILE).filter(|o| *o >= 0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<i64>> {
        self.offset
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current recovery point (0 once retired).
    pub fn get(&self) -> i64 {
        self.lock().unwrap_or(0)
    }

    /// Records that every offset below `offset` is on disk.
    pub fn advance(&self, offset: i64) {
        let mut current = self.lock();
        if let Some(c) = *current {
            if offset > c {
                *current = Some(offset);
            }
        }
    }

    /// Moves the recovery point back to `offset` (the log was cut below it).
    pub fn reset(&self, offset: i64) {
        let mut current = self.lock();
        if current.is_some() {
            *current = Some(offset);
        }
    }

    /// The log is being deleted: the point no longer moves.
    pub fn retire(&self) {
        *self.lock() = None;
    }
}

/// One rolled segment to make durable.
struct Job {
    /// The segment's data and index files, with their paths for the log.
    files: Vec<(PathBuf, File)>,
    /// The segment's end: the recovery point once its files are on disk.
    end_offset: i64,
    point: Arc<RecoveryPoint>,
}

fn perform(job: Job) {
    for (path, file) in &job.files {
        if let Err(e) = file.sync_data() {
            // The recovery point stays where it is: a restart after a crash re-validates
            // this segment.
            tracing::error!(file = %path.display(), error = %e, "fsync of rolled segment failed; it is re-validated after an unclean stop");
            return;
        }
    }
    job.point.advance(job.end_offset);
}

static FLUSHER: Worker<Job> = Worker::new(
    "strom-flusher",
    FLUSH_QUEUE_MAX,
    perform,
    "rolled segments are fsynced inline",
);

/// Fsyncs `files` (a rolled segment's) in the background, in submission order, then moves
/// `point` to `end_offset`. When the queue is full the caller does it (back-pressure).
pub fn sync_later(files: Vec<(PathBuf, File)>, end_offset: i64, point: Arc<RecoveryPoint>) {
    FLUSHER.submit(Job {
        files,
        end_offset,
        point,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn the_point_moves_forward_only_until_retired() {
        let point = RecoveryPoint::new(0);
        point.advance(10);
        point.advance(5);
        assert_eq!(point.get(), 10);
        point.reset(3);
        assert_eq!(point.get(), 3);
        point.retire();
        point.advance(20);
        assert_eq!(point.get(), 0);
    }

    #[test]
    fn a_legacy_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(RecoveryPoint::read_legacy(dir.path()), None);
        std::fs::write(dir.path().join(LEGACY_RECOVERY_POINT_FILE), "42").unwrap();
        assert_eq!(RecoveryPoint::read_legacy(dir.path()), Some(42));
    }

    #[test]
    fn a_background_sync_moves_the_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, b"data").unwrap();
        let point = RecoveryPoint::new(0);
        sync_later(
            vec![(path.clone(), File::open(&path).unwrap())],
            42,
            Arc::clone(&point),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while point.get() != 42 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(point.get(), 42);
    }
}
