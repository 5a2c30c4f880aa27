//! The topics of the image: names, ids, and each partition's replicas, in-sync replicas,
//! leader and epochs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::records::{MetadataRecord, TopicId};

/// One partition (Kafka's `PartitionRegistration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionImage {
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub leader: i32,
    /// Moves when the leader does.
    pub leader_epoch: i32,
    /// Moves with every change.
    pub partition_epoch: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicImage {
    pub name: String,
    pub id: TopicId,
    pub internal: bool,
    pub partitions: BTreeMap<i32, PartitionImage>,
}

impl TopicImage {
    pub fn partition_count(&self) -> i32 {
        i32::try_from(self.partitions.len()).unwrap_or(i32::MAX)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicsImage {
    by_name: BTreeMap<String, Arc<TopicImage>>,
    by_id: HashMap<TopicId, String>,
}

impl TopicsImage {
    pub fn get(&self, name: &str) -> Option<&Arc<TopicImage>> {
        self.by_name.get(name)
    }

    pub fn by_id(&self, id: TopicId) -> Option<&Arc<TopicImage>> {
        self.by_name.get(self.by_id.get(&id)?)
    }

    /// Every topic, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<TopicImage>> {
        self.by_name.values()
    }

    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    fn topic_mut(&mut self, id: TopicId) -> Option<&mut TopicImage> {
        let name = self.by_id.get(&id)?;
        self.by_name.get_mut(name).map(Arc::make_mut)
    }

    pub(super) fn add_topic(&mut self, name: String, id: TopicId, internal: bool) {
        if let Some(old) = self.by_name.get(&name) {
            // A record naming an existing topic replaces it (a re-creation after deletion
            // replayed over an old snapshot).
            self.by_id.remove(&old.id);
        }
        self.by_id.insert(id, name.clone());
        self.by_name.insert(
            name.clone(),
            Arc::new(TopicImage {
                name,
                id,
                internal,
                partitions: BTreeMap::new(),
            }),
        );
    }

    pub(super) fn set_partition(&mut self, id: TopicId, partition: i32, p: PartitionImage) {
        match self.topic_mut(id) {
            Some(t) => {
                t.partitions.insert(partition, p);
            }
            None => {
                tracing::warn!(topic_id = %id, partition, "a partition record of an unknown topic")
            }
        }
    }

    pub(super) fn change_partition(
        &mut self,
        id: TopicId,
        partition: i32,
        leader: Option<i32>,
        isr: Option<Vec<i32>>,
        replicas: Option<Vec<i32>>,
    ) {
        let Some(p) = self
            .topic_mut(id)
            .and_then(|t| t.partitions.get_mut(&partition))
        else {
            tracing::warn!(topic_id = %id, partition, "a change of an unknown partition");
            return;
        };
        if let Some(leader) = leader {
            if leader != p.leader {
                p.leader = leader;
                p.leader_epoch += 1;
            }
        }
        if let Some(isr) = isr {
            p.isr = isr;
        }
        if let Some(replicas) = replicas {
            p.replicas = replicas;
        }
        p.partition_epoch += 1;
    }

    /// Removes a topic; returns its name.
    pub(super) fn remove_topic(&mut self, id: TopicId) -> Option<String> {
        let name = self.by_id.remove(&id)?;
        self.by_name.remove(&name);
        Some(name)
    }

    pub(super) fn to_records(&self, out: &mut Vec<MetadataRecord>) {
        for t in self.by_name.values() {
            out.push(MetadataRecord::Topic {
                name: t.name.clone(),
                topic_id: t.id,
                internal: t.internal,
            });
            for (partition, p) in &t.partitions {
                out.push(MetadataRecord::Partition {
                    topic_id: t.id,
                    partition: *partition,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                    partition_epoch: p.partition_epoch,
                });
            }
        }
    }

    pub(super) fn check(&self) -> Result<(), String> {
        if self.by_name.len() != self.by_id.len() {
            return Err("the topic name and id indexes disagree".into());
        }
        for t in self.by_name.values() {
            if self.by_id.get(&t.id) != Some(&t.name) {
                return Err(format!("topic {} is not indexed by its id", t.name));
            }
            for (expected, (index, p)) in t.partitions.iter().enumerate() {
                if usize::try_from(*index).ok() != Some(expected) {
                    return Err(format!("topic {} lacks partition {expected}", t.name));
                }
                let leaderless = p.leader < 0;
                if !leaderless && (!p.replicas.contains(&p.leader) || !p.isr.contains(&p.leader)) {
                    return Err(format!(
                        "{}-{index}: leader {} outside its replicas or ISR",
                        t.name, p.leader
                    ));
                }
            }
        }
        Ok(())
    }
}
