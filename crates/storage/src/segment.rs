//! One log segment: `<base_offset>.log` with its `.index` and `.timeindex`, as Kafka's
//! `LogSegment`. Only the active (last) segment of a log is appended to.
//!
//! The files are shared: the writer ([`Segment`], owned by the log behind its lock) appends to
//! them, and readers hold a [`SegmentView`], the files with the size and offsets they had when
//! the view was published. Bytes below a view's size are whole, valid batches that no append
//! changes, so a reader needs no lock; only a truncation (recovery, a follower's) or a
//! deletion removes them, and a read that finds them gone fails instead of returning them.
//!
//! Invariant of the writer: bytes `0..size` of the log file are whole, valid batches whose
//! offsets lie in `base_offset..next_offset`; index entries point inside that range.

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

/// What the writer and readers of a segment share: its data file and its indexes.
#[derive(Debug)]
pub struct SegmentFiles {
    base_offset: i64,
    log_path: PathBuf,
    file: Arc<SegmentFile>,
    offset_index: Index<OffsetEntry>,
    time_index: Index<TimeEntry>,
}

impl SegmentFiles {
    fn relative(&self, offset: i64) -> Option<u32> {
        u32::try_from(offset - self.base_offset).ok()
    }

    /// Header of the batch at `position`.
    fn header_at(&self, position: u64) -> Result<BatchHeader, Error> {
        let mut head = [0u8; HEADER_BYTES];
        self.file
            .read_exact_at(&mut head, position)
            .map_err(io(&self.log_path))?;
        BatchHeader::parse(&head)
    }

    /// The whole batch at `position`.
    fn batch_bytes_at(&self, position: u64, header: &BatchHeader) -> Result<Vec<u8>, Error> {
        let len = usize::try_from(header.total_bytes())
            .map_err(|_| Error::CorruptBatch(format!("batch of {} bytes", header.total_bytes())))?;
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, position)
            .map_err(io(&self.log_path))?;
        Ok(buf)
    }

    /// Position and header of the batch containing `offset` (or the first after it), among
    /// the batches below `size`.
    fn find_batch(&self, offset: i64, size: u64) -> Result<Option<(u64, BatchHeader)>, Error> {
        let start = self
            .relative(offset)
            .and_then(|rel| self.offset_index.lookup(rel))
            .map_or(0, |e| u64::from(e.position));
        let mut position = start;
        while position < size {
            let header = self.header_at(position)?;
            if header.last_offset() >= offset {
                return Ok(Some((position, header)));
            }
            position += header.total_bytes();
        }
        Ok(None)
    }

    /// `(offset_delta, timestamp_delta)` of each record of the uncompressed batch at
    /// `position` (empty when the records do not parse).
    fn record_deltas_at(
        &self,
        position: u64,
        header: &BatchHeader,
    ) -> Result<Vec<(i64, i64)>, Error> {
        let buf = self.batch_bytes_at(position, header)?;
        let body = buf.get(HEADER_BYTES..).unwrap_or_default();
        let records = crate::compress::plain(header.compression(), body)?;
        Ok(batch::record_deltas(&records).unwrap_or_default())
    }

    fn first_record_at_or_after(
        &self,
        position: u64,
        header: &BatchHeader,
        timestamp: i64,
    ) -> Result<(i64, i64), Error> {
        if header.is_log_append_time() {
            // Every record carries the batch's append time.
            return Ok((header.base_offset, header.max_timestamp));
        }
        // A compressed batch is decompressed, as Kafka does, to answer its exact record.
        for (offset_delta, ts_delta) in self.record_deltas_at(position, header)? {
            let ts = header.base_timestamp + ts_delta;
            if ts >= timestamp {
                return Ok((header.base_offset + offset_delta, ts));
            }
        }
        Ok((header.base_offset, header.max_timestamp))
    }

    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub(crate) fn file(&self) -> Arc<SegmentFile> {
        Arc::clone(&self.file)
    }
}

/// A reader's view of a segment: its files and how far they were valid when the view was
/// published.
#[derive(Debug, Clone)]
pub struct SegmentView {
    files: Arc<SegmentFiles>,
    pub size: u64,
    pub next_offset: i64,
    pub max_timestamp: i64,
    pub offset_of_max_timestamp: i64,
}

impl SegmentView {
    pub fn base_offset(&self) -> i64 {
        self.files.base_offset
    }

    /// When the data file was last written, in ms since the epoch, if the file system says.
    pub fn modified_ms(&self) -> Option<i64> {
        let modified = self.files.file().metadata().ok()?.modified().ok()?;
        let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
        i64::try_from(since.as_millis()).ok()
    }

    /// Position and header of the batch containing `offset` (or the first after it).
    pub fn find_batch(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, Error> {
        self.files.find_batch(offset, self.size)
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
            file: self.files.file(),
            position,
            len: u32::try_from(len).unwrap_or(u32::MAX),
        }))
    }

    /// First offset whose record timestamp is ≥ `timestamp`, with that timestamp.
    pub fn find_offset_by_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, Error> {
        if self.max_timestamp < timestamp {
            return Ok(None);
        }
        let f = &self.files;
        let relative_end = f.relative(self.next_offset).unwrap_or(u32::MAX);
        let start_offset = f
            .time_index
            .lookup_below(timestamp, relative_end)
            .map_or(f.base_offset, |e| {
                f.base_offset + i64::from(e.relative_offset)
            });
        let mut position = f
            .relative(start_offset)
            .and_then(|rel| f.offset_index.lookup(rel))
            .map_or(0, |e| u64::from(e.position));
        while position < self.size {
            let header = f.header_at(position)?;
            if header.max_timestamp >= timestamp {
                return Ok(Some(
                    f.first_record_at_or_after(position, &header, timestamp)?,
                ));
            }
            position += header.total_bytes();
        }
        Ok(None)
    }

    /// The exact offset of the first record carrying this segment's largest timestamp
    /// (Kafka ≥ 3.8, KAFKA-16310): the batch is read and its records walked, decompressed
    /// when it is compressed.
    pub fn exact_offset_of_max_timestamp(&self) -> Result<i64, Error> {
        let shallow = self.offset_of_max_timestamp;
        let Some((position, header)) = self.find_batch(shallow)? else {
            return Ok(shallow);
        };
        if header.is_log_append_time() {
            return Ok(shallow);
        }
        Ok(self
            .files
            .record_deltas_at(position, &header)?
            .into_iter()
            .find(|(_, ts)| header.base_timestamp + ts == self.max_timestamp)
            .map_or(shallow, |(offset_delta, _)| {
                header.base_offset + offset_delta
            }))
    }
}

/// The writer's side of a segment, owned by its log.
#[derive(Debug)]
pub struct Segment {
    files: Arc<SegmentFiles>,
    size: u64,
    next_offset: i64,
    bytes_since_index_entry: u64,
    settings: SegmentSettings,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// Max timestamp of the first batch: what `segment.ms` measures from (Kafka's
    /// `rollingBasedTimestamp`).
    first_batch_timestamp: Option<i64>,
}

impl Segment {
    fn new(files: SegmentFiles, settings: SegmentSettings) -> Self {
        let next_offset = files.base_offset;
        Self {
            files: Arc::new(files),
            size: 0,
            next_offset,
            bytes_since_index_entry: 0,
            settings,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            first_batch_timestamp: None,
        }
    }

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
        let files = SegmentFiles {
            base_offset,
            file: Arc::new(SegmentFile::new(file)),
            offset_index: Index::create(
                dir.join(file_name(base_offset, "index")),
                settings.index_bytes_max,
            )?,
            time_index: Index::create(
                dir.join(file_name(base_offset, "timeindex")),
                settings.index_bytes_max,
            )?,
            log_path,
        };
        Ok(Self::new(files, settings))
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
        let files = SegmentFiles {
            base_offset,
            file: Arc::new(SegmentFile::new(file)),
            offset_index,
            time_index,
            log_path,
        };
        let mut segment = Self::new(files, settings);
        if rebuild {
            segment.scan_from(0, file_len, true)?;
        } else {
            let start = segment
                .files
                .offset_index
                .last()
                .map_or(0, |e| u64::from(e.position));
            if let Some(t) = segment.files.time_index.last() {
                segment.max_timestamp = t.timestamp;
                segment.offset_of_max_timestamp = base_offset + i64::from(t.relative_offset);
            }
            segment.scan_from(start, file_len, false)?;
        }
        let cut = segment.size < file_len;
        if cut {
            tracing::warn!(
                segment = %segment.files.log_path.display(),
                valid_bytes = segment.size,
                file_bytes = file_len,
                "truncating torn or corrupt tail of segment"
            );
            segment
                .files
                .file
                .set_len(segment.size)
                .map_err(io(&segment.files.log_path))?;
        }
        segment.first_batch_timestamp = if segment.size > 0 {
            Some(segment.files.header_at(0)?.max_timestamp)
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
        self.files.offset_index.is_sealed() && self.files.time_index.is_sealed()
    }

    /// Drops the in-memory index entries of a segment that is no longer appended to (see
    /// [`crate::index`]); buffered entries are written first.
    pub fn seal(&mut self) -> Result<(), Error> {
        self.files.offset_index.seal()?;
        self.files.time_index.seal()
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
            if self.files.file.read_exact_at(&mut head, position).is_err() {
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
            let Ok(len) = usize::try_from(total) else {
                break;
            };
            buf.resize(len, 0);
            if self.files.file.read_exact_at(&mut buf, position).is_err() {
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
        let relative = self.files.relative(header.last_offset());
        if self.bytes_since_index_entry >= self.settings.index_interval_bytes || position == 0 {
            if let (Ok(pos), Some(rel)) = (
                u32::try_from(position),
                self.files.relative(header.base_offset),
            ) {
                self.files.offset_index.append(rel, pos)?;
            }
            self.bytes_since_index_entry = 0;
        }
        self.bytes_since_index_entry += total;
        if header.max_timestamp > self.max_timestamp {
            if let Some(rel) = relative {
                self.files.time_index.append(header.max_timestamp, rel)?;
            }
        }
        self.note_batch(header);
        Ok(())
    }

    /// Whether a batch of `bytes` ending at `last_offset` still fits this segment.
    pub fn fits(&self, bytes: u64, last_offset: i64, segment_bytes: u64) -> bool {
        (self.size == 0 || self.size + bytes <= segment_bytes)
            && self.size + bytes <= u64::from(u32::MAX)
            && self.files.relative(last_offset).is_some()
            && !self.files.offset_index.is_full()
            && !self.files.time_index.is_full()
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
        assert_eq!(
            parsed.base_offset, self.next_offset,
            "a batch must start at the segment's next offset"
        );
        write_all_vectored(
            &self.files.file,
            &[IoSlice::new(header), IoSlice::new(body)],
        )
        .map_err(io(&self.files.log_path))?;
        if self.first_batch_timestamp.is_none() {
            self.first_batch_timestamp = Some(parsed.max_timestamp);
        }
        self.index_batch(parsed, position, total)?;
        self.size = position + total;
        Ok(())
    }

    /// What a reader may see of this segment now.
    pub fn view(&self) -> SegmentView {
        SegmentView {
            files: Arc::clone(&self.files),
            size: self.size,
            next_offset: self.next_offset,
            max_timestamp: self.max_timestamp,
            offset_of_max_timestamp: self.offset_of_max_timestamp,
        }
    }

    /// Header of the batch at `position`.
    pub fn header_at(&self, position: u64) -> Result<BatchHeader, Error> {
        self.files.header_at(position)
    }

    /// The whole batch at `position`.
    pub(crate) fn batch_bytes_at(
        &self,
        position: u64,
        header: &BatchHeader,
    ) -> Result<Vec<u8>, Error> {
        self.files.batch_bytes_at(position, header)
    }

    /// Position and header of the batch containing `offset` (or the first after it).
    pub fn find_batch(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, Error> {
        self.files.find_batch(offset, self.size)
    }

    /// Cuts the segment so that it ends before `offset` (recovery, a follower's truncation).
    pub fn truncate_to(&mut self, offset: i64) -> Result<(), Error> {
        let Some((position, _)) = self.find_batch(offset)? else {
            return Ok(());
        };
        let dir = self
            .files
            .log_path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        self.files
            .file
            .set_len(position)
            .map_err(io(&self.files.log_path))?;
        *self = Self::open(&dir, self.files.base_offset, self.settings, true)?;
        Ok(())
    }

    pub fn base_offset(&self) -> i64 {
        self.files.base_offset
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
        self.files.file()
    }
    pub fn offset_of_max_timestamp(&self) -> i64 {
        self.offset_of_max_timestamp
    }
    pub fn first_batch_timestamp(&self) -> Option<i64> {
        self.first_batch_timestamp
    }
    pub fn log_path(&self) -> &Path {
        &self.files.log_path
    }

    /// Writes index buffers to their files (not synced).
    pub fn flush_indexes(&self) -> Result<(), Error> {
        self.files.offset_index.flush()?;
        self.files.time_index.flush()
    }

    /// Descriptors of the data and index files with their paths, for an fsync that must not
    /// hold the log's lock (see [`crate::flusher`]). Index buffers are written first.
    pub fn durable_files(&self) -> Result<Vec<(PathBuf, File)>, Error> {
        self.flush_indexes()?;
        let mut files = Vec::with_capacity(3);
        let f = &self.files;
        files.push((
            f.log_path.clone(),
            f.file.try_clone().map_err(io(&f.log_path))?,
        ));
        for path in [f.offset_index.path(), f.time_index.path()] {
            files.push((path.to_path_buf(), File::open(path).map_err(io(path))?));
        }
        Ok(files)
    }

    /// Removes the segment's files.
    pub fn delete(self) -> Result<(), Error> {
        remove_paths([
            self.files.log_path.clone(),
            self.files.offset_index.path().to_path_buf(),
            self.files.time_index.path().to_path_buf(),
        ])
    }
}

/// fsyncs `files` (from [`Segment::durable_files`]).
///
/// # Errors
/// The first fsync that fails.
pub fn sync_files(files: &[(PathBuf, File)]) -> Result<(), Error> {
    for (path, file) in files {
        file.sync_data().map_err(io(path))?;
    }
    Ok(())
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
