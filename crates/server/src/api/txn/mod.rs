//! The transactional producer's APIs (KIP-98) and the transaction coordinator's admin APIs
//! (KIP-664), answered by the transaction coordinator.

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod describe_transactions;
pub mod end_txn;
pub mod init_producer_id;
pub mod list_transactions;
pub mod txn_offset_commit;
