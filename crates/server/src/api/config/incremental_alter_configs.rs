//! IncrementalAlterConfigs (API key 44, v0–v1, KIP-339): SET, DELETE, APPEND and SUBTRACT
//! on topic, broker and group configs, decided by the controller against the broker's key
//! table (see [`crate::metadata::schema`]): topic configs against Kafka's topic config keys,
//! broker configs against the keys Kafka can change at runtime, group configs against
//! Kafka's group config ranges. Changes are stored in the metadata log and take effect at
//! once (a retention change needs no restart). [`submit`] also serves the legacy
//! AlterConfigs, which replaces a resource's whole set of overrides.

use std::ops::RangeInclusive;

use strom_cluster::controller::{ApiError, ConfigAlteration, ConfigOp, Outcome, Reply, Request};
use strom_codec::kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use strom_codec::kafka_protocol::messages::{
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=1;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let alterations: Vec<ConfigAlteration> = request
        .resources
        .iter()
        .map(|r| ConfigAlteration {
            resource_type: r.resource_type,
            resource_name: r.resource_name.as_str().to_string(),
            ops: r
                .configs
                .iter()
                .map(|c| ConfigOp {
                    key: c.name.as_str().to_string(),
                    operation: c.config_operation,
                    value: c.value.as_ref().map(|v| v.as_str().to_string()),
                })
                .collect(),
            replace: false,
        })
        .collect();
    let outcomes = submit(ctx, alterations, request.validate_only).await;
    let responses = request
        .resources
        .into_iter()
        .zip(outcomes)
        .map(|(r, outcome)| {
            let response = AlterConfigsResourceResponse::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name);
            match outcome {
                Ok(()) => response,
                Err(e) => response
                    .with_error_code(e.code.code())
                    .with_error_message(Some(str_bytes(e.message))),
            }
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// Has the controller apply `alterations`; one outcome per alteration.
pub async fn submit(
    ctx: &RequestContext<'_>,
    alterations: Vec<ConfigAlteration>,
    validate_only: bool,
) -> Vec<Outcome<()>> {
    let count = alterations.len();
    let request = Request::AlterConfigs {
        alterations,
        validate_only,
    };
    match ctx.state.metadata.submit(request).await {
        Ok(Reply::AlterConfigs(outcomes)) => outcomes,
        Ok(other) => vec![
            Err(ApiError::new(
                ErrorCode::UnknownServerError,
                format!("unexpected controller reply {other:?}")
            ));
            count
        ],
        Err(e) => vec![Err(e.to_api_error()); count],
    }
}
