//! Log compaction (`cleanup.policy` containing `compact`), after Kafka's log cleaner.
//!
//! A pass has three steps so the partition stays writable and readable meanwhile:
//! 1. [`Log::clean_plan`] (under the log's lock, cheap): which closed segments are cleanable
//!    (none newer than `min.compaction.lag.ms`, never the active one), and whether cleaning
//!    is due: the dirty share of those bytes — what was written since the last pass, tracked
//!    by the log directory's `cleaner-offset-checkpoint` (Kafka's file) — reaches
//!    `min.cleanable.dirty.ratio`, or a dirty record is older than `max.compaction.lag.ms`.
//! 2. [`run`] (no lock; closed segments never change): a map of each key's latest offset in
//!    the dirty range, then every cleanable segment rewritten beside itself as
//!    `<base>.log.cleaned`, keeping a record when no later record has its key. Tombstones (null
//!    values) are kept until their timestamp is older than `delete.retention.ms`. Compressed
//!    batches are decompressed and written back with the same codec. Offsets never change:
//!    a batch keeps its base offset and last offset delta, so the gaps are normal Kafka gaps.
//!    A batch left without records is dropped, except that an idempotent producer's last
//!    batch stays as an empty batch (as Kafka does) so producer state survives; a segment
//!    left empty is removed (the log's first segment keeps one empty batch so the log start
//!    offset does not move).
//! 3. [`Log::install_cleaned`] (under the lock): each cleaned file replaces its segment by
//!    an atomic rename (stale index files are removed first and rebuilt from the new file),
//!    then the log's cleaner checkpoint moves (written to the log directory's file by the
//!    log manager after the pass). A crash leaves either the old or the new segment; leftover
//!    `.cleaned` files are deleted when the log opens.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::{self, BatchHeader, HEADER_BYTES, LOG_OVERHEAD};
use crate::compress;
use crate::Error;

/// Bytes of per-entry overhead counted against the dedupe budget besides the key itself.
const MAP_ENTRY_OVERHEAD: usize = 48;

/// One closed segment a pass may rewrite.
#[derive(Debug, Clone)]
pub struct PlannedSegment {
    pub base_offset: i64,
    pub next_offset: i64,
    pub size: u64,
    pub(crate) file: Arc<crate::reaper::SegmentFile>,
}

/// What a pass works on, taken under the log's lock.
#[derive(Debug, Clone)]
pub struct CleanPlan {
    pub(crate) dir: PathBuf,
    /// Cleanable segments, oldest first.
    pub segments: Vec<PlannedSegment>,
    /// Offsets below this were cleaned by an earlier pass.
    pub dirty_start: i64,
    /// Tombstones with an older timestamp are removed.
    pub(crate) tombstone_horizon_ms: i64,
    pub(crate) dedupe_bytes_max: usize,
    /// Aborted transactions below the cleanable end: their records are removed and never
    /// count as a key's latest value.
    pub(crate) aborted: Vec<crate::txn::AbortedTxn>,
}

impl CleanPlan {
    /// Whether a batch belongs to an aborted transaction.
    fn is_aborted(&self, header: &BatchHeader) -> bool {
        header.is_transactional()
            && !header.is_control()
            && self.aborted.iter().any(|a| {
                a.producer_id == header.producer_id
                    && a.first_offset <= header.base_offset
                    && header.base_offset < a.last_offset
            })
    }
}

/// A rewritten segment waiting to be installed.
#[derive(Debug)]
pub struct Cleaned {
    pub base_offset: i64,
    pub original_size: u64,
    pub path: PathBuf,
    pub size: u64,
}

/// Counts of one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    pub segments: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub records_removed: u64,
    pub tombstones_removed: u64,
}

/// The result of [`run`]: files to install, the new checkpoint, counts.
#[derive(Debug)]
pub struct CleanOutput {
    pub cleaned: Vec<Cleaned>,
    pub checkpoint: i64,
    pub stats: CleanStats,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Calls `f` with every batch of a segment file (header, whole batch bytes).
fn for_each_batch(
    seg: &PlannedSegment,
    path: &Path,
    mut f: impl FnMut(&BatchHeader, &[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut position = 0u64;
    let mut head = [0u8; HEADER_BYTES];
    let mut buf = Vec::new();
    while position < seg.size {
        seg.file
            .read_exact_at(&mut head, position)
            .map_err(io(path))?;
        let header = BatchHeader::parse(&head)?;
        let total = header.total_bytes();
        if total < HEADER_BYTES as u64 || position + total > seg.size {
            return Err(Error::CorruptBatch(format!(
                "batch at {position} of {} overruns the segment",
                path.display()
            )));
        }
        buf.resize(usize::try_from(total).unwrap_or(0), 0);
        seg.file
            .read_exact_at(&mut buf, position)
            .map_err(io(path))?;
        f(&header, &buf)?;
        position += total;
    }
    Ok(())
}

/// The records section of a batch, decompressed.
fn records_of(header: &BatchHeader, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    let body = bytes.get(HEADER_BYTES..).unwrap_or_default();
    if header.records_count <= 0 && body.is_empty() {
        return Ok(Vec::new());
    }
    compress::decompress(header.compression(), body)
}

/// Builds the key → latest offset map over the dirty segments, within the dedupe budget.
/// Returns the map and the offset it covers up to (a segment boundary).
fn key_map(plan: &CleanPlan) -> Result<(HashMap<Vec<u8>, i64>, i64), Error> {
    let mut map: HashMap<Vec<u8>, i64> = HashMap::new();
    let mut bytes = 0usize;
    let mut covered = plan.dirty_start;
    for seg in plan
        .segments
        .iter()
        .filter(|s| s.next_offset > plan.dirty_start)
    {
        if bytes > plan.dedupe_bytes_max && covered > plan.dirty_start {
            break;
        }
        let path = plan
            .dir
            .join(crate::segment::file_name(seg.base_offset, "log"));
        for_each_batch(seg, &path, |header, raw| {
            if header.is_control() || header.records_count <= 0 || plan.is_aborted(header) {
                return Ok(());
            }
            let body = records_of(header, raw)?;
            let records = batch::parse_records(&body)
                .ok_or_else(|| Error::CorruptBatch("unparsable records".into()))?;
            for r in records {
                if let Some(key) = r.key {
                    let offset = header.base_offset + r.offset_delta;
                    match map.get_mut(key) {
                        Some(o) => *o = (*o).max(offset),
                        None => {
                            bytes += key.len() + MAP_ENTRY_OVERHEAD;
                            map.insert(key.to_vec(), offset);
                        }
                    }
                }
            }
            Ok(())
        })?;
        covered = seg.next_offset;
    }
    Ok((map, covered))
}

/// A batch with `kept` records (raw bytes, length prefixes included) and the header of
/// `original`; codec and producer fields preserved, CRC recomputed.
fn rebuild_batch(
    original: &BatchHeader,
    raw: &[u8],
    kept: &[(&[u8], i64)],
    xerial: bool,
) -> Result<Vec<u8>, Error> {
    let codec = original.compression();
    let plain: Vec<u8> = kept.iter().flat_map(|(r, _)| r.iter().copied()).collect();
    let body = if kept.is_empty() {
        Vec::new()
    } else {
        compress::compress(codec, &plain, xerial)?
    };
    let log_append = original.is_log_append_time();
    let max_timestamp = if log_append {
        original.max_timestamp
    } else {
        kept.iter()
            .map(|(_, ts)| *ts)
            .max()
            .unwrap_or(original.max_timestamp)
    };
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len());
    out.extend_from_slice(raw.get(..HEADER_BYTES).unwrap_or_default());
    let length = i32::try_from(HEADER_BYTES - LOG_OVERHEAD + body.len())
        .map_err(|_| Error::InvalidBatch("cleaned batch too large".into()))?;
    let count = i32::try_from(kept.len()).unwrap_or(i32::MAX);
    let patch = |out: &mut Vec<u8>, at: usize, bytes: &[u8]| {
        if let Some(field) = out.get_mut(at..at + bytes.len()) {
            field.copy_from_slice(bytes);
        }
    };
    patch(&mut out, 8, &length.to_be_bytes());
    if kept.is_empty() {
        // An empty batch carries no codec, as Kafka's `writeEmptyHeader`.
        let attributes = original.attributes & !batch::ATTR_COMPRESSION_MASK;
        patch(&mut out, 21, &attributes.to_be_bytes());
    }
    patch(&mut out, 35, &max_timestamp.to_be_bytes());
    patch(&mut out, 57, &count.to_be_bytes());
    out.extend_from_slice(&body);
    let crc = crc32c::crc32c(out.get(21..).unwrap_or_default());
    patch(&mut out, 17, &crc.to_be_bytes());
    Ok(out)
}

/// Runs a pass's heavy part (no lock needed): returns cleaned files to install.
pub fn run(plan: &CleanPlan) -> Result<CleanOutput, Error> {
    let (map, covered) = key_map(plan)?;
    let mut stats = CleanStats::default();
    // The last batch of each idempotent producer among the cleanable segments.
    let mut last_of_producer: HashMap<i64, i64> = HashMap::new();
    for seg in plan.segments.iter().filter(|s| s.base_offset < covered) {
        let path = plan
            .dir
            .join(crate::segment::file_name(seg.base_offset, "log"));
        for_each_batch(seg, &path, |h, _| {
            if h.producer_id >= 0 {
                last_of_producer.insert(h.producer_id, h.base_offset);
            }
            Ok(())
        })?;
    }
    let mut cleaned = Vec::new();
    for (index, seg) in plan
        .segments
        .iter()
        .enumerate()
        .filter(|(_, s)| s.base_offset < covered)
    {
        let path = plan
            .dir
            .join(crate::segment::file_name(seg.base_offset, "log"));
        let out_path = path.with_extension("log.cleaned");
        let mut out = Vec::with_capacity(usize::try_from(seg.size).unwrap_or(0));
        let mut pending_last: Option<Vec<u8>> = None;
        let mut removed_any = false;
        for_each_batch(seg, &path, |header, raw| {
            pending_last = None;
            if header.is_control() || header.records_count <= 0 {
                out.extend_from_slice(raw);
                return Ok(());
            }
            let body_raw = raw.get(HEADER_BYTES..).unwrap_or_default();
            let xerial = compress::is_xerial(body_raw);
            let body = records_of(header, raw)?;
            let records = batch::parse_records(&body)
                .ok_or_else(|| Error::CorruptBatch("unparsable records".into()))?;
            let mut kept: Vec<(&[u8], i64)> = Vec::with_capacity(records.len());
            let aborted = plan.is_aborted(header);
            for r in &records {
                let offset = header.base_offset + r.offset_delta;
                let timestamp = header.base_timestamp + r.timestamp_delta;
                let superseded = r
                    .key
                    .and_then(|k| map.get(k))
                    .is_some_and(|latest| *latest > offset);
                let expired_tombstone =
                    r.key.is_some() && r.value.is_none() && timestamp < plan.tombstone_horizon_ms;
                if superseded || aborted {
                    stats.records_removed += 1;
                } else if expired_tombstone {
                    stats.tombstones_removed += 1;
                } else {
                    kept.push((r.raw, timestamp));
                }
            }
            if kept.len() == records.len() {
                out.extend_from_slice(raw);
                return Ok(());
            }
            removed_any = true;
            let empty = rebuild_batch(header, raw, &[], xerial)?;
            if kept.is_empty() {
                if header.producer_id >= 0
                    && last_of_producer.get(&header.producer_id) == Some(&header.base_offset)
                {
                    out.extend_from_slice(&empty);
                } else {
                    pending_last = Some(empty);
                }
                return Ok(());
            }
            out.extend(rebuild_batch(header, raw, &kept, xerial)?);
            Ok(())
        })?;
        if !removed_any {
            continue;
        }
        if out.is_empty() && index == 0 {
            // The log's first segment keeps its last batch, empty, so the log start offset
            // stays where it is. Any other segment left with nothing is removed on install
            // (reads of its offsets continue in the next segment, as in Kafka).
            if let Some(last) = pending_last {
                out.extend(last);
            }
        }
        let mut f = File::create(&out_path).map_err(io(&out_path))?;
        f.write_all(&out).map_err(io(&out_path))?;
        f.sync_all().map_err(io(&out_path))?;
        stats.segments += 1;
        stats.bytes_before += seg.size;
        stats.bytes_after += out.len() as u64;
        cleaned.push(Cleaned {
            base_offset: seg.base_offset,
            original_size: seg.size,
            path: out_path,
            size: out.len() as u64,
        });
    }
    Ok(CleanOutput {
        cleaned,
        checkpoint: covered,
        stats,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{build_batch, KeyValue};
    use crate::log::testing::Ops;
    use crate::{Log, LogConfig};

    const DAY: i64 = 86_400_000;

    fn compacted() -> LogConfig {
        LogConfig {
            cleanup_policy: "compact".into(),
            segment_bytes: 1024,
            timestamp_after_max_ms: i64::MAX,
            ..LogConfig::default()
        }
    }

    /// Every (offset, key, value) readable from the start.
    fn records(log: &Log) -> Vec<(i64, Vec<u8>, Option<Vec<u8>>)> {
        let mut out = Vec::new();
        let mut offset = log.log_start_offset();
        while offset < log.log_end_offset() {
            let Ok(Some(slice)) = log.read(offset, 1 << 20) else {
                break;
            };
            let bytes = slice.read().unwrap();
            let mut at = 0usize;
            let mut next = offset;
            while at + HEADER_BYTES <= bytes.len() {
                let h = BatchHeader::parse(&bytes[at..]).unwrap();
                let end = at + usize::try_from(h.total_bytes()).unwrap();
                if end > bytes.len() {
                    break;
                }
                let body = records_of(&h, &bytes[at..end]).unwrap();
                for r in batch::parse_records(&body).unwrap() {
                    let o = h.base_offset + r.offset_delta;
                    if o >= offset {
                        out.push((o, r.key.unwrap().to_vec(), r.value.map(<[u8]>::to_vec)));
                    }
                }
                next = h.last_offset() + 1;
                at = end;
            }
            if next == offset {
                break;
            }
            offset = next;
        }
        out
    }

    fn put(log: &Log, kvs: &[(&str, Option<&str>)], ts: i64, codec: i16) {
        let kv: Vec<KeyValue<'_>> = kvs
            .iter()
            .map(|(k, v)| (Some(k.as_bytes()), v.map(str::as_bytes)))
            .collect();
        let mut b = build_batch(&kv, ts, 0, None);
        if codec != compress::NONE {
            let body = compress::compress(codec, &b[HEADER_BYTES..], false).unwrap();
            b.truncate(HEADER_BYTES);
            b.extend(body);
            let len = i32::try_from(b.len() - LOG_OVERHEAD).unwrap();
            b[8..12].copy_from_slice(&len.to_be_bytes());
            let attrs = i16::from_be_bytes([b[21], b[22]]) | codec;
            b[21..23].copy_from_slice(&attrs.to_be_bytes());
            let crc = crc32c::crc32c(&b[21..]);
            b[17..21].copy_from_slice(&crc.to_be_bytes());
        }
        log.append(&b, ts).unwrap();
    }

    fn clean(log: &Log, now: i64) -> Option<CleanStats> {
        let plan = log.clean_plan(now, 1 << 20)?;
        let out = run(&plan).unwrap();
        let stats = out.stats;
        log.install_cleaned(out).unwrap();
        Some(stats)
    }

    #[test]
    fn many_updates_compact_to_the_latest_value_per_key_with_offsets_kept() {
        for codec in [
            compress::NONE,
            compress::GZIP,
            compress::LZ4,
            compress::ZSTD,
            compress::SNAPPY,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let log = Log::open_with(dir.path(), compacted(), false, None);
            for round in 0..40 {
                let v = format!("v{round}");
                put(
                    &log,
                    &[("a", Some(&v)), ("b", Some(&v)), ("c", Some(&v))],
                    1000 + round,
                    codec,
                );
            }
            let end = log.log_end_offset();
            assert_eq!(end, 120);
            let stats = clean(&log, 2000).expect("dirty enough");
            assert!(stats.records_removed > 60, "{stats:?}");
            let left = records(&log);
            // Only the active segment may still hold older values; every key's latest is there.
            for key in ["a", "b", "c"] {
                let latest: Vec<_> = left
                    .iter()
                    .filter(|(_, k, _)| k == key.as_bytes())
                    .collect();
                assert_eq!(
                    latest.last().unwrap().2.as_deref(),
                    Some(&b"v39"[..]),
                    "codec {codec}"
                );
            }
            assert!(left.windows(2).all(|w| w[0].0 < w[1].0), "offsets increase");
            assert_eq!(log.log_end_offset(), end, "offsets never change");
            // Reopen (with the cleaner's checkpoint, as the log manager keeps it): indexes
            // rebuilt from the cleaned files, same records.
            let checkpoint = log.cleaner_checkpoint();
            drop(log);
            let mut options = crate::LogOptions::new(compacted(), 0);
            options.cleaner_checkpoint = Some(checkpoint);
            let log = Log::open(crate::log::testing::tp(), dir.path(), options).unwrap();
            assert_eq!(records(&log), left);
            // Nothing dirty now: no second pass.
            assert!(log.clean_plan(2000, 1 << 20).is_none());
        }
    }

    #[test]
    fn tombstones_outlive_their_keys_for_delete_retention_then_go() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open_with(dir.path(), compacted(), false, None);
        for i in 0..20 {
            put(
                &log,
                &[("k", Some("value-value-value")), ("other", Some("x"))],
                1000 + i,
                0,
            );
        }
        put(&log, &[("k", None)], 2000, 0);
        for i in 0..20 {
            put(
                &log,
                &[("filler", Some("yyyyyyyyyyyyyyyyyyyyyyyy"))],
                3000 + i,
                0,
            );
        }
        clean(&log, 3000).unwrap();
        let left = records(&log);
        let k: Vec<_> = left.iter().filter(|(_, key, _)| key == b"k").collect();
        assert_eq!(k.len(), 1, "only the tombstone is left of k");
        assert_eq!(k[0].2, None);
        // A day later the tombstone itself is removed (once its segment is cleaned again).
        for i in 0..20 {
            put(
                &log,
                &[("filler", Some("zzzzzzzzzzzzzzzzzzzzzzzz"))],
                4000 + i,
                0,
            );
        }
        let mut later = log.clean_plan(2000 + DAY + 1, 1 << 20).unwrap();
        later.dirty_start = 0;
        let out = run(&later).unwrap();
        assert!(out.stats.tombstones_removed >= 1);
        log.install_cleaned(out).unwrap();
        assert!(records(&log).iter().all(|(_, key, _)| key != b"k"));
    }

    fn transactional(kvs: &[(&str, &str)], producer: (i64, i16, i32), ts: i64) -> Vec<u8> {
        let kv: Vec<KeyValue<'_>> = kvs
            .iter()
            .map(|(k, v)| (Some(k.as_bytes()), Some(v.as_bytes())))
            .collect();
        let mut b = build_batch(&kv, ts, 0, Some(producer));
        let attrs = i16::from_be_bytes([b[21], b[22]]) | 0x10;
        b[21..23].copy_from_slice(&attrs.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn aborted_records_never_win_and_open_transactions_are_not_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open_with(dir.path(), compacted(), false, None);
        put(&log, &[("k", Some("committed"))], 1000, 0);
        // An aborted transaction overwrites k, padded so it spans segments.
        for seq in 0..20 {
            log.append(
                &transactional(&[("k", "aborted-value-padding-padding")], (9, 0, seq), 1001),
                1001,
            )
            .unwrap();
        }
        log.append_marker_at(9, 0, false, 1002).unwrap();
        for i in 0..20 {
            put(
                &log,
                &[("filler", Some("yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"))],
                1003 + i,
                0,
            );
        }
        clean(&log, 5000).expect("dirty enough");
        let left = records(&log);
        let k: Vec<_> = left.iter().filter(|(_, key, _)| key == b"k").collect();
        assert_eq!(k.len(), 1, "{k:?}");
        assert_eq!(k[0].2.as_deref(), Some(&b"committed"[..]));

        // An open transaction: nothing from its first offset on is cleanable.
        let open_from = log.log_end_offset();
        log.append(&transactional(&[("k", "open")], (10, 0, 0), 6000), 6000)
            .unwrap();
        for i in 0..20 {
            put(
                &log,
                &[("k", Some(&format!("later-{i}-padding-padding-padding")))],
                6001 + i,
                0,
            );
        }
        if let Some(plan) = log.clean_plan(9000, 1 << 20) {
            assert!(plan.segments.iter().all(|s| s.next_offset <= open_from));
        }
        log.append_marker_at(10, 0, true, 9000).unwrap();
        for i in 0..20 {
            put(
                &log,
                &[("z", Some(&format!("after-{i}-padding-padding-padding")))],
                9001 + i,
                0,
            );
        }
        let plan = log
            .clean_plan(9100, 1 << 20)
            .expect("committed: cleanable again");
        assert!(plan.segments.iter().any(|s| s.next_offset > open_from));
    }

    #[test]
    fn a_crash_mid_clean_leaves_the_old_segments_and_no_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open_with(dir.path(), compacted(), false, None);
        for round in 0..30 {
            put(&log, &[("a", Some(&format!("v{round}")))], 1000 + round, 0);
        }
        let before = records(&log);
        let plan = log.clean_plan(2000, 1 << 20).unwrap();
        let out = run(&plan).unwrap();
        assert!(!out.cleaned.is_empty());
        // Crash: the cleaned files exist, nothing was installed.
        drop(log);
        let log = Log::open_with(dir.path(), compacted(), true, None);
        assert_eq!(records(&log), before);
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".cleaned")
            })
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn an_idempotent_producers_last_batch_stays_as_an_empty_batch() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open_with(dir.path(), compacted(), false, None);
        let kv: Vec<KeyValue<'_>> = vec![(Some(b"p"), Some(b"1"))];
        log.append(&build_batch(&kv, 1000, 0, Some((7, 0, 0))), 1000)
            .unwrap();
        for round in 0..30 {
            put(&log, &[("p", Some(&format!("v{round}")))], 1001 + round, 0);
        }
        clean(&log, 2000).unwrap();
        let producers = log.active_producers().unwrap();
        assert_eq!(producers.len(), 1);
        assert_eq!(
            (producers[0].producer_id, producers[0].last_sequence),
            (7, 0)
        );
        drop(log);
        let log = Log::open_with(dir.path(), compacted(), false, None);
        // After a restart the producer state is rebuilt from headers: the next sequence fits.
        let kv: Vec<KeyValue<'_>> = vec![(Some(b"p"), Some(b"2"))];
        log.append(&build_batch(&kv, 3000, 0, Some((7, 0, 1))), 3000)
            .unwrap();
    }
}
