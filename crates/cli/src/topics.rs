//! `strom topics …`, after `kafka-topics.sh` (and `kafka-configs.sh` for --config).

use std::collections::BTreeMap;

use strom_codec::kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use strom_codec::kafka_protocol::messages::create_topics_request::{
    CreatableTopic, CreatableTopicConfig,
};
use strom_codec::kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use strom_codec::kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use strom_codec::kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use strom_codec::kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use strom_codec::kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest,
    CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
    MetadataRequest, MetadataResponse, RequestKind, TopicName,
};
use strom_codec::kafka_protocol::protocol::StrBytes;

use crate::client::{check, Client, Result};
use crate::{key_values, TopicsAction};
use strom_codec::uuid_text::base64_url;

const TIMEOUT_MS: i32 = 30_000;
/// `DescribeConfigsResponse.ConfigSource.DYNAMIC_TOPIC_CONFIG`.
const SOURCE_TOPIC: i8 = 1;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

pub fn run(client: &mut Client, action: TopicsAction) -> Result<String> {
    match action {
        TopicsAction::List { exclude_internal } => {
            let md = metadata(client, None)?;
            let mut names: Vec<String> = md
                .topics
                .iter()
                .filter(|t| !(exclude_internal && t.is_internal))
                .filter_map(|t| t.name.as_ref().map(|n| n.0.as_str().to_string()))
                .collect();
            names.sort();
            Ok(names.join("\n"))
        }
        TopicsAction::Describe { topic } => describe(client, topic.as_deref()),
        TopicsAction::Create {
            topic,
            partitions,
            replication_factor,
            configs,
        } => {
            let configs = key_values(&configs)?;
            let r: CreateTopicsResponse = client.call(ApiKey::CreateTopics, 7, |_| {
                RequestKind::CreateTopics(
                    CreateTopicsRequest::default()
                        .with_timeout_ms(TIMEOUT_MS)
                        .with_topics(vec![CreatableTopic::default()
                            .with_name(name(&topic))
                            .with_num_partitions(partitions)
                            .with_replication_factor(replication_factor)
                            .with_configs(
                                configs
                                    .iter()
                                    .map(|(k, v)| {
                                        CreatableTopicConfig::default()
                                            .with_name(StrBytes::from_string(k.clone()))
                                            .with_value(Some(StrBytes::from_string(v.clone())))
                                    })
                                    .collect(),
                            )]),
                )
            })?;
            let t = r.topics.first().ok_or("empty CreateTopics response")?;
            check(
                t.error_code,
                t.error_message.as_ref(),
                &format!("creating topic {topic}"),
            )?;
            Ok(format!("Created topic {topic}."))
        }
        TopicsAction::Delete { topic } => {
            let r: DeleteTopicsResponse = client.call(ApiKey::DeleteTopics, 6, |v| {
                let request = DeleteTopicsRequest::default().with_timeout_ms(TIMEOUT_MS);
                RequestKind::DeleteTopics(if v >= 6 {
                    request.with_topics(vec![
                        DeleteTopicState::default().with_name(Some(name(&topic)))
                    ])
                } else {
                    request.with_topic_names(vec![name(&topic)])
                })
            })?;
            let t = r.responses.first().ok_or("empty DeleteTopics response")?;
            check(
                t.error_code,
                t.error_message.as_ref(),
                &format!("deleting topic {topic}"),
            )?;
            Ok(format!("Deleted topic {topic}."))
        }
        TopicsAction::Alter {
            topic,
            partitions,
            configs,
            delete_configs,
        } => {
            let mut out = Vec::new();
            if let Some(count) = partitions {
                let r: CreatePartitionsResponse =
                    client.call(ApiKey::CreatePartitions, 3, |_| {
                        RequestKind::CreatePartitions(
                            CreatePartitionsRequest::default()
                                .with_timeout_ms(TIMEOUT_MS)
                                .with_topics(vec![CreatePartitionsTopic::default()
                                    .with_name(name(&topic))
                                    .with_count(count)
                                    .with_assignments(None)]),
                        )
                    })?;
                let t = r.results.first().ok_or("empty CreatePartitions response")?;
                check(
                    t.error_code,
                    t.error_message.as_ref(),
                    &format!("adding partitions to {topic}"),
                )?;
                out.push(format!("Topic {topic} now has {count} partitions."));
            }
            let sets = key_values(&configs)?;
            if !sets.is_empty() || !delete_configs.is_empty() {
                let mut changes: Vec<AlterableConfig> = sets
                    .iter()
                    .map(|(k, v)| {
                        AlterableConfig::default()
                            .with_name(StrBytes::from_string(k.clone()))
                            .with_config_operation(0)
                            .with_value(Some(StrBytes::from_string(v.clone())))
                    })
                    .collect();
                changes.extend(delete_configs.iter().map(|k| {
                    AlterableConfig::default()
                        .with_name(StrBytes::from_string(k.clone()))
                        .with_config_operation(1)
                        .with_value(None)
                }));
                let r: IncrementalAlterConfigsResponse =
                    client.call(ApiKey::IncrementalAlterConfigs, 1, |_| {
                        RequestKind::IncrementalAlterConfigs(
                            IncrementalAlterConfigsRequest::default().with_resources(vec![
                                AlterConfigsResource::default()
                                    .with_resource_type(2)
                                    .with_resource_name(StrBytes::from_string(topic.clone()))
                                    .with_configs(changes),
                            ]),
                        )
                    })?;
                let c = r
                    .responses
                    .first()
                    .ok_or("empty IncrementalAlterConfigs response")?;
                check(
                    c.error_code,
                    c.error_message.as_ref(),
                    &format!("altering configs of {topic}"),
                )?;
                out.push(format!("Completed updating config for topic {topic}."));
            }
            if out.is_empty() {
                return Err(
                    "nothing to alter: give --partitions, --config or --delete-config".into(),
                );
            }
            Ok(out.join("\n"))
        }
    }
}

fn metadata(client: &mut Client, topic: Option<&str>) -> Result<MetadataResponse> {
    client.call(ApiKey::Metadata, 12, |v| {
        let mut r = MetadataRequest::default().with_topics(
            topic.map(|t| vec![MetadataRequestTopic::default().with_name(Some(name(t)))]),
        );
        if v >= 4 {
            r = r.with_allow_auto_topic_creation(false);
        }
        RequestKind::Metadata(r)
    })
}

/// Topic configs that differ from the defaults (kafka-topics shows these).
fn overrides(client: &mut Client, topics: &[String]) -> Result<BTreeMap<String, String>> {
    if topics.is_empty() {
        return Ok(BTreeMap::new());
    }
    let r: DescribeConfigsResponse = client.call(ApiKey::DescribeConfigs, 4, |_| {
        RequestKind::DescribeConfigs(
            DescribeConfigsRequest::default().with_resources(
                topics
                    .iter()
                    .map(|t| {
                        DescribeConfigsResource::default()
                            .with_resource_type(2)
                            .with_resource_name(StrBytes::from_string(t.clone()))
                            .with_configuration_keys(None)
                    })
                    .collect(),
            ),
        )
    })?;
    Ok(r.results
        .iter()
        .map(|res| {
            let list: Vec<String> = res
                .configs
                .iter()
                .filter(|c| c.config_source == SOURCE_TOPIC)
                .map(|c| {
                    format!(
                        "{}={}",
                        c.name.as_str(),
                        c.value.as_ref().map_or("", |v| v.as_str())
                    )
                })
                .collect();
            (res.resource_name.as_str().to_string(), list.join(","))
        })
        .collect())
}

fn describe(client: &mut Client, topic: Option<&str>) -> Result<String> {
    let md = metadata(client, topic)?;
    let mut topics: Vec<_> = md.topics.iter().collect();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &topics {
        let n = t.name.as_ref().map_or("", |n| n.0.as_str());
        check(t.error_code, None, &format!("describing topic {n}"))?;
    }
    let names: Vec<String> = topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.0.as_str().to_string()))
        .collect();
    let configs = overrides(client, &names)?;
    let join = |ids: &[strom_codec::kafka_protocol::messages::BrokerId]| {
        ids.iter()
            .map(|b| b.0.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut out = Vec::new();
    for t in topics {
        let n = t.name.as_ref().map_or("", |n| n.0.as_str());
        let replication = t.partitions.first().map_or(0, |p| p.replica_nodes.len());
        let id = base64_url(t.topic_id.as_bytes());
        out.push(format!(
            "Topic: {n}\tTopicId: {id}\tPartitionCount: {}\tReplicationFactor: {replication}\tConfigs: {}",
            t.partitions.len(),
            configs.get(n).map_or("", String::as_str)
        ));
        let mut partitions: Vec<_> = t.partitions.iter().collect();
        partitions.sort_by_key(|p| p.partition_index);
        for p in partitions {
            out.push(format!(
                "\tTopic: {n}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}\tElr: \tLastKnownElr: ",
                p.partition_index,
                p.leader_id.0,
                join(&p.replica_nodes),
                join(&p.isr_nodes)
            ));
        }
    }
    Ok(out.join("\n"))
}
