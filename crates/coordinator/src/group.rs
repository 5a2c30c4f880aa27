//! One consumer group of the classic protocol: its members, generation, selected protocol,
//! committed offsets, and the rebalance state machine.
//!
//! # States (Kafka's `ClassicGroupState`)
//!
//! | state | JoinGroup | SyncGroup | Heartbeat | LeaveGroup | OffsetCommit (member) |
//! |---|---|---|---|---|---|
//! | Empty | new member → PreparingRebalance (after `group.initial.rebalance.delay.ms`) | UNKNOWN_MEMBER_ID | UNKNOWN_MEMBER_ID | UNKNOWN_MEMBER_ID | generation -1 only (simple consumers); else UNKNOWN_MEMBER_ID |
//! | PreparingRebalance | parked until every member rejoined or the rebalance timeout; then → CompletingRebalance (or Empty) | REBALANCE_IN_PROGRESS | REBALANCE_IN_PROGRESS (keeps the session) | member removed; join may complete | accepted for the current generation |
//! | CompletingRebalance | same protocols: current generation at once; else → PreparingRebalance | parked; the leader's assignment is stored, then → Stable and releases all | NONE | member removed → PreparingRebalance | REBALANCE_IN_PROGRESS |
//! | Stable | leader or changed protocols → PreparingRebalance; follower with same protocols: current generation | the member's assignment | NONE | member removed → PreparingRebalance | accepted for the current generation |
//! | Dead | COORDINATOR_NOT_AVAILABLE | COORDINATOR_NOT_AVAILABLE | COORDINATOR_NOT_AVAILABLE | COORDINATOR_NOT_AVAILABLE | COORDINATOR_NOT_AVAILABLE |
//!
//! Timers: a member whose session times out without a parked join or sync is removed (→
//! rebalance); when the rebalance timeout passes, members that did not rejoin are removed
//! and the join completes; a member id handed out with MEMBER_ID_REQUIRED is forgotten after
//! its session timeout if it never rejoins.
//!
//! Invariants (checked by `Group::check_invariants` in tests): the leader is a member;
//! in Stable and CompletingRebalance there is at least one member; the generation never goes
//! back; every static instance id maps to a member that carries it.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;

use crate::consumer_group::ConsumerGroup;
use crate::records::OffsetValue;

/// Identifies a parked request; the server maps it to the connection waiting for it.
pub type Token = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The name Kafka's ListGroups and DescribeGroups use.
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Member {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    /// (name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    /// A JoinGroup waiting for the rebalance to complete.
    pub join_waiter: Option<Token>,
    pub sync_waiter: Option<Token>,
    /// Monotonic ms after which the member is considered dead.
    pub session_deadline: i64,
}

impl Member {
    pub fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    pub fn same_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        self.protocol_type == protocol_type && self.protocols == protocols
    }
}

#[derive(Debug, Clone)]
pub struct Group {
    pub group_id: String,
    pub state: GroupState,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader_id: Option<String>,
    /// Members in join order (the first is the default leader).
    pub members: Vec<Member>,
    /// group.instance.id → member id.
    pub static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED: id → deadline.
    pub pending_members: HashMap<String, i64>,
    pub offsets: BTreeMap<(String, i32), OffsetValue>,
    /// When the current PreparingRebalance must complete.
    pub rebalance_deadline: Option<i64>,
    /// The current rebalance started from Empty: member ids handed out with
    /// MEMBER_ID_REQUIRED do not hold it (like Kafka's initial delayed join, which completes
    /// without them); they join the next generation.
    pub rebalance_from_empty: bool,
    /// Wall-clock ms of the last state change (Kafka's `currentStateTimestamp`).
    pub state_timestamp: i64,
    /// CompletingRebalance only: the leader's assignment for this generation is in the
    /// members and its record is being stored; the group turns Stable (and every parked
    /// SyncGroup is answered) once the store completes, as Kafka's coordinator does.
    pub assignment_storing: Option<i32>,
    /// A KIP-848 consumer group (`ConsumerGroupHeartbeat`): its members live here and the
    /// classic fields above stay Empty. `None` for a classic group.
    pub consumer: Option<Box<ConsumerGroup>>,
}

impl Group {
    pub fn new(group_id: &str, now_wall: i64) -> Self {
        Self {
            group_id: group_id.into(),
            state: GroupState::Empty,
            generation_id: 0,
            protocol_type: None,
            protocol_name: None,
            leader_id: None,
            members: Vec::new(),
            static_members: HashMap::new(),
            pending_members: HashMap::new(),
            offsets: BTreeMap::new(),
            rebalance_deadline: None,
            rebalance_from_empty: false,
            state_timestamp: now_wall,
            assignment_storing: None,
            consumer: None,
        }
    }

    /// Whether this is a KIP-848 consumer group.
    pub fn is_consumer(&self) -> bool {
        self.consumer.is_some()
    }

    /// No member of either protocol: offsets may expire, the group may be deleted or change
    /// protocol.
    pub fn is_empty(&self) -> bool {
        self.state == GroupState::Empty
            && self.consumer.as_ref().is_none_or(|c| c.members.is_empty())
    }

    /// The name ListGroups and DescribeGroups give its state.
    pub fn state_name(&self) -> &'static str {
        match &self.consumer {
            Some(c) => c.state_name(),
            None => self.state.name(),
        }
    }

    pub fn member(&self, member_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.member_id == member_id)
    }

    pub fn member_mut(&mut self, member_id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.member_id == member_id)
    }

    pub fn has_member(&self, member_id: &str) -> bool {
        self.member(member_id).is_some()
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader_id.as_deref() == Some(member_id)
    }

    /// The instance id is known but bound to another member id.
    pub fn is_fenced(&self, member_id: &str, group_instance_id: Option<&str>) -> bool {
        group_instance_id
            .and_then(|i| self.static_members.get(i))
            .is_some_and(|current| current != member_id)
    }

    /// Protocol names every member supports (with `extra` counted as a member).
    pub fn candidate_protocols(&self, extra: Option<&[(String, Bytes)]>) -> Vec<String> {
        let mut lists: Vec<Vec<&str>> = self
            .members
            .iter()
            .map(|m| m.protocols.iter().map(|(n, _)| n.as_str()).collect())
            .collect();
        if let Some(e) = extra {
            lists.push(e.iter().map(|(n, _)| n.as_str()).collect());
        }
        let Some(first) = lists.first() else {
            return Vec::new();
        };
        first
            .iter()
            .filter(|p| lists.iter().all(|l| l.contains(p)))
            .map(|p| (*p).to_string())
            .collect()
    }

    /// Kafka's `selectProtocol`: among protocols all members support, the one most members
    /// prefer (ties go to the earlier-joined members' preference).
    pub fn select_protocol(&self) -> Option<String> {
        let candidates = self.candidate_protocols(None);
        let mut votes: Vec<(String, usize)> = candidates.iter().map(|c| (c.clone(), 0)).collect();
        for m in &self.members {
            if let Some(choice) = m.protocols.iter().find(|(n, _)| candidates.contains(n)) {
                if let Some(v) = votes.iter_mut().find(|(n, _)| *n == choice.0) {
                    v.1 += 1;
                }
            }
        }
        let best = votes.iter().map(|(_, v)| *v).max()?;
        let mut preferred = self
            .members
            .iter()
            .flat_map(|m| m.protocols.iter().map(|(n, _)| n));
        preferred
            .find(|n| votes.iter().any(|(c, v)| c == *n && *v == best))
            .cloned()
    }

    pub fn max_rebalance_timeout_ms(&self) -> i64 {
        self.members
            .iter()
            .map(|m| i64::from(m.rebalance_timeout_ms))
            .max()
            .unwrap_or(0)
    }

    pub fn all_joined(&self) -> bool {
        self.members.iter().all(|m| m.join_waiter.is_some())
            && (self.rebalance_from_empty || self.pending_members.is_empty())
    }

    /// Removes a member and its static binding; returns it.
    pub fn remove_member(&mut self, member_id: &str) -> Option<Member> {
        let index = self.members.iter().position(|m| m.member_id == member_id)?;
        let member = self.members.remove(index);
        if let Some(instance) = &member.group_instance_id {
            if self
                .static_members
                .get(instance)
                .is_some_and(|m| m == member_id)
            {
                self.static_members.remove(instance);
            }
        }
        if self.is_leader(member_id) {
            self.leader_id = self.members.first().map(|m| m.member_id.clone());
        }
        Some(member)
    }

    /// Checks the documented invariants; `Err` names the first broken one.
    pub fn check_invariants(&self) -> Result<(), String> {
        if let Some(leader) = &self.leader_id {
            if !self.has_member(leader) {
                return Err(format!(
                    "leader {leader} is not a member of {}",
                    self.group_id
                ));
            }
        }
        if matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance
        ) && self.members.is_empty()
        {
            return Err(format!(
                "{} is {:?} without members",
                self.group_id, self.state
            ));
        }
        if matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance
        ) && self.leader_id.is_none()
        {
            return Err(format!(
                "{} is {:?} without a leader",
                self.group_id, self.state
            ));
        }
        if let Some(generation) = self.assignment_storing {
            if self.state != GroupState::CompletingRebalance || generation != self.generation_id {
                return Err(format!(
                    "{} stores the assignment of generation {generation} while {:?} in generation {}",
                    self.group_id, self.state, self.generation_id
                ));
            }
        }
        for (instance, member_id) in &self.static_members {
            let bound = self
                .member(member_id)
                .and_then(|m| m.group_instance_id.as_deref());
            if bound != Some(instance.as_str()) {
                return Err(format!(
                    "static instance {instance} maps to {member_id}, not a member with it"
                ));
            }
        }
        if let Some(c) = &self.consumer {
            if !self.members.is_empty() || self.state != GroupState::Empty {
                return Err(format!(
                    "{} is a consumer group with classic members",
                    self.group_id
                ));
            }
            c.check_invariants(&self.group_id)?;
        }
        if self.state == GroupState::Stable && self.members.iter().any(|m| m.join_waiter.is_some())
        {
            return Err(format!("{} is Stable with a parked join", self.group_id));
        }
        Ok(())
    }
}
