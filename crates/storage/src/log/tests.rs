//! Tests of one partition log through its public face: appends, reads from the published
//! state, recovery, retention, transactions, time lookups.

use std::io::Write;
use std::path::Path;

use super::testing::{tp, Ops};
use super::*;
use crate::batch::tests::batch;
use crate::batch::{self, HEADER_BYTES};
use crate::config::TimestampType;
use crate::segment::{self, FileSlice};

mod recovery;

fn config() -> LogConfig {
    LogConfig {
        timestamp_after_max_ms: i64::MAX,
        ..LogConfig::default()
    }
}

fn read_all(log: &Log, from: i64) -> Vec<batch::BatchHeader> {
    let mut out = Vec::new();
    let mut offset = from;
    while let Ok(Some(slice)) = log.read(offset, 1 << 20) {
        let bytes = slice.read().unwrap();
        let mut at = 0;
        while let Ok(h) = batch::check_framing(&bytes[at..]) {
            at += usize::try_from(h.total_bytes()).unwrap();
            offset = h.last_offset() + 1;
            out.push(h);
        }
    }
    out
}

#[test]
fn append_assigns_offsets_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_with(dir.path(), config(), false, None);
    let a = log.append(&batch(&[b"a", b"b"], 10, None), 100).unwrap();
    let b = log.append(&batch(&[b"c"], 12, None), 100).unwrap();
    assert_eq!((a.base_offset, a.last_offset), (0, 1));
    assert_eq!((b.base_offset, b.last_offset), (2, 2));
    assert_eq!(log.log_end_offset(), 3);
    let headers = read_all(&log, 0);
    assert_eq!(
        headers.iter().map(|h| h.base_offset).collect::<Vec<_>>(),
        vec![0, 2]
    );
    // A fetch inside a batch returns that whole batch.
    let slice = log.read(1, 1).unwrap().unwrap();
    assert_eq!(
        batch::check_framing(&slice.read().unwrap())
            .unwrap()
            .base_offset,
        0
    );
    assert!(log.read(3, 100).unwrap().is_none());
    assert!(matches!(
        log.read(4, 100),
        Err(Error::OffsetOutOfRange { .. })
    ));
}

#[test]
fn segments_roll_by_size_and_reads_cross_them() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 200,
        ..config()
    };
    let log = Log::open_with(dir.path(), cfg, false, None);
    for i in 0..10 {
        log.append(&batch(&[&[b'x'; 100]], i, None), 0).unwrap();
    }
    assert_eq!(log.segment_count(), 10);
    assert_eq!(read_all(&log, 0).len(), 10);
    assert_eq!(read_all(&log, 7).first().map(|h| h.base_offset), Some(7));
}

#[test]
fn segments_roll_by_record_time_not_by_the_age_of_records() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_ms: 1000,
        ..config()
    };
    let log = Log::open_with(dir.path(), cfg.clone(), false, None);
    let now = 1_800_000_000_000;
    let year_ago = now - 31_536_000_000;
    // A replay of year-old records: one segment, not one per batch.
    for i in 0..5 {
        log.append(&batch(&[b"x"], year_ago + i, None), now + i)
            .unwrap();
    }
    assert_eq!(log.segment_count(), 1);
    // A batch more than segment.ms (in record time) after the segment's first batch rolls.
    log.append(&batch(&[b"y"], year_ago + 1001, None), now + 5)
        .unwrap();
    assert_eq!(log.segment_count(), 2);
    // Without timestamps, wall time since the segment was created counts.
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_with(dir.path(), cfg, false, None);
    log.append(&batch(&[b"a"], -1, None), now).unwrap();
    log.append(&batch(&[b"b"], -1, None), now + 1000).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.append(&batch(&[b"c"], -1, None), now + 1001).unwrap();
    assert_eq!(log.segment_count(), 2);
    assert_eq!(read_all(&log, 0).len(), 3);
}

#[test]
fn message_too_large_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        max_message_bytes: 100,
        ..config()
    };
    let log = Log::open_with(dir.path(), cfg, false, None);
    assert!(matches!(
        log.append(&batch(&[&[0u8; 200]], 0, None), 0),
        Err(Error::MessageTooLarge { .. })
    ));
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn future_timestamps_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_with(dir.path(), LogConfig::default(), false, None);
    assert!(matches!(
        log.append(&batch(&[b"x"], 10_000_000, None), 0),
        Err(Error::InvalidTimestamp(_))
    ));
}

#[test]
fn compacted_topics_refuse_keyless_records() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        cleanup_policy: "compact".into(),
        ..config()
    };
    let log = Log::open_with(dir.path(), cfg, false, None);
    assert!(matches!(
        log.append(&batch(&[b"x", b"y"], 0, None), 0),
        Err(Error::KeylessRecords { record_indexes }) if record_indexes == vec![0, 1]
    ));
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn compacted_topics_refuse_keyless_records_in_compressed_batches_too() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        cleanup_policy: "compact".into(),
        ..config()
    };
    let log = Log::open_with(dir.path(), cfg, false, None);
    let plain = batch(&[b"x", b"y"], 0, None);
    let body =
        crate::compress::compress(crate::compress::GZIP, &plain[HEADER_BYTES..], false).unwrap();
    let gzipped = batch::assemble(crate::compress::GZIP, 1, 0, 1, (-1, -1, -1), 2, &body);
    assert!(matches!(
        log.append(&gzipped, 0),
        Err(Error::KeylessRecords { record_indexes }) if record_indexes == vec![0, 1]
    ));
}

#[test]
fn log_append_time_is_stamped() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        timestamp_type: TimestampType::LogAppendTime,
        ..config()
    };
    let log = Log::open_with(dir.path(), cfg, false, None);
    let info = log.append(&batch(&[b"x"], 5, None), 777).unwrap();
    assert_eq!(info.log_append_time, 777);
    assert_eq!(read_all(&log, 0)[0].max_timestamp, 777);
}

#[test]
fn retention_by_bytes_and_time_moves_log_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 200,
        retention_bytes: 250,
        ..config()
    };
    let log = Log::open_with(dir.path(), cfg, false, None);
    for i in 0..6 {
        log.append(&batch(&[&[b'x'; 100]], i, None), 0).unwrap();
    }
    assert_eq!(log.segment_count(), 6);
    let deleted = log.enforce_retention(0).unwrap();
    assert_eq!(deleted, 4);
    assert_eq!(log.log_start_offset(), 4);
    assert!(matches!(
        log.read(0, 10),
        Err(Error::OffsetOutOfRange { .. })
    ));
    assert_eq!(read_all(&log, 4).len(), 2);

    let mut c = log.config().clone();
    c.retention_bytes = -1;
    c.retention_ms = 1000;
    log.set_config(c);
    assert_eq!(log.enforce_retention(500).unwrap(), 0);
    assert_eq!(log.enforce_retention(10_000).unwrap(), 2);
    assert_eq!(log.log_start_offset(), 6);
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(
        log.append(&batch(&[b"y"], 10_000, None), 10_000)
            .unwrap()
            .base_offset,
        6
    );
}

#[test]
fn delete_records_moves_the_start_and_a_reopen_takes_it_from_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 200,
        ..config()
    };
    {
        let log = Log::open_with(dir.path(), cfg.clone(), false, None);
        for i in 0..5 {
            log.append(&batch(&[&[b'x'; 100]], i, None), 0).unwrap();
        }
        assert_eq!(log.delete_records_before(3).unwrap(), 3);
        assert_eq!(log.segment_count(), 2, "segments wholly below 3 are gone");
        assert!(matches!(
            log.read(2, 100),
            Err(Error::OffsetOutOfRange { .. })
        ));
        assert!(log.delete_records_before(9).is_err());
        log.close(true, 0).unwrap();
    }
    let mut options = LogOptions::new(cfg, 0);
    options.log_start_offset = Some(3);
    let log = Log::open(tp(), dir.path(), options).unwrap();
    assert_eq!((log.log_start_offset(), log.log_end_offset()), (3, 5));
    assert_eq!(log.delete_records_before(5).unwrap(), 5);
    assert_eq!(
        log.append(&batch(&[b"y"], 0, None), 0).unwrap().base_offset,
        5
    );
}

#[test]
fn idempotent_retry_is_not_written_twice_even_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = Log::open_with(dir.path(), config(), false, None);
        log.append(&batch(&[b"a"], 1, None), 0).unwrap();
        let first = log
            .append(&batch(&[b"b", b"c"], 1, Some((42, 0, 0))), 0)
            .unwrap();
        assert_eq!(first.base_offset, 1);
        let retry = log
            .append(&batch(&[b"b", b"c"], 1, Some((42, 0, 0))), 0)
            .unwrap();
        assert!(retry.duplicate);
        assert_eq!((retry.base_offset, retry.last_offset), (1, 2));
        assert!(matches!(
            log.append(&batch(&[b"z"], 1, Some((42, 0, 5))), 0),
            Err(Error::OutOfOrderSequence { expected: 2, .. })
        ));
    }
    let log = Log::open_with(dir.path(), config(), true, None);
    let retry = log
        .append(&batch(&[b"b", b"c"], 1, Some((42, 0, 0))), 0)
        .unwrap();
    assert!(retry.duplicate);
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(
        log.append(&batch(&[b"d"], 1, Some((42, 0, 2))), 0)
            .unwrap()
            .base_offset,
        3
    );
}

fn transactional(values: &[&[u8]], producer: (i64, i16, i32)) -> Vec<u8> {
    let mut b = batch(values, 1000, Some(producer));
    let attrs = i16::from_be_bytes([b[21], b[22]]) | 0x10;
    b[21..23].copy_from_slice(&attrs.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

#[test]
fn transactions_set_the_lso_and_aborted_ranges_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_with(dir.path(), config(), false, None);
    log.append(&batch(&[b"plain"], 1000, None), 1000).unwrap(); // 0
    assert_eq!(log.last_stable_offset(), 1);
    log.append(&transactional(&[b"a", b"b"], (5, 0, 0)), 1000)
        .unwrap(); // 1-2
    log.append(&transactional(&[b"c"], (6, 0, 0)), 1000)
        .unwrap(); // 3
    assert_eq!(log.last_stable_offset(), 1);
    // DescribeProducers shows where each open transaction starts.
    let open: Vec<(i64, i64)> = log
        .active_producers()
        .unwrap()
        .iter()
        .map(|p| (p.producer_id, p.current_txn_start_offset))
        .collect();
    assert_eq!(open, vec![(5, 1), (6, 3)]);
    assert!(log.read_upto(1, 1 << 20, 1).unwrap().is_none());
    assert!(
        matches!(
            log.read_upto(99, 1 << 20, 1),
            Err(Error::OffsetOutOfRange { .. })
        ),
        "out of range stays an error for read_committed"
    );
    let upto = log.read_upto(0, 1 << 20, 1).unwrap().unwrap();
    assert_eq!(read_all_bytes(&upto).len(), 1, "only the plain batch");
    assert_eq!(log.append_marker_at(5, 0, false, 1000).unwrap(), 4); // abort pid 5
    assert_eq!(log.last_stable_offset(), 3);
    assert_eq!(log.append_marker_at(6, 0, true, 1000).unwrap(), 5); // commit pid 6
    assert_eq!(log.last_stable_offset(), 6);
    assert!(log
        .active_producers()
        .unwrap()
        .iter()
        .all(|p| p.current_txn_start_offset == -1));
    let aborted = log.aborted_transactions(0, 6);
    assert_eq!(aborted.len(), 1);
    assert_eq!(
        (
            aborted[0].producer_id,
            aborted[0].first_offset,
            aborted[0].last_offset
        ),
        (5, 1, 4)
    );
    // Clients cannot write control batches.
    let marker = crate::txn::control_batch(5, 0, true, 0, 1000);
    assert!(log.append(&marker, 1000).is_err());
    drop(log);
    let log = Log::open_with(dir.path(), config(), true, None);
    assert_eq!(log.last_stable_offset(), 6);
    assert_eq!(log.aborted_transactions(0, 6).len(), 1);
    // A partition that never saw a transaction does not scan for one.
    let other = tempfile::tempdir().unwrap();
    let plain = Log::open_with(other.path(), config(), false, None);
    plain.append(&batch(&[b"x"], 1000, None), 1000).unwrap();
    assert_eq!(plain.last_stable_offset(), 1);
    assert!(!other.path().join(local::TRANSACTIONAL_MARKER).exists());
}

fn read_all_bytes(slice: &FileSlice) -> Vec<batch::BatchHeader> {
    let bytes = slice.read().unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at + HEADER_BYTES <= bytes.len() {
        let h = batch::BatchHeader::parse(&bytes[at..]).unwrap();
        at += usize::try_from(h.total_bytes()).unwrap();
        out.push(h);
    }
    out
}

#[test]
fn time_lookup_and_max_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_with(dir.path(), config(), false, None);
    log.append(&batch(&[b"a", b"b", b"c"], 100, None), 0)
        .unwrap(); // ts 100..102
    log.append(&batch(&[b"d"], 500, None), 0).unwrap();
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 100)));
    assert_eq!(log.offset_for_timestamp(101).unwrap(), Some((1, 101)));
    assert_eq!(log.offset_for_timestamp(103).unwrap(), Some((3, 500)));
    assert_eq!(log.offset_for_timestamp(501).unwrap(), None);
    assert_eq!(log.max_timestamp(), (3, 500));
    // Timestamps out of order inside one batch: the exact record, not the batch's end.
    let kv: Vec<batch::KeyValue<'_>> = vec![(None, Some(b"x")); 3];
    log.append(&batch::build_batch(&kv, 900, -100, None), 0)
        .unwrap(); // ts 900, 800, 700 at offsets 4..6
    assert_eq!(log.max_timestamp(), (4, 900));
}

/// A batch of `values` at timestamps `ts, ts+10, ...` whose header claims `max_timestamp` -1,
/// as sarama up to 1.2x writes it; compressed with `codec` when not 0.
fn batch_with_unset_max_timestamp(values: &[&[u8]], ts: i64, codec: i16) -> Vec<u8> {
    let kv: Vec<batch::KeyValue<'_>> = values.iter().map(|v| (None, Some(*v))).collect();
    let plain = batch::build_batch(&kv, ts, 10, None);
    let body = crate::compress::compress(codec, &plain[HEADER_BYTES..], false).unwrap();
    let n = i32::try_from(values.len()).unwrap();
    batch::assemble(codec, n - 1, ts, -1, (-1, -1, -1), n, &body)
}

#[test]
fn the_max_timestamp_of_a_batch_is_recomputed_from_its_records() {
    for codec in [
        crate::compress::NONE,
        crate::compress::LZ4,
        crate::compress::ZSTD,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open_with(dir.path(), config(), false, None);
        let sent = batch_with_unset_max_timestamp(&[b"a", b"b", b"c"], 1000, codec);
        assert_eq!(batch::check_framing(&sent).unwrap().max_timestamp, -1);
        log.append(&sent, 0).unwrap(); // ts 1000, 1010, 1020
        let written = read_all(&log, 0);
        // check_framing verified the rewritten CRC.
        assert_eq!(written.len(), 1, "codec {codec}");
        assert_eq!(written[0].max_timestamp, 1020, "codec {codec}");
        assert_eq!(log.max_timestamp(), (2, 1020), "codec {codec}");
        assert_eq!(log.offset_for_timestamp(1005).unwrap(), Some((1, 1010)));
    }
}

#[test]
fn timestamp_limits_apply_to_every_record_not_only_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        timestamp_after_max_ms: 1000,
        ..config()
    };
    let log = Log::open_with(dir.path(), cfg, false, None);
    // The header says -1; the last record is 5 s in the future.
    let kv: Vec<batch::KeyValue<'_>> = vec![(None, Some(b"x")); 2];
    let plain = batch::build_batch(&kv, 10_000, 5_000, None);
    let sent = batch::assemble(0, 1, 10_000, -1, (-1, -1, -1), 2, &plain[HEADER_BYTES..]);
    assert!(matches!(
        log.append(&sent, 10_000),
        Err(Error::InvalidTimestamp(_))
    ));
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn a_compressed_batch_whose_count_is_wrong_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_with(dir.path(), config(), false, None);
    let plain = batch(&[b"x", b"y"], 0, None);
    let body =
        crate::compress::compress(crate::compress::GZIP, &plain[HEADER_BYTES..], false).unwrap();
    let wrong = batch::assemble(crate::compress::GZIP, 2, 0, 1, (-1, -1, -1), 3, &body);
    assert!(matches!(log.append(&wrong, 0), Err(Error::InvalidBatch(_))));
    assert_eq!(log.log_end_offset(), 0);
}

#[test]
fn older_segments_open_sealed_and_answer_from_their_index_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        index_interval_bytes: 1,
        segment_bytes: 2000,
        ..config()
    };
    let expected: Vec<i64>;
    {
        let log = Log::open_with(dir.path(), cfg.clone(), false, None);
        for i in 0..200 {
            log.append(&batch(&[b"value", b"other"], 1000 + i * 10, None), 0)
                .unwrap();
        }
        assert!(log.segment_count() > 5);
        // Rolled segments were sealed as they were left behind.
        let sealed = log
            .lock()
            .segments
            .values()
            .filter(|s| s.is_sealed())
            .count();
        assert_eq!(sealed, log.segment_count() - 1);
        expected = (0..400)
            .step_by(13)
            .map(|o| read_all(&log, o)[0].base_offset)
            .collect();
        log.close(true, 0).unwrap();
    }
    let log = Log::open_with(dir.path(), cfg, false, None);
    let local = log.lock();
    let (active, older): (Vec<_>, Vec<_>) = local.segments.values().partition(|s| !s.is_sealed());
    assert_eq!(
        active.len(),
        1,
        "only the last segment holds its index in memory"
    );
    assert!(!older.is_empty());
    assert_eq!(log.log_end_offset(), 400);
    let found: Vec<i64> = (0..400)
        .step_by(13)
        .map(|o| read_all(&log, o)[0].base_offset)
        .collect();
    assert_eq!(found, expected);
    // Timestamps: batch i holds 1000 + 10 i and 1001 + 10 i at offsets 2i and 2i + 1.
    assert_eq!(log.offset_for_timestamp(1001).unwrap(), Some((1, 1001)));
    assert_eq!(log.offset_for_timestamp(1500).unwrap(), Some((100, 1500)));
    assert_eq!(log.offset_for_timestamp(2991).unwrap(), Some((399, 2991)));
    assert_eq!(log.max_timestamp(), (399, 2991));
}

#[test]
fn readers_never_wait_for_the_writers_lock() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::sync::Arc::new(Log::open_with(dir.path(), config(), false, None));
    log.append(&batch(&[b"a", b"b"], 1, None), 0).unwrap();
    // Hold the writer's lock as an fsync under it would, and read from another thread.
    let held = log.lock();
    let reader = {
        let log = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            let state = log.read_state();
            let slice = state.read(0, 1 << 20, state.high_watermark).unwrap();
            (state.log_end_offset, slice.map(|s| s.len))
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !reader.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(reader.is_finished(), "the read waited for the writer");
    drop(held);
    let (end, len) = reader.join().unwrap();
    assert_eq!(end, 2);
    assert!(len.is_some_and(|l| l > 0));
}

#[test]
fn consumers_read_up_to_the_high_watermark_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_with(dir.path(), config(), false, None);
    log.append(&batch(&[b"a"], 1, None), 0).unwrap();
    // Appended but not yet replicated: past the high watermark.
    log.append_as_leader(&batch(&[b"b", b"c"], 1, None), 0, 0)
        .unwrap();
    let state = log.read_state();
    assert_eq!((state.high_watermark, state.log_end_offset), (1, 3));
    assert_eq!(state.last_stable_offset, 1);
    let visible = state
        .read(0, 1 << 20, state.high_watermark)
        .unwrap()
        .unwrap();
    assert_eq!(read_all_bytes(&visible).len(), 1);
    assert!(state
        .read(1, 1 << 20, state.high_watermark)
        .unwrap()
        .is_none());
    // A follower reads to the log end.
    let all = state
        .read(0, 1 << 20, state.log_end_offset)
        .unwrap()
        .unwrap();
    assert_eq!(read_all_bytes(&all).len(), 2);
    assert_eq!(log.update_high_watermark(10), 3, "clamped to the log end");
    assert!(log.read(1, 1 << 20).unwrap().is_some());
}

#[test]
fn batches_carry_the_leaders_epoch_and_the_cache_answers_where_epochs_ended() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = Log::open_with(dir.path(), config(), false, None);
        log.append_as_leader(&batch(&[b"a", b"b"], 1, None), 0, 0)
            .unwrap();
        log.become_leader(3).unwrap();
        log.append_as_leader(&batch(&[b"c"], 1, None), 3, 0)
            .unwrap();
        log.update_high_watermark(i64::MAX);
        let headers = read_all(&log, 0);
        assert_eq!(
            headers
                .iter()
                .map(|h| h.partition_leader_epoch)
                .collect::<Vec<_>>(),
            vec![0, 3]
        );
        assert_eq!(log.end_offset_for_epoch(0), (0, 2));
        assert_eq!(log.end_offset_for_epoch(2), (0, 2));
        assert_eq!(log.end_offset_for_epoch(3), (3, 3));
        assert_eq!(log.end_offset_for_epoch(4), crate::leader_epoch::UNDEFINED);
    }
    let log = Log::open_with(dir.path(), config(), false, None);
    assert_eq!(
        log.latest_epoch(),
        Some(3),
        "kept in leader-epoch-checkpoint"
    );
    log.truncate_to(2).unwrap();
    assert_eq!(log.latest_epoch(), Some(0), "epochs past the cut go");
    assert_eq!(log.log_end_offset(), 2);
}

#[test]
fn a_log_from_before_the_epoch_cache_gets_its_first_batchs_epoch() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = Log::open_with(dir.path(), config(), false, None);
        log.append(&batch(&[b"a"], 1, None), 0).unwrap();
    }
    std::fs::remove_file(dir.path().join(crate::checkpoint::LEADER_EPOCH_FILE)).unwrap();
    let log = Log::open_with(dir.path(), config(), false, None);
    assert_eq!(log.end_offset_for_epoch(0), (0, 1));
}

#[test]
fn truncation_cuts_segments_and_appends_continue_there() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 200,
        ..config()
    };
    let log = Log::open_with(dir.path(), cfg, false, None);
    for i in 0..6 {
        log.append(&batch(&[&[b'x'; 100]], i, None), 0).unwrap();
    }
    assert_eq!(log.segment_count(), 6);
    log.truncate_to(3).unwrap();
    assert_eq!(log.log_end_offset(), 3);
    assert_eq!(log.read_state().high_watermark, 3);
    assert!(log.segment_count() <= 4);
    assert_eq!(
        log.append(&batch(&[b"y"], 0, None), 0).unwrap().base_offset,
        3
    );
    assert_eq!(
        read_all(&log, 0)
            .iter()
            .map(|h| h.base_offset)
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
}

#[test]
fn offsets_before_lists_segment_boundaries_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        segment_bytes: 200,
        ..config()
    };
    let log = Log::open_with(dir.path(), cfg, false, None);
    assert_eq!(log.read_state().offsets_before(-1, 10, 0), vec![0]);
    for i in 0..4 {
        log.append(&batch(&[&[b'x'; 100]], i, None), 0).unwrap();
    }
    let state = log.read_state();
    // Four segments of one batch each (the last one active) and the log end.
    assert_eq!(state.offsets_before(-1, 10, i64::MAX), vec![4, 3, 2, 1, 0]);
    assert_eq!(state.offsets_before(-1, 2, i64::MAX), vec![4, 3]);
    assert_eq!(state.offsets_before(-2, 10, i64::MAX), vec![0]);
    assert_eq!(state.offsets_before(-1, 0, i64::MAX), Vec::<i64>::new());
    assert_eq!(state.offsets_before(-1, -5, i64::MAX), Vec::<i64>::new());
    // Files written just now: nothing was modified before 1970 and a bit.
    assert_eq!(state.offsets_before(1_000, 10, i64::MAX), Vec::<i64>::new());
    // Every file is older than a day from now; the log end is stamped "now".
    let now = strom_now_ms();
    let day = 86_400_000;
    assert_eq!(
        state.offsets_before(now + day, 10, now + 2 * day),
        vec![3, 2, 1, 0]
    );
}

fn strom_now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(since.as_millis()).unwrap()
}
