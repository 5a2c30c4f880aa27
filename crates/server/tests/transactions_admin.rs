//! The transaction coordinator's admin APIs (KIP-664) on the wire: ListTransactions with
//! each filter, DescribeTransactions of a known and an unknown id.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{broker, call};
use strom_codec::kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, InitProducerIdRequest,
    InitProducerIdResponse, ListTransactionsRequest, ListTransactionsResponse, ProducerId,
    RequestKind, TransactionalId,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.into())
}

async fn list(conn: &mut TcpStream, request: ListTransactionsRequest) -> ListTransactionsResponse {
    call(
        conn,
        ApiKey::ListTransactions,
        2,
        RequestKind::ListTransactions(request),
    )
    .await
}

fn ids(r: &ListTransactionsResponse) -> Vec<String> {
    let mut ids: Vec<String> = r
        .transaction_states
        .iter()
        .map(|t| t.transactional_id.0.to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn transactions_are_listed_filtered_and_described() {
    let (broker, _dir) = broker().await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let mut producer_ids = Vec::new();
    for id in ["orders-1", "orders-2", "billing"] {
        let init = InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s(id))))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
        let r: InitProducerIdResponse = call(
            &mut conn,
            ApiKey::InitProducerId,
            4,
            RequestKind::InitProducerId(init),
        )
        .await;
        assert_eq!(r.error_code, 0, "{id}");
        producer_ids.push(r.producer_id);
    }

    let all = list(
        &mut conn,
        ListTransactionsRequest::default().with_duration_filter(-1),
    )
    .await;
    assert_eq!(all.error_code, 0);
    assert_eq!(ids(&all), vec!["billing", "orders-1", "orders-2"]);
    assert!(all
        .transaction_states
        .iter()
        .all(|t| t.transaction_state.as_str() == "Empty"));

    // State filters: a known state nobody is in, and an unknown one echoed back.
    let r = list(
        &mut conn,
        ListTransactionsRequest::default()
            .with_duration_filter(-1)
            .with_state_filters(vec![s("Ongoing"), s("Sleeping")]),
    )
    .await;
    assert!(r.transaction_states.is_empty());
    assert_eq!(r.unknown_state_filters, vec![s("Sleeping")]);

    // Producer id filter.
    let r = list(
        &mut conn,
        ListTransactionsRequest::default()
            .with_duration_filter(-1)
            .with_producer_id_filters(vec![producer_ids[2]]),
    )
    .await;
    assert_eq!(ids(&r), vec!["billing"]);

    // A pattern must match the whole id (v2); a malformed one is refused.
    let r = list(
        &mut conn,
        ListTransactionsRequest::default()
            .with_duration_filter(-1)
            .with_transactional_id_pattern(Some(s("orders-\\d"))),
    )
    .await;
    assert_eq!(ids(&r), vec!["orders-1", "orders-2"]);
    let r = list(
        &mut conn,
        ListTransactionsRequest::default()
            .with_duration_filter(-1)
            .with_transactional_id_pattern(Some(s("orders"))),
    )
    .await;
    assert!(ids(&r).is_empty());
    let r = list(
        &mut conn,
        ListTransactionsRequest::default()
            .with_duration_filter(-1)
            .with_transactional_id_pattern(Some(s("(orders"))),
    )
    .await;
    assert_eq!(r.error_code, 128, "INVALID_REGULAR_EXPRESSION");

    let describe = DescribeTransactionsRequest::default().with_transactional_ids(vec![
        TransactionalId(s("orders-1")),
        TransactionalId(s("nobody")),
    ]);
    let r: DescribeTransactionsResponse = call(
        &mut conn,
        ApiKey::DescribeTransactions,
        0,
        RequestKind::DescribeTransactions(describe),
    )
    .await;
    let known = &r.transaction_states[0];
    assert_eq!(known.error_code, 0);
    assert_eq!(known.transaction_state.as_str(), "Empty");
    assert_eq!(known.transaction_timeout_ms, 60_000);
    assert_eq!(known.producer_id, producer_ids[0]);
    assert!(known.topics.is_empty());
    assert_eq!(
        r.transaction_states[1].error_code, 105,
        "TRANSACTIONAL_ID_NOT_FOUND"
    );
    broker.shutdown().await;
}
