//! Heartbeat (API key 12, v0–v4): keeps a member's session alive, tells it when to rejoin.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};
use strom_codec::ErrorCode;
use strom_coordinator::groups::HeartbeatRequest as Beat;

use crate::api::text::opt_string;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=4;

pub async fn handle(ctx: &RequestContext<'_>, request: HeartbeatRequest) -> HeartbeatResponse {
    let req = Beat {
        group_id: request.group_id.0.as_str().to_string(),
        generation_id: request.generation_id,
        member_id: request.member_id.as_str().to_string(),
        group_instance_id: opt_string(request.group_instance_id.as_ref()),
    };
    let error = ctx
        .state
        .groups
        .heartbeat(req)
        .await
        .unwrap_or(Some(ErrorCode::CoordinatorNotAvailable));
    if error.is_some() {
        tracing::debug!(?error, "Heartbeat refused");
    }
    HeartbeatResponse::default().with_error_code(crate::error::code(error))
}
