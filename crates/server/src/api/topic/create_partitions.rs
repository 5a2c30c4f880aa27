//! CreatePartitions (API key 37, v0–v3): grows topics; manual assignments must place each
//! new partition on this broker alone; `validate_only` checks without changing anything.

use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use strom_codec::kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;
use crate::error::topic_error_code;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=3;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let state = Arc::clone(ctx.state);
    let validate_only = request.validate_only;
    let results = tokio::task::spawn_blocking(move || {
        let node = state.config.node_id;
        let mut seen = std::collections::HashSet::new();
        request
            .topics
            .into_iter()
            .map(|t| {
                let name = t.name.0.as_str().to_string();
                let result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
                let fail = |code: ErrorCode, message: String| {
                    result
                        .clone()
                        .with_error_code(code.code())
                        .with_error_message(Some(str_bytes(message)))
                };
                if !seen.insert(name.clone()) {
                    return fail(
                        ErrorCode::InvalidRequest,
                        format!("topic {name} appears more than once"),
                    );
                }
                if let Some(assignments) = &t.assignments {
                    let current = state.topics.get(&name).map_or(0, |tp| tp.partitions.len());
                    let added = usize::try_from(t.count)
                        .unwrap_or(0)
                        .saturating_sub(current);
                    if assignments.len() != added {
                        return fail(
                            ErrorCode::InvalidReplicaAssignment,
                            format!(
                                "{} assignments for {added} new partitions",
                                assignments.len()
                            ),
                        );
                    }
                    if assignments.iter().any(|a| {
                        a.broker_ids.len() != 1 || a.broker_ids.first().map(|b| b.0) != Some(node)
                    }) {
                        return fail(
                            ErrorCode::InvalidReplicaAssignment,
                            format!("each new partition must be on broker {node} alone"),
                        );
                    }
                }
                match state
                    .topics
                    .create_partitions(&name, t.count, validate_only)
                {
                    Ok(()) => result,
                    Err(e) => fail(topic_error_code(&e), e.to_string()),
                }
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    CreatePartitionsResponse::default().with_results(results)
}
