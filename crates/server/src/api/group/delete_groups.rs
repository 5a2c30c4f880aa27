//! DeleteGroups (API key 42, v0–v3): removes empty groups and their committed offsets
//! (tombstones in `__consumer_offsets`); NON_EMPTY_GROUP while members remain. v3 adds a
//! per-group error message, which Kafka 4.4 sets when the whole request could not be
//! handled (its shards' own refusals carry none).

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use strom_codec::kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse, GroupId};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=3;

/// Kafka's message for COORDINATOR_NOT_AVAILABLE.
const UNAVAILABLE: &str = "The coordinator is not available.";

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let ids: Vec<String> = request
        .groups_names
        .iter()
        .map(|g| g.0.as_str().to_string())
        .collect();
    let (outcome, message) = match ctx.state.groups.delete(ids.clone()).await {
        Some(results) => (results, None),
        None => (
            ids.into_iter()
                .map(|id| (id, Some(ErrorCode::CoordinatorNotAvailable)))
                .collect(),
            Some(UNAVAILABLE),
        ),
    };
    let results = outcome
        .into_iter()
        .map(|(id, error)| {
            DeletableGroupResult::default()
                .with_group_id(GroupId(str_bytes(id)))
                .with_error_code(crate::error::code(error))
                .with_error_message(message.map(str_bytes))
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
