//! ListTransactions (API key 66, v0–v2, KIP-664): the transactional ids this coordinator
//! holds, filtered by state names (unknown names are echoed back in
//! `unknown_state_filters`), producer ids, how long the open transaction has run (v1), and
//! a regular expression the whole id must match (v2, RE2 syntax as Kafka's RE2J). An empty
//! filter matches everything.

use std::ops::RangeInclusive;
use strom_codec::kafka_protocol::messages::list_transactions_response::TransactionState;
use strom_codec::kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};
use strom_codec::ErrorCode;
use strom_coordinator::transactions::TxnState;

use crate::api::text::str_bytes;
use crate::context::RequestContext;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=2;

const STATES: [TxnState; 8] = [
    TxnState::Empty,
    TxnState::Ongoing,
    TxnState::PrepareCommit,
    TxnState::PrepareAbort,
    TxnState::CompleteCommit,
    TxnState::CompleteAbort,
    TxnState::Dead,
    TxnState::PrepareEpochFence,
];

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let pattern = match request.transactional_id_pattern.as_ref() {
        Some(p) if !p.is_empty() => match regex::Regex::new(&format!("^(?:{})$", p.as_str())) {
            Ok(re) => Some(re),
            Err(e) => {
                tracing::debug!(pattern = %p.as_str(), error = %e, "ListTransactions pattern refused");
                return ListTransactionsResponse::default()
                    .with_error_code(ErrorCode::InvalidRegularExpression.code());
            }
        },
        _ => None,
    };
    let Some(all) = ctx.state.txns.list().await else {
        return ListTransactionsResponse::default()
            .with_error_code(ErrorCode::CoordinatorNotAvailable.code());
    };
    let mut states = Vec::new();
    let mut unknown = Vec::new();
    for name in &request.state_filters {
        match STATES.iter().find(|s| s.name() == name.as_str()) {
            Some(s) => states.push(*s),
            None => unknown.push(name.clone()),
        }
    }
    let now_ms = ctx.state.clock.wall_ms();
    let listed = all
        .into_iter()
        .filter(|t| {
            (request.state_filters.is_empty() || states.contains(&t.state))
                && (request.producer_id_filters.is_empty()
                    || request
                        .producer_id_filters
                        .contains(&ProducerId(t.producer_id)))
                && (request.duration_filter < 0
                    || now_ms.saturating_sub(t.start_ms) >= request.duration_filter)
                && pattern
                    .as_ref()
                    .is_none_or(|re| re.is_match(&t.transactional_id))
        })
        .map(|t| {
            TransactionState::default()
                .with_transactional_id(TransactionalId(str_bytes(t.transactional_id)))
                .with_producer_id(ProducerId(t.producer_id))
                .with_transaction_state(str_bytes(t.state.name().to_string()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(listed)
}
