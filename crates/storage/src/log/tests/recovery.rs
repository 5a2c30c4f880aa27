//! Recovery of a partition log: restarts, torn and corrupt writes, the recovery point.

use super::*;

#[test]
fn restart_keeps_data_and_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        index_interval_bytes: 1,
        ..config()
    };
    {
        let log = Log::open_with(dir.path(), cfg.clone(), false, None);
        for i in 0..20 {
            log.append(&batch(&[b"v"], i, None), 0).unwrap();
        }
        log.close(true, 0).unwrap();
    }
    let log = Log::open_with(dir.path(), cfg, false, None);
    assert_eq!(log.log_end_offset(), 20);
    assert_eq!(read_all(&log, 13).first().map(|h| h.base_offset), Some(13));
    assert_eq!(log.offset_for_timestamp(15).unwrap(), Some((15, 15)));
}

#[test]
fn recovery_truncates_a_batch_cut_in_half() {
    let dir = tempfile::tempdir().unwrap();
    let path;
    {
        let log = Log::open_with(dir.path(), config(), false, None);
        log.append(&batch(&[b"one"], 1, None), 0).unwrap();
        log.append(&batch(&[b"two", b"three"], 2, None), 0).unwrap();
        path = dir.path().join(crate::segment::file_name(0, "log"));
    }
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let log = Log::open_with(dir.path(), config(), true, None);
    assert_eq!(log.log_end_offset(), 1);
    assert_eq!(read_all(&log, 0).len(), 1);
    // and the log keeps working from there
    assert_eq!(
        log.append(&batch(&[b"again"], 3, None), 0)
            .unwrap()
            .base_offset,
        1
    );
}

#[test]
fn recovery_truncates_garbage_appended() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = Log::open_with(dir.path(), config(), false, None);
        log.append(&batch(&[b"one"], 1, None), 0).unwrap();
        log.append(&batch(&[b"two"], 2, None), 0).unwrap();
    }
    let path = dir.path().join(crate::segment::file_name(0, "log"));
    let good = std::fs::metadata(&path).unwrap().len();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&[0xAB; 300]).unwrap();
    drop(f);
    let log = Log::open_with(dir.path(), config(), true, None);
    assert_eq!(log.log_end_offset(), 2);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
}

#[test]
fn recovery_stops_at_a_corrupt_batch_in_the_middle() {
    let dir = tempfile::tempdir().unwrap();
    let first_len;
    {
        let log = Log::open_with(dir.path(), config(), false, None);
        let b = batch(&[b"one"], 1, None);
        first_len = b.len();
        log.append(&b, 0).unwrap();
        log.append(&batch(&[b"two"], 2, None), 0).unwrap();
        log.append(&batch(&[b"three"], 3, None), 0).unwrap();
    }
    let path = dir.path().join(crate::segment::file_name(0, "log"));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[first_len + 70] ^= 0xff; // inside the second batch's records
    std::fs::write(&path, &bytes).unwrap();
    let log = Log::open_with(dir.path(), config(), true, None);
    assert_eq!(log.log_end_offset(), 1);
}

/// Three segments of two 1-record batches each (offsets 0-1, 2-3, 4-5); returns the
/// length of one batch.
fn three_segments(dir: &Path) -> usize {
    let cfg = LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 1,
        ..config()
    };
    let log = Log::open_with(dir, cfg, false, None);
    let mut len = 0;
    for i in 0..6 {
        let b = batch(&[&[b'x'; 100]], i, None);
        len = b.len();
        log.append(&b, 0).unwrap();
    }
    assert_eq!(log.segment_count(), 3);
    // The two rolls' background fsyncs move the point to the active segment's base.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while log.recovery_point() < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(log.recovery_point(), 4);
    len
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0xff;
    std::fs::write(path, &bytes).unwrap();
}

#[test]
fn an_unclean_stop_revalidates_from_the_recovery_point_and_drops_what_follows_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let len = three_segments(dir.path());
    // Segment 2 (offsets 2-3) was not known to be on disk; its second batch is torn.
    flip_byte(&dir.path().join(segment::file_name(2, "log")), len + 70);
    let log = Log::open_with(dir.path(), config(), true, Some(2));
    assert_eq!(log.log_end_offset(), 3, "cut after offset 2");
    assert_eq!(log.segment_count(), 2, "the segment after the cut is gone");
    assert!(!dir.path().join(segment::file_name(4, "log")).exists());
    let info = log.append(&batch(&[b"next"], 9, None), 0).unwrap();
    assert_eq!(info.base_offset, 3, "appends continue the cut segment");
    let offsets: Vec<i64> = read_all(&log, 0).iter().map(|h| h.base_offset).collect();
    assert_eq!(offsets, vec![0, 1, 2, 3]);
}

#[test]
fn segments_below_the_recovery_point_are_trusted_after_an_unclean_stop() {
    let dir = tempfile::tempdir().unwrap();
    three_segments(dir.path());
    // A byte changed inside the first batch of a segment known to be on disk, before
    // its last index entry, is not looked for (no start-up work proportional to the
    // data already made durable) ...
    flip_byte(&dir.path().join(segment::file_name(0, "log")), 70);
    let log = Log::open_with(dir.path(), config(), true, Some(4));
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(log.segment_count(), 3);
    drop(log);
    // ... but without a recovery point everything is re-validated.
    let log = Log::open_with(dir.path(), config(), true, None);
    assert_eq!(log.log_end_offset(), 0);
    assert_eq!(log.segment_count(), 1);
}

#[test]
fn rolls_and_a_durable_close_move_the_recovery_point() {
    let dir = tempfile::tempdir().unwrap();
    three_segments(dir.path());
    let log = Log::open_with(dir.path(), config(), false, Some(4));
    log.close(false, 0).unwrap();
    assert_eq!(log.recovery_point(), 4);
    log.close(true, 0).unwrap();
    assert_eq!(log.recovery_point(), 6);
}

#[test]
fn a_legacy_recovery_point_file_is_read_when_the_checkpoint_has_no_entry() {
    let dir = tempfile::tempdir().unwrap();
    three_segments(dir.path());
    std::fs::write(
        dir.path().join(crate::flusher::LEGACY_RECOVERY_POINT_FILE),
        "4",
    )
    .unwrap();
    flip_byte(&dir.path().join(segment::file_name(0, "log")), 70);
    let log = Log::open_with(dir.path(), config(), true, None);
    assert_eq!(
        log.log_end_offset(),
        6,
        "segments below the legacy point are trusted"
    );
    log.remove_legacy_files();
    assert!(!dir
        .path()
        .join(crate::flusher::LEGACY_RECOVERY_POINT_FILE)
        .exists());
}
