//! Topic and partition administration: creation, deletion, growth, leaders and reassignment.

pub mod alter_partition_reassignments;
pub mod create_partitions;
pub mod create_topics;
pub mod delete_topics;
pub mod elect_leaders;
pub mod list_partition_reassignments;
