//! JoinGroup (API key 11, v0–v9): MEMBER_ID_REQUIRED from v4, static membership from v5,
//! `reason` from v8, `skip_assignment` from v9. The response may be parked until the
//! rebalance completes.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use strom_codec::kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};
use strom_codec::ErrorCode;
use strom_coordinator::groups::JoinRequest;

use crate::api::text::opt_string;
use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=9;

pub async fn handle(ctx: &RequestContext<'_>, request: JoinGroupRequest) -> JoinGroupResponse {
    let version = ctx.version;
    let client_id = ctx.client_id;
    if let Some(reason) = &request.reason {
        tracing::debug!(
            group = request.group_id.0.as_str(),
            reason = reason.as_str(),
            "join reason"
        );
    }
    let req = JoinRequest {
        group_id: request.group_id.0.as_str().to_string(),
        member_id: request.member_id.as_str().to_string(),
        group_instance_id: opt_string(request.group_instance_id.as_ref()),
        client_id: client_id.to_string(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: request.session_timeout_ms,
        // v0 has no rebalance timeout: Kafka uses the session timeout.
        rebalance_timeout_ms: if version == 0 || request.rebalance_timeout_ms < 0 {
            request.session_timeout_ms
        } else {
            request.rebalance_timeout_ms
        },
        protocol_type: request.protocol_type.as_str().to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| (p.name.as_str().to_string(), p.metadata))
            .collect(),
        require_known_member_id: version >= 4,
        new_member_id: format!("{client_id}-{}", uuid::Uuid::new_v4()),
        supports_skip_assignment: version >= 9,
    };
    let (group_id, member_id) = (req.group_id.clone(), req.member_id.clone());
    let reply = ctx.state.groups.join(req).await;
    if let Some(j) = &reply {
        tracing::debug!(group = %group_id, member = %member_id, error = ?j.error, generation = j.generation_id,
            assigned_id = %j.member_id, leader = %j.leader, members = j.members.len(), "JoinGroup");
    }
    let Some(j) = reply else {
        return JoinGroupResponse::default()
            .with_error_code(ErrorCode::CoordinatorNotAvailable.code())
            .with_generation_id(-1);
    };
    JoinGroupResponse::default()
        .with_error_code(crate::error::code(j.error))
        .with_generation_id(j.generation_id)
        .with_protocol_type(j.protocol_type.map(str_bytes))
        .with_protocol_name(if version >= 7 {
            j.protocol_name.map(str_bytes)
        } else {
            Some(str_bytes(j.protocol_name.unwrap_or_default()))
        })
        .with_leader(str_bytes(j.leader))
        .with_skip_assignment(j.skip_assignment && version >= 9)
        .with_member_id(str_bytes(j.member_id))
        .with_members(
            j.members
                .into_iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(str_bytes(m.member_id))
                        .with_group_instance_id(m.group_instance_id.map(str_bytes))
                        .with_metadata(m.metadata)
                })
                .collect(),
        )
}
