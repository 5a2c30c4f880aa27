//! AddOffsetsToTxn (API key 25, v0–v4): the group's `__consumer_offsets` partition joins the
//! producer's open transaction, so TxnOffsetCommit may follow. v4 only declares that the
//! client handles TRANSACTION_ABORTABLE (KIP-890); transactions-v2 clients send none.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};
use strom_coordinator::transactions::AddOffsets;

use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=4;

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let result = ctx
        .state
        .txns
        .add_offsets(AddOffsets {
            transactional_id: request.transactional_id.0.as_str().to_string(),
            producer_id: request.producer_id.0,
            producer_epoch: request.producer_epoch,
            group_id: request.group_id.0.as_str().to_string(),
        })
        .await;
    AddOffsetsToTxnResponse::default().with_error_code(crate::error::code(
        result
            .err()
            .map(|e| super::fenced_as_known(e, ctx.version, 2)),
    ))
}
