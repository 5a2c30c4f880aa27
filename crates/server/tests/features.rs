//! Feature levels (KIP-584): UpdateFeatures turns `group.version` off and on; below 1 the
//! KIP-848 APIs answer UNSUPPORTED_VERSION, as Kafka's; the level survives a restart.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{broker_in, call};
use strom_codec::kafka_protocol::messages::update_features_request::FeatureUpdateKey;
use strom_codec::kafka_protocol::messages::{
    ApiKey, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, GroupId, RequestKind,
    TopicName, UpdateFeaturesRequest, UpdateFeaturesResponse,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

async fn set_group_version(conn: &mut TcpStream, level: i16, upgrade_type: i8) -> i16 {
    let req = UpdateFeaturesRequest::default()
        .with_timeout_ms(5_000)
        .with_feature_updates(vec![FeatureUpdateKey::default()
            .with_feature(s("group.version"))
            .with_max_version_level(level)
            .with_upgrade_type(upgrade_type)]);
    let r: UpdateFeaturesResponse = call(
        conn,
        ApiKey::UpdateFeatures,
        1,
        RequestKind::UpdateFeatures(req),
    )
    .await;
    assert!(
        r.error_code == 0 || r.results.is_empty(),
        "a refusal has no results"
    );
    r.error_code
}

async fn join(conn: &mut TcpStream) -> i16 {
    let req = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(s("g")))
        .with_member_id(s("member-1"))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(30_000)
        .with_subscribed_topic_names(Some(vec![TopicName(s("t"))]))
        .with_topic_partitions(Some(Vec::new()));
    let r: ConsumerGroupHeartbeatResponse = call(
        conn,
        ApiKey::ConsumerGroupHeartbeat,
        1,
        RequestKind::ConsumerGroupHeartbeat(req),
    )
    .await;
    r.error_code
}

#[tokio::test]
async fn group_version_gates_the_consumer_protocol_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path()).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    assert_eq!(join(&mut conn).await, 0, "group.version is 1 by default");
    // A downgrade named as an upgrade is refused (INVALID_UPDATE_VERSION).
    assert_eq!(set_group_version(&mut conn, 0, 1).await, 95);
    assert_eq!(set_group_version(&mut conn, 0, 2).await, 0);
    assert_eq!(
        join(&mut conn).await,
        35,
        "UNSUPPORTED_VERSION at group.version 0"
    );
    drop(conn);
    broker.shutdown().await;
    let broker = broker_in(dir.path()).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    assert_eq!(join(&mut conn).await, 35, "still off after a restart");
    assert_eq!(set_group_version(&mut conn, 1, 1).await, 0);
    assert_eq!(join(&mut conn).await, 0);
    broker.shutdown().await;
}
