//! One module per Kafka API, named after it; families share a directory. Each declares the
//! `VERSIONS` it serves and a `handle` that validates, calls the owner (storage, coordinator,
//! metadata) and builds the response. Handlers return responses, never `Result`: errors are
//! Kafka error codes inside the response. [`crate::handlers`] lists them all.

pub mod api_versions;
pub mod config;
pub mod delete_records;
pub mod describe_cluster;
pub mod describe_log_dirs;
pub mod describe_producers;
pub mod describe_topic_partitions;
pub mod fetch;
pub mod group;
pub mod list_offsets;
pub mod metadata;
pub mod offset_for_leader_epoch;
pub mod produce;
pub mod security;
pub mod text;
pub mod topic;
pub mod txn;
pub mod update_features;

/// Whether this task may turn its worker into a blocking thread (`block_in_place`): only on
/// a multi-threaded runtime. Produce's appends and Fetch's down-conversion use it to keep
/// file I/O and (de)compression off the async workers.
pub(crate) fn can_block_in_place() -> bool {
    tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
}
