//! The one table of request handlers: for every API this broker serves, its key, the versions
//! it advertises and serves, and the handler. ApiVersions answers from this table and requests
//! are dispatched by it, so what is advertised and what is implemented cannot drift. Produce
//! and Fetch are read in place and write their responses in place (see [`crate::connection`]);
//! every other API is decoded into kafka-protocol's types and answered through [`dispatch`].
//! A request that reaches [`dispatch`] without a handler gets [`NoHandler`]: the connection
//! logs it and closes, never leaving the client waiting.

use std::ops::RangeInclusive;

use strom_codec::kafka_protocol::messages::api_versions_response::ApiVersion;
use strom_codec::kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind};

use crate::api;
use crate::context::RequestContext;

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Handler {
    pub api_key: ApiKey,
    /// What ApiVersions advertises.
    pub advertised: RangeInclusive<i16>,
    /// What is answered; the rest of `advertised` closes the connection. (Produce keeps
    /// advertising v0 whatever it serves: librdkafka silently disables compression when
    /// Produce's minimum is above 0, KAFKA-18659.)
    pub served: RangeInclusive<i16>,
}

/// A decoded request whose API has no handler arm: a bug, reported instead of answered.
#[derive(Debug, thiserror::Error)]
#[error("no handler for {api_key:?}")]
pub struct NoHandler {
    pub api_key: ApiKey,
}

macro_rules! handlers {
    (
        in_place { $($ip_key:ident => $ip_module:path),* $(,)? }
        api_versions { $av_key:ident => $av_module:path }
        decoded { $($key:ident => $module:path),* $(,)? }
    ) => {
        /// Every API this broker serves, in API-key order.
        pub static HANDLERS: &[Handler] = &[
            $(Handler {
                api_key: ApiKey::$ip_key,
                advertised: { use $ip_module as m; m::ADVERTISED },
                served: { use $ip_module as m; m::VERSIONS },
            },)*
            Handler {
                api_key: ApiKey::$av_key,
                advertised: { use $av_module as m; m::VERSIONS },
                served: { use $av_module as m; m::VERSIONS },
            },
            $(Handler {
                api_key: ApiKey::$key,
                advertised: { use $module as m; m::VERSIONS },
                served: { use $module as m; m::VERSIONS },
            },)*
        ];

        /// Answers a decoded request of `api_key` (anything but Produce and Fetch).
        ///
        /// # Errors
        /// [`NoHandler`] for an API without an arm here.
        pub async fn dispatch(
            ctx: &RequestContext<'_>,
            api_key: ApiKey,
            body: RequestKind,
        ) -> Result<ResponseKind, NoHandler> {
            Ok(match body {
                RequestKind::$av_key(r) => {
                    use $av_module as m;
                    ResponseKind::$av_key(m::handle(ctx, r, api_versions(ctx.state.config.legacy_api_versions)).await)
                }
                $(RequestKind::$key(r) => {
                    use $module as m;
                    ResponseKind::$key(m::handle(ctx, r).await)
                })*
                _ => return Err(NoHandler { api_key }),
            })
        }
    };
}

handlers! {
    in_place {
        Produce => api::produce,
        Fetch => api::fetch,
    }
    api_versions {
        ApiVersions => api::api_versions
    }
    decoded {
        ListOffsets => api::list_offsets,
        Metadata => api::metadata,
        OffsetCommit => api::group::offset_commit,
        OffsetFetch => api::group::offset_fetch,
        FindCoordinator => api::group::find_coordinator,
        JoinGroup => api::group::join_group,
        Heartbeat => api::group::heartbeat,
        LeaveGroup => api::group::leave_group,
        SyncGroup => api::group::sync_group,
        DescribeGroups => api::group::describe_groups,
        ListGroups => api::group::list_groups,
        CreateTopics => api::topic::create_topics,
        DeleteTopics => api::topic::delete_topics,
        DeleteRecords => api::delete_records,
        InitProducerId => api::txn::init_producer_id,
        OffsetForLeaderEpoch => api::offset_for_leader_epoch,
        AddPartitionsToTxn => api::txn::add_partitions_to_txn,
        AddOffsetsToTxn => api::txn::add_offsets_to_txn,
        EndTxn => api::txn::end_txn,
        TxnOffsetCommit => api::txn::txn_offset_commit,
        DescribeAcls => api::security::describe_acls,
        CreateAcls => api::security::create_acls,
        DeleteAcls => api::security::delete_acls,
        DescribeConfigs => api::config::describe_configs,
        AlterConfigs => api::config::alter_configs,
        DescribeLogDirs => api::describe_log_dirs,
        CreatePartitions => api::topic::create_partitions,
        DeleteGroups => api::group::delete_groups,
        ElectLeaders => api::topic::elect_leaders,
        UpdateFeatures => api::update_features,
        IncrementalAlterConfigs => api::config::incremental_alter_configs,
        AlterPartitionReassignments => api::topic::alter_partition_reassignments,
        ListPartitionReassignments => api::topic::list_partition_reassignments,
        OffsetDelete => api::group::offset_delete,
        DescribeUserScramCredentials => api::security::describe_user_scram_credentials,
        AlterUserScramCredentials => api::security::alter_user_scram_credentials,
        DescribeCluster => api::describe_cluster,
        DescribeProducers => api::describe_producers,
        DescribeTransactions => api::txn::describe_transactions,
        ListTransactions => api::txn::list_transactions,
        DescribeTopicPartitions => api::describe_topic_partitions,
        ConsumerGroupHeartbeat => api::group::consumer_group_heartbeat,
        ConsumerGroupDescribe => api::group::consumer_group_describe,
    }
}

/// The handler of `api_key`, if this broker serves it at all.
pub fn handler(api_key: ApiKey) -> Option<&'static Handler> {
    HANDLERS.iter().find(|h| h.api_key == api_key)
}

/// The first version Kafka 4.1 serves, for the APIs whose older versions (KIP-896) are
/// served here only with `strom.legacy.api.versions.enable`.
fn kafka_4_min(api_key: ApiKey) -> i16 {
    match api_key {
        ApiKey::Produce => 3,
        ApiKey::Fetch => 4,
        ApiKey::CreateTopics | ApiKey::OffsetCommit | ApiKey::OffsetForLeaderEpoch => 2,
        ApiKey::ListOffsets
        | ApiKey::OffsetFetch
        | ApiKey::DeleteTopics
        | ApiKey::DescribeAcls
        | ApiKey::CreateAcls
        | ApiKey::DeleteAcls
        | ApiKey::DescribeConfigs
        | ApiKey::DescribeLogDirs => 1,
        _ => 0,
    }
}

/// Whether a request of `api_key` at `version` is answered; `legacy`: the versions Kafka 4
/// removed are served too.
pub fn is_served(api_key: ApiKey, version: i16, legacy: bool) -> bool {
    served(api_key, legacy).is_some_and(|r| r.contains(&version))
}

/// The versions of `api_key` answered, if any.
pub fn served(api_key: ApiKey, legacy: bool) -> Option<RangeInclusive<i16>> {
    let h = handler(api_key)?;
    let min = if legacy {
        *h.served.start()
    } else {
        (*h.served.start()).max(kafka_4_min(api_key))
    };
    Some(min..=*h.served.end())
}

/// The table as ApiVersions entries, in API-key order. Without `legacy` the minimums are
/// Kafka 4's, except Produce's, which stays 0 as Kafka 4 advertises it (librdkafka disables
/// compression when it is above 0, KAFKA-18659).
pub fn api_versions(legacy: bool) -> Vec<ApiVersion> {
    let mut rows: Vec<&Handler> = HANDLERS.iter().collect();
    rows.sort_by_key(|h| h.api_key as i16);
    rows.into_iter()
        .map(|h| {
            let min = if legacy || h.api_key == ApiKey::Produce {
                *h.advertised.start()
            } else {
                (*h.advertised.start()).max(kafka_4_min(h.api_key))
            };
            ApiVersion::default()
                .with_api_key(h.api_key as i16)
                .with_min_version(min)
                .with_max_version(*h.advertised.end())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_served_version_is_known_to_the_codec() {
        for h in HANDLERS {
            let known = strom_codec::request::known_versions(h.api_key);
            for v in h.served.clone() {
                assert!(
                    known.contains(&v),
                    "{:?} v{v} outside the codec's {known:?}",
                    h.api_key,
                );
            }
            assert!(
                h.advertised.start() <= h.served.start() && h.served.end() <= h.advertised.end(),
                "{:?} serves outside what it advertises",
                h.api_key
            );
        }
    }

    #[test]
    fn each_api_has_one_row() {
        for (i, a) in HANDLERS.iter().enumerate() {
            for b in HANDLERS.iter().skip(i + 1) {
                assert_ne!(a.api_key, b.api_key);
            }
        }
    }

    #[test]
    fn produce_is_served_from_v0_as_kafka_3_9_served_it() {
        assert_eq!(
            handler(ApiKey::Produce).map(|h| *h.advertised.start()),
            Some(0)
        );
        assert!(is_served(ApiKey::Produce, 0, true));
        assert!(is_served(ApiKey::Produce, 2, true));
        assert!(is_served(ApiKey::Produce, 13, true));
        assert!(!is_served(ApiKey::Produce, 14, true));
    }

    #[test]
    fn without_legacy_versions_the_range_is_kafka_4s() {
        assert!(!is_served(ApiKey::Produce, 2, false));
        assert!(is_served(ApiKey::Produce, 3, false));
        assert!(!is_served(ApiKey::Fetch, 3, false));
        assert!(is_served(ApiKey::Fetch, 4, false));
        let min = |legacy, key: ApiKey| {
            api_versions(legacy)
                .iter()
                .find(|v| v.api_key == key as i16)
                .map(|v| v.min_version)
        };
        assert_eq!(min(false, ApiKey::Fetch), Some(4));
        assert_eq!(min(true, ApiKey::Fetch), Some(0));
        // KAFKA-18659: Produce keeps advertising 0.
        assert_eq!(min(false, ApiKey::Produce), Some(0));
    }
}
