//! Topic decisions (Kafka's `ReplicationControlManager`): creation with placement, deletion,
//! growth in partitions.

use std::collections::{BTreeMap, BTreeSet};

use strom_codec::ErrorCode;

use super::placement::{place_replicas, usable_brokers};
use super::{ApiError, Controller, Outcome, Scratch};
use crate::records::{MetadataRecord, TopicId, CONFIG_TOPIC};

/// Longest topic name Kafka allows (`Topic.MAX_NAME_LENGTH`).
pub const TOPIC_NAME_BYTES_MAX: usize = 249;
/// Most partitions one topic may have.
pub const PARTITIONS_PER_TOPIC_MAX: i32 = 10_000;

/// A topic to create, as CreateTopics asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    /// `None`: `num.partitions`.
    pub partitions: Option<i32>,
    /// `None`: `default.replication.factor`.
    pub replication_factor: Option<i16>,
    /// Manual placement: partition index -> replicas (the first is the preferred leader).
    /// Exclusive with a partition count or replication factor.
    pub assignments: BTreeMap<i32, Vec<i32>>,
    pub configs: BTreeMap<String, String>,
    /// Kafka's internal topics (`__consumer_offsets`, `__transaction_state`).
    pub internal: bool,
}

/// What a creation made (or, validating only, would make).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTopic {
    pub topic_id: TopicId,
    pub partitions: i32,
    pub replication_factor: i16,
}

/// A topic named by a request: by name, or (DeleteTopics v6+) by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicRef {
    Name(String),
    Id(TopicId),
}

/// Partitions to add to a topic (CreatePartitions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartitions {
    pub name: String,
    /// The total the topic is to have.
    pub count: i32,
    /// Replicas of each new partition, in order; `None`: placed by the controller.
    pub assignments: Option<Vec<Vec<i32>>>,
}

/// Kafka's `Topic.validate`: 1-249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
///
/// # Errors
/// INVALID_TOPIC_EXCEPTION, saying why.
pub fn validate_topic_name(name: &str) -> Outcome<()> {
    let invalid = |why: &str| {
        Err(ApiError::new(
            ErrorCode::InvalidTopicException,
            format!("topic name {name:?} is illegal, {why}"),
        ))
    };
    if name.is_empty() {
        return invalid("it is empty");
    }
    if name == "." || name == ".." {
        return invalid("it cannot be '.' or '..'");
    }
    if name.len() > TOPIC_NAME_BYTES_MAX {
        return invalid(&format!(
            "it is longer than {TOPIC_NAME_BYTES_MAX} characters"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return invalid("it contains characters other than ASCII alphanumerics, '.', '_' and '-'");
    }
    Ok(())
}

/// Kafka refuses a name that differs from an existing one only in '.' versus '_' (they
/// collide in metric names).
fn colliding_topic(scratch: &Scratch, name: &str) -> Option<String> {
    let unified = |n: &str| n.replace('.', "_");
    let wanted = unified(name);
    scratch
        .image
        .topics
        .iter()
        .find(|t| t.name != name && unified(&t.name) == wanted)
        .map(|t| t.name.clone())
}

impl Controller {
    pub(super) fn create_topic(
        &self,
        scratch: &mut Scratch,
        topic: NewTopic,
        validate_only: bool,
        new_topic_id: &mut dyn FnMut() -> TopicId,
    ) -> Outcome<CreatedTopic> {
        validate_topic_name(&topic.name)?;
        if scratch.image.topics.get(&topic.name).is_some() {
            return Err(ApiError::new(
                ErrorCode::TopicAlreadyExists,
                format!("topic '{}' already exists", topic.name),
            ));
        }
        if let Some(other) = colliding_topic(scratch, &topic.name) {
            return Err(ApiError::new(
                ErrorCode::InvalidTopicException,
                format!(
                    "topic '{}' collides with existing topic '{other}' ('.' and '_' are the same in metric names)",
                    topic.name
                ),
            ));
        }
        let assignments = if topic.assignments.is_empty() {
            self.placed(scratch, &topic)?
        } else {
            manual_assignments(scratch, &topic)?
        };
        self.schema
            .validate(&scratch.image, CONFIG_TOPIC, &topic.name, &topic.configs)?;
        let partitions = i32::try_from(assignments.len()).unwrap_or(i32::MAX);
        let replication_factor = assignments
            .first()
            .map_or(0, |r| i16::try_from(r.len()).unwrap_or(i16::MAX));
        let topic_id = new_topic_id();
        if !validate_only {
            let mut records = vec![MetadataRecord::Topic {
                name: topic.name.clone(),
                topic_id,
                internal: topic.internal,
            }];
            for (key, value) in &topic.configs {
                records.push(MetadataRecord::Config {
                    resource_type: CONFIG_TOPIC,
                    resource_name: topic.name.clone(),
                    name: key.clone(),
                    value: Some(value.clone()),
                });
            }
            for (index, replicas) in (0..).zip(assignments) {
                records.push(new_partition(scratch, topic_id, index, replicas));
            }
            scratch.push(records);
        }
        Ok(CreatedTopic {
            topic_id,
            partitions,
            replication_factor,
        })
    }

    /// Replicas for a topic created with a count and a replication factor.
    fn placed(&self, scratch: &Scratch, topic: &NewTopic) -> Outcome<Vec<Vec<i32>>> {
        let partitions = topic.partitions.unwrap_or(self.config.default_partitions);
        check_partition_count(partitions)?;
        let replication = topic
            .replication_factor
            .unwrap_or(self.config.default_replication_factor);
        if replication <= 0 {
            return Err(ApiError::new(
                ErrorCode::InvalidReplicationFactor,
                format!("replication factor must be larger than 0, got {replication}"),
            ));
        }
        let brokers = usable_brokers(&scratch.image);
        place_replicas(
            &brokers,
            0..partitions,
            replication,
            topic_seed(&topic.name),
        )
    }
}

fn check_partition_count(partitions: i32) -> Outcome<()> {
    if partitions <= 0 {
        return Err(ApiError::new(
            ErrorCode::InvalidPartitions,
            format!("number of partitions must be larger than 0, got {partitions}"),
        ));
    }
    if partitions > PARTITIONS_PER_TOPIC_MAX {
        return Err(ApiError::new(
            ErrorCode::InvalidPartitions,
            format!("number of partitions {partitions} is above the limit of {PARTITIONS_PER_TOPIC_MAX}"),
        ));
    }
    Ok(())
}

/// Where placement starts for a topic: spread over the brokers by name, and the same for
/// the same name (so that decisions replay identically).
fn topic_seed(name: &str) -> usize {
    usize::try_from(crc32c::crc32c(name.as_bytes())).unwrap_or(0)
}

/// Checks replicas given by hand: partitions `0..n`, each with the same number of distinct
/// registered brokers.
fn manual_assignments(scratch: &Scratch, topic: &NewTopic) -> Outcome<Vec<Vec<i32>>> {
    if topic.partitions.is_some() || topic.replication_factor.is_some() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "both partition assignments and numPartitions/replicationFactor were set; set only one",
        ));
    }
    let count = i32::try_from(topic.assignments.len()).unwrap_or(i32::MAX);
    check_partition_count(count)?;
    if topic.assignments.keys().copied().ne(0..count) {
        return Err(ApiError::new(
            ErrorCode::InvalidReplicaAssignment,
            "partitions in manual assignments must be numbered 0..n without gaps",
        ));
    }
    let assignments: Vec<Vec<i32>> = topic.assignments.values().cloned().collect();
    check_replicas(scratch, &assignments, None)?;
    Ok(assignments)
}

/// Checks manual replica lists: non-empty, distinct, registered, all of one length
/// (`expected`, when the topic already has one).
fn check_replicas(scratch: &Scratch, lists: &[Vec<i32>], expected: Option<usize>) -> Outcome<()> {
    let expected = expected.or_else(|| lists.first().map(Vec::len));
    for replicas in lists {
        if replicas.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidReplicaAssignment,
                "a partition needs at least one replica",
            ));
        }
        if Some(replicas.len()) != expected {
            return Err(ApiError::new(
                ErrorCode::InvalidReplicaAssignment,
                format!(
                    "all partitions must have the same number of replicas ({})",
                    expected.unwrap_or_default()
                ),
            ));
        }
        let distinct: BTreeSet<i32> = replicas.iter().copied().collect();
        if distinct.len() != replicas.len() {
            return Err(ApiError::new(
                ErrorCode::InvalidReplicaAssignment,
                format!("duplicate brokers in the replicas {replicas:?}"),
            ));
        }
        if let Some(b) = replicas
            .iter()
            .find(|b| !scratch.image.brokers.contains_key(b))
        {
            return Err(ApiError::new(
                ErrorCode::InvalidReplicaAssignment,
                format!("broker {b} is not registered"),
            ));
        }
    }
    Ok(())
}

/// A partition record: the ISR is the replicas that are not fenced, the leader the first of
/// them (-1 when every replica is fenced).
fn new_partition(
    scratch: &Scratch,
    topic_id: TopicId,
    partition: i32,
    replicas: Vec<i32>,
) -> MetadataRecord {
    let isr: Vec<i32> = replicas
        .iter()
        .copied()
        .filter(|b| scratch.image.brokers.get(b).is_some_and(|r| !r.fenced))
        .collect();
    let leader = isr.first().copied().unwrap_or(-1);
    MetadataRecord::Partition {
        topic_id,
        partition,
        replicas,
        isr,
        leader,
        leader_epoch: 0,
        partition_epoch: 0,
    }
}

pub(super) fn delete_topic(scratch: &mut Scratch, topic: &TopicRef) -> Outcome<(String, TopicId)> {
    let found = match topic {
        TopicRef::Name(name) => scratch.image.topics.get(name).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownTopicOrPartition,
                format!("topic '{name}' does not exist"),
            )
        })?,
        TopicRef::Id(id) => scratch.image.topics.by_id(*id).ok_or_else(|| {
            ApiError::new(ErrorCode::UnknownTopicId, format!("no topic has id {id}"))
        })?,
    };
    if found.internal {
        return Err(ApiError::new(
            ErrorCode::InvalidTopicException,
            format!("the internal topic {} cannot be deleted", found.name),
        ));
    }
    let (name, topic_id) = (found.name.clone(), found.id);
    scratch.push(vec![MetadataRecord::RemoveTopic { topic_id }]);
    Ok((name, topic_id))
}

pub(super) fn create_partitions(
    scratch: &mut Scratch,
    request: NewPartitions,
    validate_only: bool,
) -> Outcome<()> {
    let Some(topic) = scratch.image.topics.get(&request.name).cloned() else {
        return Err(ApiError::new(
            ErrorCode::UnknownTopicOrPartition,
            format!("topic '{}' does not exist", request.name),
        ));
    };
    if topic.internal {
        return Err(ApiError::new(
            ErrorCode::InvalidPartitions,
            format!(
                "the internal topic {} cannot get more partitions",
                request.name
            ),
        ));
    }
    let current = topic.partition_count();
    if request.count <= current {
        return Err(ApiError::new(
            ErrorCode::InvalidPartitions,
            format!(
                "topic currently has {current} partitions, which is higher than or equal to the requested {}",
                request.count
            ),
        ));
    }
    check_partition_count(request.count)?;
    let replication = topic.partitions.get(&0).map_or(1, |p| p.replicas.len());
    let added = usize::try_from(request.count - current).unwrap_or(0);
    let lists = match request.assignments {
        Some(lists) => {
            if lists.len() != added {
                return Err(ApiError::new(
                    ErrorCode::InvalidReplicaAssignment,
                    format!("{} assignments for {added} new partitions", lists.len()),
                ));
            }
            check_replicas(scratch, &lists, Some(replication))?;
            lists
        }
        None => place_replicas(
            &usable_brokers(&scratch.image),
            current..request.count,
            i16::try_from(replication).unwrap_or(i16::MAX),
            topic_seed(&request.name),
        )?,
    };
    if !validate_only {
        let records = (current..)
            .zip(lists)
            .map(|(index, replicas)| new_partition(scratch, topic.id, index, replicas))
            .collect();
        scratch.push(records);
    }
    Ok(())
}
