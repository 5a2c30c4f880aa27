//! Sparse offset index (`.index`) and time index (`.timeindex`) of one segment, in Kafka's
//! file formats: offset entries are `(relative_offset u32, position u32)`, 8 bytes; time
//! entries are `(timestamp i64, relative_offset u32)`, 12 bytes; all big-endian.
//!
//! An index is shared by its segment's writer and by readers (see [`crate::log::ReadState`]):
//! its entries sit behind a read-write lock that the writer takes only to push one entry or to
//! seal, so a lookup never waits for a write to the disk. Entries strictly increase. The active segment's index is kept in memory (at most
//! `segment.index.bytes`, 10 MiB by default) and appended to its file as it grows. Once a
//! segment is rolled, or when an older segment is found at start-up, its index is *sealed*:
//! nothing is held in memory and lookups binary-search the file with positioned reads, as
//! Kafka's `LazyIndex` opens an index only when it is first used. So memory does not grow
//! with the data kept, and a start-up reads no index entries. On an unclean start both
//! indexes of the active segment are rebuilt from the log (as Kafka's `LogSegment.recover`).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

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

/// An append-only index file, with its entries in memory while its segment is active.
#[derive(Debug)]
pub struct Index<E> {
    path: PathBuf,
    entries_max: usize,
    store: RwLock<Store<E>>,
}

#[derive(Debug)]
enum Store<E> {
    /// Entries in memory, appended to the file through a buffer.
    Memory {
        entries: Vec<E>,
        file: BufWriter<File>,
    },
    /// Entries only in the file, opened on first use.
    Sealed { count: usize, file: OnceLock<File> },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

trait Entry: Copy {
    const BYTES: usize;
    /// Fills `out`, `BYTES` long.
    fn encode(&self, out: &mut [u8]);
    fn decode(b: &[u8]) -> Option<Self>;
}

impl Entry for OffsetEntry {
    const BYTES: usize = OFFSET_ENTRY_BYTES;
    fn encode(&self, out: &mut [u8]) {
        if let Some(o) = out.get_mut(0..4) {
            o.copy_from_slice(&self.relative_offset.to_be_bytes());
        }
        if let Some(o) = out.get_mut(4..8) {
            o.copy_from_slice(&self.position.to_be_bytes());
        }
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
    fn encode(&self, out: &mut [u8]) {
        if let Some(o) = out.get_mut(0..8) {
            o.copy_from_slice(&self.timestamp.to_be_bytes());
        }
        if let Some(o) = out.get_mut(8..12) {
            o.copy_from_slice(&self.relative_offset.to_be_bytes());
        }
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
    /// A new, empty index file (truncating any old one), held in memory.
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
            store: RwLock::new(Store::Memory {
                entries: Vec::new(),
                file: BufWriter::new(file),
            }),
        })
    }

    /// Loads an existing index file into memory. Returns `None` when it is missing or not a
    /// whole number of entries; the caller then rebuilds it.
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
            store: RwLock::new(Store::Memory {
                entries,
                file: BufWriter::new(file),
            }),
        }))
    }

    /// An existing index file, sealed: only its length is looked at. Returns `None` when
    /// it is missing or not a whole number of entries.
    pub fn open_sealed(path: PathBuf, index_bytes_max: usize) -> Result<Option<Self>, Error> {
        let len = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Io { path, source: e }),
        };
        let bytes = E::BYTES as u64;
        if len % bytes != 0 {
            return Ok(None);
        }
        Ok(Some(Self {
            entries_max: (index_bytes_max / E::BYTES).max(1),
            path,
            store: RwLock::new(Store::Sealed {
                count: usize::try_from(len / bytes).unwrap_or(usize::MAX),
                file: OnceLock::new(),
            }),
        }))
    }

    /// An existing index file: sealed ([`Index::open_sealed`]) or loaded into memory
    /// ([`Index::load`]).
    pub fn open_existing(
        path: PathBuf,
        index_bytes_max: usize,
        sealed: bool,
    ) -> Result<Option<Self>, Error> {
        if sealed {
            Self::open_sealed(path, index_bytes_max)
        } else {
            Self::load(path, index_bytes_max)
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Store<E>> {
        // A panic while holding the lock leaves the entries as they were: still sorted.
        self.store
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Store<E>> {
        self.store
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes what is buffered and drops the in-memory entries: lookups read the file from
    /// now on.
    pub fn seal(&self) -> Result<(), Error> {
        let mut store = self.write();
        if let Store::Memory { entries, file } = &mut *store {
            file.flush().map_err(io(&self.path))?;
            *store = Store::Sealed {
                count: entries.len(),
                file: OnceLock::new(),
            };
        }
        Ok(())
    }

    pub fn is_sealed(&self) -> bool {
        matches!(*self.read(), Store::Sealed { .. })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        Self::count(&self.read())
    }

    fn count(store: &Store<E>) -> usize {
        match store {
            Store::Memory { entries, .. } => entries.len(),
            Store::Sealed { count, .. } => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i`; `None` past the end or when a sealed file cannot be read.
    pub fn get(&self, i: usize) -> Option<E> {
        self.get_in(&self.read(), i)
    }

    fn get_in(&self, store: &Store<E>, i: usize) -> Option<E> {
        match store {
            Store::Memory { entries, .. } => entries.get(i).copied(),
            Store::Sealed { count, file } => {
                if i >= *count {
                    return None;
                }
                let file = match file.get() {
                    Some(f) => f,
                    None => {
                        let opened = match File::open(&self.path) {
                            Ok(f) => f,
                            Err(e) => {
                                tracing::warn!(path = %self.path.display(), error = %e, "cannot open index; scanning the segment instead");
                                return None;
                            }
                        };
                        file.get_or_init(|| opened)
                    }
                };
                let mut buf = [0u8; TIME_ENTRY_BYTES];
                let buf = buf.get_mut(..E::BYTES)?;
                file.read_exact_at(buf, (i * E::BYTES) as u64).ok()?;
                E::decode(buf)
            }
        }
    }

    /// The last entry.
    pub fn last(&self) -> Option<E> {
        let store = self.read();
        Self::count(&store)
            .checked_sub(1)
            .and_then(|i| self.get_in(&store, i))
    }

    /// The last entry for which `below` holds (entries are sorted, so those for which it holds
    /// form a prefix): a binary search, in memory or over the file.
    fn last_where(&self, below: impl Fn(&E) -> bool) -> Option<E> {
        let store = self.read();
        let point = match &*store {
            Store::Memory { entries, .. } => entries.partition_point(&below),
            Store::Sealed { count, .. } => {
                let (mut lo, mut hi) = (0, *count);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    match self.get_in(&store, mid) {
                        Some(e) if below(&e) => lo = mid + 1,
                        Some(_) => hi = mid,
                        // Unreadable: act as if no entry qualified from here on.
                        None => hi = mid,
                    }
                }
                lo
            }
        };
        point.checked_sub(1).and_then(|i| self.get_in(&store, i))
    }

    pub fn is_full(&self) -> bool {
        self.len() >= self.entries_max
    }

    fn push(&self, e: E) -> Result<(), Error> {
        // The largest entry is a time entry.
        let mut buf = [0u8; TIME_ENTRY_BYTES];
        let bytes = buf.get_mut(..E::BYTES).unwrap_or_default();
        e.encode(bytes);
        let mut store = self.write();
        if Self::count(&store) >= self.entries_max {
            return Ok(());
        }
        match &mut *store {
            Store::Memory { entries, file } => {
                file.write_all(bytes).map_err(io(&self.path))?;
                entries.push(e);
            }
            Store::Sealed { count, .. } => {
                // Rare (a sealed segment's tail scanned at start-up): write straight through.
                let mut f = OpenOptions::new()
                    .append(true)
                    .open(&self.path)
                    .map_err(io(&self.path))?;
                f.write_all(bytes).map_err(io(&self.path))?;
                *count += 1;
            }
        }
        Ok(())
    }

    /// Writes buffered entries to the file (not synced).
    pub fn flush(&self) -> Result<(), Error> {
        if let Store::Memory { file, .. } = &mut *self.write() {
            file.flush().map_err(io(&self.path))?;
        }
        Ok(())
    }

    /// Writes buffered entries and fsyncs the file.
    pub fn sync(&self) -> Result<(), Error> {
        self.flush()?;
        File::open(&self.path)
            .and_then(|f| f.sync_data())
            .map_err(io(&self.path))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Index<OffsetEntry> {
    /// Adds an entry; entries must strictly increase in both fields.
    pub fn append(&self, relative_offset: u32, position: u32) -> Result<(), Error> {
        if let Some(last) = self.last() {
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
        self.last_where(|e| e.relative_offset <= relative_offset)
    }
}

impl Index<TimeEntry> {
    /// Adds an entry when `timestamp` is above the last one.
    pub fn append(&self, timestamp: i64, relative_offset: u32) -> Result<(), Error> {
        if let Some(last) = self.last() {
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
        self.last_where(|e| e.timestamp < timestamp)
    }

    /// As [`Index::lookup`], among the entries below `relative_end` only (what a reader's view
    /// of the segment holds; the writer may have added entries since).
    pub fn lookup_below(&self, timestamp: i64, relative_end: u32) -> Option<TimeEntry> {
        self.last_where(|e| e.timestamp < timestamp && e.relative_offset < relative_end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(dir: &Path) -> Index<OffsetEntry> {
        let idx = Index::<OffsetEntry>::create(dir.join("0.index"), 1024).unwrap();
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
        let idx = offsets(dir.path());
        idx.append(30, 400).unwrap();
        idx.append(25, 500).unwrap();
        assert_eq!(idx.len(), 3);
    }

    #[test]
    fn full_index_stops_growing() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::<OffsetEntry>::create(dir.path().join("0.index"), 16).unwrap();
        idx.append(1, 1).unwrap();
        assert!(!idx.is_full());
        idx.append(2, 2).unwrap();
        assert!(idx.is_full());
        idx.append(3, 3).unwrap();
        assert_eq!(idx.len(), 2);
    }

    #[test]
    fn index_survives_reload_and_rejects_partial_entries() {
        let dir = tempfile::tempdir().unwrap();
        let idx = offsets(dir.path());
        idx.flush().unwrap();
        let path = idx.path().to_path_buf();
        drop(idx);
        let again = Index::<OffsetEntry>::load(path.clone(), 1024)
            .unwrap()
            .unwrap();
        assert_eq!(again.len(), 3);
        drop(again);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
        assert!(Index::<OffsetEntry>::load(path, 1024).unwrap().is_none());
    }

    #[test]
    fn time_lookup_at_every_edge() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::<TimeEntry>::create(dir.path().join("0.timeindex"), 1024).unwrap();
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

    #[test]
    fn sealed_indexes_answer_like_loaded_ones_without_holding_entries() {
        let dir = tempfile::tempdir().unwrap();
        let idx = Index::<OffsetEntry>::create(dir.path().join("0.index"), 1 << 20).unwrap();
        for i in 1..=1000u32 {
            idx.append(i * 10, i * 100).unwrap();
        }
        let answers: Vec<_> = (0..10_020).step_by(7).map(|o| idx.lookup(o)).collect();
        idx.seal().unwrap();
        assert!(idx.is_sealed());
        let sealed: Vec<_> = (0..10_020).step_by(7).map(|o| idx.lookup(o)).collect();
        assert_eq!(sealed, answers);
        let reopened = Index::<OffsetEntry>::open_sealed(dir.path().join("0.index"), 1 << 20)
            .unwrap()
            .unwrap();
        assert_eq!(reopened.len(), 1000);
        let again: Vec<_> = (0..10_020).step_by(7).map(|o| reopened.lookup(o)).collect();
        assert_eq!(again, answers);
        assert_eq!(reopened.last().map(|e| e.position), Some(100_000));

        let time = Index::<TimeEntry>::create(dir.path().join("0.timeindex"), 1 << 20).unwrap();
        for i in 1..=100i64 {
            time.append(i * 1000, u32::try_from(i).unwrap() * 10)
                .unwrap();
        }
        time.seal().unwrap();
        assert_eq!(time.lookup(50_500).map(|e| e.timestamp), Some(50_000));
        assert_eq!(time.lookup(1000), None);
        assert_eq!(time.last().map(|e| e.timestamp), Some(100_000));
        // A sealed index still takes appends (written through to the file).
        time.append(200_000, 2000).unwrap();
        assert_eq!(time.last().map(|e| e.timestamp), Some(200_000));
        assert!(
            Index::<TimeEntry>::open_sealed(dir.path().join("none"), 1024)
                .unwrap()
                .is_none()
        );
    }
}
