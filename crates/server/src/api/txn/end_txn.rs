//! EndTxn (API key 26, v0–v5): commit or abort the producer's open transaction. v5 is KIP-890's
//! transactions v2: the coordinator bumps the producer's epoch with every end (the markers
//! carry the bumped epoch, fencing any late write of the ended transaction) and answers with
//! the producer id and epoch the producer goes on with.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};
use strom_coordinator::transactions::EndTxn;

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=5;

/// The first version of transactions v2 (Kafka's `TransactionVersion.transactionVersionForEndTxn`).
const TV2_VERSION: i16 = 5;

pub async fn handle(ctx: &RequestContext<'_>, request: EndTxnRequest) -> EndTxnResponse {
    let result = ctx
        .state
        .txns
        .end_txn(EndTxn {
            transactional_id: request.transactional_id.0.as_str().to_string(),
            producer_id: request.producer_id.0,
            producer_epoch: request.producer_epoch,
            commit: request.committed,
            tv2: ctx.version >= TV2_VERSION,
        })
        .await;
    if let Err(e) = result {
        tracing::debug!(peer = %ctx.peer, transactional_id = %request.transactional_id.0.as_str(), error = ?e, "EndTxn refused");
    }
    // As Kafka: -1/-1 with an error.
    let (producer_id, epoch) = result.unwrap_or((-1, -1));
    EndTxnResponse::default()
        .with_error_code(crate::error::code(
            result
                .err()
                .map(|e| super::fenced_as_known(e, ctx.version, 2)),
        ))
        .with_producer_id(ProducerId(producer_id))
        .with_producer_epoch(epoch)
}
