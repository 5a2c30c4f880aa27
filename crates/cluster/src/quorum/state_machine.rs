//! The state machine of the metadata log: the [`MetadataImage`], published through a `watch`
//! after every applied group of entries, and its snapshots, files named as Kafka names
//! metadata snapshots (`<end offset, 20 digits>-<epoch, 10 digits>.checkpoint`) holding the
//! image as records in JSON. Only the newest snapshot is kept; start-up loads it.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, RaftSnapshotBuilder, SnapshotMeta, StorageError,
    StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex};

use super::{Applied, TypeConfig};
use crate::image::MetadataImage;
use crate::records::MetadataRecord;

type StorageResult<T> = Result<T, StorageError<u64>>;
type Meta = SnapshotMeta<u64, BasicNode>;

const SNAPSHOT_SUFFIX: &str = ".checkpoint";

/// A snapshot file's content.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotFile {
    meta: Meta,
    records: Vec<MetadataRecord>,
}

#[derive(Debug, Default)]
struct State {
    image: MetadataImage,
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    /// The newest snapshot, as stored.
    snapshot: Option<(Meta, Vec<u8>)>,
}

/// The state machine openraft drives.
#[derive(Debug, Clone)]
pub struct StateMachine {
    state: Arc<Mutex<State>>,
    publish: Arc<watch::Sender<Arc<MetadataImage>>>,
    dir: PathBuf,
    /// fsync snapshots.
    durable: bool,
}

fn snapshot_name(meta: &Meta) -> String {
    let (end, epoch) = meta
        .last_log_id
        .map_or((0, 0), |l| (l.index + 1, l.leader_id.term));
    format!("{end:020}-{epoch:010}{SNAPSHOT_SUFFIX}")
}

/// `(end offset, path)` of every snapshot file in `dir`.
fn snapshot_files(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_suffix(SNAPSHOT_SUFFIX) {
            if let Some(end) = stem.split('-').next().and_then(|e| e.parse::<u64>().ok()) {
                found.push((end, entry.path()));
            }
        } else if name.ends_with(&format!("{SNAPSHOT_SUFFIX}.tmp")) {
            // An interrupted write.
            let _ = std::fs::remove_file(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

fn parse(bytes: &[u8]) -> Result<(Meta, MetadataImage), serde_json::Error> {
    let file: SnapshotFile = serde_json::from_slice(bytes)?;
    let mut image = MetadataImage::empty();
    let offset = file
        .meta
        .last_log_id
        .map_or(-1, |l| i64::try_from(l.index).unwrap_or(i64::MAX));
    image.apply_batch(offset, file.records);
    Ok((file.meta, image))
}

/// Stores a snapshot (durably, unless the directory is a throw-away one) and removes the
/// older ones.
fn store(dir: &Path, meta: &Meta, bytes: &[u8], durable: bool) -> Result<(), strom_storage::Error> {
    let path = dir.join(snapshot_name(meta));
    strom_storage::checkpoint::write_file(&path, bytes, durable)?;
    if let Ok(files) = snapshot_files(dir) {
        for (_, old) in files.into_iter().filter(|(_, p)| *p != path) {
            if let Err(e) = std::fs::remove_file(&old) {
                tracing::warn!(file = %old.display(), error = %e, "cannot remove an old metadata snapshot");
            }
        }
    }
    Ok(())
}

impl StateMachine {
    /// Loads the newest snapshot of `dir`, if any.
    ///
    /// # Errors
    /// The directory or the snapshot cannot be read. A snapshot that does not parse is an
    /// error, never an empty image: that would forget every topic.
    pub fn open(dir: &Path, durable: bool) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let files = snapshot_files(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut state = State {
            image: MetadataImage::empty(),
            ..State::default()
        };
        if let Some((_, path)) = files.last() {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let (meta, image) = parse(&bytes)
                .map_err(|e| format!("metadata snapshot {} is corrupt: {e}", path.display()))?;
            tracing::info!(snapshot = %path.display(), topics = image.topics.len(), "loaded the metadata snapshot");
            state.last_applied = meta.last_log_id;
            state.membership = meta.last_membership.clone();
            state.image = image;
            state.snapshot = Some((meta, bytes));
        }
        let (publish, _) = watch::channel(Arc::new(state.image.clone()));
        Ok(Self {
            state: Arc::new(Mutex::new(state)),
            publish: Arc::new(publish),
            dir: dir.to_path_buf(),
            durable,
        })
    }

    /// A receiver of every image published.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.publish.subscribe()
    }
}

fn snapshot_error(
    meta: Option<&Meta>,
    e: &(impl std::error::Error + 'static),
) -> StorageError<u64> {
    StorageIOError::write_snapshot(meta.map(Meta::signature), e).into()
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let (image, last_applied, membership) = {
            let s = self.state.lock().await;
            (s.image.clone(), s.last_applied, s.membership.clone())
        };
        let meta = Meta {
            last_log_id: last_applied,
            last_membership: membership,
            snapshot_id: String::new(),
        };
        let meta = Meta {
            snapshot_id: snapshot_name(&meta),
            ..meta
        };
        let file = SnapshotFile {
            meta: meta.clone(),
            records: image.to_records(),
        };
        let bytes = serde_json::to_vec(&file).map_err(|e| snapshot_error(Some(&meta), &e))?;
        let (dir, m, b) = (self.dir.clone(), meta.clone(), bytes.clone());
        let durable = self.durable;
        tokio::task::spawn_blocking(move || store(&dir, &m, &b, durable))
            .await
            .map_err(|e| snapshot_error(Some(&meta), &e))?
            .map_err(|e| snapshot_error(Some(&meta), &e))?;
        tracing::info!(snapshot = %meta.snapshot_id, records = file.records.len(), "took a metadata snapshot");
        self.state.lock().await.snapshot = Some((meta.clone(), bytes.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>)> {
        let s = self.state.lock().await;
        Ok((s.last_applied, s.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<Applied>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut s = self.state.lock().await;
        let mut replies = Vec::new();
        for entry in entries {
            let offset = i64::try_from(entry.log_id.index).unwrap_or(i64::MAX);
            s.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => s.image.offset = offset,
                EntryPayload::Normal(batch) => s.image.apply_batch(offset, batch.0),
                EntryPayload::Membership(m) => {
                    s.membership = StoredMembership::new(Some(entry.log_id), m);
                    s.image.offset = offset;
                }
            }
            replies.push(Applied { offset });
        }
        self.publish.send_replace(Arc::new(s.image.clone()));
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        let bytes = snapshot.into_inner();
        let (_, image) = parse(&bytes).map_err(|e| {
            StorageError::from(StorageIOError::read_snapshot(Some(meta.signature()), &e))
        })?;
        let (dir, m, b) = (self.dir.clone(), meta.clone(), bytes.clone());
        let durable = self.durable;
        tokio::task::spawn_blocking(move || store(&dir, &m, &b, durable))
            .await
            .map_err(|e| snapshot_error(Some(meta), &e))?
            .map_err(|e| snapshot_error(Some(meta), &e))?;
        let mut s = self.state.lock().await;
        s.image = image;
        s.last_applied = meta.last_log_id;
        s.membership = meta.last_membership.clone();
        s.snapshot = Some((meta.clone(), bytes));
        self.publish.send_replace(Arc::new(s.image.clone()));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let s = self.state.lock().await;
        Ok(s.snapshot.clone().map(|(meta, bytes)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}
