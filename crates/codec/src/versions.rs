//! The one table of supported (api_key, min, max) versions. ApiVersions answers from it and
//! the server refuses anything outside it, so what we advertise and what we implement cannot
//! drift. A version goes in only when its handler implements every field of it.

use std::ops::RangeInclusive;

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::ApiKey;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supported {
    pub api_key: ApiKey,
    pub min: i16,
    pub max: i16,
}

const fn row(api_key: ApiKey, min: i16, max: i16) -> Supported {
    Supported { api_key, min, max }
}

/// Every API this broker serves, in API-key order.
///
/// Produce advertises v0–v2 although only v3+ is accepted, exactly as Kafka 4 does:
/// librdkafka silently disables compression when Produce's minimum is above 0 (KAFKA-18659).
pub const SUPPORTED: &[Supported] = &[
    row(ApiKey::Produce, 0, 11),
    row(ApiKey::Fetch, 4, 16),
    row(ApiKey::ListOffsets, 1, 9),
    row(ApiKey::Metadata, 0, 12),
    row(ApiKey::OffsetCommit, 2, 9),
    row(ApiKey::OffsetFetch, 1, 9),
    row(ApiKey::FindCoordinator, 0, 6),
    row(ApiKey::JoinGroup, 0, 9),
    row(ApiKey::Heartbeat, 0, 4),
    row(ApiKey::LeaveGroup, 0, 5),
    row(ApiKey::SyncGroup, 0, 5),
    row(ApiKey::DescribeGroups, 0, 5),
    row(ApiKey::ListGroups, 0, 5),
    row(ApiKey::ApiVersions, 0, 4),
    row(ApiKey::CreateTopics, 2, 7),
    row(ApiKey::DeleteTopics, 1, 6),
    row(ApiKey::DeleteRecords, 0, 2),
    row(ApiKey::InitProducerId, 0, 5),
    row(ApiKey::OffsetForLeaderEpoch, 2, 4),
    row(ApiKey::AddPartitionsToTxn, 0, 3),
    row(ApiKey::AddOffsetsToTxn, 0, 3),
    row(ApiKey::EndTxn, 0, 4),
    row(ApiKey::TxnOffsetCommit, 0, 4),
    row(ApiKey::DescribeAcls, 1, 3),
    row(ApiKey::CreateAcls, 1, 3),
    row(ApiKey::DeleteAcls, 1, 3),
    row(ApiKey::DescribeConfigs, 1, 4),
    row(ApiKey::AlterConfigs, 0, 2),
    row(ApiKey::DescribeLogDirs, 1, 4),
    row(ApiKey::CreatePartitions, 0, 3),
    row(ApiKey::DeleteGroups, 0, 2),
    row(ApiKey::ElectLeaders, 0, 2),
    row(ApiKey::IncrementalAlterConfigs, 0, 1),
    row(ApiKey::AlterPartitionReassignments, 0, 1),
    row(ApiKey::ListPartitionReassignments, 0, 0),
    row(ApiKey::OffsetDelete, 0, 0),
    row(ApiKey::DescribeUserScramCredentials, 0, 0),
    row(ApiKey::AlterUserScramCredentials, 0, 0),
    row(ApiKey::DescribeCluster, 0, 1),
    row(ApiKey::DescribeProducers, 0, 0),
    row(ApiKey::DescribeTopicPartitions, 0, 0),
];

/// Produce versions that are advertised but refused (see [`SUPPORTED`]).
pub const PRODUCE_ADVERTISED_ONLY: RangeInclusive<i16> = 0..=2;

/// The advertised range of `api_key`, if we serve it at all.
pub fn advertised(api_key: ApiKey) -> Option<RangeInclusive<i16>> {
    SUPPORTED
        .iter()
        .find(|s| s.api_key == api_key)
        .map(|s| s.min..=s.max)
}

/// Whether a request of `api_key` at `version` is actually served.
pub fn is_served(api_key: ApiKey, version: i16) -> bool {
    if api_key == ApiKey::Produce && PRODUCE_ADVERTISED_ONLY.contains(&version) {
        return false;
    }
    advertised(api_key).is_some_and(|range| range.contains(&version))
}

/// The table as ApiVersions response entries.
pub fn api_versions() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|s| {
            ApiVersion::default()
                .with_api_key(s.api_key as i16)
                .with_min_version(s.min)
                .with_max_version(s.max)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_version_is_known_to_kafka_protocol() {
        for s in SUPPORTED {
            let lib = s.api_key.valid_versions();
            for v in s.min..=s.max {
                if is_served(s.api_key, v) {
                    assert!(
                        lib.min <= v && v <= lib.max,
                        "{:?} v{v} outside kafka-protocol's {}..={}",
                        s.api_key,
                        lib.min,
                        lib.max
                    );
                }
            }
        }
    }

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in SUPPORTED.windows(2) {
            if let [a, b] = pair {
                assert!((a.api_key as i16) < (b.api_key as i16));
            }
        }
    }

    #[test]
    fn produce_v0_to_v2_are_advertised_but_not_served() {
        assert_eq!(advertised(ApiKey::Produce).map(|r| *r.start()), Some(0));
        assert!(!is_served(ApiKey::Produce, 2));
        assert!(is_served(ApiKey::Produce, 3));
        assert!(!is_served(ApiKey::Produce, 12));
    }
}
