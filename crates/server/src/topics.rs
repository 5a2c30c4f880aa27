//! The topics this broker serves and their partitions, as the metadata image has them:
//! [`Topics::reconcile`] opens the logs of topics and partitions the image adds (through the
//! [`LogManager`], which owns every log), deletes those it removes and applies config
//! changes, and is the only thing that changes the set. Each partition leads its [`Log`]:
//! appends go through it and move its high watermark, which a `watch` carries to
//! long-polling fetches; reads take the log's published state and never its lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};

use dashmap::DashMap;
use strom_cluster::image::{MetadataImage, TopicImage};
use strom_cluster::records::{CONFIG_BROKER, CONFIG_TOPIC};
use strom_storage::{AppendInfo, FileSlice, Log, LogConfig, LogManager, Marker, TopicPartition};
use tokio::sync::watch;
use uuid::Uuid;

use strom_codec::uuid_text::base64_url;

use crate::clock::Clock;

/// Why a topic operation failed; mapped to Kafka error codes by the handlers.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("topic '{0}' does not exist")]
    Unknown(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("storage error: {0}")]
    Storage(#[from] strom_storage::Error),
}

/// One partition of one topic, led by this broker.
#[derive(Debug)]
pub struct Partition {
    pub topic: String,
    pub index: i32,
    log: Arc<Log>,
    /// This broker's leader epoch for the partition (Kafka's `leaderEpoch`), from the image.
    leader_epoch: AtomicI32,
    /// The high watermark, for fetches waiting for more.
    high_watermark: watch::Sender<i64>,
    /// Where append timestamps (`LogAppendTime`, timestamp checks) come from.
    clock: Clock,
}

/// What a fetch learns about a partition in one look.
#[derive(Debug)]
pub struct ReadOutcome {
    pub slice: Option<FileSlice>,
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    /// For `read_committed`: aborted transactions overlapping what was read.
    pub aborted: Vec<strom_storage::txn::AbortedTxn>,
}

impl Partition {
    /// Leads `log` in `leader_epoch`: with no other replica, the high watermark is the log end.
    fn lead(
        topic: &str,
        index: i32,
        log: Arc<Log>,
        leader_epoch: i32,
        clock: Clock,
    ) -> Result<Self, TopicError> {
        log.become_leader(leader_epoch)?;
        let high_watermark = log.update_high_watermark(i64::MAX);
        let (high_watermark, _) = watch::channel(high_watermark);
        Ok(Self {
            topic: topic.into(),
            index,
            log,
            leader_epoch: AtomicI32::new(leader_epoch),
            high_watermark,
            clock,
        })
    }

    /// The log (for what only a few admin paths do: producers, epochs).
    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    /// Leads from `epoch` on (the image moved the partition's leader epoch).
    fn set_leader_epoch(&self, epoch: i32) -> Result<(), strom_storage::Error> {
        if self.leader_epoch() != epoch {
            self.log.become_leader(epoch)?;
            self.leader_epoch.store(epoch, Ordering::Release);
        }
        Ok(())
    }

    /// The in-sync replicas are this broker alone: what it appended is replicated.
    fn advance_high_watermark(&self) {
        let hw = self.log.update_high_watermark(i64::MAX);
        self.high_watermark.send_if_modified(|current| {
            let moved = *current != hw;
            *current = hw;
            moved
        });
    }

    /// Appends as the leader, moves the high watermark and wakes waiting fetches. May block
    /// on the disk (an fsync with `flush.messages`).
    pub fn append(&self, records: &[u8]) -> Result<AppendInfo, strom_storage::Error> {
        let info = self
            .log
            .append_as_leader(records, self.leader_epoch(), self.clock.wall_ms())?;
        self.advance_high_watermark();
        Ok(info)
    }

    /// Plans a read from the log's published state (no lock, no disk); the bytes are read
    /// later. Consumers read up to the high watermark, `read_committed` ones up to the last
    /// stable offset with the aborted transactions in range listed.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: u32,
        read_committed: bool,
    ) -> Result<ReadOutcome, strom_storage::Error> {
        let state = self.log.read_state();
        let lso = state.last_stable_offset;
        let upto = if read_committed {
            lso
        } else {
            state.high_watermark
        };
        let slice = state.read(offset, max_bytes, upto)?;
        let aborted = if read_committed && slice.is_some() {
            state.aborted_transactions(offset, lso)
        } else {
            Vec::new()
        };
        Ok(ReadOutcome {
            slice,
            log_start_offset: state.log_start_offset,
            high_watermark: state.high_watermark,
            last_stable_offset: lso,
            aborted,
        })
    }

    /// Writes a transaction marker and wakes waiting fetches (the LSO may have moved).
    pub fn append_marker(
        &self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<i64, strom_storage::Error> {
        let marker = Marker {
            producer_id,
            producer_epoch: epoch,
            commit,
            coordinator_epoch: 0,
        };
        let offset = self
            .log
            .append_marker(marker, self.leader_epoch(), self.clock.wall_ms())?;
        self.advance_high_watermark();
        Ok(offset)
    }

    /// DeleteRecords: moves the log start to `offset` (-1: the high watermark); returns the
    /// new low watermark. The caller makes it durable.
    pub fn delete_records(&self, offset: i64) -> Result<i64, strom_storage::Error> {
        self.log.delete_records_before(offset)
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        self.log.read_state().size_bytes()
    }

    /// `(log_start_offset, high_watermark)`.
    pub fn offsets(&self) -> (i64, i64) {
        let state = self.log.read_state();
        (state.log_start_offset, state.high_watermark)
    }

    /// The log's state as readers see it.
    pub fn read_state(&self) -> strom_storage::ReadState {
        self.log.read_state()
    }

    /// A receiver that changes whenever the high watermark moves.
    pub fn subscribe(&self) -> watch::Receiver<i64> {
        self.high_watermark.subscribe()
    }
}

#[derive(Debug)]
pub struct Topic {
    pub name: String,
    pub id: Uuid,
    pub partitions: Vec<Arc<Partition>>,
    /// Topic-level config overrides, as the image last had them.
    configs: Mutex<BTreeMap<String, String>>,
    pub internal: bool,
}

impl Topic {
    /// The topic's config overrides.
    pub fn configs(&self) -> BTreeMap<String, String> {
        self.configs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

/// All topics of the broker.
#[derive(Debug)]
pub struct Topics {
    data_dir: PathBuf,
    node_id: i32,
    /// Every partition's log.
    logs: Arc<LogManager>,
    /// Topic-config defaults from the broker's static config.
    static_defaults: LogConfig,
    /// Broker-level defaults under topic configs: the static ones under the image's dynamic
    /// broker configs.
    defaults: std::sync::RwLock<LogConfig>,
    by_name: DashMap<String, Arc<Topic>>,
    by_id: DashMap<Uuid, Arc<Topic>>,
    /// Key-map memory of one compaction pass (`log.cleaner.dedupe.buffer.size`).
    pub cleaner_dedupe_bytes: usize,
    clock: Clock,
}

/// Kafka's text form of a topic id, as `partition.metadata` holds it.
fn topic_id_text(id: Uuid) -> String {
    base64_url(id.as_bytes())
}

/// What a reconciliation changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub created: Vec<String>,
    pub deleted: Vec<String>,
    /// Topics whose configs (or whose defaults) changed.
    pub reconfigured: usize,
}

impl Topics {
    /// Opens the log directory (see [`LogManager::open`]); no topic is served until
    /// [`Topics::reconcile`] brings in the image. `durable: false` (an ephemeral directory)
    /// skips the fsyncs of a clean stop.
    ///
    /// # Errors
    /// The directory cannot be opened or is locked by another broker.
    pub fn open(
        data_dir: &Path,
        node_id: i32,
        static_defaults: LogConfig,
        durable: bool,
        clock: Clock,
    ) -> Result<Self, TopicError> {
        let logs = Arc::new(LogManager::open(data_dir, durable)?);
        Ok(Self {
            data_dir: data_dir.to_path_buf(),
            node_id,
            logs,
            defaults: std::sync::RwLock::new(static_defaults.clone()),
            static_defaults,
            by_name: DashMap::new(),
            by_id: DashMap::new(),
            cleaner_dedupe_bytes: strom_storage::limits::CLEANER_DEDUPE_BYTES_MAX,
            clock,
        })
    }

    /// After the first reconciliation: partition directories no topic claimed are set aside,
    /// and what recovery cut (and values read from an earlier Strom's per-partition files)
    /// is made durable before anything is appended.
    ///
    /// # Errors
    /// The checkpoints cannot be written.
    pub fn finish_start(&self) -> Result<(), TopicError> {
        self.logs.set_aside_strays();
        self.logs.checkpoint()?;
        Ok(())
    }

    /// The log manager.
    pub fn logs(&self) -> &Arc<LogManager> {
        &self.logs
    }

    fn open_partition(
        &self,
        name: &str,
        index: i32,
        id: Uuid,
        leader_epoch: i32,
        config: &LogConfig,
    ) -> Result<Arc<Partition>, TopicError> {
        let tp = TopicPartition::new(name, index);
        let log = self.logs.open_log(
            &tp,
            &topic_id_text(id),
            config.clone(),
            self.clock.wall_ms(),
        )?;
        Ok(Arc::new(Partition::lead(
            name,
            index,
            log,
            leader_epoch,
            self.clock.clone(),
        )?))
    }

    fn insert(&self, topic: Arc<Topic>) {
        self.by_id.insert(topic.id, Arc::clone(&topic));
        self.by_name.insert(topic.name.clone(), topic);
    }

    pub fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.by_name.get(name).map(|t| Arc::clone(t.value()))
    }

    pub fn get_by_id(&self, id: &Uuid) -> Option<Arc<Topic>> {
        self.by_id.get(id).map(|t| Arc::clone(t.value()))
    }

    /// A topic as Produce and Fetch name it: by id from v13 (`by_id`), by name before.
    pub fn get_named(&self, name: &str, id: [u8; 16], by_id: bool) -> Option<Arc<Topic>> {
        if by_id {
            self.get_by_id(&Uuid::from_bytes(id))
        } else {
            self.get(name)
        }
    }

    /// Every topic, sorted by name.
    pub fn all(&self) -> Vec<Arc<Topic>> {
        let mut v: Vec<Arc<Topic>> = self.by_name.iter().map(|t| Arc::clone(t.value())).collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Makes the served topics what `image` says: opens the logs of new topics and
    /// partitions, deletes those of removed topics (a topic whose id changed was deleted and
    /// created again), applies changed topic configs and broker defaults to the logs at
    /// once, and moves leader epochs. Blocks on the disk; one caller at a time (the
    /// metadata publisher, and start-up before it).
    ///
    /// # Errors
    /// A log cannot be opened; what was reconciled before stays.
    pub fn reconcile(&self, image: &MetadataImage) -> Result<Reconciled, TopicError> {
        let mut outcome = Reconciled::default();
        let node = self.node_id.to_string();
        let defaults = match crate::config::dynamic::log_defaults(
            &self.static_defaults,
            image.configs.get(&(CONFIG_BROKER, String::new())),
            image.configs.get(&(CONFIG_BROKER, node)),
        ) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "stored dynamic broker configs are invalid; using the static ones");
                self.static_defaults.clone()
            }
        };
        let defaults_changed = defaults != self.defaults();
        *self
            .defaults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = defaults.clone();
        for topic in self.all() {
            let keep = image
                .topics
                .get(&topic.name)
                .is_some_and(|t| t.id.0 == *topic.id.as_bytes());
            if !keep {
                self.remove(&topic);
                outcome.deleted.push(topic.name.clone());
            }
        }
        for wanted in image.topics.iter() {
            let overrides = image.configs_of(CONFIG_TOPIC, &wanted.name);
            let config = match crate::config::topic_keys::log_config(&defaults, &overrides) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(topic = %wanted.name, error = %e, "topic overrides not valid under the broker defaults; the defaults apply");
                    defaults.clone()
                }
            };
            match self.get(&wanted.name) {
                None => {
                    self.add(wanted, overrides, &config)?;
                    outcome.created.push(wanted.name.clone());
                }
                Some(topic) => {
                    let changed = topic.configs() != overrides;
                    if changed || defaults_changed {
                        for p in &topic.partitions {
                            p.log.set_config(config.clone());
                        }
                        *topic
                            .configs
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) = overrides;
                        outcome.reconfigured += 1;
                    }
                    self.update(&topic, wanted, &config)?;
                }
            }
        }
        Ok(outcome)
    }

    /// Opens a topic the image added.
    fn add(
        &self,
        wanted: &TopicImage,
        overrides: BTreeMap<String, String>,
        config: &LogConfig,
    ) -> Result<(), TopicError> {
        let id = Uuid::from_bytes(wanted.id.0);
        let mut partitions = Vec::with_capacity(wanted.partitions.len());
        for (index, p) in &wanted.partitions {
            partitions.push(self.open_partition(
                &wanted.name,
                *index,
                id,
                p.leader_epoch,
                config,
            )?);
        }
        self.insert(Arc::new(Topic {
            name: wanted.name.clone(),
            id,
            partitions,
            configs: Mutex::new(overrides),
            internal: wanted.internal,
        }));
        tracing::info!(topic = %wanted.name, partitions = wanted.partitions.len(), "serving topic");
        Ok(())
    }

    /// Brings a served topic to the image's partitions and leader epochs.
    fn update(
        &self,
        topic: &Arc<Topic>,
        wanted: &TopicImage,
        config: &LogConfig,
    ) -> Result<(), TopicError> {
        for (index, p) in &wanted.partitions {
            if let Some(served) = topic.partition(*index) {
                served.set_leader_epoch(p.leader_epoch)?;
            }
        }
        let current = topic.partitions.len();
        if wanted.partitions.len() <= current {
            return Ok(());
        }
        let mut partitions = topic.partitions.clone();
        for (index, p) in wanted.partitions.iter().skip(current) {
            partitions.push(self.open_partition(
                &topic.name,
                *index,
                topic.id,
                p.leader_epoch,
                config,
            )?);
        }
        tracing::info!(topic = %topic.name, from = current, to = partitions.len(), "added partitions");
        self.insert(Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions,
            configs: Mutex::new(topic.configs()),
            internal: topic.internal,
        }));
        Ok(())
    }

    /// Stops serving a topic the image removed and deletes its logs.
    fn remove(&self, topic: &Topic) {
        self.by_name.remove_if(&topic.name, |_, t| t.id == topic.id);
        self.by_id.remove(&topic.id);
        for p in &topic.partitions {
            // Renamed now; the files go (and their blocks are freed) on the storage
            // reaper thread.
            if let Err(e) = self
                .logs
                .delete_log(&TopicPartition::new(&topic.name, p.index))
            {
                tracing::warn!(topic = %topic.name, partition = p.index, error = %e, "could not remove deleted partition");
            }
        }
        tracing::info!(topic = %topic.name, "deleted topic");
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The broker-level defaults under topic configs.
    pub fn defaults(&self) -> LogConfig {
        self.defaults
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Runs retention on every partition; returns segments deleted.
    pub fn enforce_retention(&self) -> usize {
        self.logs
            .retention_pass(self.clock.wall_ms())
            .segments_deleted
    }

    /// One compaction pass over every compacted partition that is dirty enough (see
    /// `strom_storage::cleaner`). Returns partitions cleaned.
    pub fn compact_due(&self) -> usize {
        self.logs
            .clean_pass(self.clock.wall_ms(), self.cleaner_dedupe_bytes)
    }

    /// fsyncs partitions whose `flush.ms` has passed.
    pub fn flush_due(&self) {
        self.logs.flush_pass(self.clock.wall_ms());
    }

    /// Writes the log directory's checkpoints (recovery points, high watermarks, log starts).
    pub fn checkpoint(&self) {
        if let Err(e) = self.logs.checkpoint() {
            tracing::warn!(error = %e, "cannot write the log directory's checkpoints");
        }
    }

    /// Flushes index buffers, fsyncs what is not yet on disk (not for an ephemeral
    /// directory), writes the checkpoints and the clean-shutdown marker. A failure leaves no
    /// marker, so the next start recovers.
    pub fn close(&self) {
        self.logs.shutdown(self.clock.wall_ms());
    }
}

#[cfg(test)]
mod tests {
    use strom_cluster::records::{MetadataRecord, TopicId};

    use super::*;

    fn topic(name: &str, id: u8, partitions: i32) -> Vec<MetadataRecord> {
        let topic_id = TopicId([id; 16]);
        let mut records = vec![MetadataRecord::Topic {
            name: name.into(),
            topic_id,
            internal: false,
        }];
        for partition in 0..partitions {
            records.push(MetadataRecord::Partition {
                topic_id,
                partition,
                replicas: vec![1],
                isr: vec![1],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
            });
        }
        records
    }

    #[test]
    fn reconciling_opens_grows_reconfigures_and_deletes() {
        let dir = tempfile::tempdir().unwrap();
        let topics =
            Topics::open(dir.path(), 1, LogConfig::default(), true, Clock::system()).unwrap();
        let mut image = MetadataImage::empty();
        image.apply_batch(0, topic("a", 1, 2));
        image.apply_batch(1, topic("b", 2, 1));
        let done = topics.reconcile(&image).unwrap();
        assert_eq!(done.created, vec!["a", "b"]);
        assert_eq!(topics.get("a").unwrap().partitions.len(), 2);
        assert!(dir.path().join("a-1").exists());

        image.apply_batch(
            2,
            vec![
                MetadataRecord::Partition {
                    topic_id: TopicId([1; 16]),
                    partition: 2,
                    replicas: vec![1],
                    isr: vec![1],
                    leader: 1,
                    leader_epoch: 0,
                    partition_epoch: 0,
                },
                MetadataRecord::Config {
                    resource_type: CONFIG_TOPIC,
                    resource_name: "a".into(),
                    name: "retention.ms".into(),
                    value: Some("1234".into()),
                },
                MetadataRecord::RemoveTopic {
                    topic_id: TopicId([2; 16]),
                },
            ],
        );
        let done = topics.reconcile(&image).unwrap();
        assert_eq!(done.deleted, vec!["b"]);
        let a = topics.get("a").unwrap();
        assert_eq!(a.partitions.len(), 3);
        assert_eq!(a.partitions[0].log().config().retention_ms, 1234);
        assert!(topics.get("b").is_none());
        // A topic deleted and created again under the same name starts empty.
        a.partitions[0]
            .append(&strom_storage::batch::build_uncompressed(&[b"x"], 1, None))
            .unwrap();
        image.apply_batch(
            3,
            vec![MetadataRecord::RemoveTopic {
                topic_id: TopicId([1; 16]),
            }],
        );
        image.apply_batch(4, topic("a", 3, 1));
        let done = topics.reconcile(&image).unwrap();
        assert_eq!((done.deleted.len(), done.created.len()), (1, 1));
        assert_eq!(topics.get("a").unwrap().partitions[0].offsets(), (0, 0));
        topics.close();
    }
}
