//! KIP-848 consumer groups: ConsumerGroupHeartbeat (join, heartbeat, leave) and
//! ConsumerGroupDescribe, over [`ConsumerGroup`]. Membership lives in memory: after a
//! coordinator restart members get UNKNOWN_MEMBER_ID and join again, as after a coordinator
//! move; committed offsets are stored as for classic groups.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use strom_codec::ErrorCode;

use crate::consumer_group::{
    assignors, same, Assignment, ConsumerGroup, ConsumerMember, MemberState, TopicId, TopicsView,
    JOIN_EPOCH, LEAVE_EPOCH, STATIC_LEAVE_EPOCH,
};
use crate::group::Group;

use super::*;

/// Longest subscription regex accepted (bytes).
pub const REGEX_BYTES_MAX: usize = 1024;
/// Memory one compiled subscription regex may take (the `regex` crate's size limit).
const REGEX_COMPILED_BYTES_MAX: usize = 1 << 20;

/// One ConsumerGroupHeartbeat, as the server hands it over.
#[derive(Debug, Clone, Default)]
pub struct ConsumerHeartbeat {
    pub version: i16,
    pub group_id: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub subscribed_topic_names: Option<Vec<String>>,
    pub subscribed_topic_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// What the member says it owns (`None`: unchanged since its last heartbeat).
    pub owned: Option<Vec<(TopicId, Vec<i32>)>>,
    pub client_id: String,
    pub client_host: String,
    /// The id a v0 member joining gets (the server makes it, a UUID).
    pub new_member_id: String,
    /// The group's `consumer.session.timeout.ms` (or the broker's default).
    pub session_timeout_ms: i32,
    /// The group's `consumer.heartbeat.interval.ms` (or the broker's default).
    pub heartbeat_interval_ms: i32,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumerHeartbeatResponse {
    pub error: Option<ErrorCode>,
    pub error_message: Option<String>,
    pub member_id: String,
    pub member_epoch: i32,
    pub heartbeat_interval_ms: i32,
    /// Set when the member must learn its assignment (changed, or it owns something else).
    pub assignment: Option<Vec<(TopicId, Vec<i32>)>>,
}

impl ConsumerHeartbeatResponse {
    fn error(error: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: Some(error),
            error_message: Some(message.into()),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumerMemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub subscribed_topic_names: Vec<String>,
    pub subscribed_topic_regex: Option<String>,
    pub assignment: Vec<(TopicId, Vec<i32>)>,
    pub target_assignment: Vec<(TopicId, Vec<i32>)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConsumerGroupDescription {
    pub group_id: String,
    pub error: Option<ErrorCode>,
    pub error_message: Option<String>,
    pub state: String,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    pub members: Vec<ConsumerMemberDescription>,
}

fn to_assignment(list: &[(TopicId, Vec<i32>)]) -> Assignment {
    let mut out = Assignment::new();
    for (t, parts) in list {
        out.entry(*t).or_default().extend(parts.iter().copied());
    }
    out
}

fn to_list(a: &Assignment) -> Vec<(TopicId, Vec<i32>)> {
    a.iter()
        .filter(|(_, p)| !p.is_empty())
        .map(|(t, p)| (*t, p.iter().copied().collect()))
        .collect()
}

/// Compiles a subscription regex as Kafka matches it: the whole topic name (RE2 syntax).
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    if pattern.len() > REGEX_BYTES_MAX {
        return Err(format!("longer than {REGEX_BYTES_MAX} bytes"));
    }
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_COMPILED_BYTES_MAX)
        .build()
        .map_err(|e| e.to_string())
}

impl Groups {
    // ------------------------------------------------------------ KIP-848

    pub fn consumer_heartbeat(
        &mut self,
        now: i64,
        wall: i64,
        req: ConsumerHeartbeat,
        view: &TopicsView,
    ) -> ConsumerHeartbeatResponse {
        let group_id = req.group_id.clone();
        let mut out = self.consumer_heartbeat_unchecked(now, wall, req, view);
        out.heartbeat_interval_ms = if out.error.is_some() {
            0
        } else {
            out.heartbeat_interval_ms
        };
        self.debug_check(&group_id);
        out
    }

    fn consumer_heartbeat_unchecked(
        &mut self,
        now: i64,
        wall: i64,
        req: ConsumerHeartbeat,
        view: &TopicsView,
    ) -> ConsumerHeartbeatResponse {
        if let Err((code, message)) = self.validate_heartbeat(&req) {
            return ConsumerHeartbeatResponse::error(code, message);
        }
        let create = req.member_epoch == JOIN_EPOCH;
        let id = &req.group_id;
        let group = match self.groups.get(id) {
            Some(g) if !g.is_consumer() && (!create || !g.is_empty()) => {
                let message = if create {
                    // Kafka converts a classic group with members online (KIP-848's
                    // upgrade path); Strom converts a classic group once it is empty.
                    format!("Cannot upgrade classic group {id} to consumer group because it has members; it can be upgraded once they left.")
                } else {
                    format!("Group {id} is not a consumer group.")
                };
                return ConsumerHeartbeatResponse::error(ErrorCode::GroupIdNotFound, message);
            }
            Some(_) => self.groups.get_mut(id),
            None if !create => {
                let message = if req.member_epoch < 0 {
                    format!("Group {id} not found.")
                } else {
                    format!("Consumer group {id} not found.")
                };
                return ConsumerHeartbeatResponse::error(ErrorCode::GroupIdNotFound, message);
            }
            None => {
                if self.groups.len() >= GROUPS_MAX {
                    return ConsumerHeartbeatResponse::error(
                        ErrorCode::CoordinatorNotAvailable,
                        "The coordinator holds as many groups as it may.",
                    );
                }
                self.groups
                    .entry(req.group_id.clone())
                    .or_insert_with(|| Group::new(&req.group_id, wall));
                self.groups.get_mut(&req.group_id)
            }
        };
        let Some(group) = group else {
            return ConsumerHeartbeatResponse::error(ErrorCode::CoordinatorNotAvailable, "");
        };
        if group.consumer.is_none() {
            // An empty classic group (or a new one) becomes a consumer group; its committed
            // offsets stay.
            group.consumer = Some(Box::default());
            group.protocol_type = Some("consumer".into());
            group.protocol_name = None;
            group.generation_id = 0;
        }
        let max_size = self.config.consumer_max_size;
        let assignors_cfg = self.config.consumer_assignors.clone();
        let Some(cg) = group.consumer.as_deref_mut() else {
            return ConsumerHeartbeatResponse::error(ErrorCode::CoordinatorNotAvailable, "");
        };
        let was_empty = cg.members.is_empty();
        let result = match req.member_epoch {
            LEAVE_EPOCH | STATIC_LEAVE_EPOCH => Self::consumer_leave(cg, &req, &assignors_cfg),
            _ => Self::consumer_beat(cg, now, &req, view, max_size, &assignors_cfg),
        };
        if cg.members.is_empty() != was_empty {
            group.state_timestamp = wall;
        }
        result
    }

    /// Kafka's request checks, before any state is looked at.
    fn validate_heartbeat(&self, req: &ConsumerHeartbeat) -> Result<(), (ErrorCode, String)> {
        let invalid = |m: &str| Err((ErrorCode::InvalidRequest, m.to_string()));
        if req.group_id.is_empty() {
            return invalid("GroupId can't be empty.");
        }
        if req.instance_id.as_deref() == Some("") {
            return invalid("InstanceId can't be empty.");
        }
        if req.rack_id.as_deref() == Some("") {
            return invalid("RackId can't be empty.");
        }
        let id_needed = req.version >= 1 || req.member_epoch > 0 || req.member_epoch == LEAVE_EPOCH;
        if id_needed && req.member_id.trim().is_empty() {
            return invalid("MemberId can't be empty.");
        }
        match req.member_epoch {
            JOIN_EPOCH => {
                if req.rebalance_timeout_ms == -1 {
                    return invalid("RebalanceTimeoutMs must be provided in first request.");
                }
                if req.owned.as_ref().is_none_or(|o| !o.is_empty()) {
                    return invalid("TopicPartitions must be empty when (re-)joining.");
                }
                if req.subscribed_topic_names.is_none() && req.subscribed_topic_regex.is_none() {
                    return invalid(
                        "Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.",
                    );
                }
            }
            STATIC_LEAVE_EPOCH if req.instance_id.is_none() => {
                return invalid("InstanceId can't be null.");
            }
            e if e < STATIC_LEAVE_EPOCH => return invalid("MemberEpoch is invalid."),
            _ => {}
        }
        if let Some(re) = req.subscribed_topic_regex.as_deref() {
            if !re.is_empty() {
                if let Err(e) = compile_regex(re) {
                    return Err((
                        ErrorCode::InvalidRegularExpression,
                        format!(
                            "SubscribedTopicRegex `{re}` is not a valid regular expression: {e}."
                        ),
                    ));
                }
            }
        }
        if let Some(a) = req.server_assignor.as_deref() {
            if !self.config.consumer_assignors.iter().any(|k| k == a) {
                return Err((
                    ErrorCode::UnsupportedAssignor,
                    format!(
                        "ServerAssignor {a} is not supported. Supported assignors: {}.",
                        self.config.consumer_assignors.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn consumer_leave(
        cg: &mut ConsumerGroup,
        req: &ConsumerHeartbeat,
        assignors_cfg: &[String],
    ) -> ConsumerHeartbeatResponse {
        let member_id = if req.member_epoch == STATIC_LEAVE_EPOCH {
            match req
                .instance_id
                .as_ref()
                .and_then(|i| cg.static_members.get(i))
            {
                None => {
                    return ConsumerHeartbeatResponse::error(
                        ErrorCode::UnknownMemberId,
                        format!(
                            "Instance id {} is unknown.",
                            req.instance_id.as_deref().unwrap_or_default()
                        ),
                    )
                }
                Some(id) if *id != req.member_id => {
                    return ConsumerHeartbeatResponse::error(
                        ErrorCode::FencedInstanceId,
                        format!(
                            "Static member {} with instance id {} was fenced by member {id}.",
                            req.member_id,
                            req.instance_id.as_deref().unwrap_or_default()
                        ),
                    )
                }
                Some(id) => id.clone(),
            }
        } else {
            req.member_id.clone()
        };
        if !cg.members.contains_key(&member_id) {
            return ConsumerHeartbeatResponse::error(
                ErrorCode::UnknownMemberId,
                format!(
                    "Member {member_id} is not a member of group {}.",
                    req.group_id
                ),
            );
        }
        if req.member_epoch == STATIC_LEAVE_EPOCH {
            // It keeps its assignment until its session expires or its instance rejoins;
            // what it was revoking is free for others.
            if let Some(m) = cg.members.get_mut(&member_id) {
                m.static_left = true;
                m.previous_epoch = m.member_epoch;
                m.member_epoch = STATIC_LEAVE_EPOCH;
                m.pending_revocation.clear();
                m.revocation_deadline = None;
                m.state = MemberState::Stable;
            }
        } else {
            // The others' targets are recomputed at once (they take up its partitions as
            // their heartbeats come).
            cg.remove_member(&member_id);
            cg.group_epoch += 1;
            Self::compute_target(cg, assignors_cfg);
        }
        ConsumerHeartbeatResponse {
            member_id,
            member_epoch: req.member_epoch,
            ..ConsumerHeartbeatResponse::default()
        }
    }

    fn consumer_beat(
        cg: &mut ConsumerGroup,
        now: i64,
        req: &ConsumerHeartbeat,
        view: &TopicsView,
        max_size: usize,
        assignors_cfg: &[String],
    ) -> ConsumerHeartbeatResponse {
        let (member_id, new_member) = if req.member_epoch == JOIN_EPOCH {
            match Self::consumer_join(cg, req, max_size) {
                Ok(joined) => joined,
                Err(e) => return e,
            }
        } else {
            let group = &req.group_id;
            let member_id = match &req.instance_id {
                Some(instance) => match cg.static_members.get(instance) {
                    None => {
                        return ConsumerHeartbeatResponse::error(
                            ErrorCode::UnknownMemberId,
                            format!("Instance id {instance} is unknown."),
                        )
                    }
                    Some(holder) if *holder != req.member_id => {
                        return ConsumerHeartbeatResponse::error(
                            ErrorCode::FencedInstanceId,
                            format!(
                                "Static member {} with instance id {instance} was fenced by member {holder}.",
                                req.member_id
                            ),
                        )
                    }
                    Some(holder) => holder.clone(),
                },
                None => req.member_id.clone(),
            };
            let Some(m) = cg.members.get(&member_id) else {
                return ConsumerHeartbeatResponse::error(
                    ErrorCode::UnknownMemberId,
                    format!("Member {member_id} is not a member of group {group}."),
                );
            };
            if req.member_epoch != m.member_epoch {
                // A member that missed the answer moving it to a new epoch may come back with
                // the previous one, owning nothing beyond what it has.
                let lost_answer = req.member_epoch == m.previous_epoch
                    && req.owned.as_ref().is_some_and(|o| {
                        to_assignment(o).iter().all(|(t, ps)| {
                            ps.iter()
                                .all(|p| m.assigned.get(t).is_some_and(|a| a.contains(p)))
                        })
                    });
                if !lost_answer {
                    let which = if req.member_epoch > m.member_epoch {
                        "greater"
                    } else {
                        "smaller"
                    };
                    return ConsumerHeartbeatResponse::error(
                        ErrorCode::FencedMemberEpoch,
                        format!(
                            "The consumer group member has a {which} member epoch ({}) than the one known by the group coordinator ({}). The member must abandon all its partitions and rejoin.",
                            req.member_epoch, m.member_epoch
                        ),
                    );
                }
            }
            (member_id, false)
        };
        let before = cg.members.get(&member_id).map(|m| m.assigned.clone());
        let mut bump = new_member;
        if let Some(m) = cg.members.get_mut(&member_id) {
            m.static_left = false;
            m.client_id.clone_from(&req.client_id);
            m.client_host.clone_from(&req.client_host);
            m.session_deadline = now + i64::from(req.session_timeout_ms.max(0));
            if req.rack_id.is_some() {
                m.rack_id.clone_from(&req.rack_id);
            }
            if req.rebalance_timeout_ms >= 0 {
                m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            }
            if let Some(names) = &req.subscribed_topic_names {
                let mut names = names.clone();
                names.sort();
                names.dedup();
                if names != m.subscribed_names {
                    m.subscribed_names = names;
                    bump = true;
                }
            }
            if let Some(re) = &req.subscribed_topic_regex {
                let re = (!re.is_empty()).then(|| re.clone());
                if re != m.subscribed_regex {
                    m.subscribed_regex = re;
                    bump = true;
                }
            }
            // A new assignor choice applies at the next assignment (no new epoch, as Kafka).
            if req.server_assignor.is_some() {
                m.server_assignor.clone_from(&req.server_assignor);
            }
        }
        if Self::refresh_subscriptions(cg, view) {
            bump = true;
        }
        if bump {
            cg.group_epoch += 1;
        }
        if cg.assignment_epoch < cg.group_epoch {
            Self::compute_target(cg, assignors_cfg);
        }
        let owned = req.owned.as_deref().map(to_assignment);
        cg.reconcile(&member_id, owned.as_ref(), now);
        let Some(m) = cg.members.get(&member_id) else {
            return ConsumerHeartbeatResponse::error(ErrorCode::UnknownMemberId, "");
        };
        let changed = before.is_none_or(|a| !same(&a, &m.assigned));
        // Kafka sends the assignment on a join, on a full request (the member restates
        // everything, as after a reconnect) and when it changed.
        let full = req.rebalance_timeout_ms != -1
            && (req.subscribed_topic_names.is_some() || req.subscribed_topic_regex.is_some())
            && req.owned.is_some();
        let joined = req.member_epoch == JOIN_EPOCH;
        ConsumerHeartbeatResponse {
            error: None,
            error_message: None,
            member_id: member_id.clone(),
            member_epoch: m.member_epoch,
            heartbeat_interval_ms: req.heartbeat_interval_ms,
            assignment: (joined || full || changed).then(|| to_list(&m.assigned)),
        }
    }

    /// A member joining with epoch 0; returns its member id and whether it is new (a new
    /// member changes the group epoch; a static member coming back or a known member
    /// joining again keeps its state).
    fn consumer_join(
        cg: &mut ConsumerGroup,
        req: &ConsumerHeartbeat,
        max_size: usize,
    ) -> Result<(String, bool), ConsumerHeartbeatResponse> {
        let member_id = if req.version == 0 && req.member_id.is_empty() {
            req.new_member_id.clone()
        } else {
            req.member_id.clone()
        };
        if let Some(instance) = &req.instance_id {
            if let Some(old_id) = cg.static_members.get(instance).cloned() {
                let old_left = cg.members.get(&old_id).is_some_and(|m| m.static_left);
                if old_id != member_id && !old_left {
                    return Err(ConsumerHeartbeatResponse::error(
                        ErrorCode::UnreleasedInstanceId,
                        format!(
                            "Static member {member_id} with instance id {instance} cannot join the group because the instance id is owned by {old_id} member."
                        ),
                    ));
                }
                // The instance comes back: the new member takes over the old one's
                // assignment, without a new group epoch.
                if let Some(mut old) = cg.members.remove(&old_id) {
                    let target = cg.target.remove(&old_id);
                    old.member_id.clone_from(&member_id);
                    old.static_left = false;
                    old.member_epoch = 0;
                    old.previous_epoch = 0;
                    old.state = MemberState::Stable;
                    cg.members.insert(member_id.clone(), old);
                    if let Some(t) = target {
                        cg.target.insert(member_id.clone(), t);
                    }
                    cg.static_members
                        .insert(instance.clone(), member_id.clone());
                    return Ok((member_id, false));
                }
            }
        }
        if cg.members.contains_key(&member_id) {
            // A known member joining again keeps its state (Kafka 4.2+); its answer carries
            // its whole assignment.
            return Ok((member_id, false));
        }
        if cg.members.len() >= max_size {
            return Err(ConsumerHeartbeatResponse::error(
                ErrorCode::GroupMaxSizeReached,
                format!(
                    "The consumer group has reached its maximum capacity of {max_size} members."
                ),
            ));
        }
        let mut m = ConsumerMember::new(&member_id);
        m.previous_epoch = -1;
        m.instance_id.clone_from(&req.instance_id);
        if let Some(instance) = &req.instance_id {
            cg.static_members
                .insert(instance.clone(), member_id.clone());
        }
        cg.members.insert(member_id.clone(), m);
        Ok((member_id, true))
    }

    /// Resolves the group's regexes against `view` and notes the subscribed topics'
    /// metadata; `true` when what the assignment depends on changed.
    fn refresh_subscriptions(cg: &mut ConsumerGroup, view: &TopicsView) -> bool {
        let regexes: BTreeSet<String> = cg
            .members
            .values()
            .filter_map(|m| m.subscribed_regex.clone())
            .collect();
        // Each regex is compiled once, while some member subscribes with it.
        cg.compiled_regex.retain(|re, _| regexes.contains(re));
        // Kafka resolves regexes off the heartbeat path: what a heartbeat resolves is used
        // from the next one on (a member subscribing with names and a new regex gets the
        // named topics first, the matched ones a heartbeat later; librdkafka's 0045 expects
        // exactly that).
        cg.resolved_regex = regexes
            .iter()
            .filter_map(|re| {
                let matched = cg
                    .pending_regex
                    .get(re)
                    .or_else(|| cg.resolved_regex.get(re))?;
                Some((re.clone(), matched.clone()))
            })
            .collect();
        let mut resolved = BTreeMap::new();
        for re in regexes {
            if !cg.compiled_regex.contains_key(&re) {
                if let Ok(compiled) = compile_regex(&re) {
                    cg.compiled_regex.insert(re.clone(), compiled);
                }
            }
            let matched: BTreeSet<String> = match cg.compiled_regex.get(&re) {
                Some(compiled) => view
                    .topics
                    .keys()
                    .filter(|t| compiled.is_match(t))
                    .cloned()
                    .collect(),
                None => BTreeSet::new(),
            };
            resolved.insert(re, matched);
        }
        cg.pending_regex = resolved;
        let metadata: Vec<(String, TopicId, i32)> = cg
            .subscribed_topics()
            .into_iter()
            .filter_map(|name| {
                let (id, parts) = *view.topics.get(&name)?;
                Some((name, id, parts))
            })
            .collect();
        if metadata == cg.subscribed_metadata {
            return false;
        }
        cg.subscribed_metadata = metadata;
        true
    }

    /// Runs the group's assignor for its current members and subscriptions (the topics'
    /// metadata as last resolved).
    pub(super) fn compute_target(cg: &mut ConsumerGroup, assignors_cfg: &[String]) {
        // The assignor most members ask for; the first configured one otherwise.
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in cg.members.values() {
            if let Some(a) = m.server_assignor.as_deref() {
                *votes.entry(a).or_default() += 1;
            }
        }
        let default = assignors_cfg.first().map_or("uniform", String::as_str);
        let chosen = votes
            .iter()
            .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
            .map_or(default, |(name, _)| *name)
            .to_string();
        let partitions: BTreeMap<TopicId, i32> = cg
            .subscribed_metadata
            .iter()
            .map(|(_, id, n)| (*id, *n))
            .collect();
        let specs: Vec<assignors::MemberSpec<'_>> = cg
            .members
            .values()
            .map(|m| assignors::MemberSpec {
                member_id: &m.member_id,
                instance_id: m.instance_id.as_deref(),
                topics: {
                    let names = cg.member_topics(m);
                    cg.subscribed_metadata
                        .iter()
                        .filter(|(name, ..)| names.contains(name))
                        .map(|(_, id, _)| *id)
                        .collect()
                },
                previous: cg.target.get(&m.member_id),
            })
            .collect();
        let target = assignors::assign(&chosen, &specs, &partitions);
        cg.target = target.into_iter().collect();
        cg.assignor = chosen;
        cg.assignment_epoch = cg.group_epoch;
    }

    /// ConsumerGroupDescribe of one group.
    pub fn consumer_describe(&self, group_id: &str) -> ConsumerGroupDescription {
        let base = ConsumerGroupDescription {
            group_id: group_id.into(),
            ..ConsumerGroupDescription::default()
        };
        if group_id.is_empty() {
            return ConsumerGroupDescription {
                error: Some(ErrorCode::InvalidGroupId),
                ..base
            };
        }
        let Some(g) = self.groups.get(group_id) else {
            return ConsumerGroupDescription {
                error: Some(ErrorCode::GroupIdNotFound),
                error_message: Some(format!("Group {group_id} not found.")),
                ..base
            };
        };
        let Some(cg) = g.consumer.as_deref() else {
            return ConsumerGroupDescription {
                error: Some(ErrorCode::GroupIdNotFound),
                error_message: Some(format!("Group {group_id} is not a consumer group.")),
                ..base
            };
        };
        let empty = Assignment::new();
        ConsumerGroupDescription {
            state: cg.state_name().into(),
            group_epoch: cg.group_epoch,
            assignment_epoch: cg.assignment_epoch,
            assignor: cg.assignor.clone(),
            members: cg
                .members
                .values()
                .map(|m| ConsumerMemberDescription {
                    member_id: m.member_id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    member_epoch: m.member_epoch,
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    subscribed_topic_names: m.subscribed_names.clone(),
                    // Kafka describes "no regex" as an empty one.
                    subscribed_topic_regex: Some(m.subscribed_regex.clone().unwrap_or_default()),
                    assignment: to_list(&m.assigned),
                    target_assignment: to_list(cg.target.get(&m.member_id).unwrap_or(&empty)),
                })
                .collect(),
            ..base
        }
    }

    /// Consumer-group members whose session or revocation deadline passed are removed and
    /// the others' targets recomputed.
    pub(super) fn consumer_tick(group: &mut Group, now: i64, wall: i64, assignors_cfg: &[String]) {
        let Some(cg) = group.consumer.as_deref_mut() else {
            return;
        };
        let expired: Vec<String> = cg
            .members
            .values()
            .filter(|m| {
                m.session_deadline <= now
                    || (m.state == MemberState::UnrevokedPartitions
                        && m.revocation_deadline.is_some_and(|d| d <= now))
            })
            .map(|m| m.member_id.clone())
            .collect();
        if expired.is_empty() {
            return;
        }
        for id in &expired {
            cg.remove_member(id);
        }
        cg.group_epoch += 1;
        Self::compute_target(cg, assignors_cfg);
        if cg.members.is_empty() {
            group.state_timestamp = wall;
        }
    }

    /// The consumer-group deadlines of `group`.
    pub(super) fn consumer_deadlines(group: &Group) -> impl Iterator<Item = i64> + '_ {
        group.consumer.iter().flat_map(|cg| {
            cg.members.values().flat_map(|m| {
                std::iter::once(m.session_deadline).chain(
                    m.revocation_deadline
                        .filter(|_| m.state == MemberState::UnrevokedPartitions),
                )
            })
        })
    }

    /// OffsetFetch v9's member checks: a consumer group's member that names itself must
    /// exist and be at its current epoch (others, and classic groups, fetch freely).
    pub fn validate_offset_fetch(
        &self,
        group_id: &str,
        member_id: Option<&str>,
        member_epoch: i32,
    ) -> Option<ErrorCode> {
        let cg = self.groups.get(group_id)?.consumer.as_deref()?;
        if member_id.is_none() && member_epoch < 0 {
            return None;
        }
        let Some(m) = member_id.and_then(|id| cg.members.get(id)) else {
            return Some(ErrorCode::UnknownMemberId);
        };
        (m.member_epoch != member_epoch).then_some(ErrorCode::StaleMemberEpoch)
    }

    /// OffsetCommit's and TxnOffsetCommit's member checks for a consumer group: the member
    /// exists and commits at its current epoch.
    pub(super) fn consumer_commit_check(
        cg: &ConsumerGroup,
        member_id: &str,
        member_epoch: i32,
        api_version: Option<i16>,
    ) -> Option<ErrorCode> {
        if member_epoch < 0 && cg.members.is_empty() {
            return None;
        }
        let Some(m) = cg.members.get(member_id) else {
            return Some(ErrorCode::UnknownMemberId);
        };
        if api_version.is_some_and(|v| v < 9) {
            return Some(ErrorCode::UnsupportedVersion);
        }
        (member_epoch != m.member_epoch).then_some(ErrorCode::StaleMemberEpoch)
    }
}
