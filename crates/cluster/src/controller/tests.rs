use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use strom_codec::ErrorCode;

use super::*;
use crate::acl::{PATTERN_LITERAL, PERMISSION_ALLOW};
use crate::records::{ScramCredential, CONFIG_BROKER, CONFIG_TOPIC};

/// Accepts `retention.ms` as a number and `list.key` as a list; refuses anything else.
#[derive(Debug)]
struct TestSchema;

impl ConfigSchema for TestSchema {
    fn is_list(&self, _: i8, key: &str) -> bool {
        key == "list.key"
    }
    fn effective_default(&self, _: &MetadataImage, _: i8, _: &str, _: &str) -> String {
        "x,y".into()
    }
    fn validate(
        &self,
        _: &MetadataImage,
        _: i8,
        _: &str,
        configs: &BTreeMap<String, String>,
    ) -> Outcome<()> {
        for (k, v) in configs {
            match k.as_str() {
                "retention.ms" if v.parse::<i64>().is_ok() => {}
                "list.key" => {}
                _ => {
                    return Err(ApiError::new(
                        ErrorCode::InvalidConfig,
                        format!("bad {k}={v}"),
                    ))
                }
            }
        }
        Ok(())
    }
}

fn controller() -> Controller {
    Controller::new(ControllerConfig::default(), Arc::new(TestSchema))
}

/// Applies a decision to `image` as the log would; returns the reply.
fn run(image: &mut MetadataImage, request: Request) -> Reply {
    let mut next = 0u8;
    let decision = controller().decide(image, request, &mut || {
        next += 1;
        TopicId([next; 16])
    });
    let offset = image.offset + 1;
    image.apply_batch(offset, decision.records);
    image.check().unwrap();
    decision.reply
}

fn with_brokers(racks: &[Option<&str>]) -> MetadataImage {
    let mut image = MetadataImage::empty();
    for (id, rack) in (1..).zip(racks) {
        run(
            &mut image,
            Request::RegisterBroker {
                broker_id: id,
                incarnation_id: format!("i{id}"),
                endpoints: Vec::new(),
                rack: rack.map(String::from),
            },
        );
    }
    image
}

fn new_topic(name: &str, partitions: i32, replication: i16) -> NewTopic {
    NewTopic {
        name: name.into(),
        partitions: Some(partitions),
        replication_factor: Some(replication),
        assignments: BTreeMap::new(),
        configs: BTreeMap::new(),
        internal: false,
    }
}

fn create(image: &mut MetadataImage, topics: Vec<NewTopic>) -> Vec<Outcome<CreatedTopic>> {
    match run(
        image,
        Request::CreateTopics {
            topics,
            validate_only: false,
        },
    ) {
        Reply::CreateTopics(r) => r,
        other => panic!("{other:?}"),
    }
}

fn code<T>(outcome: &Outcome<T>) -> Option<ErrorCode> {
    outcome.as_ref().err().map(|e| e.code)
}

#[test]
fn a_topic_is_created_once_with_kafkas_checks() {
    let mut image = with_brokers(&[None]);
    let mut with_config = new_topic("b", 1, 1);
    with_config
        .configs
        .insert("retention.ms".into(), "5".into());
    let mut bad_config = new_topic("c", 1, 1);
    bad_config
        .configs
        .insert("retention.ms".into(), "soon".into());
    let results = create(
        &mut image,
        vec![
            new_topic("a", 3, 1),
            new_topic("a", 1, 1),
            new_topic("a.b", 1, 1),
            new_topic("a_b", 1, 1),
            new_topic("bad name", 1, 1),
            new_topic("d", 0, 1),
            new_topic("e", 1, 2),
            new_topic("f", 1, 0),
            with_config,
            bad_config,
        ],
    );
    let codes: Vec<_> = results.iter().map(code).collect();
    assert_eq!(
        codes,
        vec![
            None,
            Some(ErrorCode::TopicAlreadyExists),
            None,
            Some(ErrorCode::InvalidTopicException),
            Some(ErrorCode::InvalidTopicException),
            Some(ErrorCode::InvalidPartitions),
            Some(ErrorCode::InvalidReplicationFactor),
            Some(ErrorCode::InvalidReplicationFactor),
            None,
            Some(ErrorCode::InvalidConfig),
        ]
    );
    let a = image.topics.get("a").unwrap();
    assert_eq!(a.partitions.len(), 3);
    assert!(a.partitions.values().all(|p| p.leader == 1 && p.isr == [1]));
    assert_eq!(image.configs_of(CONFIG_TOPIC, "b")["retention.ms"], "5");
    assert!(image.topics.get("c").is_none());
}

#[test]
fn validate_only_decides_without_records() {
    let image = with_brokers(&[None]);
    let decision = controller().decide(
        &image,
        Request::CreateTopics {
            topics: vec![new_topic("a", 2, 1)],
            validate_only: true,
        },
        &mut || TopicId([9; 16]),
    );
    assert!(decision.records.is_empty());
    assert!(
        matches!(&decision.reply, Reply::CreateTopics(r) if r[0].as_ref().unwrap().partitions == 2)
    );
}

#[test]
fn placement_spreads_leaders_and_followers_and_racks() {
    let mut image = with_brokers(&[None, None, None]);
    create(&mut image, vec![new_topic("t", 6, 3)]);
    let t = image.topics.get("t").unwrap();
    let mut leaders: BTreeMap<i32, usize> = BTreeMap::new();
    for p in t.partitions.values() {
        let distinct: BTreeSet<_> = p.replicas.iter().collect();
        assert_eq!(distinct.len(), 3, "{p:?}");
        *leaders.entry(p.leader).or_default() += 1;
    }
    assert_eq!(leaders.values().copied().collect::<Vec<_>>(), vec![2, 2, 2]);

    let mut image = with_brokers(&[Some("r1"), Some("r1"), Some("r2"), Some("r2")]);
    create(&mut image, vec![new_topic("t", 8, 2)]);
    let rack = |b: i32| if b <= 2 { "r1" } else { "r2" };
    for p in image.topics.get("t").unwrap().partitions.values() {
        let racks: BTreeSet<_> = p.replicas.iter().map(|b| rack(*b)).collect();
        assert_eq!(racks.len(), 2, "replicas {:?} share a rack", p.replicas);
    }
}

#[test]
fn manual_assignments_are_checked() {
    let mut image = with_brokers(&[None, None]);
    let manual = |lists: &[(i32, &[i32])]| NewTopic {
        partitions: None,
        replication_factor: None,
        assignments: lists.iter().map(|(p, r)| (*p, r.to_vec())).collect(),
        ..new_topic("m", 1, 1)
    };
    let results = create(
        &mut image,
        vec![
            manual(&[(0, &[1]), (2, &[2])]),
            manual(&[(0, &[1, 1])]),
            manual(&[(0, &[3])]),
            manual(&[(0, &[1, 2]), (1, &[2])]),
            NewTopic {
                partitions: Some(1),
                ..manual(&[(0, &[1])])
            },
            manual(&[(0, &[2, 1]), (1, &[1, 2])]),
        ],
    );
    let codes: Vec<_> = results.iter().map(code).collect();
    assert_eq!(
        codes,
        vec![
            Some(ErrorCode::InvalidReplicaAssignment),
            Some(ErrorCode::InvalidReplicaAssignment),
            Some(ErrorCode::InvalidReplicaAssignment),
            Some(ErrorCode::InvalidReplicaAssignment),
            Some(ErrorCode::InvalidRequest),
            None,
        ]
    );
    assert_eq!(image.topics.get("m").unwrap().partitions[&0].leader, 2);
}

#[test]
fn deletion_by_name_or_id_and_never_of_internal_topics() {
    let mut image = with_brokers(&[None]);
    let mut internal = new_topic("__consumer_offsets", 1, 1);
    internal.internal = true;
    create(
        &mut image,
        vec![new_topic("a", 1, 1), new_topic("b", 1, 1), internal],
    );
    let b = image.topic_id("b").unwrap();
    let reply = run(
        &mut image,
        Request::DeleteTopics {
            topics: vec![
                TopicRef::Name("a".into()),
                TopicRef::Id(b),
                TopicRef::Name("a".into()),
                TopicRef::Id(TopicId([77; 16])),
                TopicRef::Name("__consumer_offsets".into()),
            ],
        },
    );
    let Reply::DeleteTopics(results) = reply else {
        panic!()
    };
    let codes: Vec<_> = results.iter().map(code).collect();
    assert_eq!(
        codes,
        vec![
            None,
            None,
            Some(ErrorCode::UnknownTopicOrPartition),
            Some(ErrorCode::UnknownTopicId),
            Some(ErrorCode::InvalidTopicException),
        ]
    );
    assert_eq!(image.topics.len(), 1);
}

#[test]
fn partitions_only_grow() {
    let mut image = with_brokers(&[None]);
    create(&mut image, vec![new_topic("a", 2, 1)]);
    let grow = |count, assignments| NewPartitions {
        name: "a".into(),
        count,
        assignments,
    };
    let reply = run(
        &mut image,
        Request::CreatePartitions {
            topics: vec![
                grow(2, None),
                grow(4, Some(vec![vec![1]])),
                grow(4, Some(vec![vec![1], vec![2]])),
                grow(4, None),
                NewPartitions {
                    name: "zz".into(),
                    count: 3,
                    assignments: None,
                },
            ],
            validate_only: false,
        },
    );
    let Reply::CreatePartitions(results) = reply else {
        panic!()
    };
    let codes: Vec<_> = results.iter().map(code).collect();
    assert_eq!(
        codes,
        vec![
            Some(ErrorCode::InvalidPartitions),
            Some(ErrorCode::InvalidReplicaAssignment),
            Some(ErrorCode::InvalidReplicaAssignment),
            None,
            Some(ErrorCode::UnknownTopicOrPartition),
        ]
    );
    assert_eq!(image.topics.get("a").unwrap().partitions.len(), 4);
}

#[test]
fn config_operations_store_only_what_changed() {
    let mut image = with_brokers(&[None]);
    create(&mut image, vec![new_topic("a", 1, 1)]);
    let alter = |name: &str, ops: Vec<(&str, i8, Option<&str>)>, replace| ConfigAlteration {
        resource_type: CONFIG_TOPIC,
        resource_name: name.into(),
        ops: ops
            .into_iter()
            .map(|(k, operation, v)| ConfigOp {
                key: k.into(),
                operation,
                value: v.map(String::from),
            })
            .collect(),
        replace,
    };
    let reply = run(
        &mut image,
        Request::AlterConfigs {
            alterations: vec![
                alter(
                    "a",
                    vec![
                        ("retention.ms", OP_SET, Some("10")),
                        ("list.key", OP_APPEND, Some("z")),
                    ],
                    false,
                ),
                alter("a", vec![("list.key", OP_SUBTRACT, Some("x"))], false),
                alter("a", vec![("retention.ms", OP_APPEND, Some("1"))], false),
                alter(
                    "a",
                    vec![
                        ("retention.ms", OP_SET, Some("1")),
                        ("retention.ms", OP_DELETE, None),
                    ],
                    false,
                ),
                alter("nope", vec![("retention.ms", OP_SET, Some("1"))], false),
                alter("a", vec![("other", OP_SET, Some("1"))], false),
            ],
            validate_only: false,
        },
    );
    let Reply::AlterConfigs(results) = reply else {
        panic!()
    };
    let codes: Vec<_> = results.iter().map(code).collect();
    assert_eq!(
        codes,
        vec![
            None,
            None,
            Some(ErrorCode::InvalidConfig),
            Some(ErrorCode::InvalidRequest),
            Some(ErrorCode::UnknownTopicOrPartition),
            Some(ErrorCode::InvalidConfig),
        ]
    );
    let configs = image.configs_of(CONFIG_TOPIC, "a");
    assert_eq!(configs["retention.ms"], "10");
    assert_eq!(configs["list.key"], "y,z");
    // Replacing drops what is not named again; a decision that changes nothing writes nothing.
    let decision = controller().decide(
        &image,
        Request::AlterConfigs {
            alterations: vec![alter("a", vec![("retention.ms", OP_SET, Some("10"))], true)],
            validate_only: false,
        },
        &mut || TopicId([0; 16]),
    );
    assert_eq!(decision.records.len(), 1, "{:?}", decision.records);
    image.apply_batch(image.offset + 1, decision.records);
    assert!(!image.configs_of(CONFIG_TOPIC, "a").contains_key("list.key"));
    let decision = controller().decide(
        &image,
        Request::AlterConfigs {
            alterations: vec![ConfigAlteration {
                resource_type: CONFIG_BROKER,
                ..alter("", vec![("retention.ms", OP_DELETE, None)], false)
            }],
            validate_only: false,
        },
        &mut || TopicId([0; 16]),
    );
    assert!(decision.records.is_empty());
}

#[test]
fn acls_are_stored_once_and_deleted_by_filter() {
    let mut image = with_brokers(&[None]);
    let binding = |name: &str| AclBinding {
        resource_type: crate::acl::RESOURCE_TOPIC,
        resource_name: name.into(),
        pattern_type: PATTERN_LITERAL,
        principal: "User:x".into(),
        host: "*".into(),
        operation: 3,
        permission_type: PERMISSION_ALLOW,
    };
    let mut bad = binding("a");
    bad.pattern_type = 1;
    let reply = run(
        &mut image,
        Request::CreateAcls {
            bindings: vec![binding("a"), binding("a"), binding("b"), bad],
        },
    );
    assert!(
        matches!(&reply, Reply::CreateAcls(r) if r.iter().map(code).collect::<Vec<_>>() == vec![None, None, None, Some(ErrorCode::InvalidRequest)])
    );
    assert_eq!(image.acls.len(), 2);
    let filter = |name: Option<&str>| AclFilter {
        resource_type: crate::acl::RESOURCE_ANY,
        resource_name: name.map(String::from),
        pattern_type: crate::acl::PATTERN_ANY,
        principal: None,
        host: None,
        operation: crate::acl::OPERATION_ANY,
        permission_type: crate::acl::PERMISSION_ANY,
    };
    let reply = run(
        &mut image,
        Request::DeleteAcls {
            filters: vec![filter(Some("a")), filter(None)],
        },
    );
    let Reply::DeleteAcls(results) = reply else {
        panic!()
    };
    assert_eq!(results[0].as_ref().unwrap().len(), 1);
    assert_eq!(
        results[1].as_ref().unwrap().len(),
        2,
        "each filter reports every match"
    );
    assert!(image.acls.is_empty());
}

#[test]
fn scram_changes_follow_kafkas_rules() {
    let mut image = with_brokers(&[None]);
    let credential = |iterations| ScramCredential {
        iterations,
        salt: "00".into(),
        salted_password: "11".into(),
    };
    let change = |user: &str, changes: Vec<(i8, Option<ScramCredential>)>| ScramChange {
        user: user.into(),
        changes,
    };
    let reply = run(
        &mut image,
        Request::AlterScramCredentials {
            changes: vec![
                change("alice", vec![(1, Some(credential(4096)))]),
                change("bob", vec![(1, Some(credential(100)))]),
                change("carol", vec![(3, Some(credential(4096)))]),
                change("dave", vec![(1, None)]),
                change("erin", vec![(1, Some(credential(4096))), (2, None)]),
                change("", vec![(1, None)]),
            ],
        },
    );
    let Reply::AlterScramCredentials(results) = reply else {
        panic!()
    };
    let codes: Vec<_> = results.iter().map(code).collect();
    assert_eq!(
        codes,
        vec![
            None,
            Some(ErrorCode::UnacceptableCredential),
            Some(ErrorCode::UnsupportedSaslMechanism),
            Some(ErrorCode::ResourceNotFound),
            Some(ErrorCode::DuplicateResource),
            Some(ErrorCode::UnacceptableCredential),
        ]
    );
    assert_eq!(image.scram.keys().collect::<Vec<_>>(), vec!["alice"]);
}

#[test]
fn producer_id_blocks_never_overlap() {
    let mut image = with_brokers(&[None]);
    let allocate = |image: &mut MetadataImage| match run(
        image,
        Request::AllocateProducerIds {
            broker_id: 1,
            count: 1000,
        },
    ) {
        Reply::AllocateProducerIds(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(allocate(&mut image), Ok((0, 1000)));
    assert_eq!(allocate(&mut image), Ok((1000, 1000)));
    let mut rebuilt = MetadataImage::empty();
    rebuilt.apply_batch(0, image.to_records());
    assert_eq!(allocate(&mut rebuilt), Ok((2000, 1000)));
}

#[test]
fn fencing_moves_leadership_within_the_isr_and_registration_brings_it_back() {
    let mut image = with_brokers(&[None, None]);
    let manual = |name: &str, replicas: Vec<i32>| NewTopic {
        partitions: None,
        replication_factor: None,
        assignments: [(0, replicas)].into(),
        ..new_topic(name, 1, 1)
    };
    create(
        &mut image,
        vec![manual("t", vec![1, 2]), manual("u", vec![1])],
    );
    run(&mut image, Request::FenceBroker { broker_id: 1 });
    let p0 = image.topics.get("t").unwrap().partitions[&0].clone();
    let p1 = image.topics.get("u").unwrap().partitions[&0].clone();
    assert_eq!(
        (p0.leader, p0.isr.clone(), p0.leader_epoch),
        (2, vec![2], 1)
    );
    assert_eq!(
        (p1.leader, p1.isr.clone(), p1.leader_epoch),
        (-1, vec![1], 1),
        "the last ISR member stays"
    );
    run(
        &mut image,
        Request::RegisterBroker {
            broker_id: 1,
            incarnation_id: "again".into(),
            endpoints: Vec::new(),
            rack: None,
        },
    );
    let p0 = image.topics.get("t").unwrap().partitions[&0].clone();
    let p1 = image.topics.get("u").unwrap().partitions[&0].clone();
    assert_eq!((p1.leader, p1.leader_epoch), (1, 2));
    assert_eq!(p0.leader, 2, "a led partition keeps its leader");
}

#[test]
fn isr_changes_need_the_current_epochs_and_eligible_replicas() {
    let mut image = with_brokers(&[None, None, None]);
    create(&mut image, vec![new_topic("t", 1, 3)]);
    let topic_id = image.topic_id("t").unwrap();
    let p = image.topics.get("t").unwrap().partitions[&0].clone();
    let leader = p.leader;
    let follower = *p.replicas.iter().find(|b| **b != leader).unwrap();
    let change = |leader_epoch, partition_epoch, new_isr: Vec<i32>| IsrChange {
        topic_id,
        partition: 0,
        leader_epoch,
        partition_epoch,
        new_isr,
    };
    let reply = run(
        &mut image,
        Request::AlterPartition {
            broker_id: leader,
            changes: vec![
                change(0, 0, vec![leader]),
                change(0, 0, vec![leader, follower]),
                change(0, 1, vec![leader, follower]),
                change(1, 2, vec![leader]),
                change(0, 2, vec![follower]),
                change(0, 2, vec![leader, 9]),
            ],
        },
    );
    let Reply::AlterPartition(results) = reply else {
        panic!()
    };
    assert_eq!(results[0], Ok((0, 1)));
    assert_eq!(code(&results[1]), Some(ErrorCode::InvalidUpdateVersion));
    assert_eq!(results[2], Ok((0, 2)));
    assert_eq!(code(&results[3]), Some(ErrorCode::FencedLeaderEpoch));
    assert_eq!(code(&results[4]), Some(ErrorCode::InvalidRequest));
    assert_eq!(code(&results[5]), Some(ErrorCode::IneligibleReplica));
    let reply = run(
        &mut image,
        Request::AlterPartition {
            broker_id: follower,
            changes: vec![change(0, 2, vec![follower])],
        },
    );
    assert!(
        matches!(&reply, Reply::AlterPartition(r) if code(&r[0]) == Some(ErrorCode::NotLeaderOrFollower))
    );
}

#[test]
fn feature_levels_change_as_kafka_allows() {
    use super::features::{default_levels, FeatureUpdate, GROUP_VERSION, TRANSACTION_VERSION};
    let mut image = MetadataImage::default();
    for r in default_levels(&image) {
        image.apply(r);
    }
    assert_eq!(image.features.get(GROUP_VERSION), Some(&1));
    assert!(
        default_levels(&image).is_empty(),
        "defaults are written once"
    );
    let update = |name: &str, level: i16, upgrade_type: i8| FeatureUpdate {
        name: name.into(),
        level,
        upgrade_type,
    };
    let outcomes = |reply: Reply| match reply {
        Reply::UpdateFeatures(o) => o,
        other => panic!("{other:?}"),
    };
    // A downgrade needs a downgrade type; an unknown feature or level refuses the request.
    for (updates, want) in [
        (
            vec![update(GROUP_VERSION, 0, 1)],
            ErrorCode::InvalidUpdateVersion,
        ),
        (
            vec![update(GROUP_VERSION, 2, 1)],
            ErrorCode::InvalidUpdateVersion,
        ),
        (
            vec![update(TRANSACTION_VERSION, 3, 1)],
            ErrorCode::InvalidUpdateVersion,
        ),
        (
            vec![update("no.such.version", 1, 1)],
            ErrorCode::InvalidUpdateVersion,
        ),
        (
            vec![update(GROUP_VERSION, 1, 7)],
            ErrorCode::InvalidUpdateVersion,
        ),
        (
            vec![update(GROUP_VERSION, 0, 2), update("no.such.version", 1, 1)],
            ErrorCode::InvalidUpdateVersion,
        ),
    ] {
        let want = Some(want);
        let n = updates.len();
        let o = outcomes(run(
            &mut image,
            Request::UpdateFeatures {
                updates,
                validate_only: false,
            },
        ));
        assert_eq!(o.len(), n);
        assert!(o.iter().all(|x| code(x) == want), "{o:?}");
        assert_eq!(
            image.features.get(GROUP_VERSION),
            Some(&1),
            "nothing changed"
        );
    }
    // validate_only decides without records; a safe downgrade to 0 turns it off.
    let o = outcomes(run(
        &mut image,
        Request::UpdateFeatures {
            updates: vec![update(GROUP_VERSION, 0, 2)],
            validate_only: true,
        },
    ));
    assert!(o[0].is_ok());
    assert_eq!(image.features.get(GROUP_VERSION), Some(&1));
    let o = outcomes(run(
        &mut image,
        Request::UpdateFeatures {
            updates: vec![update(GROUP_VERSION, 0, 2)],
            validate_only: false,
        },
    ));
    assert!(o[0].is_ok());
    assert_eq!(image.features.get(GROUP_VERSION), Some(&0));
    assert!(
        default_levels(&image).is_empty(),
        "a feature turned off stays off"
    );
    let o = outcomes(run(
        &mut image,
        Request::UpdateFeatures {
            updates: vec![update(GROUP_VERSION, 1, 1)],
            validate_only: false,
        },
    ));
    assert!(o[0].is_ok());
    assert_eq!(image.features.get(GROUP_VERSION), Some(&1));
}
