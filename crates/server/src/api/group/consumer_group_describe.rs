//! ConsumerGroupDescribe (API key 69, v0–v1; KIP-848): a consumer group's state, epochs,
//! assignor and members with their subscriptions, current and target assignments.

use std::ops::RangeInclusive;

use strom_codec::kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, DescribedGroup, Member, TopicPartitions,
};
use strom_codec::kafka_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, GroupId, TopicName,
};
use strom_codec::ErrorCode;
use strom_coordinator::consumer_group::TopicId;
use uuid::Uuid;

use super::consumer_group_heartbeat::consumer_protocol_enabled;
use super::describe_groups::GROUP_OPERATIONS_ALL;
use crate::api::metadata::AUTHORIZED_OPERATIONS_OMITTED;
use crate::api::text::str_bytes;
use crate::context::RequestContext;
use crate::topics::Topics;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=1;

/// ConsumerGroupDescribe's member type (v1): a member of the consumer protocol.
const MEMBER_TYPE_CONSUMER: i8 = 1;

/// An assignment with its topics' names (empty for a topic gone since).
fn assignment(topics: &Topics, list: Vec<(TopicId, Vec<i32>)>) -> Assignment {
    Assignment::default().with_topic_partitions(
        list.into_iter()
            .map(|(id, partitions)| {
                TopicPartitions::default()
                    .with_topic_id(Uuid::from_bytes(id))
                    .with_topic_name(TopicName(str_bytes(
                        topics
                            .get_by_id(&Uuid::from_bytes(id))
                            .map(|t| t.name.clone())
                            .unwrap_or_default(),
                    )))
                    .with_partitions(partitions)
            })
            .collect(),
    )
}

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let ids: Vec<String> = request
        .group_ids
        .iter()
        .map(|g| g.0.as_str().to_string())
        .collect();
    if !consumer_protocol_enabled(ctx.state) {
        return ConsumerGroupDescribeResponse::default().with_groups(
            ids.into_iter()
                .map(|id| {
                    DescribedGroup::default()
                        .with_group_id(GroupId(str_bytes(id)))
                        .with_error_code(ErrorCode::UnsupportedVersion.code())
                })
                .collect(),
        );
    }
    let Some(described) = ctx.state.groups.consumer_describe(ids.clone()).await else {
        return ConsumerGroupDescribeResponse::default().with_groups(
            ids.into_iter()
                .map(|id| {
                    DescribedGroup::default()
                        .with_group_id(GroupId(str_bytes(id)))
                        .with_error_code(ErrorCode::CoordinatorNotAvailable.code())
                })
                .collect(),
        );
    };
    let ops = if request.include_authorized_operations {
        GROUP_OPERATIONS_ALL
    } else {
        AUTHORIZED_OPERATIONS_OMITTED
    };
    let version = ctx.version;
    ConsumerGroupDescribeResponse::default().with_groups(
        described
            .into_iter()
            .map(|d| {
                let found = d.error.is_none();
                DescribedGroup::default()
                    .with_error_code(crate::error::code(d.error))
                    .with_error_message(d.error_message.map(str_bytes))
                    .with_group_id(GroupId(str_bytes(d.group_id)))
                    .with_group_state(str_bytes(d.state))
                    .with_group_epoch(d.group_epoch)
                    .with_assignment_epoch(d.assignment_epoch)
                    .with_assignor_name(str_bytes(d.assignor))
                    .with_authorized_operations(if found {
                        ops
                    } else {
                        AUTHORIZED_OPERATIONS_OMITTED
                    })
                    .with_members(
                        d.members
                            .into_iter()
                            .map(|m| {
                                Member::default()
                                    .with_member_id(str_bytes(m.member_id))
                                    .with_instance_id(m.instance_id.map(str_bytes))
                                    .with_rack_id(m.rack_id.map(str_bytes))
                                    .with_member_epoch(m.member_epoch)
                                    .with_client_id(str_bytes(m.client_id))
                                    .with_client_host(str_bytes(m.client_host))
                                    .with_subscribed_topic_names(
                                        m.subscribed_topic_names
                                            .into_iter()
                                            .map(|t| TopicName(str_bytes(t)))
                                            .collect(),
                                    )
                                    .with_subscribed_topic_regex(
                                        m.subscribed_topic_regex.map(str_bytes),
                                    )
                                    .with_assignment(assignment(&ctx.state.topics, m.assignment))
                                    .with_target_assignment(assignment(
                                        &ctx.state.topics,
                                        m.target_assignment,
                                    ))
                                    .with_member_type(if version >= 1 {
                                        MEMBER_TYPE_CONSUMER
                                    } else {
                                        -1
                                    })
                            })
                            .collect(),
                    )
            })
            .collect(),
    )
}
