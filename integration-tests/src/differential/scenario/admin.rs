//! Configs, partitions, records, log dirs, ACLs, SCRAM users, cluster and topic deletion.

use strom_codec::kafka_protocol::messages::create_acls_request::AclCreation;
use strom_codec::kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use strom_codec::kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use strom_codec::kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use strom_codec::kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use strom_codec::kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use strom_codec::kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use strom_codec::kafka_protocol::messages::describe_topic_partitions_request::TopicRequest;
use strom_codec::kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use strom_codec::kafka_protocol::messages::{
    alter_configs_request, incremental_alter_configs_request as iac,
};
use strom_codec::kafka_protocol::messages::{
    AlterConfigsRequest, AlterPartitionReassignmentsRequest, CreateAclsRequest,
    CreatePartitionsRequest, DeleteAclsRequest, DeleteRecordsRequest, DeleteTopicsRequest,
    DescribeAclsRequest, DescribeAclsResponse, DescribeClusterRequest, DescribeConfigsRequest,
    DescribeConfigsResponse, DescribeLogDirsRequest, DescribeTopicPartitionsRequest,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse, ElectLeadersRequest,
    IncrementalAlterConfigsRequest, ListPartitionReassignmentsRequest,
};

use super::{s, topic, TOPIC_A, TOPIC_COMPACT, TOPIC_GONE};
use crate::differential::session::Session;

/// Topic configs whose values both brokers should agree on by default.
const TOPIC_KEYS: &[&str] = &[
    "cleanup.policy",
    "compression.type",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "index.interval.bytes",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// Broker configs whose values both brokers should agree on by default.
const BROKER_KEYS: &[&str] = &[
    "num.partitions",
    "default.replication.factor",
    "auto.create.topics.enable",
    "log.retention.hours",
    "log.retention.ms",
    "log.segment.bytes",
    "message.max.bytes",
    "log.cleanup.policy",
    "offsets.retention.minutes",
    "group.initial.rebalance.delay.ms",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "transaction.max.timeout.ms",
    "compression.type",
    "delete.topic.enable",
    "min.insync.replicas",
    "no.such.key",
];

fn describe(resources: Vec<(i8, &str, Option<&[&str]>)>, synonyms: bool) -> DescribeConfigsRequest {
    DescribeConfigsRequest::default()
        .with_include_synonyms(synonyms)
        .with_resources(
            resources
                .into_iter()
                .map(|(t, name, keys)| {
                    DescribeConfigsResource::default()
                        .with_resource_type(t)
                        .with_resource_name(s(name))
                        .with_configuration_keys(keys.map(|k| k.iter().map(|x| s(x)).collect()))
                })
                .collect(),
        )
}

fn incremental(
    topic_name: &str,
    ops: &[(&str, i8, Option<&str>)],
    validate_only: bool,
) -> IncrementalAlterConfigsRequest {
    IncrementalAlterConfigsRequest::default()
        .with_validate_only(validate_only)
        .with_resources(vec![iac::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s(topic_name))
            .with_configs(
                ops.iter()
                    .map(|(k, op, v)| {
                        iac::AlterableConfig::default()
                            .with_name(s(k))
                            .with_config_operation(*op)
                            .with_value(v.map(s))
                    })
                    .collect(),
            )])
}

/// DescribeConfigs (topic and broker, named keys, synonyms, every version, unknown
/// resources), IncrementalAlterConfigs and AlterConfigs with good and bad values.
pub async fn configs(c: &mut Session) {
    for v in c.all_versions::<DescribeConfigsRequest>() {
        let req = describe(vec![(2, TOPIC_COMPACT, Some(TOPIC_KEYS))], false);
        c.ask_at(&format!("describe configs v{v} topic"), v, req)
            .await;
    }
    c.ask(
        "describe configs: topic with synonyms",
        describe(
            vec![(
                2,
                TOPIC_A,
                Some(&["retention.ms", "cleanup.policy", "segment.bytes"]),
            )],
            true,
        ),
    )
    .await;
    c.ask(
        "describe configs: broker keys",
        describe(vec![(4, "1", Some(BROKER_KEYS))], false),
    )
    .await;
    c.ask(
        "describe configs: unknown topic, other broker, bad name",
        describe(
            vec![
                (2, "no-such-topic", None),
                (4, "7", None),
                (4, "x", None),
                (2, "", None),
            ],
            false,
        ),
    )
    .await;
    let set = incremental(
        TOPIC_A,
        &[
            ("retention.ms", 0, Some("3600000")),
            ("cleanup.policy", 2, Some("compact")),
        ],
        false,
    );
    c.ask("incremental alter: set and append", set).await;
    let bad = incremental(TOPIC_A, &[("retention.ms", 0, Some("soon"))], false);
    c.ask("incremental alter: bad value", bad).await;
    let unknown = incremental(TOPIC_A, &[("no.such.config", 0, Some("1"))], false);
    c.ask("incremental alter: unknown key", unknown).await;
    let bad_op = incremental(TOPIC_A, &[("retention.ms", 9, Some("1"))], false);
    c.ask("incremental alter: bad operation", bad_op).await;
    let subtract = incremental(TOPIC_A, &[("cleanup.policy", 3, Some("delete"))], true);
    c.ask("incremental alter: subtract, validate only", subtract)
        .await;
    let missing = incremental("no-such-topic", &[("retention.ms", 0, Some("1"))], false);
    c.ask("incremental alter: unknown topic", missing).await;
    // Kafka's broker applies a topic's new configs a moment after the controller commits
    // them; a client that describes at once may see the old ones.
    let retention = describe(vec![(2, TOPIC_A, Some(&["retention.ms"]))], false);
    c.wait_until(&retention, |r| config_is(r, "retention.ms", "3600000"))
        .await;
    c.ask(
        "describe configs: after alter",
        describe(
            vec![(2, TOPIC_A, Some(&["retention.ms", "cleanup.policy"]))],
            false,
        ),
    )
    .await;
    let delete = incremental(
        TOPIC_A,
        &[("retention.ms", 1, None), ("cleanup.policy", 1, None)],
        false,
    );
    c.ask("incremental alter: delete", delete).await;
    let alter = AlterConfigsRequest::default().with_resources(vec![
        alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s(TOPIC_COMPACT))
            .with_configs(vec![
                alter_configs_request::AlterableConfig::default()
                    .with_name(s("retention.ms"))
                    .with_value(Some(s("7200000"))),
                alter_configs_request::AlterableConfig::default()
                    .with_name(s("cleanup.policy"))
                    .with_value(Some(s("compact"))),
            ]),
    ]);
    c.ask("alter configs", alter).await;
    let retention = describe(vec![(2, TOPIC_COMPACT, Some(&["retention.ms"]))], false);
    c.wait_until(&retention, |r| config_is(r, "retention.ms", "7200000"))
        .await;
    c.ask(
        "describe configs: after alter configs",
        describe(vec![(2, TOPIC_COMPACT, Some(TOPIC_KEYS))], false),
    )
    .await;
}

/// CreatePartitions, DeleteRecords, DescribeLogDirs, ElectLeaders and reassignments.
pub async fn partitions_and_records(c: &mut Session) {
    let grow = |name: &str, count: i32| {
        CreatePartitionsTopic::default()
            .with_name(topic(name))
            .with_count(count)
            .with_assignments(None)
    };
    let req = CreatePartitionsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            grow(TOPIC_A, 4),
            grow(TOPIC_COMPACT, 1),
            grow("no-such-topic", 3),
        ]);
    c.ask("create partitions", req).await;
    let huge = CreatePartitionsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![grow(TOPIC_GONE, 10_000_000)]);
    c.ask("create partitions: ten million", huge).await;
    let validate = CreatePartitionsRequest::default()
        .with_timeout_ms(10_000)
        .with_validate_only(true)
        .with_topics(vec![grow(TOPIC_GONE, 5)]);
    c.ask("create partitions: validate only", validate).await;
    let del = |p: i32, offset: i64| {
        DeleteRecordsPartition::default()
            .with_partition_index(p)
            .with_offset(offset)
    };
    let req = DeleteRecordsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![
            DeleteRecordsTopic::default()
                .with_name(topic(TOPIC_A))
                .with_partitions(vec![
                    del(0, 1),
                    del(1, -1),
                    del(2, 1000),
                    del(3, 0),
                    del(9, 0),
                ]),
            DeleteRecordsTopic::default()
                .with_name(topic("no-such-topic"))
                .with_partitions(vec![del(0, 0)]),
        ]);
    c.ask("delete records", req).await;
    let dirs =
        DescribeLogDirsRequest::default()
            .with_topics(Some(vec![DescribableLogDirTopic::default()
                .with_topic(topic(TOPIC_A))
                .with_partitions(vec![0, 1, 9])]));
    c.ask("describe log dirs", dirs).await;
    let elect = ElectLeadersRequest::default()
        .with_election_type(0)
        .with_timeout_ms(10_000)
        .with_topic_partitions(Some(vec![
            strom_codec::kafka_protocol::messages::elect_leaders_request::TopicPartitions::default(
            )
            .with_topic(topic(TOPIC_A))
            .with_partitions(vec![0, 9]),
        ]));
    c.ask("elect leaders: preferred", elect).await;
    c.ask(
        "list partition reassignments",
        ListPartitionReassignmentsRequest::default().with_timeout_ms(10_000),
    )
    .await;
    use strom_codec::kafka_protocol::messages::alter_partition_reassignments_request::{
        ReassignablePartition, ReassignableTopic,
    };
    let move_to = |replicas: Option<Vec<i32>>| {
        AlterPartitionReassignmentsRequest::default()
            .with_timeout_ms(10_000)
            .with_topics(vec![ReassignableTopic::default()
                .with_name(topic(TOPIC_A))
                .with_partitions(vec![ReassignablePartition::default()
                    .with_partition_index(0)
                    .with_replicas(replicas.map(|r| {
                        r.into_iter()
                            .map(strom_codec::kafka_protocol::messages::BrokerId)
                            .collect()
                    }))])])
    };
    c.ask(
        "alter partition reassignments: to a missing broker",
        move_to(Some(vec![7])),
    )
    .await;
    c.ask("alter partition reassignments: cancel none", move_to(None))
        .await;
}

fn acl(name: &str, pattern: i8, principal: &str, operation: i8, permission: i8) -> AclCreation {
    AclCreation::default()
        .with_resource_type(2)
        .with_resource_name(s(name))
        .with_resource_pattern_type(pattern)
        .with_principal(s(principal))
        .with_host(s("*"))
        .with_operation(operation)
        .with_permission_type(permission)
}

fn acl_filter(resource_type: i8, name: Option<&str>, pattern: i8) -> DescribeAclsRequest {
    DescribeAclsRequest::default()
        .with_resource_type_filter(resource_type)
        .with_resource_name_filter(name.map(s))
        .with_pattern_type_filter(pattern)
        .with_operation(1)
        .with_permission_type(1)
}

/// Whether a DescribeConfigs answer gives `key` the value `value`.
fn config_is(r: &DescribeConfigsResponse, key: &str, value: &str) -> bool {
    r.results
        .iter()
        .flat_map(|x| &x.configs)
        .any(|c| c.name.as_str() == key && c.value.as_deref() == Some(value))
}

/// How many ACLs a DescribeAcls answer lists.
fn acl_count(r: &DescribeAclsResponse) -> usize {
    r.resources.iter().map(|x| x.acls.len()).sum()
}

/// Whether a DescribeUserScramCredentials answer lists `user`.
fn has_user(r: &DescribeUserScramCredentialsResponse, user: &str) -> bool {
    r.results.iter().any(|x| x.user.as_str() == user)
}

/// CreateAcls (good and bad), DescribeAcls with filters, DeleteAcls; SCRAM users.
pub async fn acls_and_users(c: &mut Session) {
    let create = CreateAclsRequest::default().with_creations(vec![
        acl("diff-", 4, "User:alice", 3, 3),
        acl(TOPIC_A, 3, "User:bob", 2, 2),
        acl(TOPIC_A, 3, "User:carol", 4, 3),
    ]);
    c.ask("create acls", create).await;
    // Kafka answers once the controller has the ACLs; its authorizer learns them a moment
    // later, as a client that describes straight away would see.
    c.wait_until(&acl_filter(1, None, 1), |r| acl_count(r) >= 3)
        .await;
    for (what, bad) in [
        ("principal without a type", acl(TOPIC_A, 3, "alice", 3, 3)),
        ("pattern ANY", acl(TOPIC_A, 1, "User:alice", 3, 3)),
        ("operation UNKNOWN", acl(TOPIC_A, 3, "User:alice", 0, 3)),
    ] {
        let req = CreateAclsRequest::default().with_creations(vec![bad]);
        c.ask(&format!("create acls: {what}"), req).await;
    }
    c.ask("describe acls: all", acl_filter(1, None, 1)).await;
    c.ask(
        "describe acls: match diff-a",
        acl_filter(2, Some(TOPIC_A), 2),
    )
    .await;
    c.ask("describe acls: prefixed only", acl_filter(2, None, 4))
        .await;
    c.ask("describe acls: bad filter", acl_filter(0, None, 1))
        .await;
    let delete = DeleteAclsRequest::default().with_filters(vec![
        DeleteAclsFilter::default()
            .with_resource_type_filter(2)
            .with_resource_name_filter(Some(s(TOPIC_A)))
            .with_pattern_type_filter(3)
            .with_operation(1)
            .with_permission_type(1),
        DeleteAclsFilter::default()
            .with_resource_type_filter(1)
            .with_pattern_type_filter(1)
            .with_principal_filter(Some(s("User:nobody")))
            .with_operation(1)
            .with_permission_type(1),
    ]);
    c.ask("delete acls", delete).await;
    c.wait_until(&acl_filter(1, None, 1), |r| acl_count(r) <= 1)
        .await;
    c.ask("describe acls: after delete", acl_filter(1, None, 1))
        .await;
    let users = |names: Option<&[&str]>| {
        DescribeUserScramCredentialsRequest::default().with_users(names.map(|n| {
            n.iter()
                .map(|x| UserName::default().with_name(s(x)))
                .collect()
        }))
    };
    use strom_codec::kafka_protocol::messages::alter_user_scram_credentials_request::{
        ScramCredentialDeletion, ScramCredentialUpsertion,
    };
    use strom_codec::kafka_protocol::messages::AlterUserScramCredentialsRequest;
    let upsert = |name: &str, mechanism: i8, iterations: i32| {
        ScramCredentialUpsertion::default()
            .with_name(s(name))
            .with_mechanism(mechanism)
            .with_iterations(iterations)
            .with_salt(bytes::Bytes::from_static(b"differential-salt"))
            .with_salted_password(bytes::Bytes::from(vec![7u8; 32]))
    };
    let alter = AlterUserScramCredentialsRequest::default().with_upsertions(vec![
        upsert("alice", 1, 4096),
        upsert("bob", 2, 8192),
        upsert("too-few", 1, 10),
        upsert("bad-mechanism", 9, 4096),
    ]);
    c.ask("alter scram users: upsert", alter).await;
    // As with ACLs, Kafka's broker learns the credentials a moment after the controller.
    c.wait_until(&users(None), |r| has_user(r, "alice") && has_user(r, "bob"))
        .await;
    c.ask("describe scram users: all", users(None)).await;
    c.ask(
        "describe scram users: unknown",
        users(Some(&["nobody", "alice"])),
    )
    .await;
    let delete = AlterUserScramCredentialsRequest::default().with_deletions(vec![
        ScramCredentialDeletion::default()
            .with_name(s("alice"))
            .with_mechanism(1),
        ScramCredentialDeletion::default()
            .with_name(s("nobody"))
            .with_mechanism(1),
        ScramCredentialDeletion::default()
            .with_name(s(""))
            .with_mechanism(1),
    ]);
    c.ask("alter scram users: delete", delete).await;
    c.wait_until(&users(None), |r| !has_user(r, "alice")).await;
    c.ask("describe scram users: after delete", users(None))
        .await;
}

/// UpdateFeatures: a no-op upgrade, a downgrade without its type, an unknown feature, a
/// level out of range and a feature named twice (validate only from v1; nothing changes).
async fn features(c: &mut Session) {
    use strom_codec::kafka_protocol::messages::update_features_request::FeatureUpdateKey;
    use strom_codec::kafka_protocol::messages::UpdateFeaturesRequest;
    let key = |name: &str, level: i16, upgrade_type: i8| {
        FeatureUpdateKey::default()
            .with_feature(s(name))
            .with_max_version_level(level)
            .with_upgrade_type(upgrade_type)
            .with_allow_downgrade(upgrade_type != 1)
    };
    let cases = [
        ("same level", vec![key("group.version", 1, 1)]),
        ("downgrade as upgrade", vec![key("group.version", 0, 1)]),
        ("unknown feature", vec![key("no.such.version", 1, 1)]),
        ("level out of range", vec![key("group.version", 9, 1)]),
        (
            "named twice",
            vec![key("group.version", 1, 1), key("group.version", 1, 1)],
        ),
    ];
    for v in c.all_versions::<UpdateFeaturesRequest>() {
        for (what, updates) in &cases {
            let req = UpdateFeaturesRequest::default()
                .with_timeout_ms(10_000)
                // v0 has no validate_only: its cases change nothing either way.
                .with_validate_only(v >= 1)
                .with_feature_updates(updates.clone());
            c.ask_at(&format!("update features v{v}: {what}"), v, req)
                .await;
        }
    }
}

/// DescribeCluster, DescribeTopicPartitions, UpdateFeatures.
pub async fn cluster(c: &mut Session) {
    features(c).await;
    for v in c.all_versions::<DescribeClusterRequest>() {
        c.ask_at(
            &format!("describe cluster v{v}"),
            v,
            DescribeClusterRequest::default().with_include_cluster_authorized_operations(true),
        )
        .await;
    }
    let req = DescribeTopicPartitionsRequest::default()
        .with_response_partition_limit(2)
        .with_topics(vec![
            TopicRequest::default().with_name(topic(TOPIC_A)),
            TopicRequest::default().with_name(topic("no-such-topic")),
        ]);
    c.ask("describe topic partitions: limit 2", req).await;
}

/// DeleteTopics by name (known and unknown) and, from v6, by id.
pub async fn delete_topics(c: &mut Session) {
    for v in c
        .all_versions::<DeleteTopicsRequest>()
        .into_iter()
        .rev()
        .take(1)
    {
        let req = if v >= 6 {
            DeleteTopicsRequest::default()
                .with_timeout_ms(10_000)
                .with_topics(vec![
                    DeleteTopicState::default().with_name(Some(topic(TOPIC_GONE))),
                    DeleteTopicState::default().with_name(Some(topic("no-such-topic"))),
                    DeleteTopicState::default().with_topic_id(uuid::Uuid::from_u128(7)),
                ])
        } else {
            DeleteTopicsRequest::default()
                .with_timeout_ms(10_000)
                .with_topic_names(vec![topic(TOPIC_GONE), topic("no-such-topic")])
        };
        c.ask_at("delete topics", v, req).await;
    }
    c.ask(
        "delete topics: again",
        DeleteTopicsRequest::default()
            .with_timeout_ms(10_000)
            .with_topics(vec![
                DeleteTopicState::default().with_name(Some(topic(TOPIC_GONE)))
            ]),
    )
    .await;
}
