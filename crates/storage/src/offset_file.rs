//! Small files in a partition directory that hold one offset as decimal text (the log
//! start moved by DeleteRecords, the cleaner's checkpoint, the recovery point). Written
//! aside, fsynced, renamed and the directory fsynced: a crash leaves the old or the new
//! value, never a torn one.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::Error;

/// The offset in `dir/name`; `None` when the file is missing or does not hold one.
pub(crate) fn read(dir: &Path, name: &str) -> Option<i64> {
    std::fs::read_to_string(dir.join(name))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Replaces `dir/name` with `offset`, durably.
///
/// # Errors
/// Any step of the write, rename or fsyncs fails.
pub(crate) fn write(dir: &Path, name: &str, offset: i64) -> Result<(), Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(offset.to_string().as_bytes())
            .map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}
