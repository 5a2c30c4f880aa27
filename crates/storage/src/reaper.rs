//! Deferred file removal. Freeing a large file's disk blocks happens at the unlink of a
//! closed file or at the last close of an unlinked one, and can take seconds: on a
//! filesystem mounted with `discard`, every freed extent is trimmed synchronously (seen:
//! 1.4 s for a 2 GB segment, in `close`). One background thread does all of it, so that no
//! request, no lock holder and no async worker ever waits for the disk to free space.
//!
//! - Segment data files are held as [`SegmentFile`]: whoever drops the last reference
//!   (a fetch that just sent from it, retention, a topic deletion) hands the descriptor to
//!   the reaper, which closes it.
//! - Files and directories to delete are first renamed (or linked) to a unique name ending
//!   in [`DOOMED_SUFFIX`], which is cheap and leaves the old name free at once; the reaper
//!   removes them. Whatever a crash leaves behind is removed at the next start.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::limits::REAPER_QUEUE_MAX;
use crate::worker::Worker;

/// Names ending with this are being deleted; a start-up removes any it finds.
pub const DOOMED_SUFFIX: &str = ".deleted";

enum Work {
    Close(File),
    RemoveFile(PathBuf),
    RemoveDir(PathBuf),
}

fn perform(work: Work) {
    let (path, result) = match work {
        Work::Close(file) => {
            drop(file);
            return;
        }
        Work::RemoveFile(path) => {
            let r = std::fs::remove_file(&path);
            (path, r)
        }
        Work::RemoveDir(path) => {
            let r = std::fs::remove_dir_all(&path);
            (path, r)
        }
    };
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "could not remove a deleted file; it is retried at the next start");
        }
    }
}

static REAPER: Worker<Work> = Worker::new(
    "strom-reaper",
    REAPER_QUEUE_MAX,
    perform,
    "files are removed inline",
);

/// Hands `work` to the reaper; does it here when the reaper is missing or its queue full.
fn submit(work: Work) {
    REAPER.submit(work);
}

/// A unique name beside `path` for it to be deleted under.
fn doomed_name(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.{n}{DOOMED_SUFFIX}", std::process::id()));
    path.with_file_name(name)
}

/// Gives `path` a doomed name with `place` (rename or hard link) and schedules `work` on
/// that name. A missing `path` is nothing to do.
fn retire(
    path: &Path,
    place: fn(&Path, &Path) -> std::io::Result<()>,
    work: fn(PathBuf) -> Work,
) -> std::io::Result<()> {
    let doomed = doomed_name(path);
    match place(path, &doomed) {
        Ok(()) => {
            submit(work(doomed));
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn rename(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::rename(from, to)
}

fn hard_link(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::hard_link(from, to)
}

/// Deletes the file at `path` in the background; its name is free when this returns.
///
/// # Errors
/// The rename fails for another reason than the file being absent.
pub fn remove_file(path: &Path) -> std::io::Result<()> {
    retire(path, rename, Work::RemoveFile)
}

/// Deletes the directory at `path` and everything in it, in the background.
///
/// # Errors
/// The rename fails for another reason than the directory being absent.
pub fn remove_dir_all(path: &Path) -> std::io::Result<()> {
    retire(path, rename, Work::RemoveDir)
}

/// Deletes an already doomed file or directory (found at start-up) in the background.
pub fn remove_doomed(path: PathBuf) {
    if path.is_dir() {
        submit(Work::RemoveDir(path));
    } else {
        submit(Work::RemoveFile(path));
    }
}

/// Keeps the file at `path` alive under a doomed name (a second hard link) and schedules
/// that name's removal, so that replacing `path` with `rename` does not free its blocks
/// on the caller's thread.
///
/// # Errors
/// The link fails for another reason than the file being absent.
pub fn unlink_later(path: &Path) -> std::io::Result<()> {
    retire(path, hard_link, Work::RemoveFile)
}

/// A segment's data file. When the last reference drops, the descriptor is duplicated and
/// the duplicate handed to the reaper: closing the original here is then cheap (the open
/// file lives on), and the final close, which frees the blocks of an unlinked file, happens
/// on the reaper thread.
#[derive(Debug)]
pub struct SegmentFile(File);

impl SegmentFile {
    pub fn new(file: File) -> Self {
        Self(file)
    }
}

impl std::ops::Deref for SegmentFile {
    type Target = File;

    fn deref(&self) -> &File {
        &self.0
    }
}

impl std::os::fd::AsFd for SegmentFile {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Drop for SegmentFile {
    fn drop(&mut self) {
        if let Ok(duplicate) = self.0.try_clone() {
            submit(Work::Close(duplicate));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_until(what: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn removed_names_are_free_at_once_and_the_files_go_later() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("00000000000000000000.log");
        std::fs::write(&file, b"data").unwrap();
        let sub = dir.path().join("t-0");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("x"), b"y").unwrap();
        remove_file(&file).unwrap();
        remove_dir_all(&sub).unwrap();
        assert!(!file.exists() && !sub.exists());
        std::fs::write(&file, b"new").unwrap();
        assert!(wait_until(|| std::fs::read_dir(dir.path())
            .unwrap()
            .count()
            == 1));
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"new",
            "the new file is untouched"
        );
        remove_file(&dir.path().join("absent")).unwrap();
    }

    #[test]
    fn a_linked_file_survives_being_replaced_then_goes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.log");
        let replacement = dir.path().join("a.log.cleaned");
        std::fs::write(&target, b"old").unwrap();
        std::fs::write(&replacement, b"new").unwrap();
        let held = SegmentFile::new(File::open(&target).unwrap());
        unlink_later(&target).unwrap();
        std::fs::rename(&replacement, &target).unwrap();
        drop(held);
        assert!(wait_until(|| std::fs::read_dir(dir.path())
            .unwrap()
            .count()
            == 1));
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
    }
}
