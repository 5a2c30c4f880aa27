//! LeaveGroup (API key 13, v0–v5): one member (v0–v2) or a batch by member or instance id
//! (v3+, KIP-345).

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::leave_group_response::MemberResponse;
use strom_codec::kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};
use strom_codec::ErrorCode;
use strom_coordinator::groups::LeaveRequest;

use crate::api::text::opt_string;
use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=5;

pub async fn handle(ctx: &RequestContext<'_>, request: LeaveGroupRequest) -> LeaveGroupResponse {
    let version = ctx.version;
    let members = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id.as_str().to_string(),
                    opt_string(m.group_instance_id.as_ref()),
                )
            })
            .collect()
    } else {
        vec![(request.member_id.as_str().to_string(), None)]
    };
    tracing::debug!(group = request.group_id.0.as_str(), ?members, "LeaveGroup");
    let req = LeaveRequest {
        group_id: request.group_id.0.as_str().to_string(),
        members,
    };
    let Some(l) = ctx.state.groups.leave(req).await else {
        return LeaveGroupResponse::default()
            .with_error_code(ErrorCode::CoordinatorNotAvailable.code());
    };
    if version >= 3 {
        // Per-member errors; the top level reports only a whole-request failure.
        let members = l
            .members
            .into_iter()
            .map(|(m, i, e)| {
                MemberResponse::default()
                    .with_member_id(str_bytes(m))
                    .with_group_instance_id(i.map(str_bytes))
                    .with_error_code(crate::error::code(e))
            })
            .collect();
        LeaveGroupResponse::default().with_members(members)
    } else {
        LeaveGroupResponse::default().with_error_code(crate::error::code(l.error))
    }
}
