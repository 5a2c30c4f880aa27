//! The broker's durable metadata: topics (id, partition count, config overrides), the next
//! producer-id block, the cluster id, ACLs, SCRAM credentials and dynamic broker and group
//! configs, kept as an append-only log of records replayed at
//! start-up (the shape that later grows into a replicated metadata log).
//!
//! File `<data>/__strom_metadata.log`: one record per line, `<crc32c as 8 hex digits> <json>`.
//! Every append is fsynced before it is acknowledged. Replay stops at the first line that is
//! torn or fails its CRC and cuts the file there. When dead records pile up, the file is
//! rewritten with the live state (written aside, fsynced, renamed).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::limits::META_LOG_GARBAGE_MAX;
use crate::Error;

pub const META_LOG_NAME: &str = "__strom_metadata.log";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub name: String,
    /// UUID in its 32-hex-digit form.
    pub id: String,
    pub partitions: i32,
    pub configs: BTreeMap<String, String>,
    #[serde(default)]
    pub internal: bool,
}

/// One access-control entry on a resource pattern, in Kafka's codes (`ResourceType`,
/// `PatternType`, `AclOperation`, `AclPermissionType`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AclBinding {
    pub resource_type: i8,
    pub resource_name: String,
    pub pattern_type: i8,
    pub principal: String,
    pub host: String,
    pub operation: i8,
    pub permission_type: i8,
}

/// A SCRAM credential as AlterUserScramCredentials delivers it (salted by the client).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    pub iterations: i32,
    /// Hex.
    pub salt: String,
    /// Hex.
    pub salted_password: String,
}

/// Kafka's `TransactionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
}

/// One offset a transaction commits for a group, made visible when it commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// The transaction coordinator's state of one `transactional.id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnRecord {
    pub transactional_id: String,
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    /// Partitions in the current transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// group id -> offsets committed by the current transaction.
    pub offsets: BTreeMap<String, Vec<TxnOffset>>,
    pub start_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MetaRecord {
    Topic(TopicMeta),
    DeleteTopic {
        name: String,
    },
    ProducerIdBlock {
        next: i64,
    },
    ClusterId {
        id: String,
    },
    CreateAcl(AclBinding),
    DeleteAcl(AclBinding),
    ScramCredential {
        user: String,
        mechanism: i8,
        credential: ScramCredential,
    },
    DeleteScramCredential {
        user: String,
        mechanism: i8,
    },
    /// The complete set of dynamic config overrides of one broker (`broker` = its node id)
    /// or of the cluster-wide default (`broker` = "").
    BrokerConfigs {
        broker: String,
        configs: BTreeMap<String, String>,
    },
    /// A transactional id's coordinator state (replaces the previous one).
    Transaction(TxnRecord),
    /// The complete set of one group's config overrides (empty: none).
    GroupConfigs {
        group: String,
        configs: BTreeMap<String, String>,
    },
}

/// What the records add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetaState {
    pub topics: BTreeMap<String, TopicMeta>,
    pub next_producer_id: i64,
    pub cluster_id: Option<String>,
    pub acls: BTreeSet<AclBinding>,
    /// user -> mechanism -> credential.
    pub scram: BTreeMap<String, BTreeMap<i8, ScramCredential>>,
    /// Broker entity ("" = cluster default, else node id) -> dynamic overrides.
    pub broker_configs: BTreeMap<String, BTreeMap<String, String>>,
    pub group_configs: BTreeMap<String, BTreeMap<String, String>>,
    pub transactions: BTreeMap<String, TxnRecord>,
}

impl MetaState {
    pub fn apply(&mut self, record: MetaRecord) {
        match record {
            MetaRecord::Topic(t) => {
                self.topics.insert(t.name.clone(), t);
            }
            MetaRecord::DeleteTopic { name } => {
                self.topics.remove(&name);
            }
            MetaRecord::ProducerIdBlock { next } => {
                self.next_producer_id = next.max(self.next_producer_id)
            }
            MetaRecord::ClusterId { id } => self.cluster_id = Some(id),
            MetaRecord::CreateAcl(b) => {
                self.acls.insert(b);
            }
            MetaRecord::DeleteAcl(b) => {
                self.acls.remove(&b);
            }
            MetaRecord::ScramCredential {
                user,
                mechanism,
                credential,
            } => {
                self.scram
                    .entry(user)
                    .or_default()
                    .insert(mechanism, credential);
            }
            MetaRecord::DeleteScramCredential { user, mechanism } => {
                if let Some(m) = self.scram.get_mut(&user) {
                    m.remove(&mechanism);
                    if m.is_empty() {
                        self.scram.remove(&user);
                    }
                }
            }
            MetaRecord::BrokerConfigs { broker, configs } => {
                if configs.is_empty() {
                    self.broker_configs.remove(&broker);
                } else {
                    self.broker_configs.insert(broker, configs);
                }
            }
            MetaRecord::Transaction(t) => {
                self.transactions.insert(t.transactional_id.clone(), t);
            }
            MetaRecord::GroupConfigs { group, configs } => {
                if configs.is_empty() {
                    self.group_configs.remove(&group);
                } else {
                    self.group_configs.insert(group, configs);
                }
            }
        }
    }

    fn records(&self) -> Vec<MetaRecord> {
        let mut out = Vec::new();
        if let Some(id) = &self.cluster_id {
            out.push(MetaRecord::ClusterId { id: id.clone() });
        }
        if self.next_producer_id > 0 {
            out.push(MetaRecord::ProducerIdBlock {
                next: self.next_producer_id,
            });
        }
        out.extend(self.topics.values().cloned().map(MetaRecord::Topic));
        out.extend(self.acls.iter().cloned().map(MetaRecord::CreateAcl));
        for (user, creds) in &self.scram {
            for (mechanism, credential) in creds {
                out.push(MetaRecord::ScramCredential {
                    user: user.clone(),
                    mechanism: *mechanism,
                    credential: credential.clone(),
                });
            }
        }
        for (broker, configs) in &self.broker_configs {
            out.push(MetaRecord::BrokerConfigs {
                broker: broker.clone(),
                configs: configs.clone(),
            });
        }
        out.extend(
            self.transactions
                .values()
                .cloned()
                .map(MetaRecord::Transaction),
        );
        for (group, configs) in &self.group_configs {
            out.push(MetaRecord::GroupConfigs {
                group: group.clone(),
                configs: configs.clone(),
            });
        }
        out
    }
}

#[derive(Debug)]
pub struct MetaLog {
    path: PathBuf,
    file: File,
    /// fsync every append (off only for ephemeral data directories).
    sync: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn encode(record: &MetaRecord) -> Result<Vec<u8>, Error> {
    let json = serde_json::to_string(record).map_err(|e| Error::CorruptMetadata {
        path: PathBuf::new(),
        reason: e.to_string(),
    })?;
    Ok(format!("{:08x} {json}\n", crc32c::crc32c(json.as_bytes())).into_bytes())
}

fn decode(line: &str) -> Option<MetaRecord> {
    let (crc, json) = line.split_once(' ')?;
    let crc = u32::from_str_radix(crc, 16).ok()?;
    if crc32c::crc32c(json.as_bytes()) != crc {
        return None;
    }
    serde_json::from_str(json).ok()
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

impl MetaLog {
    /// Opens (or creates) the metadata log in `dir` and replays it.
    pub fn open(dir: &Path) -> Result<(Self, MetaState), Error> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(META_LOG_NAME);
        let mut state = MetaState::default();
        let mut records = 0usize;
        let mut valid_bytes = 0u64;
        if let Ok(f) = File::open(&path) {
            let mut reader = BufReader::new(f);
            let mut line = String::new();
            loop {
                line.clear();
                let n = match reader.read_line(&mut line) {
                    Ok(n) => n,
                    Err(_) => break,
                };
                if n == 0 || !line.ends_with('\n') {
                    break;
                }
                let Some(record) = decode(line.trim_end_matches('\n')) else {
                    break;
                };
                state.apply(record);
                records += 1;
                valid_bytes += n as u64;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let len = file.metadata().map_err(io(&path))?.len();
        if len > valid_bytes {
            tracing::warn!(path = %path.display(), valid_bytes, file_bytes = len, "cutting torn tail of metadata log");
            file.set_len(valid_bytes).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
        }
        let mut log = Self {
            path,
            file,
            sync: true,
        };
        let live = state.records().len();
        if records > live + META_LOG_GARBAGE_MAX {
            log.rewrite(&state)?;
        }
        Ok((log, state))
    }

    /// Appends and fsyncs one record.
    pub fn append(&mut self, record: &MetaRecord) -> Result<(), Error> {
        self.append_all(std::slice::from_ref(record))
    }

    /// Appends several records with one write and one fsync.
    pub fn append_all(&mut self, records: &[MetaRecord]) -> Result<(), Error> {
        let mut bytes = Vec::new();
        for r in records {
            bytes.extend_from_slice(&encode(r)?);
        }
        self.file.write_all(&bytes).map_err(io(&self.path))?;
        if !self.sync {
            return Ok(());
        }
        self.file.sync_data().map_err(io(&self.path))
    }

    /// Stops fsyncing appends: for a data directory that does not outlive the process
    /// (`--ephemeral`), where durability across a power loss means nothing. Appends still
    /// reach the page cache before they are acknowledged.
    pub fn without_sync(&mut self) {
        self.sync = false;
    }

    /// Replaces the file with just the live records of `state`.
    pub fn rewrite(&mut self, state: &MetaState) -> Result<(), Error> {
        let tmp = self.path.with_extension("log.rewrite");
        {
            let mut f = File::create(&tmp).map_err(io(&tmp))?;
            for r in state.records() {
                f.write_all(&encode(&r)?).map_err(io(&tmp))?;
            }
            f.sync_all().map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir)?;
        }
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(io(&self.path))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str, partitions: i32) -> MetaRecord {
        MetaRecord::Topic(TopicMeta {
            name: name.into(),
            id: "00".repeat(16),
            partitions,
            configs: BTreeMap::new(),
            internal: false,
        })
    }

    #[test]
    fn replays_topics_and_deletions() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut log, state) = MetaLog::open(dir.path()).unwrap();
            assert!(state.topics.is_empty());
            log.append(&topic("a", 1)).unwrap();
            log.append(&topic("b", 3)).unwrap();
            log.append(&MetaRecord::DeleteTopic { name: "a".into() })
                .unwrap();
            log.append(&MetaRecord::ProducerIdBlock { next: 1000 })
                .unwrap();
        }
        let (_, state) = MetaLog::open(dir.path()).unwrap();
        assert_eq!(state.topics.keys().collect::<Vec<_>>(), vec!["b"]);
        assert_eq!(state.next_producer_id, 1000);
    }

    #[test]
    fn security_and_config_records_replay_and_survive_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let acl = |name: &str| AclBinding {
            resource_type: 2,
            resource_name: name.into(),
            pattern_type: 3,
            principal: "User:a".into(),
            host: "*".into(),
            operation: 3,
            permission_type: 3,
        };
        let cred = ScramCredential {
            iterations: 4096,
            salt: "00".into(),
            salted_password: "ff".into(),
        };
        {
            let (mut log, _) = MetaLog::open(dir.path()).unwrap();
            log.append_all(&[
                MetaRecord::CreateAcl(acl("x")),
                MetaRecord::CreateAcl(acl("y")),
                MetaRecord::DeleteAcl(acl("x")),
                MetaRecord::ScramCredential {
                    user: "u".into(),
                    mechanism: 1,
                    credential: cred.clone(),
                },
                MetaRecord::ScramCredential {
                    user: "v".into(),
                    mechanism: 2,
                    credential: cred.clone(),
                },
                MetaRecord::DeleteScramCredential {
                    user: "v".into(),
                    mechanism: 2,
                },
                MetaRecord::BrokerConfigs {
                    broker: "1".into(),
                    configs: [("log.retention.ms".to_string(), "1".to_string())].into(),
                },
                MetaRecord::GroupConfigs {
                    group: "g".into(),
                    configs: [(
                        "consumer.session.timeout.ms".to_string(),
                        "50000".to_string(),
                    )]
                    .into(),
                },
            ])
            .unwrap();
        }
        let (mut log, state) = MetaLog::open(dir.path()).unwrap();
        assert_eq!(state.acls.iter().collect::<Vec<_>>(), vec![&acl("y")]);
        assert_eq!(state.scram.keys().collect::<Vec<_>>(), vec!["u"]);
        assert_eq!(state.broker_configs.len(), 1);
        assert_eq!(state.group_configs["g"].len(), 1);
        log.rewrite(&state).unwrap();
        let (_, again) = MetaLog::open(dir.path()).unwrap();
        assert_eq!(again, state);
    }

    #[test]
    fn torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut log, _) = MetaLog::open(dir.path()).unwrap();
            log.append(&topic("a", 1)).unwrap();
        }
        let path = dir.path().join(META_LOG_NAME);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"deadbeef {\"type\":\"topic\",\"na").unwrap();
        drop(f);
        let (mut log, state) = MetaLog::open(dir.path()).unwrap();
        assert_eq!(state.topics.len(), 1);
        log.append(&topic("c", 2)).unwrap();
        let (_, state) = MetaLog::open(dir.path()).unwrap();
        assert_eq!(state.topics.len(), 2);
    }

    #[test]
    fn rewrite_keeps_live_state() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = MetaLog::open(dir.path()).unwrap();
        let mut state = MetaState::default();
        for i in 0..50 {
            let r = topic(&format!("t{i}"), 1);
            log.append(&r).unwrap();
            state.apply(r);
            let d = MetaRecord::DeleteTopic {
                name: format!("t{i}"),
            };
            log.append(&d).unwrap();
            state.apply(d);
        }
        log.append(&topic("keep", 4)).unwrap();
        state.apply(topic("keep", 4));
        log.rewrite(&state).unwrap();
        let (_, again) = MetaLog::open(dir.path()).unwrap();
        assert_eq!(again, state);
        let lines = std::fs::read_to_string(dir.path().join(META_LOG_NAME))
            .unwrap()
            .lines()
            .count();
        assert_eq!(lines, 1);
    }
}
