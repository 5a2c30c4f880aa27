//! InitProducerId (API key 22, v0–v5): a new producer id (epoch 0) for an idempotent
//! producer, from blocks reserved in the metadata log before use; with a transactional id,
//! the transaction coordinator's id and (bumped) epoch (see
//! [`crate::coordinators::transactions`]).

use std::ops::RangeInclusive;

use strom_codec::kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProducerId,
};
use strom_codec::ErrorCode;
use strom_coordinator::transactions::InitProducerId;

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=5;

fn failed(error: ErrorCode) -> InitProducerIdResponse {
    InitProducerIdResponse::default()
        .with_error_code(error.code())
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let txn = request.transactional_id.as_ref().map(|id| {
        let expected = (request.producer_id.0 >= 0 && request.producer_epoch >= 0)
            .then_some((request.producer_id.0, request.producer_epoch));
        InitProducerId {
            transactional_id: id.as_str().to_string(),
            timeout_ms: request.transaction_timeout_ms,
            expected,
        }
    });
    match ctx.state.txns.init_producer_id(txn).await {
        Ok((pid, epoch)) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch),
        Err(e) => {
            tracing::debug!(peer = %ctx.peer, transactional_id = ?request.transactional_id, error = ?e, "InitProducerId refused");
            failed(super::fenced_as_known(e, ctx.version, 4))
        }
    }
}
