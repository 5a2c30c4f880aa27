//! Durability of rolled segments, and each partition's recovery point.
//!
//! A segment that stops being appended to (a roll) is fsynced in the background, as Kafka
//! does, so that no producer waits for it. One thread does it for every partition, in the
//! order the rolls happened; once a segment's files are on disk, the partition's
//! [`RecoveryPoint`] moves to the segment's end and is written to the file
//! `recovery-point` in the partition directory.
//!
//! After an unclean stop, only the segments at or after the recovery point are re-validated
//! batch by batch ([`crate::Log::open`]); those wholly before it were on disk before the
//! stop. This is Kafka's `recovery-point-offset-checkpoint`, kept per partition.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::limits::FLUSH_QUEUE_MAX;
use crate::worker::Worker;
use crate::Error;

/// File in the partition directory: every offset below the one it holds is on disk.
pub const RECOVERY_POINT_FILE: &str = "recovery-point";

/// The offset below which a partition's log is known to be on disk.
#[derive(Debug)]
pub struct RecoveryPoint {
    dir: PathBuf,
    /// `None` once the log is deleted: nothing is written into its directory any more.
    offset: Mutex<Option<i64>>,
}

impl RecoveryPoint {
    /// Reads the recovery point of the partition in `dir`; 0 (recover everything) when the
    /// file is missing or unreadable.
    pub fn load(dir: &Path) -> Arc<Self> {
        let offset = crate::offset_file::read(dir, RECOVERY_POINT_FILE)
            .filter(|o| *o >= 0)
            .unwrap_or(0);
        Arc::new(Self {
            dir: dir.to_path_buf(),
            offset: Mutex::new(Some(offset)),
        })
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

    /// Records that every offset below `offset` is on disk, and persists it (written aside,
    /// fsynced, renamed) when it moves forward.
    ///
    /// # Errors
    /// The file cannot be written; the recovery point in memory is unchanged.
    pub fn advance(&self, offset: i64) -> Result<(), Error> {
        let mut current = self.lock();
        match *current {
            Some(c) if offset > c => {
                write_point(&self.dir, offset)?;
                *current = Some(offset);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Moves the recovery point back to `offset` (the log was cut below it) and persists it.
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn reset(&self, offset: i64) -> Result<(), Error> {
        let mut current = self.lock();
        if current.is_some() {
            write_point(&self.dir, offset)?;
            *current = Some(offset);
        }
        Ok(())
    }

    /// The log is being deleted: no later [`advance`](Self::advance) writes into its
    /// directory (which a new partition of the same name may soon occupy).
    pub fn retire(&self) {
        *self.lock() = None;
    }
}

fn write_point(dir: &Path, offset: i64) -> Result<(), Error> {
    crate::offset_file::write(dir, RECOVERY_POINT_FILE, offset)
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
    if let Err(e) = job.point.advance(job.end_offset) {
        tracing::warn!(error = %e, "cannot record the recovery point; an unclean stop re-validates more segments");
    }
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
    fn the_point_moves_forward_only_and_survives_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let point = RecoveryPoint::load(dir.path());
        assert_eq!(point.get(), 0, "no file: recover everything");
        point.advance(10).unwrap();
        point.advance(5).unwrap();
        assert_eq!(point.get(), 10);
        assert_eq!(RecoveryPoint::load(dir.path()).get(), 10);
        point.reset(3).unwrap();
        assert_eq!(RecoveryPoint::load(dir.path()).get(), 3);
    }

    #[test]
    fn a_retired_point_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let point = RecoveryPoint::load(dir.path());
        point.retire();
        point.advance(10).unwrap();
        assert!(!dir.path().join(RECOVERY_POINT_FILE).exists());
    }

    #[test]
    fn a_background_sync_moves_the_point() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, b"data").unwrap();
        let point = RecoveryPoint::load(dir.path());
        sync_later(
            vec![(path.clone(), File::open(&path).unwrap())],
            42,
            Arc::clone(&point),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while point.get() != 42 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(RecoveryPoint::load(dir.path()).get(), 42);
    }
}
