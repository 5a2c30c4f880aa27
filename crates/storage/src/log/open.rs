//! Opening a partition log: its segments, and after an unclean stop the recovery of every
//! segment that may have lost writes (Kafka's `LogLoader`).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::config::LogConfig;
use crate::flusher::RecoveryPoint;
use crate::leader_epoch::LeaderEpochCache;
use crate::segment::Segment;
use crate::txn::TxnIndex;
use crate::Error;

use super::local::{io, remove_segment_files, LocalLog, TRANSACTIONAL_MARKER};

/// Per-partition file that held a log start moved by DeleteRecords before the log-dir
/// checkpoint `log-start-offset-checkpoint`; read once, then removed.
pub(super) const LEGACY_LOG_START_FILE: &str = "log-start-offset";
/// Per-partition file that held the cleaner's checkpoint before the log-dir
/// `cleaner-offset-checkpoint`; read once, then removed.
pub(super) const LEGACY_CLEANER_FILE: &str = "cleaner-offset-checkpoint";

/// What a log is opened with, from its log directory's checkpoints (`None`: the checkpoint
/// has no entry for it, so a file a data directory of an earlier Strom kept in the partition
/// directory is read instead, if any).
#[derive(Debug, Clone)]
pub struct LogOptions {
    pub config: LogConfig,
    /// The last stop was not clean: segments past the recovery point are re-validated.
    pub recover: bool,
    pub recovery_point: Option<i64>,
    pub log_start_offset: Option<i64>,
    pub high_watermark: Option<i64>,
    pub cleaner_checkpoint: Option<i64>,
    pub now_ms: i64,
    /// fsync the log's own small files (`leader-epoch-checkpoint`); off only for a
    /// throw-away directory.
    pub durable: bool,
}

impl LogOptions {
    /// A log opened with `config` and nothing known of it.
    pub fn new(config: LogConfig, now_ms: i64) -> Self {
        Self {
            config,
            recover: false,
            recovery_point: None,
            log_start_offset: None,
            high_watermark: None,
            cleaner_checkpoint: None,
            now_ms,
            durable: true,
        }
    }
}

/// Base offsets of the segments in `dir`, sorted, with leftovers of interrupted work
/// (deletions, cleanings) removed.
fn segment_bases(dir: &Path) -> Result<Vec<i64>, Error> {
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
    Ok(bases)
}

impl LocalLog {
    /// Opens the log in `dir`, creating it when missing. With `options.recover` (after an
    /// unclean stop) every segment that ends after the recovery point (see
    /// [`crate::flusher`]), the active one always among them, is re-validated batch by
    /// batch and cut at the first torn or corrupt one; as in Kafka, the segments after a cut
    /// one are removed. Segments wholly below the recovery point, and all of them after a
    /// clean stop, have only the batches after their last index entry checked.
    pub(super) fn open(dir: &Path, options: LogOptions) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let bases = segment_bases(dir)?;
        let settings = Self::settings(&options.config);
        let recovery_point = options
            .recovery_point
            .or_else(|| RecoveryPoint::read_legacy(dir))
            .unwrap_or(0);
        let mut segments = BTreeMap::new();
        for (i, &base) in bases.iter().enumerate() {
            let last = i + 1 == bases.len();
            // A segment that ends after the recovery point may have lost writes.
            let check =
                options.recover && bases.get(i + 1).is_none_or(|&next| next > recovery_point);
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
                    remove_segment_files(dir, gone)?;
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
        let log_start_offset = options
            .log_start_offset
            .or_else(|| crate::offset_file::read(dir, LEGACY_LOG_START_FILE))
            .unwrap_or(first_base)
            .clamp(first_base, end.max(first_base));
        let cleaner_checkpoint = options
            .cleaner_checkpoint
            .or_else(|| crate::offset_file::read(dir, LEGACY_CLEANER_FILE))
            .unwrap_or(0);
        let transactional_marked = dir.join(TRANSACTIONAL_MARKER).exists();
        let mut log = Self {
            dir: dir.to_path_buf(),
            config: options.config,
            segments,
            log_start_offset,
            high_watermark: 0,
            producers: None,
            txns: TxnIndex::default(),
            transactional_marked,
            epochs: LeaderEpochCache::load(dir, options.durable)?,
            unflushed_messages: 0,
            last_flush_ms: options.now_ms,
            poisoned: false,
            recovery: RecoveryPoint::new(recovery_point),
            cleaner_checkpoint,
            sealed_views: Arc::new(Vec::new()),
            aborted_view: Arc::new(Vec::new()),
            active_since_ms: None,
        };
        log.drop_empty_segments()?;
        let end = log.log_end_offset();
        if end < recovery_point {
            // Cut below what was on disk (the files were changed outside the broker).
            log.recovery.reset(end);
        }
        log.high_watermark = options
            .high_watermark
            .unwrap_or(end)
            .clamp(log.log_start_offset, end);
        log.load_epochs()?;
        if transactional_marked {
            let mut txns = TxnIndex::default();
            log.for_each_header(|h, control| {
                txns.on_batch(h, control);
                Ok(())
            })?;
            txns.trim_before(log.log_start_offset);
            log.txns = txns;
        }
        log.aborted_view = Arc::new(log.txns.aborted().to_vec());
        log.segments_changed();
        Ok(log)
    }

    /// After recovery an older segment may have lost its tail; later segments still start
    /// at their own base offsets, so nothing needs to move. An empty non-active segment is
    /// removed.
    fn drop_empty_segments(&mut self) -> Result<(), Error> {
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

    /// Brings the leader-epoch cache in line with the log: epochs past its end go, and a log
    /// written before the cache existed (every batch of a single broker carried epoch 0)
    /// gets the epoch of its first batch from its start.
    fn load_epochs(&mut self) -> Result<(), Error> {
        let end = self.log_end_offset();
        self.epochs.truncate_from_end(end)?;
        if self.epochs.latest_epoch().is_none() && end > self.log_start_offset {
            let first = self.segments.values().find(|s| s.size() > 0);
            if let Some(segment) = first {
                let epoch = segment.header_at(0)?.partition_leader_epoch;
                self.epochs.assign(epoch, self.log_start_offset)?;
            }
        }
        Ok(())
    }

    /// Removes the per-partition files an earlier Strom kept, once the log directory's
    /// checkpoints hold their values.
    pub(super) fn remove_legacy_files(&self) {
        for name in [
            crate::flusher::LEGACY_RECOVERY_POINT_FILE,
            LEGACY_LOG_START_FILE,
            LEGACY_CLEANER_FILE,
        ] {
            let path = self.dir.join(name);
            if path.exists() {
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove a file the log-dir checkpoints replace");
                }
            }
        }
    }
}
