//! The controller's decisions, as a sans-I/O state machine (Kafka's `QuorumController` and its
//! managers, without the threads): each request is judged against the current
//! [`MetadataImage`] and answered with the records that carry it out plus a reply per item.
//! Nothing here writes or waits; whoever runs the controller appends the records to the
//! metadata log (all of one request in one batch, so they apply together or not at all)
//! and hands the replies back once they are applied.
//!
//! Decisions made in one request see each other: they are judged against a scratch copy of
//! the image that already holds the earlier items' records.

mod configs;
pub mod features;
mod partitions;
mod placement;
mod security;
#[cfg(test)]
mod tests;
mod topics;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use strom_codec::ErrorCode;

use crate::acl::AclFilter;
use crate::image::MetadataImage;
use crate::records::{AclBinding, Endpoint, MetadataRecord, TopicId};

pub use configs::{ConfigAlteration, ConfigOp, OP_APPEND, OP_DELETE, OP_SET, OP_SUBTRACT};
pub use features::FeatureUpdate;
pub use partitions::IsrChange;
pub use placement::{place_replicas, BrokerSlot};
pub use security::{ScramChange, SCRAM_ITERATIONS_MAX, SCRAM_ITERATIONS_MIN};
pub use topics::{
    validate_topic_name, CreatedTopic, NewPartitions, NewTopic, TopicRef, PARTITIONS_PER_TOPIC_MAX,
    TOPIC_NAME_BYTES_MAX,
};

/// A refusal, as Kafka reports it: an error code and a message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// The result of one item of a request.
pub type Outcome<T> = Result<T, ApiError>;

/// The meaning of config keys, which the broker's key table knows and the controller does
/// not: it checks a resource's complete new set of overrides before they are stored.
pub trait ConfigSchema: Send + Sync + fmt::Debug {
    /// Whether `key` of `resource_type` is a list (APPEND and SUBTRACT apply).
    fn is_list(&self, resource_type: i8, key: &str) -> bool;
    /// The value a list key has without an override (what APPEND and SUBTRACT start from).
    fn effective_default(
        &self,
        image: &MetadataImage,
        resource_type: i8,
        resource_name: &str,
        key: &str,
    ) -> String;
    /// Checks the overrides a resource would have.
    ///
    /// # Errors
    /// The code and message Kafka answers with (INVALID_CONFIG, INVALID_REQUEST, …).
    fn validate(
        &self,
        image: &MetadataImage,
        resource_type: i8,
        resource_name: &str,
        configs: &BTreeMap<String, String>,
    ) -> Outcome<()>;
}

/// The controller's settings (Kafka's names).
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// `num.partitions`: partitions of a topic created without a count.
    pub default_partitions: i32,
    /// `default.replication.factor`.
    pub default_replication_factor: i16,
    /// `unclean.leader.election.enable`: may a replica outside the ISR become leader when
    /// no ISR member is left.
    pub unclean_leader_election: bool,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            default_partitions: 1,
            default_replication_factor: 1,
            unclean_leader_election: false,
        }
    }
}

/// What a request asks of the controller (typed, so that the actor running it can list them).
#[derive(Debug, Clone)]
pub enum Request {
    CreateTopics {
        topics: Vec<NewTopic>,
        validate_only: bool,
    },
    DeleteTopics {
        topics: Vec<TopicRef>,
    },
    CreatePartitions {
        topics: Vec<NewPartitions>,
        validate_only: bool,
    },
    AlterConfigs {
        alterations: Vec<ConfigAlteration>,
        validate_only: bool,
    },
    CreateAcls {
        bindings: Vec<AclBinding>,
    },
    DeleteAcls {
        filters: Vec<AclFilter>,
    },
    AlterScramCredentials {
        changes: Vec<ScramChange>,
    },
    /// A block of `count` producer ids for `broker_id` (Kafka's AllocateProducerIds).
    AllocateProducerIds {
        broker_id: i32,
        count: i64,
    },
    /// A broker (re)starting: registered, unfenced, and given back the partitions it can
    /// lead.
    RegisterBroker {
        broker_id: i32,
        incarnation_id: String,
        endpoints: Vec<Endpoint>,
        rack: Option<String>,
    },
    /// A broker going away (controlled shutdown or a missed session): fenced, its
    /// leaderships moved to other ISR members, and it leaves every ISR it was in.
    FenceBroker {
        broker_id: i32,
    },
    /// A leader's AlterPartition: its partitions' new ISRs.
    AlterPartition {
        broker_id: i32,
        changes: Vec<IsrChange>,
    },
    /// UpdateFeatures: finalized feature levels.
    UpdateFeatures {
        updates: Vec<FeatureUpdate>,
        validate_only: bool,
    },
}

/// The answer to a [`Request`], item by item in request order.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    CreateTopics(Vec<Outcome<CreatedTopic>>),
    DeleteTopics(Vec<Outcome<(String, TopicId)>>),
    CreatePartitions(Vec<Outcome<()>>),
    AlterConfigs(Vec<Outcome<()>>),
    CreateAcls(Vec<Outcome<()>>),
    /// The bindings each filter removed.
    DeleteAcls(Vec<Outcome<Vec<AclBinding>>>),
    AlterScramCredentials(Vec<Outcome<()>>),
    /// `(first id, count)`.
    AllocateProducerIds(Outcome<(i64, i64)>),
    RegisterBroker,
    FenceBroker,
    /// The partition's leader epoch and partition epoch after each change.
    AlterPartition(Vec<Outcome<(i32, i32)>>),
    UpdateFeatures(Vec<Outcome<()>>),
}

/// A decision: the records to append, and the reply to give once they are applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub records: Vec<MetadataRecord>,
    pub reply: Reply,
}

/// The controller's decision logic.
#[derive(Debug, Clone)]
pub struct Controller {
    config: ControllerConfig,
    schema: Arc<dyn ConfigSchema>,
}

/// Decisions on one request: the image as the records decided so far change it.
struct Scratch {
    image: MetadataImage,
    records: Vec<MetadataRecord>,
}

impl Scratch {
    fn new(image: &MetadataImage) -> Self {
        Self {
            image: image.clone(),
            records: Vec::new(),
        }
    }

    fn push(&mut self, records: Vec<MetadataRecord>) {
        for r in records {
            self.image.apply(r.clone());
            self.records.push(r);
        }
    }
}

impl Controller {
    pub fn new(config: ControllerConfig, schema: Arc<dyn ConfigSchema>) -> Self {
        Self { config, schema }
    }

    pub fn config(&self) -> &ControllerConfig {
        &self.config
    }

    /// Decides `request` against `image`. `new_topic_id` gives ids to new topics (random in
    /// a broker, fixed in tests).
    pub fn decide(
        &self,
        image: &MetadataImage,
        request: Request,
        new_topic_id: &mut dyn FnMut() -> TopicId,
    ) -> Decision {
        let mut scratch = Scratch::new(image);
        let reply = match request {
            Request::CreateTopics {
                topics,
                validate_only,
            } => Reply::CreateTopics(
                topics
                    .into_iter()
                    .map(|t| self.create_topic(&mut scratch, t, validate_only, new_topic_id))
                    .collect(),
            ),
            Request::DeleteTopics { topics } => Reply::DeleteTopics(
                topics
                    .into_iter()
                    .map(|t| topics::delete_topic(&mut scratch, &t))
                    .collect(),
            ),
            Request::CreatePartitions {
                topics,
                validate_only,
            } => Reply::CreatePartitions(
                topics
                    .into_iter()
                    .map(|t| topics::create_partitions(&mut scratch, t, validate_only))
                    .collect(),
            ),
            Request::AlterConfigs {
                alterations,
                validate_only,
            } => Reply::AlterConfigs(
                alterations
                    .into_iter()
                    .map(|a| self.alter_configs(&mut scratch, a, validate_only))
                    .collect(),
            ),
            Request::CreateAcls { bindings } => {
                Reply::CreateAcls(security::create_acls(&mut scratch, bindings))
            }
            Request::DeleteAcls { filters } => {
                Reply::DeleteAcls(security::delete_acls(&mut scratch, &filters))
            }
            Request::AlterScramCredentials { changes } => {
                Reply::AlterScramCredentials(security::alter_scram(&mut scratch, changes))
            }
            Request::AllocateProducerIds { broker_id, count } => {
                Reply::AllocateProducerIds(allocate_producer_ids(&mut scratch, broker_id, count))
            }
            Request::RegisterBroker {
                broker_id,
                incarnation_id,
                endpoints,
                rack,
            } => {
                partitions::register_broker(
                    &mut scratch,
                    broker_id,
                    incarnation_id,
                    endpoints,
                    rack,
                );
                Reply::RegisterBroker
            }
            Request::FenceBroker { broker_id } => {
                partitions::fence_broker(&mut scratch, broker_id, &self.config);
                Reply::FenceBroker
            }
            Request::UpdateFeatures {
                updates,
                validate_only,
            } => Reply::UpdateFeatures(features::update_features(
                &mut scratch,
                &updates,
                validate_only,
            )),
            Request::AlterPartition { broker_id, changes } => Reply::AlterPartition(
                changes
                    .into_iter()
                    .map(|c| partitions::alter_partition(&mut scratch, broker_id, &c))
                    .collect(),
            ),
        };
        Decision {
            records: scratch.records,
            reply,
        }
    }
}

/// Producer ids are handed out in blocks; the image remembers the first one not handed out.
fn allocate_producer_ids(scratch: &mut Scratch, broker_id: i32, count: i64) -> Outcome<(i64, i64)> {
    if count <= 0 {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("a block of {count} producer ids"),
        ));
    }
    if broker_id >= 0 && !scratch.image.brokers.contains_key(&broker_id) {
        return Err(ApiError::new(
            ErrorCode::BrokerIdNotRegistered,
            format!("broker {broker_id} is not registered"),
        ));
    }
    let start = scratch.image.next_producer_id;
    let Some(next) = start.checked_add(count) else {
        return Err(ApiError::new(
            ErrorCode::UnknownServerError,
            "producer ids are exhausted",
        ));
    };
    scratch.push(vec![MetadataRecord::ProducerIds {
        next_producer_id: next,
    }]);
    Ok((start, count))
}
