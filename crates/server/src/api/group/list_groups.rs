//! ListGroups (API key 16, v0–v5): every group with its protocol type, state (v4+, with a
//! state filter) and type (v5+, "classic").

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::list_groups_response::ListedGroup;
use strom_codec::kafka_protocol::messages::{GroupId, ListGroupsRequest, ListGroupsResponse};
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=5;

pub async fn handle(ctx: &RequestContext<'_>, request: ListGroupsRequest) -> ListGroupsResponse {
    let states: Vec<String> = request
        .states_filter
        .iter()
        .map(|s| s.as_str().to_string())
        .collect();
    let types: Vec<String> = request
        .types_filter
        .iter()
        .map(|s| s.as_str().to_string())
        .collect();
    let Some(listing) = ctx.state.groups.list(states, types).await else {
        return ListGroupsResponse::default()
            .with_error_code(ErrorCode::CoordinatorNotAvailable.code());
    };
    ListGroupsResponse::default().with_groups(
        listing
            .into_iter()
            .map(|g| {
                ListedGroup::default()
                    .with_group_id(GroupId(str_bytes(g.group_id)))
                    .with_protocol_type(str_bytes(g.protocol_type))
                    .with_group_state(str_bytes(g.state))
                    .with_group_type(str_bytes(g.group_type))
            })
            .collect(),
    )
}
