//! The conversation the harness has with each broker, the same on both: topics created,
//! records produced and fetched, a group formed and emptied, an idempotent and a
//! transactional producer, and the admin APIs, each with its edge cases (unknown names, bad
//! values, out-of-range offsets). Later requests use what earlier answers gave (member ids,
//! producer ids, topic ids), each from its own broker.

mod admin;
mod data;
mod groups;
mod txn;

use std::collections::BTreeMap;

use bytes::Bytes;
use strom_codec::kafka_protocol::messages::{GroupId, TopicName, TransactionalId};
use strom_codec::kafka_protocol::protocol::StrBytes;

use super::session::Session;

/// Record timestamps the scenario writes (fixed, so both logs hold the same bytes).
pub const TS: i64 = 1_700_000_000_000;
/// Topics the scenario creates.
pub const TOPIC_A: &str = "diff-a";
pub const TOPIC_COMPACT: &str = "diff-compact";
pub const TOPIC_TXN: &str = "diff-txn";
pub const TOPIC_GONE: &str = "diff-gone";
pub const GROUP: &str = "diff-group";
pub const TXN_ID: &str = "diff-txn-id";

/// What earlier answers told this session.
#[derive(Default)]
pub struct State {
    pub topic_ids: BTreeMap<String, uuid::Uuid>,
}

/// Runs the whole conversation on `s`.
pub async fn run(c: &mut Session) {
    let mut st = State::default();
    c.ask(
        "api versions",
        strom_codec::kafka_protocol::messages::ApiVersionsRequest::default()
            .with_client_software_name(s("strom-differential"))
            .with_client_software_version(s("1")),
    )
    .await;
    settle(c).await;
    data::topics(c, &mut st).await;
    data::produce(c).await;
    data::fetch(c, &st).await;
    data::offsets(c).await;
    groups::classic(c).await;
    txn::idempotent(c).await;
    txn::transactional(c, &st).await;
    admin::configs(c).await;
    admin::partitions_and_records(c).await;
    admin::acls_and_users(c).await;
    admin::cluster(c).await;
    admin::delete_topics(c).await;
}

/// Waits (unrecorded, bounded) until the group and transaction coordinators and the
/// producer-id manager answer without error: Kafka creates its internal topics and loads
/// coordinators on first use, and clients retry until then.
async fn settle(c: &mut Session) {
    use strom_codec::kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
    use strom_codec::kafka_protocol::messages::{
        FindCoordinatorRequest, InitProducerIdRequest, OffsetFetchRequest, ProducerId,
    };
    let pause = std::time::Duration::from_millis(200);
    for key_type in [0i8, 1] {
        let key = if key_type == 0 {
            "diff-warmup"
        } else {
            "diff-warmup-txn"
        };
        for _ in 0..150 {
            let req = if c.version::<FindCoordinatorRequest>().unwrap_or(0) >= 4 {
                FindCoordinatorRequest::default()
                    .with_key_type(key_type)
                    .with_coordinator_keys(vec![s(key)])
            } else {
                FindCoordinatorRequest::default()
                    .with_key_type(key_type)
                    .with_key(s(key))
            };
            let ok = c.quiet(&req).await.is_some_and(|r| {
                r.error_code == 0 && r.coordinators.iter().all(|k| k.error_code == 0)
            });
            if ok {
                break;
            }
            tokio::time::sleep(pause).await;
        }
    }
    for _ in 0..150 {
        let req = if c.version::<OffsetFetchRequest>().unwrap_or(0) >= 8 {
            OffsetFetchRequest::default().with_groups(vec![
                OffsetFetchRequestGroup::default().with_group_id(group("diff-warmup"))
            ])
        } else {
            OffsetFetchRequest::default().with_group_id(group("diff-warmup"))
        };
        let ok = c
            .quiet(&req)
            .await
            .is_some_and(|r| r.error_code == 0 && r.groups.iter().all(|g| g.error_code == 0));
        if ok {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    for id in [None, Some("diff-warmup-txn")] {
        for _ in 0..150 {
            let req = InitProducerIdRequest::default()
                .with_transactional_id(id.map(txn_id))
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1);
            if c.quiet(&req).await.is_some_and(|r| r.error_code == 0) {
                break;
            }
            tokio::time::sleep(pause).await;
        }
    }
}

pub fn s(x: &str) -> StrBytes {
    StrBytes::from_string(x.to_owned())
}

pub fn topic(x: &str) -> TopicName {
    TopicName(s(x))
}

pub fn group(x: &str) -> GroupId {
    GroupId(s(x))
}

pub fn txn_id(x: &str) -> TransactionalId {
    TransactionalId(s(x))
}

/// A v2 batch of `n` records `k{i}`/`v{i}` with fixed timestamps, optionally idempotent.
pub fn batch(n: usize, first: usize, producer: Option<(i64, i16, i32)>) -> Bytes {
    let keys: Vec<(String, String)> = (first..first + n)
        .map(|i| (format!("k{i}"), format!("value-{i}")))
        .collect();
    let records: Vec<strom_storage::batch::KeyValue<'_>> = keys
        .iter()
        .map(|(k, v)| (Some(k.as_bytes()), Some(v.as_bytes())))
        .collect();
    Bytes::from(strom_storage::batch::build_batch(&records, TS, 1, producer))
}
