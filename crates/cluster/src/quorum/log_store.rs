//! The Raft log of the metadata log, kept as a partition log of `strom-storage`: entry `i` is
//! the one record at offset `i`, in a batch whose partition leader epoch is the entry's term
//! and whose value is the entry as JSON. Recovery of that log (torn tails cut at start-up)
//! is storage's; the vote and the last purged entry are in `quorum-state`.
//!
//! Every method does its file I/O on tokio's blocking pool. Appends are fsynced (unless the
//! directory is a throw-away one) before openraft is told they are written.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{Entry, LogId, RaftLogReader, StorageError, StorageIOError, Vote};
use serde::{Deserialize, Serialize};
use strom_storage::{batch, Log, LogConfig, LogOptions, TopicPartition};

use super::{TypeConfig, WallClock};

type StorageResult<T> = Result<T, StorageError<u64>>;

/// The vote and purge state (`quorum-state`).
const QUORUM_STATE_FILE: &str = "quorum-state";
/// Largest single metadata entry (a first start migrating a large old metadata file writes
/// one big entry).
const ENTRY_BYTES_MAX: u32 = 64 * 1024 * 1024;
/// Bytes read at a time when entries are read back.
const READ_CHUNK_BYTES: u32 = 1024 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct QuorumState {
    /// The format of this file.
    data_version: u32,
    vote: Option<Vote<u64>>,
    last_purged: Option<LogId<u64>>,
}

struct Inner {
    log: Arc<Log>,
    dir: PathBuf,
    durable: bool,
    wall_clock: WallClock,
    state: Mutex<QuorumState>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("dir", &self.dir)
            .field("durable", &self.durable)
            .finish_non_exhaustive()
    }
}

/// The log store openraft drives.
#[derive(Debug, Clone)]
pub struct LogStore {
    inner: Arc<Inner>,
}

/// The metadata log's own settings: never deleted by time or size (entries go only when a
/// snapshot holds them), fsynced by this store and not by the log's flush policy.
fn log_config() -> LogConfig {
    LogConfig {
        retention_ms: -1,
        retention_bytes: -1,
        max_message_bytes: ENTRY_BYTES_MAX,
        flush_messages: i64::MAX,
        flush_ms: i64::MAX,
        cleanup_policy: "delete".into(),
        ..LogConfig::default()
    }
}

fn read_io(e: &(impl std::error::Error + 'static)) -> StorageError<u64> {
    StorageIOError::read_logs(e).into()
}

fn write_io(e: &(impl std::error::Error + 'static)) -> StorageError<u64> {
    StorageIOError::write_logs(e).into()
}

/// Any failure of the blocking work, as an I/O error.
fn other(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(other)?
}

impl LogStore {
    /// Opens the log in `dir`, cutting a torn tail.
    ///
    /// # Errors
    /// The directory, a segment or `quorum-state` cannot be read.
    pub fn open(dir: &Path, durable: bool, wall_clock: WallClock) -> Result<Self, String> {
        let now_ms = wall_clock();
        let mut options = LogOptions::new(log_config(), now_ms);
        // Every segment is checked at start-up: the log is small (snapshots purge it) and
        // nothing records how far it was flushed.
        options.recover = true;
        options.recovery_point = Some(0);
        options.durable = durable;
        let log = Log::open(TopicPartition::new("__cluster_metadata", 0), dir, options)
            .map_err(|e| e.to_string())?;
        // Readers of this log are openraft alone; it reads what was appended.
        log.update_high_watermark(i64::MAX);
        let state = match std::fs::read(dir.join(QUORUM_STATE_FILE)) {
            Ok(bytes) => serde_json::from_slice::<QuorumState>(&bytes)
                .map_err(|e| format!("{}: {e}", dir.join(QUORUM_STATE_FILE).display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => QuorumState::default(),
            Err(e) => return Err(format!("{}: {e}", dir.join(QUORUM_STATE_FILE).display())),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                log: Arc::new(log),
                dir: dir.to_path_buf(),
                durable,
                wall_clock,
                state: Mutex::new(state),
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, QuorumState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes `quorum-state` with `change` applied (durably, unless the directory is a
    /// throw-away one).
    async fn save_state(&self, change: impl FnOnce(&mut QuorumState)) -> StorageResult<()> {
        let mut next = self.state().clone();
        change(&mut next);
        let bytes = serde_json::to_vec(&next).map_err(|e| write_io(&e))?;
        let path = self.inner.dir.join(QUORUM_STATE_FILE);
        let durable = self.inner.durable;
        blocking(move || {
            strom_storage::checkpoint::write_file(&path, &bytes, durable).map_err(other)
        })
        .await
        .map_err(|e| write_io(&e))?;
        *self.state() = next;
        Ok(())
    }

    /// Entries with indexes in `[start, end)`.
    fn read_entries(log: &Log, start: u64, end: u64) -> std::io::Result<Vec<Entry<TypeConfig>>> {
        let state = log.read_state();
        let from = i64::try_from(start).unwrap_or(i64::MAX);
        let upto = i64::try_from(end)
            .unwrap_or(i64::MAX)
            .min(state.log_end_offset);
        let mut entries = Vec::new();
        let mut failure = None;
        state
            .visit_records(from, upto, READ_CHUNK_BYTES, &mut |r| {
                if failure.is_some() {
                    return;
                }
                match serde_json::from_slice::<Entry<TypeConfig>>(r.value.unwrap_or_default()) {
                    Ok(e) if i64::try_from(e.log_id.index).ok() == Some(r.offset) => {
                        entries.push(e);
                    }
                    Ok(e) => {
                        failure = Some(format!(
                            "entry {} stored at offset {}",
                            e.log_id.index, r.offset
                        ));
                    }
                    Err(e) => failure = Some(format!("entry at offset {}: {e}", r.offset)),
                }
            })
            .map_err(other)?;
        if let Some(f) = failure {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, f));
        }
        Ok(entries)
    }
}

fn range_to_indexes(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(i) => *i,
        Bound::Excluded(i) => i.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(i) => i.saturating_add(1),
        Bound::Excluded(i) => *i,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        let (start, end) = range_to_indexes(&range);
        let log = Arc::clone(&self.inner.log);
        blocking(move || Self::read_entries(&log, start, end))
            .await
            .map_err(|e| read_io(&e))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let last_purged = self.state().last_purged;
        let log = Arc::clone(&self.inner.log);
        let last = blocking(move || {
            let end = log.read_state().log_end_offset;
            let Ok(end) = u64::try_from(end) else {
                return Ok(None);
            };
            if end == 0 {
                return Ok(None);
            }
            Ok(Self::read_entries(&log, end - 1, end)?
                .pop()
                .map(|e| e.log_id))
        })
        .await
        .map_err(|e| read_io(&e))?;
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last.or(last_purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> StorageResult<()> {
        let vote = *vote;
        self.save_state(|s| s.vote = Some(vote)).await
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<u64>>> {
        Ok(self.state().vote)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let inner = Arc::clone(&self.inner);
        let written = blocking(move || {
            let now_ms = (inner.wall_clock)();
            for e in &entries {
                let end = inner.log.read_state().log_end_offset;
                if i64::try_from(e.log_id.index).ok() != Some(end) {
                    return Err(other(format!(
                        "entry {} would be stored at offset {end}",
                        e.log_id.index
                    )));
                }
                let value = serde_json::to_vec(e).map_err(other)?;
                let bytes = batch::build_batch(&[(None, Some(&value))], now_ms, 0, None);
                let term = i32::try_from(e.log_id.leader_id.term).map_err(other)?;
                inner
                    .log
                    .append_as_leader(&bytes, term, now_ms)
                    .map_err(other)?;
            }
            inner.log.update_high_watermark(i64::MAX);
            if inner.durable {
                inner.log.flush(now_ms).map_err(other)?;
            }
            Ok(())
        })
        .await;
        match written {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let error = write_io(&e);
                callback.log_io_completed(Err(e));
                Err(error)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> StorageResult<()> {
        let log = Arc::clone(&self.inner.log);
        blocking(move || {
            let offset = i64::try_from(log_id.index).map_err(other)?;
            log.truncate_to(offset).map_err(other)?;
            log.update_high_watermark(i64::MAX);
            Ok(())
        })
        .await
        .map_err(|e| write_io(&e))
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> StorageResult<()> {
        // Remembered first: a log emptied by the purge must still report where it ended.
        self.save_state(|s| s.last_purged = Some(log_id)).await?;
        let log = Arc::clone(&self.inner.log);
        blocking(move || {
            let before = i64::try_from(log_id.index)
                .map_err(other)?
                .saturating_add(1);
            let end = log.read_state().log_end_offset;
            log.delete_records_before(before.min(end)).map_err(other)?;
            Ok(())
        })
        .await
        .map_err(|e| write_io(&e))
    }
}
