//! Topics and their partitions: creation, deletion, lookup by name and id, persisted in the
//! metadata log. Each partition leads its [`Log`] (owned with every other log by the
//! [`LogManager`]): appends go through it and move its high watermark, which a `watch` carries
//! to long-polling fetches; reads take the log's published state and never its lock.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use dashmap::DashMap;
use strom_storage::meta::{MetaLog, MetaRecord, MetaState, TopicMeta};
use strom_storage::{AppendInfo, FileSlice, Log, LogConfig, LogManager, Marker, TopicPartition};
use tokio::sync::watch;
use uuid::Uuid;

use strom_codec::uuid_text::base64_url;

use crate::clock::Clock;

/// The only leader epoch a single broker has (every batch it wrote carries it).
pub const LEADER_EPOCH: i32 = 0;

/// Longest topic name Kafka allows (`Topic.MAX_NAME_LENGTH`).
pub const TOPIC_NAME_BYTES_MAX: usize = 249;
/// Most partitions one topic may have.
pub const PARTITIONS_PER_TOPIC_MAX: i32 = 10_000;

/// Why a topic operation failed; mapped to Kafka error codes by the handlers.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("topic name {0:?} is illegal: names are 1-249 characters of [a-zA-Z0-9._-], not '.' or '..'")]
    InvalidName(String),
    #[error("topic '{0}' already exists")]
    AlreadyExists(String),
    #[error("topic '{0}' does not exist")]
    Unknown(String),
    #[error("number of partitions {0} must be between 1 and {PARTITIONS_PER_TOPIC_MAX}")]
    InvalidPartitions(i32),
    #[error("{0}")]
    InvalidPartitionCount(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("storage error: {0}")]
    Storage(#[from] strom_storage::Error),
}

/// Kafka's `Topic.validate`.
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    let ok = !name.is_empty()
        && name.len() <= TOPIC_NAME_BYTES_MAX
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(TopicError::InvalidName(name.into()))
    }
}

/// One partition of one topic, led by this broker.
#[derive(Debug)]
pub struct Partition {
    pub topic: String,
    pub index: i32,
    log: Arc<Log>,
    /// This broker's leader epoch for the partition (Kafka's `leaderEpoch`).
    leader_epoch: i32,
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
            leader_epoch,
            high_watermark,
            clock,
        })
    }

    /// The log (for what only a few admin paths do: producers, epochs).
    pub fn log(&self) -> &Arc<Log> {
        &self.log
    }

    pub fn leader_epoch(&self) -> i32 {
        self.leader_epoch
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
            .append_as_leader(records, self.leader_epoch, self.clock.wall_ms())?;
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
            .append_marker(marker, self.leader_epoch, self.clock.wall_ms())?;
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
    /// Topic-level config overrides; changed by the Alter*Configs APIs under the metadata
    /// lock, read by describe paths.
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
    /// Every partition's log.
    logs: Arc<LogManager>,
    /// Broker-level defaults under topic configs (static config plus dynamic broker configs).
    defaults: std::sync::RwLock<LogConfig>,
    by_name: DashMap<String, Arc<Topic>>,
    by_id: DashMap<Uuid, Arc<Topic>>,
    /// Serialises creations and deletions and owns the metadata log.
    meta: Mutex<(MetaLog, MetaState)>,
    /// Key-map memory of one compaction pass (`log.cleaner.dedupe.buffer.size`).
    pub cleaner_dedupe_bytes: usize,
    clock: Clock,
}

/// Kafka's text form of a topic id, as `partition.metadata` holds it.
fn topic_id_text(id: Uuid) -> String {
    base64_url(id.as_bytes())
}

impl Topics {
    /// Opens every topic in the metadata log. After an unclean stop (no clean-shutdown
    /// marker), each partition is re-validated from its recovery point (see
    /// [`Log::open`]). `durable_meta: false` (an ephemeral directory) skips the fsync of
    /// metadata records and of the data at a clean stop.
    pub fn open(
        data_dir: &Path,
        defaults: LogConfig,
        durable_meta: bool,
        clock: Clock,
    ) -> Result<(Self, MetaState), TopicError> {
        let logs = Arc::new(LogManager::open(data_dir, durable_meta)?);
        let (mut meta_log, state) = MetaLog::open(data_dir)?;
        if !durable_meta {
            meta_log.without_sync();
        }
        let topics = Self {
            data_dir: data_dir.to_path_buf(),
            logs,
            defaults: std::sync::RwLock::new(defaults),
            by_name: DashMap::new(),
            by_id: DashMap::new(),
            meta: Mutex::new((meta_log, state.clone())),
            cleaner_dedupe_bytes: strom_storage::limits::CLEANER_DEDUPE_BYTES_MAX,
            clock,
        };
        for meta in state.topics.values() {
            let topic = topics.open_topic(meta)?;
            topics.insert(topic);
        }
        topics.logs.set_aside_strays();
        // Cuts made by recovery, and values read from an earlier Strom's per-partition files,
        // are made durable before anything is appended.
        topics.logs.checkpoint()?;
        Ok((topics, state))
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
            LEADER_EPOCH,
            self.clock.clone(),
        )?))
    }

    fn open_topic(&self, meta: &TopicMeta) -> Result<Arc<Topic>, TopicError> {
        let config = crate::config::topic_keys::log_config(&self.defaults(), &meta.configs)
            .map_err(TopicError::InvalidConfig)?;
        let id = Uuid::parse_str(&meta.id).unwrap_or_else(|_| Uuid::new_v4());
        let mut partitions = Vec::new();
        for index in 0..meta.partitions {
            partitions.push(self.open_partition(&meta.name, index, id, &config)?);
        }
        Ok(Arc::new(Topic {
            name: meta.name.clone(),
            id,
            partitions,
            configs: Mutex::new(meta.configs.clone()),
            internal: meta.internal,
        }))
    }

    fn insert(&self, topic: Arc<Topic>) {
        self.by_id.insert(topic.id, Arc::clone(&topic));
        self.by_name.insert(topic.name.clone(), topic);
    }

    fn meta(&self) -> MutexGuard<'_, (MetaLog, MetaState)> {
        self.meta
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
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

    /// Checks a creation without performing it: the effective log config on success.
    pub fn validate_create(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<LogConfig, TopicError> {
        validate_name(name)?;
        if self.by_name.contains_key(name) {
            return Err(TopicError::AlreadyExists(name.into()));
        }
        if !(1..=PARTITIONS_PER_TOPIC_MAX).contains(&partitions) {
            return Err(TopicError::InvalidPartitions(partitions));
        }
        crate::config::topic_keys::log_config(&self.defaults(), configs)
            .map_err(TopicError::InvalidConfig)
    }

    /// Creates a topic durably: the metadata record is fsynced before the topic is visible.
    pub fn create(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
        internal: bool,
    ) -> Result<Arc<Topic>, TopicError> {
        let mut meta = self.meta();
        self.validate_create(name, partitions, &configs)?;
        let record = TopicMeta {
            name: name.into(),
            id: Uuid::new_v4().simple().to_string(),
            partitions,
            configs,
            internal,
        };
        // Leftovers of an earlier topic of the same name (a crash mid-delete) must not leak in.
        for index in 0..partitions {
            self.logs.delete_log(&TopicPartition::new(name, index))?;
        }
        let topic = self.open_topic(&record)?;
        let (log, state) = &mut *meta;
        log.append(&MetaRecord::Topic(record.clone()))?;
        state.topics.insert(record.name.clone(), record);
        self.insert(Arc::clone(&topic));
        tracing::info!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// Deletes a topic: forgotten durably first, then its directories are removed.
    pub fn delete(&self, name: &str) -> Result<Uuid, TopicError> {
        let mut meta = self.meta();
        let Some((_, topic)) = self.by_name.remove(name) else {
            return Err(TopicError::Unknown(name.into()));
        };
        self.by_id.remove(&topic.id);
        let (log, state) = &mut *meta;
        log.append(&MetaRecord::DeleteTopic { name: name.into() })?;
        state.topics.remove(name);
        for p in &topic.partitions {
            // Renamed now; the files go (and their blocks are freed) on the storage
            // reaper thread, not under the metadata lock.
            if let Err(e) = self.logs.delete_log(&TopicPartition::new(name, p.index)) {
                tracing::warn!(topic = name, partition = p.index, error = %e, "could not remove deleted partition");
            }
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic.id)
    }

    /// Replaces a topic's config overrides: validated, persisted, then applied to every
    /// partition without a restart. With `validate_only` nothing changes.
    pub fn alter_configs(
        &self,
        name: &str,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let mut meta = self.meta();
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.into()))?;
        let log_config = crate::config::topic_keys::log_config(&self.defaults(), &configs)
            .map_err(TopicError::InvalidConfig)?;
        if validate_only {
            return Ok(());
        }
        let (log, state) = &mut *meta;
        let mut record = state
            .topics
            .get(name)
            .cloned()
            .ok_or_else(|| TopicError::Unknown(name.into()))?;
        record.configs = configs.clone();
        log.append(&MetaRecord::Topic(record.clone()))?;
        state.topics.insert(name.into(), record);
        *topic
            .configs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = configs;
        for p in &topic.partitions {
            p.log.set_config(log_config.clone());
        }
        tracing::info!(topic = name, "topic configs altered");
        Ok(())
    }

    /// Grows a topic to `count` partitions (never shrinks, as Kafka). Producers and consumers
    /// see the new partitions on their next metadata refresh.
    pub fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let mut meta = self.meta();
        let topic = self
            .get(name)
            .ok_or_else(|| TopicError::Unknown(name.into()))?;
        let current = i32::try_from(topic.partitions.len()).unwrap_or(i32::MAX);
        if topic.internal {
            return Err(TopicError::InvalidPartitionCount(format!(
                "the internal topic {name} cannot get more partitions"
            )));
        }
        if count <= current {
            return Err(TopicError::InvalidPartitionCount(format!(
                "topic currently has {current} partitions, which is higher than or equal to the requested {count}"
            )));
        }
        if count > PARTITIONS_PER_TOPIC_MAX {
            return Err(TopicError::InvalidPartitions(count));
        }
        if validate_only {
            return Ok(());
        }
        let configs = topic.configs();
        let config = crate::config::topic_keys::log_config(&self.defaults(), &configs)
            .map_err(TopicError::InvalidConfig)?;
        let mut partitions = topic.partitions.clone();
        for index in current..count {
            self.logs.delete_log(&TopicPartition::new(name, index))?;
            partitions.push(self.open_partition(name, index, topic.id, &config)?);
        }
        let (log, state) = &mut *meta;
        let mut record = state
            .topics
            .get(name)
            .cloned()
            .ok_or_else(|| TopicError::Unknown(name.into()))?;
        record.partitions = count;
        log.append(&MetaRecord::Topic(record.clone()))?;
        state.topics.insert(name.into(), record);
        let grown = Arc::new(Topic {
            name: topic.name.clone(),
            id: topic.id,
            partitions,
            configs: Mutex::new(configs),
            internal: topic.internal,
        });
        self.insert(grown);
        tracing::info!(topic = name, from = current, to = count, "added partitions");
        Ok(())
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

    /// Replaces the broker-level defaults (a dynamic broker config changed) and applies them
    /// at once to every partition of every topic, under each topic's own overrides.
    pub fn set_defaults(&self, defaults: LogConfig) {
        let _meta = self.meta();
        *self
            .defaults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = defaults.clone();
        for topic in self.all() {
            match crate::config::topic_keys::log_config(&defaults, &topic.configs()) {
                Ok(config) => {
                    for p in &topic.partitions {
                        p.log.set_config(config.clone());
                    }
                }
                Err(e) => {
                    tracing::warn!(topic = %topic.name, error = %e, "topic overrides no longer valid under new broker defaults; left unchanged")
                }
            }
        }
    }

    /// Appends a record to the metadata log (producer-id blocks, cluster id).
    pub fn persist(&self, record: MetaRecord) -> Result<(), TopicError> {
        self.commit_meta(|_| (vec![record], ()))
    }

    /// Reads the durable metadata (ACLs, credentials, dynamic configs) under its lock.
    pub fn read_meta<R>(&self, f: impl FnOnce(&MetaState) -> R) -> R {
        f(&self.meta().1)
    }

    /// Lets `f` look at the metadata and decide on records; they are appended with one fsync
    /// and applied before the lock is released, so decisions never race.
    pub fn commit_meta<R>(
        &self,
        f: impl FnOnce(&MetaState) -> (Vec<MetaRecord>, R),
    ) -> Result<R, TopicError> {
        let mut meta = self.meta();
        let (log, state) = &mut *meta;
        let (records, result) = f(state);
        if !records.is_empty() {
            log.append_all(&records)?;
            for r in records {
                state.apply(r);
            }
        }
        Ok(result)
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
    use super::*;

    #[test]
    fn names_follow_kafka_rules() {
        for ok in ["a", "my-topic.v1_x", &"x".repeat(249)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a b", "é", &"x".repeat(250), "a/b"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn topics_survive_reopen_and_deletion_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (topics, _) =
                Topics::open(dir.path(), LogConfig::default(), true, Clock::system()).unwrap();
            topics.create("a", 2, BTreeMap::new(), false).unwrap();
            topics.create("b", 1, BTreeMap::new(), false).unwrap();
            assert!(matches!(
                topics.create("a", 1, BTreeMap::new(), false),
                Err(TopicError::AlreadyExists(_))
            ));
            topics.delete("b").unwrap();
            topics.close();
        }
        let (topics, _) =
            Topics::open(dir.path(), LogConfig::default(), true, Clock::system()).unwrap();
        assert_eq!(
            topics
                .all()
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            vec!["a"]
        );
        assert_eq!(topics.get("a").unwrap().partitions.len(), 2);
        assert!(!dir.path().join("b-0").exists());
    }
}
