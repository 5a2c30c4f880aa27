//! `strom groups …`, after `kafka-consumer-groups.sh`. Group requests go to the group's
//! coordinator (found with FindCoordinator); log end offsets come from the bootstrap broker.

use std::collections::BTreeMap;

use bytes::Buf;
use strom_codec::kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsTopic,
};
use strom_codec::kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use strom_codec::kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use strom_codec::kafka_protocol::messages::{
    ApiKey, BrokerId, ConsumerProtocolAssignment, DeleteGroupsRequest, DeleteGroupsResponse,
    DescribeGroupsRequest, DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse,
    GroupId, ListGroupsRequest, ListGroupsResponse, ListOffsetsRequest, ListOffsetsResponse,
    MetadataRequest, MetadataResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::{Decodable, StrBytes};

use crate::client::{check, table, Client, Result};
use crate::GroupsAction;

type Tp = (String, i32);

fn group_id(g: &str) -> GroupId {
    GroupId(StrBytes::from_string(g.to_string()))
}

fn topic_name(t: &str) -> TopicName {
    TopicName(StrBytes::from_string(t.to_string()))
}

pub fn run(bootstrap: &str, action: GroupsAction) -> Result<String> {
    let mut client = Client::connect(bootstrap)?;
    match action {
        GroupsAction::List => {
            let r: ListGroupsResponse = client.call(ApiKey::ListGroups, 4, |_| {
                RequestKind::ListGroups(ListGroupsRequest::default())
            })?;
            check(r.error_code, None, "listing groups")?;
            let mut ids: Vec<String> = r
                .groups
                .iter()
                .map(|g| g.group_id.0.as_str().to_string())
                .collect();
            ids.sort();
            Ok(ids.join("\n"))
        }
        GroupsAction::Describe { group } => {
            let mut coordinator = coordinator(&mut client, &group)?;
            describe(&mut client, &mut coordinator, &group)
        }
        GroupsAction::Delete { group } => {
            let mut coordinator = coordinator(&mut client, &group)?;
            let r: DeleteGroupsResponse = coordinator.call(ApiKey::DeleteGroups, 2, |_| {
                RequestKind::DeleteGroups(
                    DeleteGroupsRequest::default().with_groups_names(vec![group_id(&group)]),
                )
            })?;
            let g = r.results.first().ok_or("empty DeleteGroups response")?;
            check(g.error_code, None, &format!("deleting group '{group}'"))?;
            Ok(format!(
                "Deletion of requested consumer groups ('{group}') was successful."
            ))
        }
        GroupsAction::ResetOffsets {
            group,
            topics,
            to_earliest,
            to_latest,
            to_offset,
            shift_by,
            to_timestamp,
            execute,
        } => {
            let target = if to_earliest {
                Target::Earliest
            } else if to_latest {
                Target::Latest
            } else if let Some(o) = to_offset {
                Target::Offset(o)
            } else if let Some(n) = shift_by {
                Target::Shift(n)
            } else if let Some(t) = to_timestamp {
                Target::Timestamp(t)
            } else {
                return Err("give one of --to-earliest, --to-latest, --to-offset, --shift-by, --to-timestamp".into());
            };
            let mut coordinator = coordinator(&mut client, &group)?;
            reset(
                &mut client,
                &mut coordinator,
                &group,
                &topics,
                target,
                execute,
            )
        }
    }
}

/// A connection to `group`'s coordinator.
fn coordinator(client: &mut Client, group: &str) -> Result<Client> {
    let r: FindCoordinatorResponse = client.call(ApiKey::FindCoordinator, 4, |v| {
        let request = FindCoordinatorRequest::default().with_key_type(0);
        RequestKind::FindCoordinator(if v >= 4 {
            request.with_coordinator_keys(vec![StrBytes::from_string(group.to_string())])
        } else {
            request.with_key(StrBytes::from_string(group.to_string()))
        })
    })?;
    let (code, message, host, port) = match r.coordinators.first() {
        Some(c) => (
            c.error_code,
            c.error_message.clone(),
            c.host.clone(),
            c.port,
        ),
        None => (
            r.error_code,
            r.error_message.clone(),
            r.host.clone(),
            r.port,
        ),
    };
    check(
        code,
        message.as_ref(),
        &format!("finding the coordinator of '{group}'"),
    )?;
    let address = format!("{}:{port}", host.as_str());
    if address == client.address() {
        return Client::connect(client.address());
    }
    Client::connect(&address).or_else(|_| Client::connect(client.address()))
}

struct Described {
    state: String,
    /// (topic, partition) -> (member id, host, client id)
    owners: BTreeMap<Tp, (String, String, String)>,
    members: usize,
}

fn describe_group(coordinator: &mut Client, group: &str) -> Result<Described> {
    let r: DescribeGroupsResponse = coordinator.call(ApiKey::DescribeGroups, 5, |_| {
        RequestKind::DescribeGroups(
            DescribeGroupsRequest::default().with_groups(vec![group_id(group)]),
        )
    })?;
    let g = r.groups.first().ok_or("empty DescribeGroups response")?;
    check(
        g.error_code,
        g.error_message.as_ref(),
        &format!("describing group '{group}'"),
    )?;
    let mut owners = BTreeMap::new();
    for m in &g.members {
        let mut bytes = m.member_assignment.clone();
        if bytes.remaining() < 2 {
            continue;
        }
        let version = bytes.get_i16();
        let Ok(assignment) = ConsumerProtocolAssignment::decode(&mut bytes, version.clamp(0, 3))
        else {
            continue;
        };
        for tp in assignment.assigned_partitions {
            for p in tp.partitions {
                owners.insert(
                    (tp.topic.0.as_str().to_string(), p),
                    (
                        m.member_id.as_str().to_string(),
                        m.client_host.as_str().to_string(),
                        m.client_id.as_str().to_string(),
                    ),
                );
            }
        }
    }
    Ok(Described {
        state: g.group_state.as_str().to_string(),
        owners,
        members: g.members.len(),
    })
}

fn committed(coordinator: &mut Client, group: &str) -> Result<BTreeMap<Tp, i64>> {
    let r: OffsetFetchResponse = coordinator.call(ApiKey::OffsetFetch, 7, |_| {
        RequestKind::OffsetFetch(
            OffsetFetchRequest::default()
                .with_group_id(group_id(group))
                .with_topics(None),
        )
    })?;
    check(
        r.error_code,
        None,
        &format!("fetching offsets of '{group}'"),
    )?;
    Ok(r.topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .filter(|p| p.committed_offset >= 0)
                .map(move |p| {
                    (
                        (t.name.0.as_str().to_string(), p.partition_index),
                        p.committed_offset,
                    )
                })
        })
        .collect())
}

/// ListOffsets for `partitions` at `timestamp` (-1 latest, -2 earliest).
fn offsets(client: &mut Client, partitions: &[Tp], timestamp: i64) -> Result<BTreeMap<Tp, i64>> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in partitions {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    let r: ListOffsetsResponse = client.call(ApiKey::ListOffsets, 7, |_| {
        RequestKind::ListOffsets(
            ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_topics(
                    by_topic
                        .iter()
                        .map(|(t, ps)| {
                            ListOffsetsTopic::default()
                                .with_name(topic_name(t))
                                .with_partitions(
                                    ps.iter()
                                        .map(|p| {
                                            ListOffsetsPartition::default()
                                                .with_partition_index(*p)
                                                .with_timestamp(timestamp)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                ),
        )
    })?;
    let mut out = BTreeMap::new();
    for t in &r.topics {
        for p in &t.partitions {
            check(
                p.error_code,
                None,
                &format!(
                    "listing offsets of {}-{}",
                    t.name.0.as_str(),
                    p.partition_index
                ),
            )?;
            out.insert((t.name.0.as_str().to_string(), p.partition_index), p.offset);
        }
    }
    Ok(out)
}

fn describe(client: &mut Client, coordinator: &mut Client, group: &str) -> Result<String> {
    let d = describe_group(coordinator, group)?;
    let commits = committed(coordinator, group)?;
    let mut partitions: Vec<Tp> = commits.keys().cloned().collect();
    for tp in d.owners.keys() {
        if !commits.contains_key(tp) {
            partitions.push(tp.clone());
        }
    }
    partitions.sort();
    let ends = if partitions.is_empty() {
        BTreeMap::new()
    } else {
        offsets(client, &partitions, -1)?
    };
    let rows: Vec<Vec<String>> = partitions
        .iter()
        .map(|tp| {
            let current = commits.get(tp).copied();
            let end = ends.get(tp).copied();
            let lag = match (current, end) {
                (Some(c), Some(e)) => (e - c).max(0).to_string(),
                _ => "-".into(),
            };
            let (member, host, client_id) = d
                .owners
                .get(tp)
                .cloned()
                .unwrap_or_else(|| ("-".into(), "-".into(), "-".into()));
            vec![
                group.to_string(),
                tp.0.clone(),
                tp.1.to_string(),
                current.map_or("-".into(), |c| c.to_string()),
                end.map_or("-".into(), |e| e.to_string()),
                lag,
                member,
                host,
                client_id,
            ]
        })
        .collect();
    let mut out = String::new();
    if d.members == 0 {
        out.push_str(&format!(
            "\nConsumer group '{group}' has no active members.\n"
        ));
    }
    out.push('\n');
    out.push_str(&table(
        &[
            "GROUP",
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
            "CLIENT-ID",
        ],
        &rows,
    ));
    Ok(out)
}

#[derive(Clone, Copy)]
enum Target {
    Earliest,
    Latest,
    Offset(i64),
    Shift(i64),
    Timestamp(i64),
}

/// The partitions named by `--topic` arguments (`t` or `t:0,1`); all of a topic's
/// partitions come from metadata.
fn named_partitions(client: &mut Client, topics: &[String]) -> Result<Vec<Tp>> {
    let mut out = Vec::new();
    for spec in topics {
        match spec.split_once(':') {
            Some((t, list)) => {
                for p in list.split(',') {
                    let p: i32 = p
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad partition in --topic {spec}"))?;
                    out.push((t.to_string(), p));
                }
            }
            None => {
                let md: MetadataResponse = client.call(ApiKey::Metadata, 12, |v| {
                    let mut r = MetadataRequest::default().with_topics(Some(vec![
                        MetadataRequestTopic::default().with_name(Some(topic_name(spec))),
                    ]));
                    if v >= 4 {
                        r = r.with_allow_auto_topic_creation(false);
                    }
                    RequestKind::Metadata(r)
                })?;
                for t in &md.topics {
                    check(t.error_code, None, &format!("looking up topic {spec}"))?;
                    for p in &t.partitions {
                        out.push((spec.clone(), p.partition_index));
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn reset(
    client: &mut Client,
    coordinator: &mut Client,
    group: &str,
    topics: &[String],
    target: Target,
    execute: bool,
) -> Result<String> {
    let d = describe_group(coordinator, group)?;
    if execute && !(d.state == "Empty" || d.state == "Dead") {
        return Err(format!(
            "Assignments can only be reset if the group '{group}' is inactive, but the current state is {}. Stop its consumers first.",
            d.state
        ));
    }
    let commits = committed(coordinator, group)?;
    let partitions = if topics.is_empty() {
        commits.keys().cloned().collect()
    } else {
        named_partitions(client, topics)?
    };
    if partitions.is_empty() {
        return Err(format!(
            "group '{group}' has no committed offsets; name the partitions with --topic"
        ));
    }
    let earliest = offsets(client, &partitions, -2)?;
    let latest = offsets(client, &partitions, -1)?;
    let by_time = match target {
        Target::Timestamp(t) => Some(offsets(client, &partitions, t)?),
        _ => None,
    };
    let mut plan: Vec<(Tp, i64)> = Vec::new();
    for tp in &partitions {
        let lo = earliest.get(tp).copied().unwrap_or(0);
        let hi = latest.get(tp).copied().unwrap_or(lo);
        let new = match target {
            Target::Earliest => lo,
            Target::Latest => hi,
            Target::Offset(o) => o,
            Target::Shift(n) => commits.get(tp).copied().unwrap_or(lo).saturating_add(n),
            Target::Timestamp(_) => by_time
                .as_ref()
                .and_then(|m| m.get(tp).copied())
                .filter(|o| *o >= 0)
                .unwrap_or(hi),
        };
        plan.push((tp.clone(), new.clamp(lo, hi)));
    }
    if execute {
        let mut by_topic: BTreeMap<String, Vec<(i32, i64)>> = BTreeMap::new();
        for ((t, p), o) in &plan {
            by_topic.entry(t.clone()).or_default().push((*p, *o));
        }
        let r: OffsetCommitResponse = coordinator.call(ApiKey::OffsetCommit, 8, |_| {
            RequestKind::OffsetCommit(
                OffsetCommitRequest::default()
                    .with_group_id(group_id(group))
                    .with_generation_id_or_member_epoch(-1)
                    .with_topics(
                        by_topic
                            .iter()
                            .map(|(t, ps)| {
                                OffsetCommitRequestTopic::default()
                                    .with_name(topic_name(t))
                                    .with_partitions(
                                        ps.iter()
                                            .map(|(p, o)| {
                                                OffsetCommitRequestPartition::default()
                                                    .with_partition_index(*p)
                                                    .with_committed_offset(*o)
                                            })
                                            .collect(),
                                    )
                            })
                            .collect(),
                    ),
            )
        })?;
        for t in &r.topics {
            for p in &t.partitions {
                check(
                    p.error_code,
                    None,
                    &format!("committing {}-{}", t.name.0.as_str(), p.partition_index),
                )?;
            }
        }
    }
    let rows: Vec<Vec<String>> = plan
        .iter()
        .map(|((t, p), o)| vec![group.to_string(), t.clone(), p.to_string(), o.to_string()])
        .collect();
    let mut out = String::from("\n");
    out.push_str(&table(
        &["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"],
        &rows,
    ));
    if !execute {
        out.push_str("\n(dry run: add --execute to commit these offsets)");
    }
    Ok(out)
}
