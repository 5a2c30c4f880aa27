//! ConsumerGroupHeartbeat (API key 68, v0–v1; KIP-848): a member of a consumer group joins
//! (epoch 0), heartbeats with its epoch and owned partitions, or leaves (-1; -2 for a static
//! member that comes back). The coordinator assigns partitions server-side; v1 members make
//! their own member id and may subscribe with a regular expression.

use std::ops::RangeInclusive;
use std::sync::Arc;

use strom_codec::kafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment, TopicPartitions,
};
use strom_codec::kafka_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
};
use strom_codec::ErrorCode;
use strom_coordinator::consumer_group::TopicsView;
use strom_coordinator::groups::ConsumerHeartbeat;
use uuid::Uuid;

use crate::api::text::{opt_string, str_bytes};
use crate::context::RequestContext;
use crate::state::BrokerState;

/// The versions this handler answers.
pub const VERSIONS: RangeInclusive<i16> = 0..=1;

/// The topics subscriptions resolve against: every topic (Kafka's regexes match internal
/// topics too).
pub fn topics_view(state: &BrokerState) -> TopicsView {
    TopicsView {
        topics: state
            .topics
            .all()
            .into_iter()
            .map(|t| {
                let count = i32::try_from(t.partitions.len()).unwrap_or(i32::MAX);
                (t.name.clone(), (t.id.into_bytes(), count))
            })
            .collect(),
    }
}

/// Whether `group.version` is at least 1 (Kafka answers ConsumerGroupHeartbeat and
/// ConsumerGroupDescribe with UNSUPPORTED_VERSION below).
pub fn consumer_protocol_enabled(state: &BrokerState) -> bool {
    state
        .metadata
        .image()
        .features
        .get(strom_cluster::controller::features::GROUP_VERSION)
        .is_some_and(|level| *level >= 1)
}

/// A group config of the metadata image (`consumer.session.timeout.ms` …), if set.
fn group_config(state: &BrokerState, group: &str, key: &str) -> Option<i32> {
    let image = state.metadata.image();
    image
        .configs
        .get(&(strom_cluster::records::CONFIG_GROUP, group.to_string()))
        .and_then(|c| c.get(key))
        .and_then(|v| v.parse().ok())
}

pub async fn handle(
    ctx: &RequestContext<'_>,
    request: ConsumerGroupHeartbeatRequest,
) -> ConsumerGroupHeartbeatResponse {
    let state = ctx.state;
    if !consumer_protocol_enabled(state) {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(ErrorCode::UnsupportedVersion.code());
    }
    let group_id = request.group_id.0.as_str().to_string();
    let defaults = &state.config.groups;
    let req = ConsumerHeartbeat {
        version: ctx.version,
        session_timeout_ms: group_config(state, &group_id, "consumer.session.timeout.ms")
            .unwrap_or(defaults.consumer_session_timeout_ms),
        heartbeat_interval_ms: group_config(state, &group_id, "consumer.heartbeat.interval.ms")
            .unwrap_or(defaults.consumer_heartbeat_interval_ms),
        group_id,
        member_id: request.member_id.as_str().to_string(),
        member_epoch: request.member_epoch,
        instance_id: opt_string(request.instance_id.as_ref()),
        rack_id: opt_string(request.rack_id.as_ref()),
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        subscribed_topic_names: request
            .subscribed_topic_names
            .as_ref()
            .map(|n| n.iter().map(|t| t.0.as_str().to_string()).collect()),
        subscribed_topic_regex: opt_string(request.subscribed_topic_regex.as_ref()),
        server_assignor: opt_string(request.server_assignor.as_ref()),
        owned: request.topic_partitions.as_ref().map(|tps| {
            tps.iter()
                .map(|tp| (tp.topic_id.into_bytes(), tp.partitions.clone()))
                .collect()
        }),
        client_id: ctx.client_id.to_string(),
        client_host: format!("/{}", ctx.peer.ip()),
        new_member_id: Uuid::new_v4().to_string(),
    };
    let view = Arc::new(topics_view(state));
    let Some(r) = state.groups.consumer_heartbeat(req, view).await else {
        return ConsumerGroupHeartbeatResponse::default()
            .with_error_code(ErrorCode::CoordinatorNotAvailable.code());
    };
    if let Some(error) = r.error {
        tracing::debug!(?error, message = ?r.error_message, "ConsumerGroupHeartbeat refused");
    }
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(crate::error::code(r.error))
        .with_error_message(r.error_message.map(str_bytes))
        .with_member_id((r.error.is_none()).then(|| str_bytes(r.member_id)))
        .with_member_epoch(r.member_epoch)
        .with_heartbeat_interval_ms(r.heartbeat_interval_ms)
        .with_assignment(r.assignment.map(|a| {
            Assignment::default().with_topic_partitions(
                a.into_iter()
                    .map(|(id, partitions)| {
                        TopicPartitions::default()
                            .with_topic_id(Uuid::from_bytes(id))
                            .with_partitions(partitions)
                    })
                    .collect(),
            )
        }))
}
