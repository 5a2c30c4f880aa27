//! Sparse offset index (`.index`) and time index (`.timeindex`) of one segment, in Kafka's
//! file formats: offset entries are `(relative_offset u32, position u32)`, 8 bytes; time
//! entries are `(timestamp i64, relative_offset u32)`, 12 bytes; all big-endian.
//!
//! Entries strictly increase. The whole index is kept in memory (at most
//! `segment.index.bytes`, 10 MiB by default) and appended to its file as it grows; on an
//! unclean start both are rebuilt from the log (as Kafka's `LogSegment.recover`).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::Error;

pub const OFFSET_ENTRY_BYTES: usize = 8;
pub const TIME_ENTRY_BYTES: usize = 12;

/// One offset-index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetEntry {
    pub relative_offset: u32,
    pub position: u32,
}

/// One time-index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeEntry {
    pub timestamp: i64,
    pub relative_offset: u32,
}

/// An append-only index file plus its entries in memory.
#[derive(Debug)]
pub struct Index<E> {
    path: PathBuf,
    entries: Vec<E>,
    file: Option<BufWriter<File>>,
    entries_max: usize,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

trait Entry: Copy {
    const BYTES: usize;
    fn encode(&self) -> Vec<u8>;
    fn decode(b: &[u8]) -> Option<Self>;
}

impl Entry for OffsetEntry {
    const BYTES: usize = OFFSET_ENTRY_BYTES;
    fn encode(&self) -> Vec<u8> {
        let mut v = self.relative_offset.to_be_bytes().to_vec();
        v.extend_from_slice(&self.position.to_be_bytes());
        v
    }
    fn decode(b: &[u8]) -> Option<Self> {
        Some(Self {
            relative_offset: u32::from_be_bytes(b.get(0..4)?.try_into().ok()?),
            position: u32::from_be_bytes(b.get(4..8)?.try_into().ok()?),
        })
    }
}

impl Entry for TimeEntry {
    const BYTES: usize = TIME_ENTRY_BYTES;
    fn encode(&self) -> Vec<u8> {
        let mut v = self.timestamp.to_be_bytes().to_vec();
        v.extend_from_slice(&self.relative_offset.to_be_bytes());
        v
    }
    fn decode(b: &[u8]) -> Option<Self> {
        Some(Self {
            timestamp: i64::from_be_bytes(b.get(0..8)?.try_into().ok()?),
            relative_offset: u32::from_be_bytes(b.get(8..12)?.try_into().ok()?),
        })
    }
}

#[allow(private_bounds)]
impl<E: Entry> Index<E> {
    /// A new, empty index file (truncating any old one).
    pub fn create(path: PathBuf, index_bytes_max: usize) -> Result<Self, Error> {
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(io(&path))?;
        Ok(Self {
            entries_max: (index_bytes_max / E::BYTES).max(1),
            path,
            entries: Vec::new(),
            file: Some(BufWriter::new(file)),
        })
    }

    /// Loads an existing index file. Returns `None` when it is missing or not a whole number
    /// of entries; the caller then rebuilds it.
    pub fn load(path: PathBuf, index_bytes_max: usize) -> Result<Option<Self>, Error> {
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut f) => {
                f.read_to_end(&mut bytes).map_err(io(&path))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Io { path, source: e }),
        }
        if bytes.len() % E::BYTES != 0 {
            return Ok(None);
        }
        let entries: Option<Vec<E>> = bytes.chunks(E::BYTES).map(E::decode).collect();
        let Some(entries) = entries else {
            return Ok(None);
        };
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        Ok(Some(Self {
            entries_max: (index_bytes_max / E::BYTES).max(1),
            path,
            entries,
            file: Some(BufWriter::new(file)),
        }))
    }

    pub fn entries(&self) -> &[E] {
        &self.entries
    }

    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.entries_max
    }

    fn push(&mut self, e: E) -> Result<(), Error> {
        if self.is_full() {
            return Ok(());
        }
        self.entries.push(e);
        if let Some(f) = self.file.as_mut() {
            f.write_all(&e.encode()).map_err(io(&self.path))?;
        }
        Ok(())
    }

    /// Writes buffered entries to the file (not synced).
    pub fn flush(&mut self) -> Result<(), Error> {
        if let Some(f) = self.file.as_mut() {
            f.flush().map_err(io(&self.path))?;
        }
        Ok(())
    }

    /// Writes buffered entries and fsyncs the file.
    pub fn sync(&mut self) -> Result<(), Error> {
        if let Some(f) = self.file.as_mut() {
            f.flush().map_err(io(&self.path))?;
            f.get_ref().sync_data().map_err(io(&self.path))?;
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Index<OffsetEntry> {
    /// Adds an entry; entries must strictly increase in both fields.
    pub fn append(&mut self, relative_offset: u32, position: u32) -> Result<(), Error> {
        if let Some(last) = self.entries.last() {
            if relative_offset <= last.relative_offset || position <= last.position {
                return Ok(());
            }
        }
        self.push(OffsetEntry {
            relative_offset,
            position,
        })
    }

    /// The entry with the largest offset ≤ `relative_offset`, if any.
    pub fn lookup(&self, relative_offset: u32) -> Option<OffsetEntry> {
        let i = self
            .entries
            .partition_point(|e| e.relative_offset <= relative_offset);
        i.checked_sub(1).and_then(|i| self.entries.get(i).copied())
    }
}

impl Index<TimeEntry> {
    /// Adds an entry when `timestamp` is above the last one.
    pub fn append(&mut self, timestamp: i64, relative_offset: u32) -> Result<(), Error> {
        if let Some(last) = self.entries.last() {
            if timestamp <= last.timestamp || relative_offset < last.relative_offset {
                return Ok(());
            }
        }
        self.push(TimeEntry {
            timestamp,
            relative_offset,
        })
    }

    /// The last entry with timestamp < `timestamp`: batches before its offset cannot hold a
    /// timestamp ≥ the target, so a search may start there (as Kafka's `TimeIndex.lookup`,
    /// which returns the largest timestamp ≤ target; strictly less is the safe bound when
    /// several batches share a max timestamp).
    pub fn lookup(&self, timestamp: i64) -> Option<TimeEntry> {
        let i = self.entries.partition_point(|e| e.timestamp < timestamp);
        i.checked_sub(1).and_then(|i| self.entries.get(i).copied())
    }

    pub fn last(&self) -> Option<TimeEntry> {
        self.entries.last().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(dir: &Path) -> Index<OffsetEntry> {
        let mut idx = Index::<OffsetEntry>::create(dir.join("0.index"), 1024).unwrap();
        for (o, p) in [(10, 100), (20, 200), (30, 300)] {
            idx.append(o, p).unwrap();
        }
        idx
    }

    #[test]
    fn offset_lookup_at_every_edge() {
        let dir = tempfile::tempdir().unwrap();
        let idx = offsets(dir.path());
        assert_eq!(idx.lookup(0), None, "before the first");
        assert_eq!(idx.lookup(10).map(|e| e.position), Some(100), "exact first");
        assert_eq!(idx.lookup(15).map(|e| e.position), Some(100), "between");
        assert_eq!(
            idx.lookup(20).map(|e| e.position),
            Some(200),
            "exact middle"
        );
        assert_eq!(idx.lookup(30).map(|e| e.position), Some(300), "exact last");
        assert_eq!(
            idx.lookup(u32::MAX).map(|e| e.position),
            Some(300),
            "after the last"
        );
    }

    #[test]
    fn empty_index_finds_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::<OffsetEntry>::create(dir.path().join("0.index"), 1024).unwrap();
        assert_eq!(idx.lookup(5), None);
    }

    #[test]
    fn non_increasing_entries_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = offsets(dir.path());
        idx.append(30, 400).unwrap();
        idx.append(25, 500).unwrap();
        assert_eq!(idx.entries().len(), 3);
    }

    #[test]
    fn full_index_stops_growing() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = Index::<OffsetEntry>::create(dir.path().join("0.index"), 16).unwrap();
        idx.append(1, 1).unwrap();
        assert!(!idx.is_full());
        idx.append(2, 2).unwrap();
        assert!(idx.is_full());
        idx.append(3, 3).unwrap();
        assert_eq!(idx.entries().len(), 2);
    }

    #[test]
    fn index_survives_reload_and_rejects_partial_entries() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = offsets(dir.path());
        idx.flush().unwrap();
        let path = idx.path().to_path_buf();
        drop(idx);
        let again = Index::<OffsetEntry>::load(path.clone(), 1024)
            .unwrap()
            .unwrap();
        assert_eq!(again.entries().len(), 3);
        drop(again);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
        assert!(Index::<OffsetEntry>::load(path, 1024).unwrap().is_none());
    }

    #[test]
    fn time_lookup_at_every_edge() {
        let dir = tempfile::tempdir().unwrap();
        let mut idx = Index::<TimeEntry>::create(dir.path().join("0.timeindex"), 1024).unwrap();
        for (t, o) in [(100, 1), (200, 5), (300, 9)] {
            idx.append(t, o).unwrap();
        }
        idx.append(250, 12).unwrap(); // not above the last timestamp: ignored
        assert_eq!(idx.lookup(50), None);
        assert_eq!(idx.lookup(100), None);
        assert_eq!(idx.lookup(101).map(|e| e.relative_offset), Some(1));
        assert_eq!(idx.lookup(300).map(|e| e.relative_offset), Some(5));
        assert_eq!(idx.lookup(i64::MAX).map(|e| e.relative_offset), Some(9));
        assert_eq!(idx.last().map(|e| e.timestamp), Some(300));
    }
}
