//! Describing and altering configs of topics, brokers and groups.

pub mod alter_configs;
pub mod describe_configs;
pub mod incremental_alter_configs;
pub mod topic_configs;
