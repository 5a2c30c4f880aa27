//! AlterConfigs (API key 33, v0–v2), the legacy form of IncrementalAlterConfigs: each
//! resource's given configs replace its whole set of overrides (keys left out, or given a
//! null value, return to their defaults), as in Kafka. Same checks, storage and live effect
//! as IncrementalAlterConfigs.

use std::ops::RangeInclusive;

use strom_cluster::controller::{ConfigAlteration, ConfigOp, OP_SET};
use strom_codec::kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use strom_codec::kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use super::incremental_alter_configs::submit;
use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=2;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let alterations: Vec<ConfigAlteration> = request
        .resources
        .iter()
        .map(|r| ConfigAlteration {
            resource_type: r.resource_type,
            resource_name: r.resource_name.as_str().to_string(),
            ops: r
                .configs
                .iter()
                .map(|c| match &c.value {
                    Some(v) => ConfigOp {
                        key: c.name.as_str().to_string(),
                        operation: OP_SET,
                        value: Some(v.as_str().to_string()),
                    },
                    // Left at its default: a no-op on an empty set (duplicates still count).
                    None => ConfigOp {
                        key: c.name.as_str().to_string(),
                        operation: strom_cluster::controller::OP_DELETE,
                        value: None,
                    },
                })
                .collect(),
            replace: true,
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
    AlterConfigsResponse::default().with_responses(responses)
}
