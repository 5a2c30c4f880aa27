//! All consumer groups of the broker, driven by `(now, request)` calls that return
//! [`Outputs`]: replies (possibly to requests parked earlier) and records to persist in
//! `__consumer_offsets` BEFORE the replies are sent. Time comes in as arguments: `now` is
//! monotonic milliseconds (deadlines), `wall` is wall-clock milliseconds (stored timestamps).
//!
//! One file per concern: [`join`](self::join), [`sync`](self::sync), heartbeat, leave,
//! offsets, admin (list, describe, delete), timers and replay. In debug builds every call
//! that changes a group checks that group's invariants ([`Group::check_invariants`]) before
//! it returns.

mod admin;
mod api;
mod consumer;
mod heartbeat;
mod join;
mod leave;
mod offsets;
mod replay;
mod subscription;
mod sync;
#[cfg(test)]
mod tests;
mod timers;

use std::collections::HashMap;

use crate::group::Group;
use crate::records::{self, GroupValue, MemberValue, Record};

pub use api::*;
pub use consumer::{
    compile_regex, ConsumerGroupDescription, ConsumerHeartbeat, ConsumerHeartbeatResponse,
    ConsumerMemberDescription, REGEX_BYTES_MAX,
};
pub use subscription::subscribes_to;

/// Most members one group may hold (`group.max.size`; Kafka's default is unbounded).
pub const GROUP_MEMBERS_MAX: usize = 1000;
/// Most groups one broker coordinates.
pub const GROUPS_MAX: usize = 100_000;
/// How long a member id handed out with MEMBER_ID_REQUIRED is held for its rejoin. Clients
/// rejoin at once; an id never used (a client that raced two joins) must not hold
/// rebalances for a whole session timeout.
pub const PENDING_MEMBER_MS_MAX: i64 = 5_000;
/// Longest committed-offset metadata (`offset.metadata.max.bytes`).
pub const OFFSET_METADATA_BYTES_MAX: usize = 4096;

#[derive(Debug, Clone)]
pub struct GroupConfig {
    pub session_timeout_ms_min: i32,
    pub session_timeout_ms_max: i32,
    pub initial_rebalance_delay_ms: i64,
    pub max_size: usize,
    pub offsets_retention_ms: i64,
    pub offsets_partitions: i32,
    pub offset_metadata_bytes_max: usize,
    /// `group.coordinator.append.linger.ms`: how long records wait for others to join
    /// their batch before being stored; the replies that depend on them wait as long.
    pub append_linger_ms: i64,
    /// `group.consumer.session.timeout.ms`: a KIP-848 member's session unless its group's
    /// `consumer.session.timeout.ms` says otherwise (the server resolves it).
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms`, likewise.
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.max.size`: most members of one KIP-848 consumer group.
    pub consumer_max_size: usize,
    /// `group.consumer.assignors`: the server-side assignors members may name, the default
    /// first.
    pub consumer_assignors: Vec<String>,
}

impl Default for GroupConfig {
    /// Kafka's defaults (4.x: `group.coordinator.append.linger.ms` = 5), except
    /// `group.initial.rebalance.delay.ms` = 0 as in Kafka's shipped server.properties, and a
    /// bounded `group.max.size`.
    fn default() -> Self {
        Self {
            session_timeout_ms_min: 6_000,
            session_timeout_ms_max: 1_800_000,
            initial_rebalance_delay_ms: 0,
            max_size: GROUP_MEMBERS_MAX,
            offsets_retention_ms: 7 * 24 * 3600 * 1000,
            offsets_partitions: 50,
            offset_metadata_bytes_max: OFFSET_METADATA_BYTES_MAX,
            append_linger_ms: 5,
            consumer_session_timeout_ms: 45_000,
            consumer_heartbeat_interval_ms: 5_000,
            consumer_max_size: GROUP_MEMBERS_MAX,
            consumer_assignors: crate::consumer_group::assignors::KNOWN
                .iter()
                .map(|a| (*a).to_string())
                .collect(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Groups {
    config: GroupConfig,
    groups: HashMap<String, Group>,
}

impl Groups {
    pub fn new(config: GroupConfig) -> Self {
        Self {
            config,
            groups: HashMap::new(),
        }
    }

    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    pub fn group(&self, group_id: &str) -> Option<&Group> {
        self.groups.get(group_id)
    }

    pub fn is_member(&self, group_id: &str, member_id: &str) -> bool {
        self.groups
            .get(group_id)
            .is_some_and(|g| g.has_member(member_id))
    }

    pub(super) fn group_record(group: &Group) -> Record {
        let protocol = group.protocol_name.clone();
        let value = GroupValue {
            protocol_type: group.protocol_type.clone().unwrap_or_default(),
            generation_id: group.generation_id,
            protocol: protocol.clone(),
            leader: group.leader_id.clone(),
            current_state_timestamp: group.state_timestamp,
            members: group
                .members
                .iter()
                .map(|m| MemberValue {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                    session_timeout_ms: m.session_timeout_ms,
                    subscription: protocol
                        .as_deref()
                        .map(|p| m.metadata_for(p))
                        .unwrap_or_default(),
                    assignment: m.assignment.clone(),
                })
                .collect(),
        };
        Record {
            group_id: group.group_id.clone(),
            key: records::group_key(&group.group_id),
            value: Some(records::group_value(&value)),
        }
    }

    /// In debug builds, panics when `group_id`'s group breaks an invariant: every call that
    /// changes a group ends with it.
    fn debug_check(&self, group_id: &str) {
        if cfg!(debug_assertions) {
            if let Some(group) = self.groups.get(group_id) {
                let checked = group.check_invariants();
                debug_assert!(checked.is_ok(), "group invariant broken: {checked:?}");
            }
        }
    }

    /// Checks every group's invariants (tests and the simulation).
    pub fn check_invariants(&self) -> Result<(), String> {
        self.groups.values().try_for_each(Group::check_invariants)
    }

    pub fn group_ids(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }
}
