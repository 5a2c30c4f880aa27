//! DeleteGroups (API key 42, v0–v2): removes empty groups and their committed offsets
//! (tombstones in `__consumer_offsets`); NON_EMPTY_GROUP while members remain.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use strom_codec::kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};
use strom_codec::ErrorCode;

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=2;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let mut results = Vec::new();
    for group in request.groups_names {
        let id = group.0.as_str().to_string();
        let outcome = ctx
            .state
            .groups
            .query(move |groups| groups.delete(&id))
            .await;
        let error = match outcome {
            Some(e) => e,
            None => Some(ErrorCode::CoordinatorNotAvailable),
        };
        results.push(
            DeletableGroupResult::default()
                .with_group_id(group)
                .with_error_code(crate::error::code(error)),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}
