//! The metadata image (Kafka's `MetadataImage`): what the records of the metadata log add up
//! to at one offset. Handlers read it; nothing but [`MetadataImage::apply`] changes it. Its
//! sections are shared (`Arc`): an image handed to readers costs a few reference counts, and
//! a change copies only the section it touches.
//!
//! Invariants (checked by [`MetadataImage::check`]): every partition's leader is one of its
//! replicas and in its ISR; a topic's partitions are numbered `0..n`; the id index and the
//! name index agree.

mod topics;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::records::{
    AclBinding, Endpoint, MetadataRecord, ScramCredential, TopicId, CONFIG_TOPIC,
};

pub use topics::{PartitionImage, TopicImage, TopicsImage};

/// A registered broker (Kafka's `BrokerRegistration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerRegistration {
    pub broker_id: i32,
    pub incarnation_id: String,
    pub endpoints: Vec<Endpoint>,
    pub rack: Option<String>,
    pub fenced: bool,
}

/// A config resource: `(resource type, name)`, as `ConfigRecord` names it.
pub type ConfigResource = (i8, String);

#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetadataImage {
    /// The offset of the last record batch applied (-1: none).
    pub offset: i64,
    pub brokers: Arc<BTreeMap<i32, BrokerRegistration>>,
    pub features: Arc<BTreeMap<String, i16>>,
    pub topics: Arc<TopicsImage>,
    /// Overrides of topics, brokers and groups.
    pub configs: Arc<BTreeMap<ConfigResource, BTreeMap<String, String>>>,
    pub acls: Arc<BTreeSet<AclBinding>>,
    /// user -> mechanism -> credential.
    pub scram: Arc<BTreeMap<String, BTreeMap<i8, ScramCredential>>>,
    /// Producer ids below this are reserved.
    pub next_producer_id: i64,
}

impl MetadataImage {
    /// An image of nothing.
    pub fn empty() -> Self {
        Self {
            offset: -1,
            ..Self::default()
        }
    }

    /// The overrides of a config resource (empty when it has none).
    pub fn configs_of(&self, resource_type: i8, name: &str) -> BTreeMap<String, String> {
        self.configs
            .get(&(resource_type, name.to_string()))
            .cloned()
            .unwrap_or_default()
    }

    /// Applies one record.
    pub fn apply(&mut self, record: MetadataRecord) {
        match record {
            MetadataRecord::RegisterBroker {
                broker_id,
                incarnation_id,
                endpoints,
                rack,
                fenced,
            } => {
                Arc::make_mut(&mut self.brokers).insert(
                    broker_id,
                    BrokerRegistration {
                        broker_id,
                        incarnation_id,
                        endpoints,
                        rack,
                        fenced,
                    },
                );
            }
            MetadataRecord::BrokerRegistrationChange { broker_id, fenced } => {
                match Arc::make_mut(&mut self.brokers).get_mut(&broker_id) {
                    Some(b) => b.fenced = fenced,
                    None => tracing::warn!(broker_id, "a change of an unregistered broker"),
                }
            }
            MetadataRecord::FeatureLevel { name, level } => {
                Arc::make_mut(&mut self.features).insert(name, level);
            }
            MetadataRecord::Topic {
                name,
                topic_id,
                internal,
            } => Arc::make_mut(&mut self.topics).add_topic(name, topic_id, internal),
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
            } => Arc::make_mut(&mut self.topics).set_partition(
                topic_id,
                partition,
                PartitionImage {
                    replicas,
                    isr,
                    leader,
                    leader_epoch,
                    partition_epoch,
                },
            ),
            MetadataRecord::PartitionChange {
                topic_id,
                partition,
                leader,
                isr,
                replicas,
            } => Arc::make_mut(&mut self.topics)
                .change_partition(topic_id, partition, leader, isr, replicas),
            MetadataRecord::RemoveTopic { topic_id } => {
                if let Some(name) = Arc::make_mut(&mut self.topics).remove_topic(topic_id) {
                    // As Kafka's controller: a deleted topic's configs go with it.
                    Arc::make_mut(&mut self.configs).remove(&(CONFIG_TOPIC, name));
                }
            }
            MetadataRecord::Config {
                resource_type,
                resource_name,
                name,
                value,
            } => {
                let configs = Arc::make_mut(&mut self.configs);
                let key = (resource_type, resource_name);
                match value {
                    Some(v) => {
                        configs.entry(key).or_default().insert(name, v);
                    }
                    None => {
                        if let Some(map) = configs.get_mut(&key) {
                            map.remove(&name);
                            if map.is_empty() {
                                configs.remove(&key);
                            }
                        }
                    }
                }
            }
            MetadataRecord::Acl(b) => {
                Arc::make_mut(&mut self.acls).insert(b);
            }
            MetadataRecord::RemoveAcl(b) => {
                Arc::make_mut(&mut self.acls).remove(&b);
            }
            MetadataRecord::UserScramCredential {
                user,
                mechanism,
                credential,
            } => {
                Arc::make_mut(&mut self.scram)
                    .entry(user)
                    .or_default()
                    .insert(mechanism, credential);
            }
            MetadataRecord::RemoveUserScramCredential { user, mechanism } => {
                let scram = Arc::make_mut(&mut self.scram);
                if let Some(m) = scram.get_mut(&user) {
                    m.remove(&mechanism);
                    if m.is_empty() {
                        scram.remove(&user);
                    }
                }
            }
            MetadataRecord::ProducerIds { next_producer_id } => {
                self.next_producer_id = self.next_producer_id.max(next_producer_id);
            }
        }
    }

    /// Applies a batch of records written together at `offset`.
    pub fn apply_batch(&mut self, offset: i64, records: impl IntoIterator<Item = MetadataRecord>) {
        debug_assert!(
            offset > self.offset || (offset == self.offset && offset < 0),
            "metadata batch at {offset} applied after {}",
            self.offset
        );
        for r in records {
            self.apply(r);
        }
        self.offset = offset;
        debug_assert!(self.check().is_ok(), "{:?}", self.check());
    }

    /// The image as records that rebuild it (a snapshot's content).
    pub fn to_records(&self) -> Vec<MetadataRecord> {
        let mut out = Vec::new();
        for b in self.brokers.values() {
            out.push(MetadataRecord::RegisterBroker {
                broker_id: b.broker_id,
                incarnation_id: b.incarnation_id.clone(),
                endpoints: b.endpoints.clone(),
                rack: b.rack.clone(),
                fenced: b.fenced,
            });
        }
        for (name, level) in self.features.iter() {
            out.push(MetadataRecord::FeatureLevel {
                name: name.clone(),
                level: *level,
            });
        }
        self.topics.to_records(&mut out);
        for ((resource_type, resource_name), configs) in self.configs.iter() {
            for (name, value) in configs {
                out.push(MetadataRecord::Config {
                    resource_type: *resource_type,
                    resource_name: resource_name.clone(),
                    name: name.clone(),
                    value: Some(value.clone()),
                });
            }
        }
        out.extend(self.acls.iter().cloned().map(MetadataRecord::Acl));
        for (user, creds) in self.scram.iter() {
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

    /// Checks the documented invariants; `Err` names the first broken one.
    pub fn check(&self) -> Result<(), String> {
        self.topics.check()
    }

    /// A topic's id by name.
    pub fn topic_id(&self, name: &str) -> Option<TopicId> {
        self.topics.get(name).map(|t| t.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic_records(name: &str, id: u8, partitions: i32) -> Vec<MetadataRecord> {
        let topic_id = TopicId([id; 16]);
        let mut v = vec![MetadataRecord::Topic {
            name: name.into(),
            topic_id,
            internal: false,
        }];
        for partition in 0..partitions {
            v.push(MetadataRecord::Partition {
                topic_id,
                partition,
                replicas: vec![1],
                isr: vec![1],
                leader: 1,
                leader_epoch: 0,
                partition_epoch: 0,
            });
        }
        v
    }

    #[test]
    fn records_build_the_image_and_the_image_rebuilds_from_its_records() {
        let mut image = MetadataImage::empty();
        image.apply_batch(0, topic_records("a", 1, 3));
        image.apply_batch(
            1,
            vec![
                MetadataRecord::Config {
                    resource_type: CONFIG_TOPIC,
                    resource_name: "a".into(),
                    name: "retention.ms".into(),
                    value: Some("1000".into()),
                },
                MetadataRecord::ProducerIds {
                    next_producer_id: 2000,
                },
                MetadataRecord::FeatureLevel {
                    name: "metadata.version".into(),
                    level: 27,
                },
            ],
        );
        image.apply_batch(2, topic_records("b", 2, 1));
        assert_eq!(image.topics.get("a").map(|t| t.partitions.len()), Some(3));
        assert_eq!(image.configs_of(CONFIG_TOPIC, "a")["retention.ms"], "1000");
        let mut rebuilt = MetadataImage::empty();
        rebuilt.apply_batch(2, image.to_records());
        assert_eq!(rebuilt, image);
        // Removing a topic takes its configs along.
        image.apply_batch(
            3,
            vec![MetadataRecord::RemoveTopic {
                topic_id: TopicId([1; 16]),
            }],
        );
        assert!(image.topics.get("a").is_none());
        assert!(image.configs_of(CONFIG_TOPIC, "a").is_empty());
        assert!(image.topic_id("b").is_some());
    }

    #[test]
    fn a_leader_change_bumps_the_epochs() {
        let mut image = MetadataImage::empty();
        let mut records = topic_records("a", 1, 1);
        if let Some(MetadataRecord::Partition { replicas, isr, .. }) = records.get_mut(1) {
            *replicas = vec![1, 2];
            *isr = vec![1, 2];
        }
        image.apply_batch(0, records);
        image.apply_batch(
            1,
            vec![MetadataRecord::PartitionChange {
                topic_id: TopicId([1; 16]),
                partition: 0,
                leader: Some(2),
                isr: Some(vec![2]),
                replicas: None,
            }],
        );
        let p = image
            .topics
            .get("a")
            .and_then(|t| t.partitions.get(&0))
            .cloned();
        let p = p.unwrap();
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 1));
        image.apply_batch(
            2,
            vec![MetadataRecord::PartitionChange {
                topic_id: TopicId([1; 16]),
                partition: 0,
                leader: None,
                isr: Some(vec![2, 1]),
                replicas: None,
            }],
        );
        let p = image
            .topics
            .get("a")
            .and_then(|t| t.partitions.get(&0))
            .cloned();
        let p = p.unwrap();
        assert_eq!((p.leader_epoch, p.partition_epoch), (1, 2), "the ISR alone");
    }

    #[test]
    fn shared_sections_are_copied_only_when_changed() {
        let mut image = MetadataImage::empty();
        image.apply_batch(0, topic_records("a", 1, 1));
        let reader = image.clone();
        image.apply_batch(
            1,
            vec![MetadataRecord::Acl(AclBinding {
                resource_type: 2,
                resource_name: "a".into(),
                pattern_type: 3,
                principal: "User:x".into(),
                host: "*".into(),
                operation: 3,
                permission_type: 3,
            })],
        );
        assert!(Arc::ptr_eq(&reader.topics, &image.topics));
        assert!(!Arc::ptr_eq(&reader.acls, &image.acls));
        assert!(reader.acls.is_empty());
    }
}
