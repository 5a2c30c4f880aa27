//! UpdateFeatures (API key 57, v0–v2; KIP-584): finalizes feature levels (`group.version`,
//! `transaction.version`) through the controller. v0 says a downgrade with
//! `allow_downgrade`, v1+ with an upgrade type. The request applies whole or not at all, as
//! Kafka's: a refusal is one top-level error without per-feature results; a success lists
//! each feature (before v2).

use std::ops::RangeInclusive;

use strom_cluster::controller::features::{SAFE_DOWNGRADE, UPGRADE};
use strom_cluster::controller::{ApiError, FeatureUpdate, Reply, Request};
use strom_codec::kafka_protocol::messages::update_features_response::UpdatableFeatureResult;
use strom_codec::kafka_protocol::messages::{UpdateFeaturesRequest, UpdateFeaturesResponse};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=2;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: UpdateFeaturesRequest,
) -> UpdateFeaturesResponse {
    let version = ctx.version;
    let updates: Vec<FeatureUpdate> = request
        .feature_updates
        .iter()
        .map(|u| FeatureUpdate {
            name: u.feature.as_str().to_string(),
            level: u.max_version_level,
            upgrade_type: if version == 0 {
                if u.allow_downgrade {
                    SAFE_DOWNGRADE
                } else {
                    UPGRADE
                }
            } else {
                u.upgrade_type
            },
        })
        .collect();
    let names: Vec<String> = updates.iter().map(|u| u.name.clone()).collect();
    let outcomes = match ctx
        .state
        .metadata
        .submit(Request::UpdateFeatures {
            updates,
            validate_only: request.validate_only,
        })
        .await
    {
        Ok(Reply::UpdateFeatures(outcomes)) => outcomes,
        Ok(other) => vec![
            Err(ApiError::new(
                ErrorCode::UnknownServerError,
                format!("unexpected controller reply {other:?}")
            ));
            names.len()
        ],
        Err(e) => vec![Err(e.to_api_error()); names.len()],
    };
    let first_error = outcomes.iter().find_map(|o| o.as_ref().err()).cloned();
    if let Some(e) = &first_error {
        tracing::debug!(error = %e, "UpdateFeatures refused");
    }
    let (code, message) =
        first_error.map_or((0, None), |e| (e.code.code(), Some(str_bytes(e.message))));
    let response = UpdateFeaturesResponse::default()
        .with_error_code(code)
        .with_error_message(message.clone());
    if version >= 2 || code != 0 {
        return response;
    }
    response.with_results(
        names
            .into_iter()
            .map(|name| {
                UpdatableFeatureResult::default()
                    .with_feature(str_bytes(name))
                    .with_error_code(code)
                    .with_error_message(message.clone())
            })
            .collect(),
    )
}
