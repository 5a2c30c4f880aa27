//! ApiVersions (API key 18, KIP-511 from v3): the one table of supported versions, and from
//! v3 the features this broker supports and their finalized levels (KIP-584). From v5
//! (KIP-1242) a client may name the cluster and node it means to reach: another cluster, or
//! another node of this one, is REBOOTSTRAP_REQUIRED (its metadata is stale). Errors carry
//! no version table, as Kafka's.
//! The response header is always v0 and default-valued tagged fields are not written
//! (librdkafka 2.0.2 mis-parses them); both are handled in the codec.

use std::ops::RangeInclusive;
use strom_cluster::controller::features::FEATURES;
use strom_codec::kafka_protocol::messages::api_versions_response::{
    ApiVersion, FinalizedFeatureKey, SupportedFeatureKey,
};
use strom_codec::kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=5;

/// KIP-511: `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
fn valid_software_field(s: &str) -> bool {
    let bytes = s.as_bytes();
    let inner_ok = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.');
    let edges_ok = bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric);
    inner_ok && edges_ok
}

/// Answers with `table`, the broker's handler table as ApiVersions rows (passed in so that
/// this handler needs nothing from the table's module).
pub async fn handle(
    ctx: &RequestContext<'_>,
    request: ApiVersionsRequest,
    table: Vec<ApiVersion>,
) -> ApiVersionsResponse {
    let version = ctx.version;
    let failed = |e: ErrorCode| ApiVersionsResponse::default().with_error_code(e.code());
    if version >= 3
        && (!valid_software_field(request.client_software_name.as_str())
            || !valid_software_field(request.client_software_version.as_str()))
    {
        tracing::debug!(
            name = request.client_software_name.as_str(),
            version = request.client_software_version.as_str(),
            "invalid client software name/version (KIP-511)"
        );
        return failed(ErrorCode::InvalidRequest);
    }
    if version >= 5 {
        if let Some(cluster) = request.cluster_id.as_ref() {
            if cluster.as_str() != ctx.state.cluster_id
                || request.node_id != ctx.state.config.node_id
            {
                tracing::debug!(peer = %ctx.peer, cluster = cluster.as_str(), node = request.node_id, "ApiVersions for another cluster or node (KIP-1242)");
                return failed(ErrorCode::RebootstrapRequired);
            }
        }
    }
    let response = ApiVersionsResponse::default().with_api_keys(table);
    if version < 3 {
        return response;
    }
    let image = ctx.state.metadata.image();
    let finalized: Vec<FinalizedFeatureKey> = FEATURES
        .iter()
        .filter_map(|f| {
            let level = image.features.get(f.name).copied().filter(|l| *l > 0)?;
            Some(
                FinalizedFeatureKey::default()
                    .with_name(str_bytes(f.name))
                    .with_min_version_level(level)
                    .with_max_version_level(level),
            )
        })
        .collect();
    response
        .with_supported_features(
            FEATURES
                .iter()
                .map(|f| {
                    SupportedFeatureKey::default()
                        .with_name(str_bytes(f.name))
                        .with_min_version(f.min)
                        .with_max_version(f.max)
                })
                .collect(),
        )
        // The metadata offset the levels were read at (Kafka's epoch of the finalized
        // features), -1 without any.
        .with_finalized_features_epoch(if finalized.is_empty() {
            -1
        } else {
            image.offset
        })
        .with_finalized_features(finalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kip_511_names() {
        assert!(valid_software_field("librdkafka"));
        assert!(valid_software_field("2.15.1-RC1"));
        assert!(!valid_software_field(""));
        assert!(!valid_software_field("-x"));
        assert!(!valid_software_field("a b"));
    }
}
