//! Mapping internal errors to Kafka error codes. Exhaustive on purpose: a new storage error
//! variant must be given a code here.

use strom_codec::ErrorCode;

use crate::topics::TopicError;

pub fn storage_error_code(error: &strom_storage::Error) -> ErrorCode {
    use strom_storage::Error as E;
    match error {
        E::Io { .. }
        | E::Poisoned { .. }
        | E::CorruptMetadata { .. }
        | E::CorruptCheckpoint { .. } => ErrorCode::KafkaStorageError,
        E::CorruptBatch(_) => ErrorCode::CorruptMessage,
        E::InvalidBatch(_) | E::KeylessRecords { .. } => ErrorCode::InvalidRecord,
        E::MessageTooLarge { .. } => ErrorCode::MessageTooLarge,
        E::InvalidTimestamp(_) => ErrorCode::InvalidTimestamp,
        E::UnsupportedCompression(_) => ErrorCode::UnsupportedCompressionType,
        E::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
        E::OutOfOrderSequence { .. } => ErrorCode::OutOfOrderSequenceNumber,
        E::InvalidProducerEpoch { .. } => ErrorCode::InvalidProducerEpoch,
    }
}

pub fn topic_error_code(error: &TopicError) -> ErrorCode {
    match error {
        TopicError::Unknown(_) => ErrorCode::UnknownTopicOrPartition,
        TopicError::InvalidConfig(_) => ErrorCode::InvalidConfig,
        TopicError::Storage(e) => storage_error_code(e),
    }
}

/// Error code as sent on the wire (0 for none).
pub fn code(e: Option<ErrorCode>) -> i16 {
    e.map_or(0, |e| e.code())
}
