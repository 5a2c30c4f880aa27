//! Small files in a partition directory that held one offset as decimal text (the log start
//! moved by DeleteRecords, the cleaner's checkpoint, the recovery point) in data directories
//! written before the log directory's checkpoint files; read once when such a log opens.

use std::path::Path;

/// The offset in `dir/name`; `None` when the file is missing or does not hold one.
pub(crate) fn read(dir: &Path, name: &str) -> Option<i64> {
    std::fs::read_to_string(dir.join(name))
        .ok()?
        .trim()
        .parse()
        .ok()
}
