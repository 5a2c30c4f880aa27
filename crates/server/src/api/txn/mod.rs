//! The transactional producer's APIs (KIP-98), answered by the transaction coordinator.

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod end_txn;
pub mod init_producer_id;
pub mod txn_offset_commit;
