//! A partition's leader-epoch cache (Kafka's `LeaderEpochFileCache`): for each leader epoch
//! that wrote to the log, the offset of its first batch, kept in `leader-epoch-checkpoint`.
//! A follower that lost its place asks the leader where an epoch ended
//! (OffsetForLeaderEpoch, [`LeaderEpochCache::end_offset_for`]) and truncates there, which is
//! how replicas agree after a leader change (KIP-101, KIP-279).
//!
//! Invariant: entries strictly increase in both epoch and start offset. Every change is
//! written to the file before it is used.

use std::path::{Path, PathBuf};

use crate::checkpoint::{self, LEADER_EPOCH_FILE};
use crate::Error;

/// Kafka's `UNDEFINED_EPOCH` and `UNDEFINED_EPOCH_OFFSET`.
pub const UNDEFINED: (i32, i64) = (-1, -1);

/// One epoch and the offset of its first batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochEntry {
    pub epoch: i32,
    pub start_offset: i64,
}

#[derive(Debug)]
pub struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<EpochEntry>,
    /// fsync the file when it changes.
    durable: bool,
}

impl LeaderEpochCache {
    /// Loads the cache of the partition in `dir`; empty when the file is missing.
    ///
    /// # Errors
    /// The file exists but cannot be read or is malformed.
    /// `durable: false` (a throw-away directory) writes the file without fsyncs.
    pub fn load(dir: &Path, durable: bool) -> Result<Self, Error> {
        let path = dir.join(LEADER_EPOCH_FILE);
        let mut entries: Vec<EpochEntry> = Vec::new();
        for (epoch, start_offset) in checkpoint::read_epochs(&path)? {
            // A file written by hand may be out of order: keep what increases.
            if entries
                .last()
                .is_none_or(|l| epoch > l.epoch && start_offset > l.start_offset)
            {
                entries.push(EpochEntry {
                    epoch,
                    start_offset,
                });
            }
        }
        Ok(Self {
            path,
            entries,
            durable,
        })
    }

    pub fn entries(&self) -> &[EpochEntry] {
        &self.entries
    }

    /// The latest epoch, if any.
    pub fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.epoch)
    }

    fn persist(&self) -> Result<(), Error> {
        let pairs: Vec<(i32, i64)> = self
            .entries
            .iter()
            .map(|e| (e.epoch, e.start_offset))
            .collect();
        checkpoint::write_epochs(&self.path, &pairs, self.durable)
    }

    /// Records that `epoch` starts at `start_offset` (a leader's first batch, or a follower
    /// appending one); entries it contradicts (a later or equal epoch, or a later start) are
    /// dropped, as Kafka's `assign`. Nothing changes when `epoch` is already the latest.
    ///
    /// # Errors
    /// The checkpoint cannot be written; the cache is then unchanged.
    pub fn assign(&mut self, epoch: i32, start_offset: i64) -> Result<(), Error> {
        if epoch < 0 || start_offset < 0 {
            return Ok(());
        }
        if let Some(last) = self.entries.last() {
            if last.epoch == epoch && last.start_offset <= start_offset {
                return Ok(());
            }
        }
        let before = self.entries.clone();
        while self
            .entries
            .last()
            .is_some_and(|e| e.epoch >= epoch || e.start_offset >= start_offset)
        {
            self.entries.pop();
        }
        self.entries.push(EpochEntry {
            epoch,
            start_offset,
        });
        if let Err(e) = self.persist() {
            self.entries = before;
            return Err(e);
        }
        Ok(())
    }

    /// The log was cut to end before `end_offset`: epochs that start at or after it go.
    ///
    /// # Errors
    /// The checkpoint cannot be written.
    pub fn truncate_from_end(&mut self, end_offset: i64) -> Result<(), Error> {
        let before = self.entries.len();
        self.entries.retain(|e| e.start_offset < end_offset);
        if self.entries.len() == before {
            return Ok(());
        }
        self.persist()
    }

    /// The log now starts at `start_offset`: epochs wholly before it go, and the one that
    /// covers it starts there (as Kafka's `truncateFromStart`).
    ///
    /// # Errors
    /// The checkpoint cannot be written.
    pub fn truncate_from_start(&mut self, start_offset: i64) -> Result<(), Error> {
        let covering = self
            .entries
            .iter()
            .rposition(|e| e.start_offset <= start_offset);
        let Some(covering) = covering else {
            return Ok(());
        };
        let Some(entry) = self.entries.get(covering).copied() else {
            return Ok(());
        };
        if covering == 0 && entry.start_offset == start_offset {
            return Ok(());
        }
        self.entries.drain(..covering);
        if let Some(first) = self.entries.first_mut() {
            first.start_offset = start_offset;
        }
        self.persist()
    }

    /// Where `requested` ended, as Kafka's `endOffsetFor`: `(epoch, end_offset)` with the
    /// largest known epoch ≤ `requested` and the start of the next epoch (or the log end for
    /// the latest), [`UNDEFINED`] when nothing is known.
    pub fn end_offset_for(&self, requested: i32, log_end_offset: i64) -> (i32, i64) {
        if requested < 0 {
            return UNDEFINED;
        }
        let Some(latest) = self.entries.last() else {
            return UNDEFINED;
        };
        if requested == latest.epoch {
            return (requested, log_end_offset);
        }
        if requested > latest.epoch {
            return UNDEFINED;
        }
        let higher = self.entries.iter().position(|e| e.epoch > requested);
        let Some(higher) = higher else {
            return UNDEFINED;
        };
        let next_start = self
            .entries
            .get(higher)
            .map_or(log_end_offset, |e| e.start_offset);
        match higher.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(floor) => (floor.epoch, next_start),
            None => (requested, next_start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(entries: &[(i32, i64)]) -> (tempfile::TempDir, LeaderEpochCache) {
        let dir = tempfile::tempdir().unwrap();
        let mut c = LeaderEpochCache::load(dir.path(), true).unwrap();
        for (e, o) in entries {
            c.assign(*e, *o).unwrap();
        }
        (dir, c)
    }

    #[test]
    fn end_offsets_follow_kafka() {
        let (_d, c) = cache(&[(0, 0), (2, 1510), (5, 90210)]);
        assert_eq!(c.end_offset_for(-1, 100_000), UNDEFINED);
        assert_eq!(
            c.end_offset_for(5, 100_000),
            (5, 100_000),
            "latest: log end"
        );
        assert_eq!(c.end_offset_for(6, 100_000), UNDEFINED, "above the latest");
        assert_eq!(c.end_offset_for(0, 100_000), (0, 1510));
        assert_eq!(
            c.end_offset_for(1, 100_000),
            (0, 1510),
            "unknown: the floor epoch"
        );
        assert_eq!(c.end_offset_for(3, 100_000), (2, 90210));
        let (_d, empty) = cache(&[]);
        assert_eq!(empty.end_offset_for(0, 10), UNDEFINED);
        let (_d, later) = cache(&[(3, 50)]);
        assert_eq!(later.end_offset_for(1, 70), (1, 50), "below every epoch");
    }

    #[test]
    fn assign_drops_what_it_contradicts_and_persists() {
        let (dir, mut c) = cache(&[(0, 0), (2, 100), (4, 200)]);
        c.assign(4, 250).unwrap();
        assert_eq!(c.entries().len(), 3, "same epoch, later offset: no change");
        c.assign(3, 150).unwrap();
        assert_eq!(
            c.entries(),
            &[
                EpochEntry {
                    epoch: 0,
                    start_offset: 0
                },
                EpochEntry {
                    epoch: 2,
                    start_offset: 100
                },
                EpochEntry {
                    epoch: 3,
                    start_offset: 150
                }
            ]
        );
        let again = LeaderEpochCache::load(dir.path(), true).unwrap();
        assert_eq!(again.entries(), c.entries());
    }

    #[test]
    fn truncation_from_either_end() {
        let (dir, mut c) = cache(&[(0, 0), (2, 100), (4, 200)]);
        c.truncate_from_end(150).unwrap();
        assert_eq!(c.latest_epoch(), Some(2));
        c.truncate_from_start(120).unwrap();
        assert_eq!(
            c.entries(),
            &[EpochEntry {
                epoch: 2,
                start_offset: 120
            }]
        );
        assert_eq!(
            LeaderEpochCache::load(dir.path(), true).unwrap().entries(),
            c.entries()
        );
    }
}
