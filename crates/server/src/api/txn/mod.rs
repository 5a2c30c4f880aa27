//! The transactional producer's APIs (KIP-98) and the transaction coordinator's admin APIs
//! (KIP-664), answered by the transaction coordinator.

pub mod add_offsets_to_txn;
pub mod add_partitions_to_txn;
pub mod describe_transactions;
pub mod end_txn;
pub mod init_producer_id;
pub mod list_transactions;
pub mod txn_offset_commit;

use strom_codec::ErrorCode;

/// PRODUCER_FENCED (KIP-588) as a request `version` older than `first` knows it: such
/// clients treat INVALID_PRODUCER_EPOCH the same way, and Kafka answers them with it.
pub(crate) fn fenced_as_known(error: ErrorCode, version: i16, first: i16) -> ErrorCode {
    if error == ErrorCode::ProducerFenced && version < first {
        ErrorCode::InvalidProducerEpoch
    } else {
        error
    }
}
