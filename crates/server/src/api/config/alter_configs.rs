//! AlterConfigs (API key 33, v0–v2), the legacy form of IncrementalAlterConfigs: each
//! resource's given configs replace its whole set of overrides (keys left out return to
//! their defaults), as in Kafka. Same validation, persistence and live effect as
//! IncrementalAlterConfigs, whose engine it uses.

use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use strom_codec::kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use strom_codec::ErrorCode;

use super::incremental_alter_configs::{alter_resource, Change, OP_SET};
use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=2;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let state = Arc::clone(ctx.state);
    let validate_only = request.validate_only;
    let responses = tokio::task::spawn_blocking(move || {
        request
            .resources
            .into_iter()
            .map(|r| {
                let response = AlterConfigsResourceResponse::default()
                    .with_resource_type(r.resource_type)
                    .with_resource_name(r.resource_name.clone());
                let mut seen = std::collections::HashSet::new();
                let mut changes: Vec<Change> = Vec::new();
                for c in &r.configs {
                    if !seen.insert(c.name.as_str().to_string()) {
                        return response
                            .with_error_code(ErrorCode::InvalidRequest.code())
                            .with_error_message(Some(str_bytes(format!(
                                "config {} appears more than once",
                                c.name.as_str()
                            ))));
                    }
                    // A null value leaves the key at its default.
                    if let Some(v) = &c.value {
                        changes.push((
                            c.name.as_str().to_string(),
                            OP_SET,
                            Some(v.as_str().to_string()),
                        ));
                    }
                }
                match alter_resource(
                    &state,
                    r.resource_type,
                    r.resource_name.as_str(),
                    &changes,
                    true,
                    validate_only,
                ) {
                    Ok(()) => response,
                    Err((code, message)) => response
                        .with_error_code(code.code())
                        .with_error_message(Some(str_bytes(message))),
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    AlterConfigsResponse::default().with_responses(responses)
}
