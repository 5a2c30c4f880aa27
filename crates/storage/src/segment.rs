//! One log segment: `<base_offset>.log` with its `.index` and `.timeindex`, as Kafka's
//! `LogSegment`. Only the active (last) segment of a log is appended to.
//!
//! Invariant: bytes `0..size` of the log file are whole, valid batches whose offsets lie in
//! `base_offset..next_offset`; index entries point inside that range.

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{self, BatchHeader, HEADER_BYTES};
use crate::index::{Index, OffsetEntry, TimeEntry};
use crate::reaper::SegmentFile;
use crate::Error;

/// A byte range of a segment file, to be read (or sent) after the log's lock is released.
/// Holding the `Arc<SegmentFile>` keeps the data readable even if retention deletes the
/// file (and its last holder closes it on the reaper thread).
#[derive(Debug, Clone)]
pub struct FileSlice {
    pub file: Arc<SegmentFile>,
    pub position: u64,
    pub len: u32,
}

impl FileSlice {
    /// Reads the slice into memory.
    ///
    /// # Errors
    /// The read fails or the file is shorter than the slice.
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; self.len as usize];
        self.file.read_exact_at(&mut buf, self.position)?;
        Ok(buf)
    }

    /// Appends the slice to `out`, which is left as it was if the read fails.
    ///
    /// # Errors
    /// The read fails or the file is shorter than the slice.
    pub fn read_into(&self, out: &mut bytes::BytesMut) -> std::io::Result<()> {
        let start = out.len();
        out.resize(start + self.len as usize, 0);
        let read = match out.get_mut(start..) {
            Some(dest) => self.file.read_exact_at(dest, self.position),
            None => Ok(()),
        };
        if read.is_err() {
            out.truncate(start);
        }
        read
    }
}

/// File names padded to 20 digits, as Kafka's `LogFileUtils`, so `ls` sorts them.
pub fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}.{suffix}")
}

/// Removes the files of the segment at `base_offset` in `dir` without opening it.
pub(crate) fn remove_files(dir: &Path, base_offset: i64) -> Result<(), Error> {
    remove_paths(
        ["log", "index", "timeindex"].map(|suffix| dir.join(file_name(base_offset, suffix))),
    )
}

/// Renamed now, removed (and their blocks freed) by the reaper thread.
fn remove_paths(paths: [PathBuf; 3]) -> Result<(), Error> {
    for path in paths {
        crate::reaper::remove_file(&path).map_err(|source| Error::Io { path, source })?;
    }
    Ok(())
}

#[derive(Debug)]
pub struct Segment {
    base_offset: i64,
    log_path: PathBuf,
    file: Arc<SegmentFile>,
    size: u64,
    next_offset: i64,
    offset_index: Index<OffsetEntry>,
    time_index: Index<TimeEntry>,
    bytes_since_index_entry: u64,
    settings: SegmentSettings,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// Max timestamp of the first batch: what `segment.ms` measures from (Kafka's
    /// `rollingBasedTimestamp`).
    first_batch_timestamp: Option<i64>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Settings a segment needs.
#[derive(Debug, Clone, Copy)]
pub struct SegmentSettings {
    pub index_interval_bytes: u64,
    pub index_bytes_max: usize,
}

impl Segment {
    /// Creates an empty segment (replacing any leftover files of the same base offset).
    pub fn create(dir: &Path, base_offset: i64, settings: SegmentSettings) -> Result<Self, Error> {
        let log_path = dir.join(file_name(base_offset, "log"));
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&log_path)
            .map_err(io(&log_path))?;
        file.set_len(0).map_err(io(&log_path))?;
        Ok(Self {
            base_offset,
            file: Arc::new(SegmentFile::new(file)),
            size: 0,
            next_offset: base_offset,
            offset_index: Index::create(
                dir.join(file_name(base_offset, "index")),
                settings.index_bytes_max,
            )?,
            time_index: Index::create(
                dir.join(file_name(base_offset, "timeindex")),
                settings.index_bytes_max,
            )?,
            log_path,
            bytes_since_index_entry: 0,
            settings,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            first_batch_timestamp: None,
        })
    }

    /// Opens an existing segment. With `recover`, every batch is re-validated, the file is
    /// truncated after the last valid one and the indexes are rebuilt (as Kafka's
    /// `LogSegment.recover`); otherwise the indexes are trusted when they load and only the
    /// batches after the last index entry are scanned.
    pub fn open(
        dir: &Path,
        base_offset: i64,
        settings: SegmentSettings,
        recover: bool,
    ) -> Result<Self, Error> {
        Self::open_as(dir, base_offset, settings, recover, false).map(|(segment, _)| segment)
    }

    /// Opens an existing segment as [`Segment::open`] with `recover`, and says whether its
    /// file was cut (a torn or corrupt tail removed).
    pub fn open_recovering(
        dir: &Path,
        base_offset: i64,
        settings: SegmentSettings,
    ) -> Result<(Self, bool), Error> {
        Self::open_as(dir, base_offset, settings, true, false)
    }

    /// Opens an existing segment that will not be appended to (any but a log's last) with
    /// its indexes sealed: no index entry is read, lookups read the files when needed.
    /// Work per segment is constant: the file lengths, the last index entries, the batches
    /// after the last offset-index entry (as [`Segment::open`] without `recover`).
    pub fn open_sealed(
        dir: &Path,
        base_offset: i64,
        settings: SegmentSettings,
    ) -> Result<Self, Error> {
        Self::open_as(dir, base_offset, settings, false, true).map(|(segment, _)| segment)
    }

    fn open_as(
        dir: &Path,
        base_offset: i64,
        settings: SegmentSettings,
        recover: bool,
        sealed: bool,
    ) -> Result<(Self, bool), Error> {
        let log_path = dir.join(file_name(base_offset, "log"));
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(&log_path)
            .map_err(io(&log_path))?;
        let file_len = file.metadata().map_err(io(&log_path))?.len();
        let offset_path = dir.join(file_name(base_offset, "index"));
        let time_path = dir.join(file_name(base_offset, "timeindex"));
        let loaded = if recover {
            None
        } else {
            let max = settings.index_bytes_max;
            match (
                Index::<OffsetEntry>::open_existing(offset_path.clone(), max, sealed)?,
                Index::<TimeEntry>::open_existing(time_path.clone(), max, sealed)?,
            ) {
                (Some(o), Some(t)) if o.last().is_none_or(|e| u64::from(e.position) < file_len) => {
                    Some((o, t))
                }
                _ => None,
            }
        };
        let rebuild = loaded.is_none();
        let (offset_index, time_index) = match loaded {
            Some(pair) => pair,
            None => (
                Index::create(offset_path, settings.index_bytes_max)?,
                Index::create(time_path, settings.index_bytes_max)?,
            ),
        };
        let mut segment = Self {
            base_offset,
            file: Arc::new(SegmentFile::new(file)),
            size: 0,
            next_offset: base_offset,
            offset_index,
            time_index,
            log_path,
            bytes_since_index_entry: 0,
            settings,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            first_batch_timestamp: None,
        };
        if rebuild {
            segment.scan_from(0, file_len, true)?;
        } else {
            let start = segment
                .offset_index
                .last()
                .map_or(0, |e| u64::from(e.position));
            if let Some(t) = segment.time_index.last() {
                segment.max_timestamp = t.timestamp;
                segment.offset_of_max_timestamp = base_offset + i64::from(t.relative_offset);
            }
            segment.scan_from(start, file_len, false)?;
        }
        let cut = segment.size < file_len;
        if cut {
            tracing::warn!(
                segment = %segment.log_path.display(),
                valid_bytes = segment.size,
                file_bytes = file_len,
                "truncating torn or corrupt tail of segment"
            );
            segment
                .file
                .set_len(segment.size)
                .map_err(io(&segment.log_path))?;
        }
        segment.first_batch_timestamp = if segment.size > 0 {
            Some(segment.header_at(0)?.max_timestamp)
        } else {
            None
        };
        if sealed {
            segment.seal()?;
        }
        Ok((segment, cut))
    }

    /// Whether the indexes are sealed (not held in memory).
    pub fn is_sealed(&self) -> bool {
        self.offset_index.is_sealed() && self.time_index.is_sealed()
    }

    /// Drops the in-memory index entries of a segment that is no longer appended to (see
    /// [`crate::index`]); buffered entries are written first.
    pub fn seal(&mut self) -> Result<(), Error> {
        self.offset_index.seal()?;
        self.time_index.seal()
    }

    /// Walks batches from `start` to `end`, checking each (fully when `index`, in which case
    /// index entries are rebuilt), and sets `size`, `next_offset` and max timestamps from what
    /// is valid. Stops at the first invalid batch.
    fn scan_from(&mut self, start: u64, end: u64, index: bool) -> Result<(), Error> {
        let mut position = start;
        let mut buf = Vec::new();
        if !index {
            // The bytes before `start` were indexed; `next_offset` must still come from the
            // batch at `start` onwards, which is scanned below.
            self.size = start;
        }
        while position + HEADER_BYTES as u64 <= end {
            let mut head = [0u8; HEADER_BYTES];
            if self.file.read_exact_at(&mut head, position).is_err() {
                break;
            }
            let Ok(header) = BatchHeader::parse(&head) else {
                break;
            };
            let total = header.total_bytes();
            if header.batch_length < batch::BATCH_LENGTH_MIN
                || position + total > end
                || total > u64::from(u32::MAX)
            {
                break;
            }
            buf.resize(usize::try_from(total).unwrap_or(0), 0);
            if self.file.read_exact_at(&mut buf, position).is_err() {
                break;
            }
            if batch::check_framing(&buf).is_err() {
                break;
            }
            if header.base_offset < self.next_offset && position > 0 {
                break;
            }
            if index || position > start {
                self.index_batch(&header, position, total)?;
            } else {
                self.note_batch(&header);
            }
            position += total;
            self.size = position;
        }
        Ok(())
    }

    fn note_batch(&mut self, header: &BatchHeader) {
        self.next_offset = header.last_offset() + 1;
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = header.last_offset();
        }
    }

    fn index_batch(
        &mut self,
        header: &BatchHeader,
        position: u64,
        total: u64,
    ) -> Result<(), Error> {
        let relative = self.relative(header.last_offset());
        if self.bytes_since_index_entry >= self.settings.index_interval_bytes || position == 0 {
            if let (Ok(pos), Some(rel)) =
                (u32::try_from(position), self.relative(header.base_offset))
            {
                self.offset_index.append(rel, pos)?;
            }
            self.bytes_since_index_entry = 0;
        }
        self.bytes_since_index_entry += total;
        if header.max_timestamp > self.max_timestamp {
            if let Some(rel) = relative {
                self.time_index.append(header.max_timestamp, rel)?;
            }
        }
        self.note_batch(header);
        Ok(())
    }

    fn relative(&self, offset: i64) -> Option<u32> {
        u32::try_from(offset - self.base_offset).ok()
    }

    /// Whether a batch of `bytes` ending at `last_offset` still fits this segment.
    pub fn fits(&self, bytes: u64, last_offset: i64, segment_bytes: u64) -> bool {
        (self.size == 0 || self.size + bytes <= segment_bytes)
            && self.size + bytes <= u64::from(u32::MAX)
            && self.relative(last_offset).is_some()
            && !self.offset_index.is_full()
            && !self.time_index.is_full()
    }

    /// Appends one validated batch whose header was already patched (`header`, parsed as
    /// `parsed`), followed by the untouched record bytes `body`, with one vectored write.
    pub fn append(
        &mut self,
        header: &[u8; HEADER_BYTES],
        parsed: &BatchHeader,
        body: &[u8],
    ) -> Result<(), Error> {
        let total = (HEADER_BYTES + body.len()) as u64;
        let position = self.size;
        write_all_vectored(&self.file, &[IoSlice::new(header), IoSlice::new(body)])
            .map_err(io(&self.log_path))?;
        if self.first_batch_timestamp.is_none() {
            self.first_batch_timestamp = Some(parsed.max_timestamp);
        }
        self.index_batch(parsed, position, total)?;
        self.size = position + total;
        Ok(())
    }

    /// Header of the batch at `position`.
    pub fn header_at(&self, position: u64) -> Result<BatchHeader, Error> {
        let mut head = [0u8; HEADER_BYTES];
        self.file
            .read_exact_at(&mut head, position)
            .map_err(io(&self.log_path))?;
        BatchHeader::parse(&head)
    }

    /// Position and header of the batch containing `offset` (or the first after it).
    pub fn find_batch(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, Error> {
        let start = self
            .relative(offset)
            .and_then(|rel| self.offset_index.lookup(rel))
            .map_or(0, |e| u64::from(e.position));
        let mut position = start;
        while position < self.size {
            let header = self.header_at(position)?;
            if header.last_offset() >= offset {
                return Ok(Some((position, header)));
            }
            position += header.total_bytes();
        }
        Ok(None)
    }

    /// The bytes from the batch containing `offset` up to `max_bytes` (at least that whole
    /// first batch, as KIP-74's "min one message"). The slice may end inside a batch, as
    /// Kafka's `FileRecords.slice`; clients drop a trailing partial batch.
    pub fn read(&self, offset: i64, max_bytes: u32) -> Result<Option<FileSlice>, Error> {
        let Some((position, header)) = self.find_batch(offset)? else {
            return Ok(None);
        };
        let available = self.size - position;
        let len = available.min(u64::from(max_bytes).max(header.total_bytes()));
        Ok(Some(FileSlice {
            file: Arc::clone(&self.file),
            position,
            len: u32::try_from(len).unwrap_or(u32::MAX),
        }))
    }

    /// First offset whose record timestamp is ≥ `timestamp`, with that timestamp.
    pub fn find_offset_by_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, Error> {
        if self.max_timestamp < timestamp {
            return Ok(None);
        }
        let start_offset = self
            .time_index
            .lookup(timestamp)
            .map_or(self.base_offset, |e| {
                self.base_offset + i64::from(e.relative_offset)
            });
        let mut position = self
            .relative(start_offset)
            .and_then(|rel| self.offset_index.lookup(rel))
            .map_or(0, |e| u64::from(e.position));
        while position < self.size {
            let header = self.header_at(position)?;
            if header.max_timestamp >= timestamp {
                return Ok(Some(
                    self.first_record_at_or_after(position, &header, timestamp)?,
                ));
            }
            position += header.total_bytes();
        }
        Ok(None)
    }

    /// The exact offset of the first record carrying this segment's largest timestamp
    /// (Kafka ≥ 3.8, KAFKA-16310): the batch is read and its records walked when it is
    /// uncompressed; for a compressed batch the batch's last offset stands in.
    pub fn exact_offset_of_max_timestamp(&self) -> Result<i64, Error> {
        let shallow = self.offset_of_max_timestamp;
        let Some((position, header)) = self.find_batch(shallow)? else {
            return Ok(shallow);
        };
        if header.compression() != 0 || header.is_log_append_time() {
            return Ok(shallow);
        }
        Ok(self
            .record_deltas_at(position, &header)?
            .into_iter()
            .find(|(_, ts)| header.base_timestamp + ts == self.max_timestamp)
            .map_or(shallow, |(offset_delta, _)| {
                header.base_offset + offset_delta
            }))
    }

    /// The whole batch at `position`.
    pub(crate) fn batch_bytes_at(
        &self,
        position: u64,
        header: &BatchHeader,
    ) -> Result<Vec<u8>, Error> {
        let mut buf = vec![0u8; usize::try_from(header.total_bytes()).unwrap_or(0)];
        self.file
            .read_exact_at(&mut buf, position)
            .map_err(io(&self.log_path))?;
        Ok(buf)
    }

    /// `(offset_delta, timestamp_delta)` of each record of the uncompressed batch at
    /// `position` (empty when the records do not parse).
    fn record_deltas_at(
        &self,
        position: u64,
        header: &BatchHeader,
    ) -> Result<Vec<(i64, i64)>, Error> {
        let mut buf = vec![0u8; usize::try_from(header.total_bytes()).unwrap_or(0)];
        self.file
            .read_exact_at(&mut buf, position)
            .map_err(io(&self.log_path))?;
        Ok(batch::record_deltas(buf.get(HEADER_BYTES..).unwrap_or_default()).unwrap_or_default())
    }

    fn first_record_at_or_after(
        &self,
        position: u64,
        header: &BatchHeader,
        timestamp: i64,
    ) -> Result<(i64, i64), Error> {
        if header.compression() != 0 || header.is_log_append_time() {
            // Records of a compressed batch are not decoded here: the batch is the unit.
            return Ok((header.base_offset, header.max_timestamp));
        }
        for (offset_delta, ts_delta) in self.record_deltas_at(position, header)? {
            let ts = header.base_timestamp + ts_delta;
            if ts >= timestamp {
                return Ok((header.base_offset + offset_delta, ts));
            }
        }
        Ok((header.base_offset, header.max_timestamp))
    }

    /// Cuts the segment so that it ends before `offset` (used by recovery and tests).
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), Error> {
        let Some((position, _)) = self.find_batch(offset)? else {
            return Ok(());
        };
        let dir = self
            .log_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        self.file.set_len(position).map_err(io(&self.log_path))?;
        *self = Self::open(&dir, self.base_offset, self.settings, true)?;
        Ok(())
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }
    pub fn next_offset(&self) -> i64 {
        self.next_offset
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }
    pub(crate) fn file(&self) -> Arc<SegmentFile> {
        Arc::clone(&self.file)
    }
    pub fn offset_of_max_timestamp(&self) -> i64 {
        self.offset_of_max_timestamp
    }
    pub fn first_batch_timestamp(&self) -> Option<i64> {
        self.first_batch_timestamp
    }
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Writes index buffers to their files (not synced).
    pub fn flush_indexes(&mut self) -> Result<(), Error> {
        self.offset_index.flush()?;
        self.time_index.flush()
    }

    /// fsyncs the log and index files.
    pub fn sync(&mut self) -> Result<(), Error> {
        self.file.sync_data().map_err(io(&self.log_path))?;
        self.offset_index.sync()?;
        self.time_index.sync()
    }

    /// Descriptors of the data and index files with their paths, for a later fsync that
    /// must not hold this segment (see [`crate::flusher`]). Index buffers must have been
    /// written (a sealed segment's are).
    pub fn durable_files(&self) -> Vec<(PathBuf, File)> {
        let mut files = Vec::with_capacity(3);
        if let Ok(f) = self.file.try_clone() {
            files.push((self.log_path.clone(), f));
        }
        for path in [self.offset_index.path(), self.time_index.path()] {
            if let Ok(f) = File::open(path) {
                files.push((path.to_path_buf(), f));
            }
        }
        files
    }

    /// Removes the segment's files.
    pub fn delete(self) -> Result<(), Error> {
        remove_paths([
            self.log_path.clone(),
            self.offset_index.path().to_path_buf(),
            self.time_index.path().to_path_buf(),
        ])
    }
}

/// Writes every slice, retrying short writes (a single `writev` almost always suffices).
fn write_all_vectored(mut file: &File, slices: &[IoSlice<'_>]) -> std::io::Result<()> {
    let total: usize = slices.iter().map(|s| s.len()).sum();
    let written = file.write_vectored(slices)?;
    if written == total {
        return Ok(());
    }
    // Short write: finish with plain writes from where it stopped.
    let mut skip = written;
    for s in slices {
        if skip >= s.len() {
            skip -= s.len();
            continue;
        }
        file.write_all(s.get(skip..).unwrap_or_default())?;
        skip = 0;
    }
    Ok(())
}
