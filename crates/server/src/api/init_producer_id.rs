//! InitProducerId (API key 22, v0–v5): a new producer id (epoch 0) for an idempotent
//! producer, from blocks persisted in the metadata log before use. Transactional ids need
//! the transaction coordinator, which this broker does not have yet: they are answered
//! COORDINATOR_NOT_AVAILABLE (FindCoordinator for transactions is not advertised either).

use std::sync::Arc;

use strom_codec::kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProducerId,
};
use strom_codec::ErrorCode;
use strom_storage::meta::MetaRecord;

use crate::connection::ConnectionContext;

fn failed(error: ErrorCode) -> InitProducerIdResponse {
    InitProducerIdResponse::default()
        .with_error_code(error.code())
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
}

pub async fn handle(
    ctx: &ConnectionContext,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    if request.transactional_id.is_some() {
        tracing::info!(peer = %ctx.peer, "transactional producer refused: transactions are not supported yet");
        return failed(ErrorCode::CoordinatorNotAvailable);
    }
    let state = Arc::clone(&ctx.state);
    let allocated = tokio::task::spawn_blocking(move || {
        let mut ids = state
            .producer_ids
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let allocation = ids.allocate();
        if let Some(next) = allocation.persist_next_block {
            state.topics.persist(MetaRecord::ProducerIdBlock { next })?;
        }
        Ok::<_, crate::topics::TopicError>(allocation.producer_id)
    })
    .await;
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
