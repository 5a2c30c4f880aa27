//! The metadata file of Strom before the metadata log (`<data>/__strom_metadata.log`, one
//! JSON record per line behind its CRC-32C as 8 hex digits), read once when such a data
//! directory is first opened: its topics, configs, ACLs, credentials and producer-id block
//! become metadata records, its cluster id goes to `meta.properties`, and its transactions
//! to `__transaction_state`. Reading stops at the first torn or corrupt line, as the old
//! replay did; the file is never written.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::records::{
    AclBinding, MetadataRecord, ScramCredential, TopicId, CONFIG_BROKER, CONFIG_GROUP, CONFIG_TOPIC,
};

/// The file's name in the data directory.
pub const LEGACY_FILE: &str = "__strom_metadata.log";
/// What it is renamed to once its content is in the metadata log and `__transaction_state`.
pub const MIGRATED_FILE: &str = "__strom_metadata.log.migrated";

#[derive(Debug, Clone, Deserialize)]
struct TopicMeta {
    name: String,
    /// 32 hex digits.
    id: String,
    partitions: i32,
    configs: BTreeMap<String, String>,
    #[serde(default)]
    internal: bool,
}

/// Kafka's `TransactionState`, as the old file spelled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
}

/// An offset a transaction commits for a group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TxnOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// A transactional id's coordinator state as the old file kept it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TxnRecord {
    pub transactional_id: String,
    pub producer_id: i64,
    pub epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    pub offsets: BTreeMap<String, Vec<TxnOffset>>,
    pub start_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum LegacyRecord {
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
    BrokerConfigs {
        broker: String,
        configs: BTreeMap<String, String>,
    },
    Transaction(TxnRecord),
    GroupConfigs {
        group: String,
        configs: BTreeMap<String, String>,
    },
}

/// What the old file adds up to.
#[derive(Debug, Clone, Default)]
pub struct LegacyMetadata {
    topics: BTreeMap<String, TopicMeta>,
    next_producer_id: i64,
    pub cluster_id: Option<String>,
    acls: BTreeSet<AclBinding>,
    scram: BTreeMap<String, BTreeMap<i8, ScramCredential>>,
    broker_configs: BTreeMap<String, BTreeMap<String, String>>,
    group_configs: BTreeMap<String, BTreeMap<String, String>>,
    pub transactions: BTreeMap<String, TxnRecord>,
}

impl LegacyMetadata {
    fn apply(&mut self, record: LegacyRecord) {
        match record {
            LegacyRecord::Topic(t) => {
                self.topics.insert(t.name.clone(), t);
            }
            LegacyRecord::DeleteTopic { name } => {
                self.topics.remove(&name);
            }
            LegacyRecord::ProducerIdBlock { next } => {
                self.next_producer_id = next.max(self.next_producer_id);
            }
            LegacyRecord::ClusterId { id } => self.cluster_id = Some(id),
            LegacyRecord::CreateAcl(b) => {
                self.acls.insert(b);
            }
            LegacyRecord::DeleteAcl(b) => {
                self.acls.remove(&b);
            }
            LegacyRecord::ScramCredential {
                user,
                mechanism,
                credential,
            } => {
                self.scram
                    .entry(user)
                    .or_default()
                    .insert(mechanism, credential);
            }
            LegacyRecord::DeleteScramCredential { user, mechanism } => {
                if let Some(m) = self.scram.get_mut(&user) {
                    m.remove(&mechanism);
                    if m.is_empty() {
                        self.scram.remove(&user);
                    }
                }
            }
            LegacyRecord::BrokerConfigs { broker, configs } => {
                self.broker_configs.insert(broker, configs);
            }
            LegacyRecord::Transaction(t) => {
                self.transactions.insert(t.transactional_id.clone(), t);
            }
            LegacyRecord::GroupConfigs { group, configs } => {
                self.group_configs.insert(group, configs);
            }
        }
    }

    /// The metadata as records of the metadata log; every partition is led by `node_id`,
    /// the only broker there was, in leader epoch 0 (the epoch its batches carry).
    pub fn to_records(&self, node_id: i32) -> Vec<MetadataRecord> {
        let mut out = Vec::new();
        for t in self.topics.values() {
            let topic_id = parse_hex_uuid(&t.id).unwrap_or_else(|| {
                // Never written without one; a stable stand-in keeps the name usable.
                let crc = crc32c::crc32c(t.name.as_bytes()).to_be_bytes();
                let mut id = [0u8; 16];
                for (i, b) in id.iter_mut().enumerate() {
                    *b = crc.get(i % 4).copied().unwrap_or(0) ^ u8::try_from(i).unwrap_or(0);
                }
                id
            });
            let topic_id = TopicId(topic_id);
            out.push(MetadataRecord::Topic {
                name: t.name.clone(),
                topic_id,
                internal: t.internal,
            });
            for partition in 0..t.partitions {
                out.push(MetadataRecord::Partition {
                    topic_id,
                    partition,
                    replicas: vec![node_id],
                    isr: vec![node_id],
                    leader: node_id,
                    leader_epoch: 0,
                    partition_epoch: 0,
                });
            }
            push_configs(&mut out, CONFIG_TOPIC, &t.name, &t.configs);
        }
        for (broker, configs) in &self.broker_configs {
            push_configs(&mut out, CONFIG_BROKER, broker, configs);
        }
        for (group, configs) in &self.group_configs {
            push_configs(&mut out, CONFIG_GROUP, group, configs);
        }
        out.extend(self.acls.iter().cloned().map(MetadataRecord::Acl));
        for (user, creds) in &self.scram {
            for (mechanism, credential) in creds {
                out.push(MetadataRecord::UserScramCredential {
                    user: user.clone(),
                    mechanism: *mechanism,
                    credential: credential.clone(),
                });
            }
        }
        if self.next_producer_id > 0 {
            out.push(MetadataRecord::ProducerIds {
                next_producer_id: self.next_producer_id,
            });
        }
        out
    }
}

fn push_configs(
    out: &mut Vec<MetadataRecord>,
    resource_type: i8,
    resource_name: &str,
    configs: &BTreeMap<String, String>,
) {
    for (name, value) in configs {
        out.push(MetadataRecord::Config {
            resource_type,
            resource_name: resource_name.to_string(),
            name: name.clone(),
            value: Some(value.clone()),
        });
    }
}

/// A UUID in its 32-hex-digit form.
fn parse_hex_uuid(text: &str) -> Option<[u8; 16]> {
    let digits: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
    if digits.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in digits.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        *out.get_mut(i)? = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

fn decode(line: &str) -> Option<LegacyRecord> {
    let (crc, json) = line.split_once(' ')?;
    let crc = u32::from_str_radix(crc, 16).ok()?;
    if crc32c::crc32c(json.as_bytes()) != crc {
        return None;
    }
    serde_json::from_str(json).ok()
}

/// The old file of `data_dir`, if there is one.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(LEGACY_FILE)
}

/// Reads the old file of `data_dir`; `None` when there is none.
///
/// # Errors
/// It exists but cannot be read.
pub fn read(data_dir: &Path) -> std::io::Result<Option<LegacyMetadata>> {
    let file = match std::fs::File::open(path(data_dir)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut state = LegacyMetadata::default();
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let mut records = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 || !line.ends_with('\n') {
            break;
        }
        let Some(record) = decode(line.trim_end_matches('\n')) else {
            tracing::warn!(
                records,
                "the old metadata file ends in a torn or corrupt line; what follows it is ignored"
            );
            break;
        };
        state.apply(record);
        records += 1;
    }
    Ok(Some(state))
}

/// Renames the old file aside once everything in it is stored elsewhere.
///
/// # Errors
/// The rename fails.
pub fn retire(data_dir: &Path) -> std::io::Result<()> {
    match std::fs::rename(path(data_dir), data_dir.join(MIGRATED_FILE)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::MetadataImage;

    fn line(json: &str) -> String {
        format!("{:08x} {json}\n", crc32c::crc32c(json.as_bytes()))
    }

    #[test]
    fn an_old_file_becomes_records_that_build_the_same_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::new();
        text += &line(r#"{"type":"cluster_id","id":"K1H2zwLnQ4yjMK2IkhI-5g"}"#);
        text += &line(
            r#"{"type":"topic","name":"a","id":"0123456789abcdef0123456789abcdef","partitions":2,"configs":{"retention.ms":"1000"}}"#,
        );
        text += &line(
            r#"{"type":"topic","name":"gone","id":"ffffffffffffffffffffffffffffffff","partitions":1,"configs":{}}"#,
        );
        text += &line(r#"{"type":"delete_topic","name":"gone"}"#);
        text += &line(r#"{"type":"producer_id_block","next":2000}"#);
        text += &line(
            r#"{"type":"create_acl","resource_type":2,"resource_name":"a","pattern_type":3,"principal":"User:x","host":"*","operation":3,"permission_type":3}"#,
        );
        text +=
            &line(r#"{"type":"broker_configs","broker":"","configs":{"log.retention.ms":"5000"}}"#);
        text += &line(
            r#"{"type":"group_configs","group":"g","configs":{"consumer.session.timeout.ms":"50000"}}"#,
        );
        text += &line(
            r#"{"type":"transaction","transactional_id":"t","producer_id":7,"epoch":1,"timeout_ms":60000,"state":"ongoing","partitions":[["a",0]],"offsets":{},"start_ms":1,"updated_ms":2}"#,
        );
        text += "0000 torn";
        std::fs::write(path(dir.path()), text).unwrap();
        let legacy = read(dir.path()).unwrap().unwrap();
        assert_eq!(legacy.cluster_id.as_deref(), Some("K1H2zwLnQ4yjMK2IkhI-5g"));
        assert_eq!(legacy.transactions["t"].state, TxnState::Ongoing);
        let mut image = MetadataImage::empty();
        image.apply_batch(0, legacy.to_records(1));
        let a = image.topics.get("a").unwrap();
        assert_eq!(a.id.0[0], 0x01);
        assert_eq!(a.partitions.len(), 2);
        assert!(image.topics.get("gone").is_none());
        assert_eq!(image.configs_of(CONFIG_TOPIC, "a")["retention.ms"], "1000");
        assert_eq!(
            image.configs_of(CONFIG_BROKER, "")["log.retention.ms"],
            "5000"
        );
        assert_eq!(image.configs_of(CONFIG_GROUP, "g").len(), 1);
        assert_eq!(image.acls.len(), 1);
        assert_eq!(image.next_producer_id, 2000);
        retire(dir.path()).unwrap();
        assert!(read(dir.path()).unwrap().is_none());
        assert!(dir.path().join(MIGRATED_FILE).exists());
    }
}
