//! EndTxn (API key 26, v0–v4): commit or abort the producer's open transaction. v5 (KIP-890
//! transaction version 2, an epoch bump per end) is not advertised.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};
use strom_coordinator::transactions::EndTxn;

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=4;

pub async fn handle(ctx: &RequestContext<'_>, request: EndTxnRequest) -> EndTxnResponse {
    let result = ctx
        .state
        .txns
        .end_txn(EndTxn {
            transactional_id: request.transactional_id.0.as_str().to_string(),
            producer_id: request.producer_id.0,
            producer_epoch: request.producer_epoch,
            commit: request.committed,
        })
        .await;
    if let Err(e) = result {
        tracing::debug!(peer = %ctx.peer, transactional_id = %request.transactional_id.0.as_str(), error = ?e, "EndTxn refused");
    }
    EndTxnResponse::default().with_error_code(crate::error::code(result.err()))
}
