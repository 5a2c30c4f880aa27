//! Brokers and partition leadership: registration, fencing with leader election from the
//! ISR, and the leaders' ISR changes (Kafka's AlterPartition).

use strom_codec::ErrorCode;

use super::{ApiError, ControllerConfig, Outcome, Scratch};
use crate::image::PartitionImage;
use crate::records::{Endpoint, MetadataRecord, TopicId};

/// No leader (every ISR member is fenced).
pub const NO_LEADER: i32 = -1;

/// A leader's request to set a partition's ISR, with the epochs it last saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrChange {
    pub topic_id: TopicId,
    pub partition: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    pub new_isr: Vec<i32>,
}

fn is_usable(scratch: &Scratch, broker: i32) -> bool {
    scratch
        .image
        .brokers
        .get(&broker)
        .is_some_and(|b| !b.fenced)
}

/// Every partition as `(topic id, index, state)`.
fn all_partitions(scratch: &Scratch) -> Vec<(TopicId, i32, PartitionImage)> {
    scratch
        .image
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |(i, p)| (t.id, *i, p.clone())))
        .collect()
}

pub(super) fn register_broker(
    scratch: &mut Scratch,
    broker_id: i32,
    incarnation_id: String,
    endpoints: Vec<Endpoint>,
    rack: Option<String>,
) {
    scratch.push(vec![MetadataRecord::RegisterBroker {
        broker_id,
        incarnation_id,
        endpoints,
        rack,
        fenced: false,
    }]);
    // Partitions left without a leader take this broker back if it is in their ISR.
    let records = all_partitions(scratch)
        .into_iter()
        .filter(|(_, _, p)| p.leader == NO_LEADER && p.isr.contains(&broker_id))
        .map(|(topic_id, partition, _)| MetadataRecord::PartitionChange {
            topic_id,
            partition,
            leader: Some(broker_id),
            isr: None,
            replicas: None,
        })
        .collect();
    scratch.push(records);
}

pub(super) fn fence_broker(scratch: &mut Scratch, broker_id: i32, config: &ControllerConfig) {
    if !scratch.image.brokers.contains_key(&broker_id) {
        return;
    }
    scratch.push(vec![MetadataRecord::BrokerRegistrationChange {
        broker_id,
        fenced: true,
    }]);
    let mut records = Vec::new();
    for (topic_id, partition, p) in all_partitions(scratch) {
        if p.leader != broker_id && !p.isr.contains(&broker_id) {
            continue;
        }
        // The last ISR member stays in the ISR: it holds everything committed.
        let mut isr: Vec<i32> = p.isr.iter().copied().filter(|b| *b != broker_id).collect();
        if isr.is_empty() {
            isr = p.isr.clone();
        }
        let mut leader = p.leader;
        if p.leader == broker_id {
            leader = p
                .replicas
                .iter()
                .copied()
                .find(|b| isr.contains(b) && is_usable(scratch, *b))
                .unwrap_or(NO_LEADER);
            if leader == NO_LEADER && config.unclean_leader_election {
                if let Some(b) = p.replicas.iter().copied().find(|b| is_usable(scratch, *b)) {
                    tracing::warn!(%topic_id, partition, broker = b, "unclean leader election: records may be lost");
                    leader = b;
                    isr = vec![b];
                }
            }
        }
        records.push(MetadataRecord::PartitionChange {
            topic_id,
            partition,
            leader: (leader != p.leader).then_some(leader),
            isr: (isr != p.isr).then_some(isr),
            replicas: None,
        });
    }
    scratch.push(records);
}

pub(super) fn alter_partition(
    scratch: &mut Scratch,
    broker_id: i32,
    change: &IsrChange,
) -> Outcome<(i32, i32)> {
    let Some(topic) = scratch.image.topics.by_id(change.topic_id) else {
        return Err(ApiError::new(
            ErrorCode::UnknownTopicId,
            format!("no topic has id {}", change.topic_id),
        ));
    };
    let Some(p) = topic.partitions.get(&change.partition).cloned() else {
        return Err(ApiError::new(
            ErrorCode::UnknownTopicOrPartition,
            format!("{}-{} does not exist", topic.name, change.partition),
        ));
    };
    if p.leader != broker_id {
        return Err(ApiError::new(
            ErrorCode::NotLeaderOrFollower,
            format!("broker {broker_id} does not lead the partition"),
        ));
    }
    if change.leader_epoch != p.leader_epoch {
        return Err(ApiError::new(
            ErrorCode::FencedLeaderEpoch,
            format!(
                "leader epoch {} is not the current {}",
                change.leader_epoch, p.leader_epoch
            ),
        ));
    }
    if change.partition_epoch != p.partition_epoch {
        return Err(ApiError::new(
            ErrorCode::InvalidUpdateVersion,
            format!(
                "partition epoch {} is not the current {}",
                change.partition_epoch, p.partition_epoch
            ),
        ));
    }
    if !change.new_isr.contains(&broker_id) {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "the new ISR must contain the leader",
        ));
    }
    if let Some(b) = change
        .new_isr
        .iter()
        .find(|b| !p.replicas.contains(b) || !is_usable(scratch, **b))
    {
        return Err(ApiError::new(
            ErrorCode::IneligibleReplica,
            format!("broker {b} is not an unfenced replica of the partition"),
        ));
    }
    if change.new_isr == p.isr {
        return Ok((p.leader_epoch, p.partition_epoch));
    }
    scratch.push(vec![MetadataRecord::PartitionChange {
        topic_id: change.topic_id,
        partition: change.partition,
        leader: None,
        isr: Some(change.new_isr.clone()),
        replicas: None,
    }]);
    Ok((p.leader_epoch, p.partition_epoch + 1))
}
