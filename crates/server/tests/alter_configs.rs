//! IncrementalAlterConfigs: topic configs change live, persist across restarts, and bad
//! requests get Kafka's error codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::{broker_in, call, produce};
use strom_codec::kafka_protocol::messages::create_topics_request::CreatableTopic;
use strom_codec::kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use strom_codec::kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::StrBytes;
use tokio::net::TcpStream;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

async fn alter(
    conn: &mut TcpStream,
    resource_type: i8,
    name: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> (i16, Option<String>) {
    let request = IncrementalAlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(resource_type)
            .with_resource_name(s(name))
            .with_configs(
                ops.iter()
                    .map(|(k, op, v)| {
                        AlterableConfig::default()
                            .with_name(s(k))
                            .with_config_operation(*op)
                            .with_value(v.map(s))
                    })
                    .collect(),
            )]);
    let response: IncrementalAlterConfigsResponse = call(
        conn,
        ApiKey::IncrementalAlterConfigs,
        1,
        RequestKind::IncrementalAlterConfigs(request),
    )
    .await;
    let r = &response.responses[0];
    (
        r.error_code,
        r.error_message.as_ref().map(|m| m.as_str().to_string()),
    )
}

fn keyless() -> Vec<u8> {
    strom_storage::batch::build_uncompressed(
        &[b"a", b"b", b"c"],
        strom_server::clock::Clock::system().wall_ms(),
        None,
    )
}

#[tokio::test]
async fn topic_configs_alter_live_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let broker = broker_in(dir.path()).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s("cfg")))
            .with_num_partitions(1)
            .with_replication_factor(1)]);
    let created: CreateTopicsResponse = call(
        &mut conn,
        ApiKey::CreateTopics,
        7,
        RequestKind::CreateTopics(create),
    )
    .await;
    assert_eq!(created.topics[0].error_code, 0);

    assert_eq!(
        produce(&mut conn, "cfg", keyless(), 1).await.0,
        0,
        "delete policy takes keyless records"
    );
    // validate_only changes nothing.
    assert_eq!(
        alter(
            &mut conn,
            2,
            "cfg",
            &[("cleanup.policy", 2, Some("compact"))],
            true
        )
        .await
        .0,
        0
    );
    assert_eq!(produce(&mut conn, "cfg", keyless(), 2).await.0, 0);
    // APPEND compact: keyless records are now refused, each one named.
    assert_eq!(
        alter(
            &mut conn,
            2,
            "cfg",
            &[
                ("cleanup.policy", 2, Some("compact")),
                ("retention.ms", 0, Some("1000"))
            ],
            false
        )
        .await
        .0,
        0
    );
    assert_eq!(
        produce(&mut conn, "cfg", keyless(), 3).await,
        (87, -1, vec![0, 1, 2]),
        "INVALID_RECORD with record errors"
    );
    drop(conn);
    broker.shutdown().await;

    // Persisted: still compacted after a restart.
    let broker = broker_in(dir.path()).await;
    let mut conn = TcpStream::connect(broker.local_addr()).await.unwrap();
    assert_eq!(produce(&mut conn, "cfg", keyless(), 4).await.0, 87);
    // SUBTRACT compact: back to delete.
    assert_eq!(
        alter(
            &mut conn,
            2,
            "cfg",
            &[("cleanup.policy", 3, Some("compact"))],
            false
        )
        .await
        .0,
        0
    );
    assert_eq!(produce(&mut conn, "cfg", keyless(), 5).await.0, 0);

    // Errors.
    let (code, message) = alter(
        &mut conn,
        2,
        "cfg",
        &[("no.such.config", 0, Some("1"))],
        false,
    )
    .await;
    assert_eq!(code, 40, "INVALID_CONFIG: {message:?}");
    assert_eq!(
        alter(
            &mut conn,
            2,
            "cfg",
            &[("retention.ms", 0, Some("soon"))],
            false
        )
        .await
        .0,
        40
    );
    assert_eq!(
        alter(
            &mut conn,
            2,
            "cfg",
            &[("retention.ms", 2, Some("5"))],
            false
        )
        .await
        .0,
        40,
        "APPEND to a non-list"
    );
    assert_eq!(
        alter(
            &mut conn,
            2,
            "nope",
            &[("retention.ms", 0, Some("5"))],
            false
        )
        .await
        .0,
        3
    );
    assert_eq!(
        alter(
            &mut conn,
            2,
            "cfg",
            &[("retention.ms", 0, Some("5")), ("retention.ms", 1, None)],
            false
        )
        .await
        .0,
        42
    );
    assert_eq!(
        alter(&mut conn, 4, "1", &[("node.id", 0, Some("5"))], false)
            .await
            .0,
        42,
        "a static broker config cannot change at runtime"
    );
    assert_eq!(
        alter(
            &mut conn,
            4,
            "1",
            &[("log.retention.ms", 0, Some("soon"))],
            false
        )
        .await
        .0,
        40,
        "invalid dynamic broker value"
    );
    assert_eq!(
        alter(
            &mut conn,
            4,
            "1",
            &[("log.retention.ms", 0, Some("5"))],
            false
        )
        .await
        .0,
        0,
        "dynamic broker config"
    );
    // DELETE returns a key to its default.
    assert_eq!(
        alter(&mut conn, 2, "cfg", &[("retention.ms", 1, None)], false)
            .await
            .0,
        0
    );
    let retention_of = |broker: &strom_server::Broker, topic: &str| {
        broker
            .state()
            .topics
            .get(topic)
            .unwrap()
            .partition(0)
            .unwrap()
            .log()
            .config()
            .retention_ms
    };
    assert_eq!(
        retention_of(&broker, "cfg"),
        5,
        "topics follow the broker default"
    );
    assert_eq!(
        alter(&mut conn, 4, "1", &[("log.retention.ms", 1, None)], false)
            .await
            .0,
        0
    );
    drop(conn);
    broker.shutdown().await;
}
