//! SyncGroup (API key 14, v0–v5): the leader's assignment reaches every member; followers
//! wait for it. v5 checks protocol type and name.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};
use strom_codec::ErrorCode;
use strom_coordinator::groups::SyncRequest;

use crate::api::text::opt_string;
use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=5;

pub async fn handle(ctx: &RequestContext<'_>, request: SyncGroupRequest) -> SyncGroupResponse {
    let req = SyncRequest {
        group_id: request.group_id.0.as_str().to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.as_str().to_string(),
        group_instance_id: opt_string(request.group_instance_id.as_ref()),
        protocol_type: opt_string(request.protocol_type.as_ref()),
        protocol_name: opt_string(request.protocol_name.as_ref()),
        assignments: request
            .assignments
            .into_iter()
            .map(|a| (a.member_id.as_str().to_string(), a.assignment))
            .collect(),
    };
    let (group_id, member_id, generation) = (
        req.group_id.clone(),
        req.member_id.clone(),
        req.generation_id,
    );
    let reply = ctx.state.groups.sync(req).await;
    if let Some(s) = &reply {
        tracing::debug!(group = %group_id, member = %member_id, generation, error = ?s.error,
            assignment_bytes = s.assignment.len(), "SyncGroup");
    }
    let Some(s) = reply else {
        return SyncGroupResponse::default()
            .with_error_code(ErrorCode::CoordinatorNotAvailable.code());
    };
    // The assignment is always present (possibly empty): franz-go fails on a missing one.
    SyncGroupResponse::default()
        .with_error_code(crate::error::code(s.error))
        .with_protocol_type(s.protocol_type.map(str_bytes))
        .with_protocol_name(s.protocol_name.map(str_bytes))
        .with_assignment(s.assignment)
}
