//! FindCoordinator (API key 10, v0–v6; batched keys from v4): this broker coordinates every
//! group. Transaction coordinators do not exist yet: key type 1 gets COORDINATOR_NOT_AVAILABLE.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::find_coordinator_response::Coordinator;
use strom_codec::kafka_protocol::messages::{
    BrokerId, FindCoordinatorRequest, FindCoordinatorResponse,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use strom_codec::ErrorCode;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=6;

const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let version = ctx.version;
    let (host, port) = ctx.state.advertised_for(ctx.local);
    let node = ctx.state.config.node_id;
    let answer = |key: &StrBytes| -> (Option<ErrorCode>, Option<String>) {
        match request.key_type {
            KEY_TYPE_GROUP if key.is_empty() => (
                Some(ErrorCode::InvalidRequest),
                Some("empty group id".into()),
            ),
            KEY_TYPE_GROUP => (None, None),
            KEY_TYPE_TRANSACTION if key.is_empty() => (
                Some(ErrorCode::InvalidRequest),
                Some("empty transactional id".into()),
            ),
            KEY_TYPE_TRANSACTION => (None, None),
            other => (
                Some(ErrorCode::InvalidRequest),
                Some(format!("unknown key type {other}")),
            ),
        }
    };
    if version >= 4 {
        let coordinators = request
            .coordinator_keys
            .iter()
            .map(|key| {
                let (error, message) = answer(key);
                let c = Coordinator::default()
                    .with_key(key.clone())
                    .with_error_code(crate::error::code(error))
                    .with_error_message(message.map(str_bytes));
                if error.is_some() {
                    c.with_node_id(BrokerId(-1))
                        .with_host(StrBytes::default())
                        .with_port(-1)
                } else {
                    c.with_node_id(BrokerId(node))
                        .with_host(str_bytes(host.clone()))
                        .with_port(port)
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let (error, message) = answer(&request.key);
    let response = FindCoordinatorResponse::default()
        .with_error_code(crate::error::code(error))
        .with_error_message(message.map(str_bytes));
    if error.is_some() {
        response
            .with_node_id(BrokerId(-1))
            .with_host(StrBytes::default())
            .with_port(-1)
    } else {
        response
            .with_node_id(BrokerId(node))
            .with_host(str_bytes(host))
            .with_port(port)
    }
}
