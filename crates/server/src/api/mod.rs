//! One module per Kafka API, named after it. Handlers validate, call the owner (storage,
//! coordinator) and build the response; they return responses, never `Result`: errors are
//! Kafka error codes inside the response.

pub mod acls;
pub mod alter_configs;
pub mod alter_partition_reassignments;
pub mod api_versions;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_records;
pub mod delete_topics;
pub mod describe_cluster;
pub mod describe_configs;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_topic_partitions;
pub mod elect_leaders;
pub mod fetch;
pub mod group;
pub mod incremental_alter_configs;
pub mod init_producer_id;
pub mod list_offsets;
pub mod list_partition_reassignments;
pub mod metadata;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod scram_credentials;
pub mod topic_configs;
pub mod txn;

use strom_codec::kafka_protocol::messages::TopicName;
use strom_codec::kafka_protocol::protocol::StrBytes;

pub(crate) fn str_bytes(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

pub(crate) fn topic_name(s: impl Into<String>) -> TopicName {
    TopicName(str_bytes(s))
}
