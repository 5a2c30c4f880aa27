//! What a log publishes for its readers after every change: its segments as they were then,
//! its offsets and its aborted transactions. A reader takes a [`ReadState`] and reads from it
//! without the log's lock, so a fetch never waits for an append or an fsync.

use std::sync::Arc;

use crate::batch;
use crate::segment::{FileSlice, SegmentView};
use crate::txn::AbortedTxn;
use crate::Error;

/// One record as [`ReadState::visit_records`] hands it over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRecord<'a> {
    pub offset: i64,
    /// The leader epoch of its batch.
    pub leader_epoch: i32,
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// A log as it was when published. Offsets hold `log_start_offset <= last_stable_offset <=
/// high_watermark <= log_end_offset`.
#[derive(Debug, Clone)]
pub struct ReadState {
    /// Every segment but the active one, by base offset.
    pub(super) sealed: Arc<Vec<SegmentView>>,
    pub(super) active: SegmentView,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
    /// Where consumers stop: what every in-sync replica has (the log end on one broker).
    pub high_watermark: i64,
    /// Where `read_committed` consumers stop: the first offset of the oldest open
    /// transaction, at most the high watermark.
    pub last_stable_offset: i64,
    pub(super) aborted: Arc<Vec<AbortedTxn>>,
}

impl ReadState {
    /// Every segment, oldest first.
    pub fn segments(&self) -> impl Iterator<Item = &SegmentView> {
        self.sealed.iter().chain(std::iter::once(&self.active))
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        self.segments().map(|s| s.size).sum()
    }

    /// The segment holding `offset` and those after it.
    fn segments_from(&self, offset: i64) -> impl Iterator<Item = &SegmentView> {
        let first = self
            .sealed
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1);
        self.sealed
            .get(first..)
            .unwrap_or_default()
            .iter()
            .chain(std::iter::once(&self.active))
    }

    /// Bytes starting at the batch that contains `offset`, up to `max_bytes` (at least one
    /// whole batch, as KIP-74), from one segment, never at or past `upto` (the high watermark
    /// for consumers, the last stable offset for `read_committed`, the log end for
    /// followers). `Ok(None)` when there is nothing to read yet.
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`] below the log start or past the log end.
    pub fn read(&self, offset: i64, max_bytes: u32, upto: i64) -> Result<Option<FileSlice>, Error> {
        if offset < self.log_start_offset || offset > self.log_end_offset {
            return Err(Error::OffsetOutOfRange {
                offset,
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset,
            });
        }
        let upto = upto.min(self.log_end_offset);
        if offset >= upto {
            return Ok(None);
        }
        for segment in self.segments_from(offset) {
            if segment.next_offset <= offset {
                continue;
            }
            let Some(mut slice) = segment.read(offset, max_bytes)? else {
                continue;
            };
            if upto < segment.next_offset {
                // Stop before the batch that starts at `upto` (batches never straddle it:
                // the high watermark and the last stable offset lie on batch starts).
                if let Some((position, header)) = segment.find_batch(upto)? {
                    if header.base_offset >= upto && position >= slice.position {
                        let cut = position - slice.position;
                        slice.len = slice.len.min(u32::try_from(cut).unwrap_or(u32::MAX));
                    }
                }
            }
            return Ok((slice.len > 0).then_some(slice));
        }
        Ok(None)
    }

    /// Calls `visit` with every record of `[from, upto)` in offset order, as
    /// [`StoredRecord`]s: the logs this broker writes for itself (the metadata log, the
    /// coordinators' internal topics) read back in process. Control batches are skipped;
    /// so, with a warning, are compressed ones, which these logs never hold. Reads at most
    /// `chunk_bytes` at a time (one batch at least). Blocks on the disk.
    ///
    /// # Errors
    /// A segment cannot be read, or holds a malformed batch.
    pub fn visit_records(
        &self,
        from: i64,
        upto: i64,
        chunk_bytes: u32,
        visit: &mut dyn FnMut(StoredRecord<'_>),
    ) -> Result<(), Error> {
        let mut offset = from.max(self.log_start_offset);
        while offset < upto {
            let Some(slice) = self.read(offset, chunk_bytes, upto)? else {
                break;
            };
            let bytes = slice.read().map_err(|source| Error::Io {
                path: std::path::PathBuf::from(format!("segment at offset {offset}")),
                source,
            })?;
            let before = offset;
            let mut at = 0usize;
            while at < bytes.len() {
                let header = batch::check_framing(bytes.get(at..).unwrap_or_default())?;
                let len = usize::try_from(header.total_bytes()).unwrap_or(usize::MAX);
                let body = bytes
                    .get(at + batch::HEADER_BYTES..at.saturating_add(len))
                    .ok_or_else(|| {
                        Error::CorruptBatch(format!(
                            "batch at offset {} is cut",
                            header.base_offset
                        ))
                    })?;
                if header.is_control() {
                    // Transaction markers carry no data.
                } else if header.compression() != 0 {
                    tracing::warn!(
                        offset = header.base_offset,
                        "a compressed batch in a log this broker writes; skipped"
                    );
                } else {
                    let records = batch::parse_records(body).ok_or_else(|| {
                        Error::CorruptBatch(format!(
                            "batch at offset {} has malformed records",
                            header.base_offset
                        ))
                    })?;
                    for r in records {
                        let record_offset = header.base_offset + r.offset_delta;
                        if record_offset >= offset && record_offset < upto {
                            visit(StoredRecord {
                                offset: record_offset,
                                leader_epoch: header.partition_leader_epoch,
                                timestamp: header.base_timestamp + r.timestamp_delta,
                                key: r.key,
                                value: r.value,
                            });
                        }
                    }
                }
                offset = header.last_offset() + 1;
                at += len;
            }
            if offset == before {
                break;
            }
        }
        Ok(())
    }

    /// Aborted transactions overlapping `[from, to)`, as a `read_committed` fetch lists them.
    pub fn aborted_transactions(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < to)
            .copied()
            .collect()
    }

    /// The first offset below `upto` whose timestamp is ≥ `timestamp`, and that timestamp
    /// (ListOffsets by time). `None` when every record there is older.
    ///
    /// # Errors
    /// A segment cannot be read.
    pub fn offset_for_timestamp(
        &self,
        timestamp: i64,
        upto: i64,
    ) -> Result<Option<(i64, i64)>, Error> {
        for segment in self.segments() {
            if segment.max_timestamp >= timestamp {
                if let Some((offset, ts)) = segment.find_offset_by_timestamp(timestamp)? {
                    let offset = offset.max(self.log_start_offset);
                    return Ok((offset < upto).then_some((offset, ts)));
                }
            }
        }
        Ok(None)
    }

    /// ListOffsets v0's answer, as Kafka's `legacyFetchOffsetsBefore`: the log's segment
    /// boundaries (each segment's base offset, at least the log start, with the time its file
    /// was last modified) and, when the active segment holds data, the log end stamped
    /// `now_ms`. `LATEST` (-1) starts from the last of them, `EARLIEST` (-2) from the first,
    /// any other time from the last one modified at or before it; at most `max_offsets`
    /// offsets are returned, counting back towards the log start, newest first.
    pub fn offsets_before(&self, timestamp: i64, max_offsets: i32, now_ms: i64) -> Vec<i64> {
        let mut points: Vec<(i64, i64)> = self
            .segments()
            .map(|s| {
                let modified = s.modified_ms().unwrap_or(s.max_timestamp);
                (s.base_offset().max(self.log_start_offset), modified)
            })
            .collect();
        if self.active.size > 0 {
            points.push((self.log_end_offset, now_ms));
        }
        let start = match timestamp {
            -1 => points.len().checked_sub(1),
            -2 => (!points.is_empty()).then_some(0),
            t => points.iter().rposition(|&(_, modified)| modified <= t),
        };
        let Some(start) = start else {
            return Vec::new();
        };
        let take = usize::try_from(max_offsets).unwrap_or(0).min(start + 1);
        let mut offsets: Vec<i64> = points
            .iter()
            .take(start + 1)
            .rev()
            .take(take)
            .map(|&(offset, _)| offset)
            .collect();
        offsets.sort_unstable_by(|a, b| b.cmp(a));
        offsets
    }

    /// Offset and timestamp of the record with the largest timestamp (KIP-734), or
    /// `(-1, -1)` for an empty log.
    pub fn max_timestamp(&self) -> (i64, i64) {
        let mut best: Option<&SegmentView> = None;
        for s in self.segments() {
            if s.max_timestamp > best.map_or(-1, |b| b.max_timestamp) {
                best = Some(s);
            }
        }
        best.map_or((-1, -1), |s| {
            let offset = s
                .exact_offset_of_max_timestamp()
                .unwrap_or(s.offset_of_max_timestamp);
            (offset, s.max_timestamp)
        })
    }
}
