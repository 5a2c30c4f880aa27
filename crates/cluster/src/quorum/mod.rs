//! The metadata log on a Raft library (openraft 0.9): every metadata change is a batch of
//! [`MetadataRecord`]s committed as one Raft entry and applied, in log order, to the
//! [`MetadataImage`] that [`Quorum::subscribe`] publishes.
//!
//! On disk, in `<data>/__cluster_metadata-0/` as Kafka names it:
//! - the entries, as a partition log of this crate's storage (Kafka segments and indexes):
//!   entry `i` is the record at offset `i`, in a batch whose partition leader epoch is the
//!   entry's Raft term, its value the entry as JSON ([`log_store`]);
//! - `quorum-state`: the vote and the last purged entry, JSON, written durably;
//! - snapshots `<end offset>-<epoch>.checkpoint` (Kafka's snapshot names), each the image as
//!   records in JSON ([`state_machine`]). Start-up loads the newest and applies only the
//!   entries after it, and entries a snapshot holds are purged, so that start-up does not
//!   grow with history.
//!
//! One node is a single voter that elects itself at once. Peers come with the cluster work:
//! [`network::NoPeers`] is the only transport yet.

pub mod log_store;
pub mod network;
pub mod state_machine;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::{BasicNode, Config, Raft, SnapshotPolicy};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::image::MetadataImage;
use crate::records::MetadataRecord;

/// Name of the metadata log's directory (Kafka's `__cluster_metadata-0`).
pub const METADATA_LOG_DIR: &str = "__cluster_metadata-0";

/// What one Raft entry carries: the records of one metadata change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataBatch(pub Vec<MetadataRecord>);

/// What applying an entry answers the writer: the offset it was applied at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub offset: i64,
}

openraft::declare_raft_types!(
    /// The Raft types of the metadata log.
    pub TypeConfig:
        D = MetadataBatch,
        R = Applied,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// Where time for batch timestamps comes from (milliseconds since the epoch).
pub type WallClock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// How the metadata log is opened.
#[derive(Clone)]
pub struct QuorumConfig {
    /// This node's id (`node.id`).
    pub node_id: u64,
    /// The data directory; the log lives in its [`METADATA_LOG_DIR`].
    pub data_dir: PathBuf,
    /// fsync entries before they count as written (off only for throw-away directories).
    pub durable: bool,
    /// A snapshot is taken after this many entries since the last one.
    pub snapshot_interval_entries: u64,
    /// How long start-up waits for this node to lead and to apply what the log holds.
    pub start_timeout: Duration,
    pub wall_clock: WallClock,
}

impl std::fmt::Debug for QuorumConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuorumConfig")
            .field("node_id", &self.node_id)
            .field("data_dir", &self.data_dir)
            .field("durable", &self.durable)
            .field("snapshot_interval_entries", &self.snapshot_interval_entries)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QuorumError {
    #[error("cannot open the metadata log: {0}")]
    Open(String),
    #[error("the metadata log did not start within {0:?}: {1}")]
    StartTimeout(Duration, String),
    #[error("the metadata log refused the write: {0}")]
    Write(String),
}

/// The running metadata log.
pub struct Quorum {
    raft: Raft<TypeConfig>,
    image: watch::Receiver<Arc<MetadataImage>>,
    node_id: u64,
}

impl std::fmt::Debug for Quorum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quorum")
            .field("node_id", &self.node_id)
            .field("offset", &self.image.borrow().offset)
            .finish_non_exhaustive()
    }
}

impl Quorum {
    /// Opens the metadata log of `config.data_dir` (creating it), makes this node its single
    /// voter on first start, and returns once this node leads and the image holds every
    /// entry the log had.
    ///
    /// # Errors
    /// The log, its state or its snapshot cannot be read, or start-up timed out.
    pub async fn open(config: QuorumConfig) -> Result<Self, QuorumError> {
        let dir = config.data_dir.join(METADATA_LOG_DIR);
        let (log, sm) = {
            let (dir, cfg) = (dir.clone(), config.clone());
            tokio::task::spawn_blocking(move || {
                let log =
                    log_store::LogStore::open(&dir, cfg.durable, Arc::clone(&cfg.wall_clock))?;
                let sm = state_machine::StateMachine::open(&dir, cfg.durable)?;
                Ok::<_, String>((log, sm))
            })
            .await
            .map_err(|e| QuorumError::Open(e.to_string()))?
            .map_err(QuorumError::Open)?
        };
        let image = sm.subscribe();
        let raft_config = Config {
            cluster_name: "strom-metadata".into(),
            heartbeat_interval: 100,
            election_timeout_min: 300,
            election_timeout_max: 600,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_interval_entries),
            // Entries a snapshot holds are purged at once: a peer that far behind gets the
            // snapshot.
            max_in_snapshot_log_to_keep: 0,
            ..Config::default()
        };
        let raft_config = Arc::new(
            raft_config
                .validate()
                .map_err(|e| QuorumError::Open(e.to_string()))?,
        );
        let raft = Raft::new(config.node_id, raft_config, network::NoPeers, log, sm)
            .await
            .map_err(|e| QuorumError::Open(e.to_string()))?;
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| QuorumError::Open(e.to_string()))?;
        if !initialized {
            let voters = BTreeMap::from([(config.node_id, BasicNode::default())]);
            raft.initialize(voters)
                .await
                .map_err(|e| QuorumError::Open(e.to_string()))?;
            tracing::info!(node_id = config.node_id, dir = %dir.display(), "created the metadata log with this node as its single voter");
        }
        let node_id = config.node_id;
        raft.wait(Some(config.start_timeout))
            .metrics(
                |m| {
                    m.current_leader == Some(node_id)
                        && m.last_applied.map(|l| l.index) == m.last_log_index
                },
                "leading, with every entry applied",
            )
            .await
            .map_err(|e| QuorumError::StartTimeout(config.start_timeout, e.to_string()))?;
        Ok(Self {
            raft,
            image,
            node_id,
        })
    }

    /// The image as of the last applied entry.
    pub fn image(&self) -> Arc<MetadataImage> {
        Arc::clone(&self.image.borrow())
    }

    /// A receiver that sees every new image.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.image.clone()
    }

    /// Appends one batch of records, commits and applies it; returns the offset it was
    /// applied at (the image holds it when this returns).
    ///
    /// # Errors
    /// This node does not lead, or the log failed (then it stops taking writes).
    pub async fn write(&self, records: Vec<MetadataRecord>) -> Result<i64, QuorumError> {
        let response = self
            .raft
            .client_write(MetadataBatch(records))
            .await
            .map_err(|e| QuorumError::Write(e.to_string()))?;
        Ok(response.data.offset)
    }

    /// Takes a snapshot now (tests and tools; the log takes them by itself every
    /// `snapshot_interval_entries`).
    ///
    /// # Errors
    /// The log has stopped.
    pub async fn snapshot(&self) -> Result<(), QuorumError> {
        let applied = self.raft.metrics().borrow().last_applied.map(|l| l.index);
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| QuorumError::Write(e.to_string()))?;
        if let Some(index) = applied {
            self.raft
                .wait(Some(Duration::from_secs(30)))
                .metrics(
                    |m| m.snapshot.is_some_and(|s| s.index >= index),
                    "snapshot taken",
                )
                .await
                .map_err(|e| QuorumError::Write(e.to_string()))?;
        }
        Ok(())
    }

    /// Stops the log (what was written stays written).
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "the metadata log did not stop cleanly");
        }
    }
}

#[cfg(test)]
mod tests;
