//! Kafka's checkpoint files (`CheckpointFile`): a version line (0), an entry count, then one
//! entry per line with fields separated by one space. The per-log-dir files
//! `recovery-point-offset-checkpoint`, `replication-offset-checkpoint`,
//! `log-start-offset-checkpoint` and `cleaner-offset-checkpoint` hold `topic partition offset`
//! entries; a partition's `leader-epoch-checkpoint` holds `epoch start_offset` entries.
//!
//! Written as Kafka writes them: to `<name>.tmp`, fsynced, renamed over the file, the
//! directory fsynced; a crash leaves the old or the new file, never a torn one. An empty or
//! missing file holds no entries (Kafka creates them empty).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, TopicPartition};

/// Kafka's `OffsetCheckpointFile.CURRENT_VERSION` and `LeaderEpochCheckpointFile`'s.
const VERSION: i32 = 0;
/// Most entries read from one file: far more partitions than a broker holds, so that a
/// damaged count line cannot make us reserve memory for it.
const ENTRIES_MAX: usize = 1_000_000;

pub const RECOVERY_POINT_FILE: &str = "recovery-point-offset-checkpoint";
pub const HIGH_WATERMARK_FILE: &str = "replication-offset-checkpoint";
pub const LOG_START_OFFSET_FILE: &str = "log-start-offset-checkpoint";
pub const CLEANER_OFFSET_FILE: &str = "cleaner-offset-checkpoint";
pub const LEADER_EPOCH_FILE: &str = "leader-epoch-checkpoint";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn malformed(path: &Path, reason: impl Into<String>) -> Error {
    Error::CorruptCheckpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The entry lines of the checkpoint at `path`, each split into its fields; empty when the
/// file is missing or empty.
fn read_entries(path: &Path, fields: usize) -> Result<Vec<Vec<String>>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path)(e)),
    };
    let mut lines = text.lines();
    let Some(version) = lines.next() else {
        return Ok(Vec::new());
    };
    if version.trim().parse::<i32>() != Ok(VERSION) {
        return Err(malformed(path, format!("unrecognised version {version:?}")));
    }
    let Some(count) = lines.next() else {
        return Ok(Vec::new());
    };
    let count: usize = count
        .trim()
        .parse()
        .map_err(|_| malformed(path, format!("bad entry count {count:?}")))?;
    if count > ENTRIES_MAX {
        return Err(malformed(path, format!("{count} entries")));
    }
    let mut entries = Vec::with_capacity(count);
    for line in lines {
        let parts: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if parts.len() != fields {
            return Err(malformed(path, format!("malformed line {line:?}")));
        }
        entries.push(parts);
    }
    if entries.len() != count {
        return Err(malformed(
            path,
            format!("{} entries where the count says {count}", entries.len()),
        ));
    }
    Ok(entries)
}

/// Replaces the checkpoint at `path` with `lines` (entries already formatted); see
/// [`write_file`] for `durable`.
fn write_entries(path: &Path, lines: &[String], durable: bool) -> Result<(), Error> {
    let mut text = format!("{VERSION}\n{}\n", lines.len());
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    write_file(path, text.as_bytes(), durable)
}

/// Writes `bytes` to `<path>.tmp`, fsyncs it, renames it over `path` and fsyncs the
/// directory (Kafka's `Utils.atomicMoveWithFallback`).
pub fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_file(path, bytes, true)
}

/// Replaces `path` with `bytes` through `<path>.tmp` and a rename, so that a reader sees the
/// old content or the new, never a mix; with `durable` the file and the directory are
/// fsynced as well (a throw-away directory skips that).
pub fn write_file(path: &Path, bytes: &[u8], durable: bool) -> Result<(), Error> {
    let mut tmp = path.as_os_str().to_os_string();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        if durable {
            f.sync_all().map_err(io(&tmp))?;
        }
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if durable {
        if let Some(dir) = path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
    }
    Ok(())
}

/// The `topic partition offset` entries of a per-log-dir checkpoint.
///
/// # Errors
/// The file cannot be read or is not a checkpoint.
pub fn read_offsets(path: &Path) -> Result<BTreeMap<TopicPartition, i64>, Error> {
    let mut out = BTreeMap::new();
    for parts in read_entries(path, 3)? {
        let (Some(topic), Some(partition), Some(offset)) =
            (parts.first(), parts.get(1), parts.get(2))
        else {
            continue;
        };
        let partition: i32 = partition
            .parse()
            .map_err(|_| malformed(path, format!("bad partition {partition:?}")))?;
        let offset: i64 = offset
            .parse()
            .map_err(|_| malformed(path, format!("bad offset {offset:?}")))?;
        out.insert(TopicPartition::new(topic, partition), offset);
    }
    Ok(out)
}

/// Replaces a per-log-dir checkpoint with `entries`, durably.
///
/// # Errors
/// Any step of the write fails.
pub fn write_offsets(
    path: &Path,
    entries: &BTreeMap<TopicPartition, i64>,
    durable: bool,
) -> Result<(), Error> {
    let lines: Vec<String> = entries
        .iter()
        .map(|(tp, offset)| format!("{} {} {offset}", tp.topic, tp.partition))
        .collect();
    write_entries(path, &lines, durable)
}

/// The `epoch start_offset` entries of a `leader-epoch-checkpoint`.
///
/// # Errors
/// The file cannot be read or is not a checkpoint.
pub fn read_epochs(path: &Path) -> Result<Vec<(i32, i64)>, Error> {
    let mut out = Vec::new();
    for parts in read_entries(path, 2)? {
        let (Some(epoch), Some(offset)) = (parts.first(), parts.get(1)) else {
            continue;
        };
        let epoch: i32 = epoch
            .parse()
            .map_err(|_| malformed(path, format!("bad epoch {epoch:?}")))?;
        let offset: i64 = offset
            .parse()
            .map_err(|_| malformed(path, format!("bad offset {offset:?}")))?;
        out.push((epoch, offset));
    }
    Ok(out)
}

/// Replaces a `leader-epoch-checkpoint` with `entries`, durably.
///
/// # Errors
/// Any step of the write fails.
pub fn write_epochs(path: &Path, entries: &[(i32, i64)], durable: bool) -> Result<(), Error> {
    let lines: Vec<String> = entries
        .iter()
        .map(|(epoch, offset)| format!("{epoch} {offset}"))
        .collect();
    write_entries(path, &lines, durable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_written_in_kafkas_format_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RECOVERY_POINT_FILE);
        assert!(
            read_offsets(&path).unwrap().is_empty(),
            "missing: no entries"
        );
        let entries: BTreeMap<TopicPartition, i64> = [
            (TopicPartition::new("my-topic", 0), 1234),
            (TopicPartition::new("__consumer_offsets", 17), 0),
        ]
        .into();
        write_offsets(&path, &entries, true).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "0\n2\n__consumer_offsets 17 0\nmy-topic 0 1234\n"
        );
        assert_eq!(read_offsets(&path).unwrap(), entries);
        std::fs::write(&path, "").unwrap();
        assert!(read_offsets(&path).unwrap().is_empty(), "empty: no entries");
    }

    #[test]
    fn malformed_checkpoints_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x");
        for bad in [
            "1\n0\n",
            "0\n2\na 0 1\n",
            "0\n1\na 0\n",
            "0\n1\na b 1\n",
            "0\nmany\n",
            "0\n99999999\n",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(read_offsets(&path).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn epochs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LEADER_EPOCH_FILE);
        write_epochs(&path, &[(0, 0), (2, 1510), (5, 90210)], true).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "0\n3\n0 0\n2 1510\n5 90210\n"
        );
        assert_eq!(
            read_epochs(&path).unwrap(),
            vec![(0, 0), (2, 1510), (5, 90210)]
        );
    }
}
