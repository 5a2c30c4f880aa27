//! The conversation the harness has with each broker, the same on both: topics created,
//! records produced and fetched, a group formed and emptied, an idempotent and a
//! transactional producer, and the admin APIs, each with its edge cases (unknown names, bad
//! values, out-of-range offsets). Later requests use what earlier answers gave (member ids,
//! producer ids, topic ids), each from its own broker.

mod admin;
mod consumer;
mod data;
mod groups;
mod txn;

use std::collections::BTreeMap;

use bytes::Bytes;
use strom_codec::kafka_protocol::messages::{
    FindCoordinatorRequest, GroupId, InitProducerIdRequest, ProducerId, TopicName, TransactionalId,
};
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
pub const TXN_ID_V2: &str = "diff-txn-v2";

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
    data::produce(c, &st).await;
    data::fetch(c, &st).await;
    data::offsets(c).await;
    groups::classic(c, &st).await;
    consumer::consumer(c, &st).await;
    txn::idempotent(c, &st).await;
    txn::transactional(c, &st).await;
    txn::transactional_v2(c, &st).await;
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
    for (key_type, key) in [(0, "diff-warmup"), (1, "diff-warmup-txn")] {
        let v = c.version::<FindCoordinatorRequest>().unwrap_or(0);
        let req = find_coordinator(v, key_type, &[key]);
        c.wait_until(&req, |r| {
            r.error_code == 0 && r.coordinators.iter().all(|k| k.error_code == 0)
        })
        .await;
    }
    let v = c
        .version::<strom_codec::kafka_protocol::messages::OffsetFetchRequest>()
        .unwrap_or(0);
    c.wait_until(
        &groups::offset_fetch(&State::default(), v, "diff-warmup", true),
        |r| r.error_code == 0 && r.groups.iter().all(|g| g.error_code == 0),
    )
    .await;
    for id in [None, Some("diff-warmup-txn")] {
        c.wait_until(&init_producer_id(id), |r| r.error_code == 0)
            .await;
    }
}

/// FindCoordinator for `keys` of `key_type` (0 group, 1 transaction) as version `v` carries
/// them: a batch from v4, the first key alone before.
pub fn find_coordinator(v: i16, key_type: i8, keys: &[&str]) -> FindCoordinatorRequest {
    let req = FindCoordinatorRequest::default().with_key_type(key_type);
    if v >= 4 {
        req.with_coordinator_keys(keys.iter().map(|k| s(k)).collect())
    } else {
        req.with_key(s(keys.first().copied().unwrap_or_default()))
    }
}

/// InitProducerId for a new producer, transactional when `txn` names it.
pub fn init_producer_id(txn: Option<&str>) -> InitProducerIdRequest {
    InitProducerIdRequest::default()
        .with_transactional_id(txn.map(txn_id))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1)
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
