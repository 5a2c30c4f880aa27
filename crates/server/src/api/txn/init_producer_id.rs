//! InitProducerId (API key 22, v0–v5): a new producer id (epoch 0) for an idempotent
//! producer, from blocks persisted in the metadata log before use; with a transactional id,
//! the transaction coordinator's id and (bumped) epoch (see [`crate::transactions`]).

use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProducerId,
};
use strom_codec::ErrorCode;
use strom_storage::meta::MetaRecord;

use crate::context::RequestContext;
use crate::state::BrokerState;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=5;

fn failed(error: ErrorCode) -> InitProducerIdResponse {
    InitProducerIdResponse::default()
        .with_error_code(error.code())
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}

/// A new producer id, its block persisted before use (blocking: may fsync).
pub fn allocate(state: &BrokerState) -> Result<i64, crate::topics::TopicError> {
    let mut ids = state
        .producer_ids
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let allocation = ids.allocate();
    if let Some(next) = allocation.persist_next_block {
        state.topics.persist(MetaRecord::ProducerIdBlock { next })?;
    }
    Ok(allocation.producer_id)
}

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    if let Some(id) = &request.transactional_id {
        let expected = (request.producer_id.0 >= 0 && request.producer_epoch >= 0)
            .then_some((request.producer_id.0, request.producer_epoch));
        return match ctx
            .state
            .txns
            .init_producer_id(
                ctx.state,
                id.as_str(),
                request.transaction_timeout_ms,
                expected,
            )
            .await
        {
            Ok((pid, epoch)) => InitProducerIdResponse::default()
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch),
            Err(e) => {
                tracing::debug!(peer = %ctx.peer, transactional_id = %id.as_str(), error = ?e, "InitProducerId refused");
                failed(e)
            }
        };
    }
    let state = Arc::clone(ctx.state);
    let allocated = tokio::task::spawn_blocking(move || allocate(&state)).await;
    match allocated {
        Ok(Ok(id)) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot persist producer id block");
            failed(ErrorCode::CoordinatorNotAvailable)
        }
        Err(_) => failed(ErrorCode::CoordinatorNotAvailable),
    }
}
