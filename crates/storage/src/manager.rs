//! The log manager (Kafka's `LogManager`): owns a log directory and every partition log in
//! it. It opens logs (recovering them after an unclean stop), creates and deletes them, and
//! does the work that spans logs: retention, compaction, `flush.ms` flushes, the log
//! directory's checkpoint files (`recovery-point-offset-checkpoint`,
//! `replication-offset-checkpoint`, `log-start-offset-checkpoint`,
//! `cleaner-offset-checkpoint`) and the clean-shutdown marker `.kafka_cleanshutdown`.
//!
//! It decides nothing about time: the broker calls its passes on its own schedule with the
//! time it reads from its clock, on a thread that may block on the disk.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::checkpoint::{
    self, CLEANER_OFFSET_FILE, HIGH_WATERMARK_FILE, LOG_START_OFFSET_FILE, RECOVERY_POINT_FILE,
};
use crate::cleaner;
use crate::config::LogConfig;
use crate::log::{Log, LogOptions};
use crate::{Error, TopicPartition};

/// Kafka's clean-shutdown marker, written last at a clean stop and removed at start-up.
pub const CLEAN_SHUTDOWN_FILE: &str = ".kafka_cleanshutdown";
/// The marker an earlier Strom wrote; accepted as clean too.
pub const LEGACY_CLEAN_SHUTDOWN_FILE: &str = ".strom_clean_shutdown";
/// Held (`flock`) while a broker uses the directory, as Kafka's `.lock`.
pub const LOCK_FILE: &str = ".lock";
/// Kafka's file in each partition directory naming the topic id.
pub const PARTITION_METADATA_FILE: &str = "partition.metadata";
/// Directories whose names start with this are the metadata log, not partitions.
pub const METADATA_LOG_PREFIX: &str = "__cluster_metadata";
/// Suffix Kafka gives a partition directory that the metadata does not know.
const STRAY_SUFFIX: &str = "-stray";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What the log directory's checkpoint files held at start-up.
#[derive(Debug, Default)]
struct Loaded {
    recovery_points: BTreeMap<TopicPartition, i64>,
    log_starts: BTreeMap<TopicPartition, i64>,
    high_watermarks: BTreeMap<TopicPartition, i64>,
    cleaner: BTreeMap<TopicPartition, i64>,
}

/// A checkpoint file that cannot be read is logged and ignored (as Kafka does at start-up):
/// each of them only speeds things up or is rebuilt.
fn read_or_empty(dir: &Path, name: &str) -> BTreeMap<TopicPartition, i64> {
    match checkpoint::read_offsets(&dir.join(name)) {
        Ok(map) => map,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring an unreadable checkpoint");
            BTreeMap::new()
        }
    }
}

/// Counts of one pass over the logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PassStats {
    pub logs: usize,
    pub segments_deleted: usize,
}

#[derive(Debug)]
pub struct LogManager {
    dir: PathBuf,
    /// Data must survive a power loss (not an ephemeral directory): a clean stop fsyncs.
    durable: bool,
    /// The previous stop was clean: logs open without recovery.
    clean_start: bool,
    logs: RwLock<BTreeMap<TopicPartition, Arc<Log>>>,
    /// Partition directories found at start-up that no log has claimed yet.
    unclaimed: Mutex<BTreeSet<TopicPartition>>,
    loaded: Mutex<Loaded>,
    /// The per-partition files of an earlier Strom were removed after a full checkpoint.
    legacy_removed: AtomicBool,
    /// Serialises writes of the checkpoint files.
    checkpointing: Mutex<()>,
    _lock: File,
}

impl LogManager {
    /// Opens the log directory `dir` (created when missing), takes its lock, reads its
    /// checkpoints and consumes its clean-shutdown marker. Logs are opened one by one with
    /// [`LogManager::open_log`].
    ///
    /// # Errors
    /// The directory cannot be created or read, or another process holds its lock.
    pub fn open(dir: &Path, durable: bool) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = File::create(&lock_path).map_err(io(&lock_path))?;
        lock.try_lock().map_err(|e| Error::Io {
            path: lock_path.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!("another broker uses this data directory ({e})"),
            ),
        })?;
        let mut clean_start = false;
        for name in [CLEAN_SHUTDOWN_FILE, LEGACY_CLEAN_SHUTDOWN_FILE] {
            let marker = dir.join(name);
            if marker.exists() {
                clean_start = true;
                // Removed now (KAFKA-10471): a crash from here on is an unclean stop.
                std::fs::remove_file(&marker).map_err(io(&marker))?;
            }
        }
        let loaded = Loaded {
            recovery_points: read_or_empty(dir, RECOVERY_POINT_FILE),
            log_starts: read_or_empty(dir, LOG_START_OFFSET_FILE),
            high_watermarks: read_or_empty(dir, HIGH_WATERMARK_FILE),
            cleaner: read_or_empty(dir, CLEANER_OFFSET_FILE),
        };
        let unclaimed = partition_dirs(dir)?;
        if !clean_start && !unclaimed.is_empty() {
            tracing::warn!(dir = %dir.display(), "previous shutdown was not clean: re-validating each partition from its recovery point");
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            durable,
            clean_start,
            logs: RwLock::new(BTreeMap::new()),
            unclaimed: Mutex::new(unclaimed),
            loaded: Mutex::new(loaded),
            legacy_removed: AtomicBool::new(false),
            checkpointing: Mutex::new(()),
            _lock: lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the previous stop was clean.
    pub fn clean_start(&self) -> bool {
        self.clean_start
    }

    fn logs_read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<TopicPartition, Arc<Log>>> {
        self.logs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn logs_write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<TopicPartition, Arc<Log>>> {
        self.logs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The open log of `tp`.
    pub fn get(&self, tp: &TopicPartition) -> Option<Arc<Log>> {
        self.logs_read().get(tp).cloned()
    }

    /// Every open log, by partition.
    pub fn logs(&self) -> Vec<Arc<Log>> {
        self.logs_read().values().cloned().collect()
    }

    /// Opens the log of `tp` (creating it when missing), recovering it after an unclean stop;
    /// a log already open is returned as it is. A directory left by an earlier topic of the
    /// same name (another `topic_id`) is removed first.
    ///
    /// # Errors
    /// The log cannot be opened or repaired.
    pub fn open_log(
        &self,
        tp: &TopicPartition,
        topic_id: &str,
        config: LogConfig,
        now_ms: i64,
    ) -> Result<Arc<Log>, Error> {
        if let Some(log) = self.get(tp) {
            return Ok(log);
        }
        let dir = self.dir.join(tp.dir_name());
        if dir.exists() && !topic_id.is_empty() {
            if let Some(found) = read_topic_id(&dir) {
                if found != topic_id {
                    tracing::warn!(partition = %tp, found, expected = topic_id, "removing the directory of an earlier topic of the same name");
                    crate::reaper::remove_dir_all(&dir).map_err(io(&dir))?;
                }
            }
        }
        let options = {
            let loaded = self
                .loaded
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            LogOptions {
                config,
                recover: !self.clean_start,
                recovery_point: loaded.recovery_points.get(tp).copied(),
                log_start_offset: loaded.log_starts.get(tp).copied(),
                high_watermark: loaded.high_watermarks.get(tp).copied(),
                cleaner_checkpoint: loaded.cleaner.get(tp).copied(),
                now_ms,
                durable: self.durable,
            }
        };
        let log = Arc::new(Log::open(tp.clone(), &dir, options)?);
        if !topic_id.is_empty() {
            write_partition_metadata(&dir, topic_id, self.durable)?;
        }
        self.unclaimed
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(tp);
        self.logs_write().insert(tp.clone(), Arc::clone(&log));
        Ok(log)
    }

    /// Closes and deletes the log of `tp`: no background work touches it any more, and its
    /// directory is renamed at once and removed in the background (see [`crate::reaper`]).
    ///
    /// # Errors
    /// The directory cannot be renamed.
    pub fn delete_log(&self, tp: &TopicPartition) -> Result<(), Error> {
        let removed = self.logs_write().remove(tp);
        if let Some(log) = &removed {
            log.retire();
        }
        let dir = self.dir.join(tp.dir_name());
        crate::reaper::remove_dir_all(&dir).map_err(io(&dir))
    }

    /// Renames every partition directory found at start-up that no log claimed (the
    /// metadata does not know it) to `<name>.<n>-stray`, as Kafka does, keeping its data for
    /// an operator to look at. Returns their new paths.
    pub fn set_aside_strays(&self) -> Vec<PathBuf> {
        let strays: Vec<TopicPartition> = std::mem::take(
            &mut *self
                .unclaimed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_iter()
        .collect();
        let mut moved = Vec::new();
        for tp in strays {
            let from = self.dir.join(tp.dir_name());
            let to = self.dir.join(format!(
                "{}.{}{STRAY_SUFFIX}",
                tp.dir_name(),
                std::process::id()
            ));
            match std::fs::rename(&from, &to) {
                Ok(()) => {
                    tracing::warn!(from = %from.display(), to = %to.display(), "a partition directory the metadata does not know was set aside");
                    moved.push(to);
                }
                Err(e) => {
                    tracing::warn!(dir = %from.display(), error = %e, "cannot set aside a stray partition directory")
                }
            }
        }
        moved
    }

    /// Writes the recovery points, log starts, high watermarks and cleaner checkpoints of
    /// every open log to the log directory's checkpoint files.
    ///
    /// # Errors
    /// A file cannot be written (the previous one stays).
    pub fn checkpoint(&self) -> Result<(), Error> {
        let _writing = self
            .checkpointing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let logs = self.logs();
        let mut recovery = BTreeMap::new();
        let mut starts = BTreeMap::new();
        let mut hws = BTreeMap::new();
        let mut cleaner = BTreeMap::new();
        for log in &logs {
            let tp = log.topic_partition().clone();
            let state = log.read_state();
            recovery.insert(tp.clone(), log.recovery_point());
            let first_base = state.segments().next().map_or(0, |s| s.base_offset());
            // As Kafka: only a start moved inside the first segment needs remembering.
            if state.log_start_offset > first_base {
                starts.insert(tp.clone(), state.log_start_offset);
            }
            hws.insert(tp.clone(), state.high_watermark);
            if log.config().is_compacted() {
                cleaner.insert(tp, log.cleaner_checkpoint());
            }
        }
        checkpoint::write_offsets(&self.dir.join(RECOVERY_POINT_FILE), &recovery, self.durable)?;
        checkpoint::write_offsets(&self.dir.join(LOG_START_OFFSET_FILE), &starts, self.durable)?;
        checkpoint::write_offsets(&self.dir.join(HIGH_WATERMARK_FILE), &hws, self.durable)?;
        checkpoint::write_offsets(&self.dir.join(CLEANER_OFFSET_FILE), &cleaner, self.durable)?;
        if !self.legacy_removed.swap(true, Ordering::Relaxed) {
            for log in &logs {
                log.remove_legacy_files();
            }
        }
        Ok(())
    }

    /// Retention over every log. Returns how many logs were looked at and segments deleted.
    pub fn retention_pass(&self, now_ms: i64) -> PassStats {
        let mut stats = PassStats::default();
        for log in self.logs() {
            stats.logs += 1;
            match log.enforce_retention(now_ms) {
                Ok(n) => stats.segments_deleted += n,
                Err(e) => {
                    tracing::warn!(partition = %log.topic_partition(), error = %e, "retention failed")
                }
            }
        }
        stats
    }

    /// fsyncs the logs whose `flush.ms` has passed.
    pub fn flush_pass(&self, now_ms: i64) {
        for log in self.logs() {
            if log.flush_due(now_ms) {
                if let Err(e) = log.flush(now_ms) {
                    tracing::error!(partition = %log.topic_partition(), error = %e, "flush failed");
                }
            }
        }
    }

    /// One compaction pass over every compacted log that is dirty enough (see
    /// [`crate::cleaner`]): planned under the log's lock, run without it, installed under
    /// it; then the cleaner checkpoint is written. Returns how many logs were cleaned.
    pub fn clean_pass(&self, now_ms: i64, dedupe_bytes_max: usize) -> usize {
        let mut cleaned = 0;
        for log in self.logs() {
            let Some(plan) = log.clean_plan(now_ms, dedupe_bytes_max) else {
                continue;
            };
            let result = cleaner::run(&plan).and_then(|out| {
                let stats = out.stats;
                log.install_cleaned(out).map(|()| stats)
            });
            match result {
                Ok(stats) => {
                    cleaned += 1;
                    tracing::info!(
                        partition = %log.topic_partition(),
                        segments = stats.segments, bytes_before = stats.bytes_before,
                        bytes_after = stats.bytes_after, records_removed = stats.records_removed,
                        tombstones_removed = stats.tombstones_removed,
                        "compacted"
                    );
                }
                Err(e) => {
                    tracing::warn!(partition = %log.topic_partition(), error = %e, "compaction failed; will retry")
                }
            }
        }
        if cleaned > 0 {
            if let Err(e) = self.checkpoint() {
                tracing::warn!(error = %e, "cannot write the checkpoints after compaction");
            }
        }
        cleaned
    }

    /// A clean stop: index buffers written, everything fsynced (for a durable directory),
    /// the checkpoints written, then the clean-shutdown marker. A failure leaves no marker,
    /// so the next start recovers.
    pub fn shutdown(&self, now_ms: i64) {
        for log in self.logs() {
            if let Err(e) = log.close(self.durable, now_ms) {
                tracing::error!(partition = %log.topic_partition(), error = %e, "close failed; the next start recovers the logs");
                return;
            }
        }
        if let Err(e) = self.checkpoint() {
            tracing::error!(error = %e, "cannot write the checkpoints; the next start recovers the logs");
            return;
        }
        let marker = self.dir.join(CLEAN_SHUTDOWN_FILE);
        let written = if self.durable {
            checkpoint::write_durably(&marker, br#"{"version":0,"brokerEpoch":-1}"#)
        } else {
            std::fs::write(&marker, br#"{"version":0,"brokerEpoch":-1}"#).map_err(io(&marker))
        };
        if let Err(e) = written {
            tracing::error!(error = %e, "could not write the clean-shutdown marker; the next start recovers the logs");
        }
    }
}

/// The partition directories in `dir`, leftovers of deletions removed.
fn partition_dirs(dir: &Path) -> Result<BTreeSet<TopicPartition>, Error> {
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        if !entry.file_type().map_err(io(dir))?.is_dir() {
            continue;
        }
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(crate::reaper::DOOMED_SUFFIX) || name.ends_with("-delete") {
            crate::reaper::remove_doomed(entry.path());
            continue;
        }
        if name.starts_with(METADATA_LOG_PREFIX) || name.ends_with(STRAY_SUFFIX) {
            continue;
        }
        if let Some(tp) = TopicPartition::from_dir_name(&name) {
            found.insert(tp);
        }
    }
    Ok(found)
}

/// The topic id a partition directory's `partition.metadata` names.
fn read_topic_id(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(PARTITION_METADATA_FILE)).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("topic_id:"))
        .map(|id| id.trim().to_string())
}

/// Kafka's `partition.metadata` (`version: 0` and the topic id), written once, durably (for a
/// durable directory), before the log takes appends.
fn write_partition_metadata(dir: &Path, topic_id: &str, durable: bool) -> Result<(), Error> {
    if read_topic_id(dir).as_deref() == Some(topic_id) {
        return Ok(());
    }
    let text = format!("version: 0\ntopic_id: {topic_id}");
    checkpoint::write_file(&dir.join(PARTITION_METADATA_FILE), text.as_bytes(), durable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::tests::batch;

    const ID: &str = "AAAAAAAAAAAAAAAAAAAAAQ";

    fn config() -> LogConfig {
        LogConfig {
            timestamp_after_max_ms: i64::MAX,
            ..LogConfig::default()
        }
    }

    fn append(log: &Log, n: usize) {
        for _ in 0..n {
            log.append_as_leader(&batch(&[b"x"], 1, None), 0, 0)
                .unwrap();
        }
        log.update_high_watermark(i64::MAX);
    }

    #[test]
    fn a_clean_stop_writes_kafkas_files_and_the_next_start_trusts_them() {
        let dir = tempfile::tempdir().unwrap();
        let tp = TopicPartition::new("t", 0);
        {
            let m = LogManager::open(dir.path(), true).unwrap();
            assert!(!m.clean_start());
            let log = m.open_log(&tp, ID, config(), 0).unwrap();
            append(&log, 5);
            log.delete_records_before(2).unwrap();
            m.shutdown(0);
        }
        for name in [
            RECOVERY_POINT_FILE,
            HIGH_WATERMARK_FILE,
            LOG_START_OFFSET_FILE,
            CLEANER_OFFSET_FILE,
            CLEAN_SHUTDOWN_FILE,
        ] {
            assert!(dir.path().join(name).exists(), "{name}");
        }
        assert_eq!(
            std::fs::read_to_string(dir.path().join(RECOVERY_POINT_FILE)).unwrap(),
            "0\n1\nt 0 5\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("t-0").join(PARTITION_METADATA_FILE)).unwrap(),
            format!("version: 0\ntopic_id: {ID}")
        );
        let m = LogManager::open(dir.path(), true).unwrap();
        assert!(m.clean_start());
        assert!(!dir.path().join(CLEAN_SHUTDOWN_FILE).exists(), "consumed");
        let log = m.open_log(&tp, ID, config(), 0).unwrap();
        let state = log.read_state();
        assert_eq!(
            (
                state.log_start_offset,
                state.high_watermark,
                state.log_end_offset
            ),
            (2, 5, 5)
        );
        assert_eq!(log.recovery_point(), 5);
    }

    #[test]
    fn a_second_broker_cannot_take_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let _first = LogManager::open(dir.path(), false).unwrap();
        assert!(LogManager::open(dir.path(), false).is_err());
    }

    #[test]
    fn strays_are_set_aside_and_old_incarnations_replaced() {
        let dir = tempfile::tempdir().unwrap();
        {
            let m = LogManager::open(dir.path(), false).unwrap();
            append(
                &m.open_log(&TopicPartition::new("gone", 0), ID, config(), 0)
                    .unwrap(),
                1,
            );
            append(
                &m.open_log(&TopicPartition::new("kept", 0), ID, config(), 0)
                    .unwrap(),
                3,
            );
            m.shutdown(0);
        }
        let m = LogManager::open(dir.path(), false).unwrap();
        // "kept" was deleted and created again meanwhile: another topic id, an empty log.
        let again = m
            .open_log(
                &TopicPartition::new("kept", 0),
                "BBBBBBBBBBBBBBBBBBBBBQ",
                config(),
                0,
            )
            .unwrap();
        assert_eq!(again.read_state().log_end_offset, 0);
        let strays = m.set_aside_strays();
        assert_eq!(strays.len(), 1);
        assert!(strays[0]
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("gone-0."));
        assert!(!dir.path().join("gone-0").exists());
    }

    #[test]
    fn legacy_per_partition_files_move_into_the_checkpoints() {
        let dir = tempfile::tempdir().unwrap();
        let tp = TopicPartition::new("old", 2);
        {
            let m = LogManager::open(dir.path(), false).unwrap();
            append(&m.open_log(&tp, "", config(), 0).unwrap(), 4);
            m.shutdown(0);
        }
        // What a data directory of an earlier Strom held instead of the checkpoints.
        for name in [
            RECOVERY_POINT_FILE,
            HIGH_WATERMARK_FILE,
            LOG_START_OFFSET_FILE,
            CLEANER_OFFSET_FILE,
        ] {
            std::fs::remove_file(dir.path().join(name)).unwrap();
        }
        std::fs::rename(
            dir.path().join(CLEAN_SHUTDOWN_FILE),
            dir.path().join(LEGACY_CLEAN_SHUTDOWN_FILE),
        )
        .unwrap();
        let part = dir.path().join("old-2");
        std::fs::write(part.join("log-start-offset"), "3").unwrap();
        std::fs::write(part.join("recovery-point"), "4").unwrap();
        let m = LogManager::open(dir.path(), false).unwrap();
        assert!(m.clean_start(), "the old marker counts");
        let log = m.open_log(&tp, "", config(), 0).unwrap();
        assert_eq!(log.read_state().log_start_offset, 3);
        m.checkpoint().unwrap();
        assert!(!part.join("log-start-offset").exists());
        assert!(!part.join("recovery-point").exists());
        assert_eq!(
            checkpoint::read_offsets(&dir.path().join(LOG_START_OFFSET_FILE)).unwrap()[&tp],
            3
        );
    }

    #[test]
    fn deleted_logs_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let m = LogManager::open(dir.path(), false).unwrap();
        let tp = TopicPartition::new("t", 0);
        append(&m.open_log(&tp, ID, config(), 0).unwrap(), 2);
        m.delete_log(&tp).unwrap();
        assert!(m.get(&tp).is_none());
        assert!(!dir.path().join("t-0").exists());
        let fresh = m.open_log(&tp, ID, config(), 0).unwrap();
        assert_eq!(fresh.read_state().log_end_offset, 0);
    }
}
