//! DeleteGroups (API key 42, v0–v2): removes empty groups and their committed offsets
//! (tombstones in `__consumer_offsets`); NON_EMPTY_GROUP while members remain.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use strom_codec::kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse, GroupId};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=2;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let ids: Vec<String> = request
        .groups_names
        .iter()
        .map(|g| g.0.as_str().to_string())
        .collect();
    let outcome = match ctx.state.groups.delete(ids.clone()).await {
        Some(results) => results,
        None => ids
            .into_iter()
            .map(|id| (id, Some(ErrorCode::CoordinatorNotAvailable)))
            .collect(),
    };
    let results = outcome
        .into_iter()
        .map(|(id, error)| {
            DeletableGroupResult::default()
                .with_group_id(GroupId(str_bytes(id)))
                .with_error_code(crate::error::code(error))
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
