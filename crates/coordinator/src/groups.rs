//! All consumer groups of the broker, driven by `(now, request)` calls that return
//! [`Outputs`]: replies (possibly to requests parked earlier) and records to persist in
//! `__consumer_offsets` BEFORE the replies are sent. Time comes in as arguments: `now` is
//! monotonic milliseconds (deadlines), `wall` is wall-clock milliseconds (stored timestamps).

use std::collections::HashMap;

use bytes::Bytes;
use strom_codec::ErrorCode;

use crate::group::{Group, GroupState, Member, Token};
use crate::records::{self, GroupValue, MemberValue, OffsetValue, Record};

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
        }
    }
}

// ---------------------------------------------------------------- requests and replies

#[derive(Debug, Clone, Default)]
pub struct JoinRequest {
    pub group_id: String,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new dynamic member first gets MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
    /// The id to give a new member (the server makes it: client_id + "-" + uuid).
    pub new_member_id: String,
    /// JoinGroup v9+ (KIP-814): a rejoining static leader can be told to skip assignment;
    /// older leaders get a rebalance instead.
    pub supports_skip_assignment: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JoinMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub metadata: Bytes,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JoinResponse {
    pub error: Option<ErrorCode>,
    pub generation_id: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub skip_assignment: bool,
    pub member_id: String,
    pub members: Vec<JoinMember>,
}

impl JoinResponse {
    fn error(error: ErrorCode, member_id: &str) -> Self {
        Self {
            error: Some(error),
            generation_id: -1,
            member_id: member_id.into(),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncResponse {
    pub error: Option<ErrorCode>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResponse {
    fn error(error: ErrorCode) -> Self {
        Self {
            error: Some(error),
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct HeartbeatRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LeaveRequest {
    pub group_id: String,
    /// (member_id, group_instance_id)
    pub members: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeaveResponse {
    pub error: Option<ErrorCode>,
    pub members: Vec<(String, Option<String>, Option<ErrorCode>)>,
}

#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    /// (topic, partition, offset, leader_epoch, metadata)
    pub offsets: Vec<(String, i32, i64, i32, Option<String>)>,
}

/// Per partition error, in request order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommitResponse {
    pub errors: Vec<(String, i32, Option<ErrorCode>)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CommittedOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupListing {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

/// Per-partition outcome of an offset deletion.
pub type PartitionErrors = Vec<(String, i32, Option<ErrorCode>)>;

/// A reply to a parked or immediate request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Join(JoinResponse),
    Sync(SyncResponse),
    Heartbeat(Option<ErrorCode>),
    Leave(LeaveResponse),
    Commit(CommitResponse),
}

impl Reply {
    /// The same reply turned into `error` (used when persisting its records failed).
    pub fn failed(self, error: ErrorCode) -> Self {
        match self {
            Reply::Join(j) => Reply::Join(JoinResponse::error(error, &j.member_id)),
            Reply::Sync(_) => Reply::Sync(SyncResponse::error(error)),
            Reply::Heartbeat(_) => Reply::Heartbeat(Some(error)),
            Reply::Leave(l) => Reply::Leave(LeaveResponse {
                error: Some(error),
                members: l.members,
            }),
            Reply::Commit(c) => Reply::Commit(CommitResponse {
                errors: c
                    .errors
                    .into_iter()
                    .map(|(t, p, _)| (t, p, Some(error)))
                    .collect(),
            }),
        }
    }
}

/// What the server must do: persist `records` (in order), then send `replies`, then hand
/// each of `completions` to [`Groups::stored`] with the outcome of the persist.
#[derive(Debug, Default, PartialEq)]
pub struct Outputs {
    pub records: Vec<Record>,
    pub replies: Vec<(Token, Reply)>,
    pub completions: Vec<Completion>,
}

impl Outputs {
    fn reply(token: Token, reply: Reply) -> Self {
        Self {
            records: Vec::new(),
            replies: vec![(token, reply)],
            completions: Vec::new(),
        }
    }

    /// Appends `other` after what is already here.
    pub fn extend(&mut self, other: Outputs) {
        self.records.extend(other.records);
        self.replies.extend(other.replies);
        self.completions.extend(other.completions);
    }
}

/// A state change that waits for its records to be stored (Kafka's coordinator completes
/// these when the write is committed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The leader's assignment for `generation_id`: once stored, the group is Stable and
    /// every parked SyncGroup of that generation is answered.
    Assignment {
        group_id: String,
        generation_id: i32,
    },
}

// ---------------------------------------------------------------- the coordinator

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

    fn group_record(group: &Group) -> Record {
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

    // ------------------------------------------------------------ JoinGroup

    /// JoinGroup. The reply may come later, through another call's outputs.
    pub fn join(&mut self, now: i64, wall: i64, token: Token, req: JoinRequest) -> Outputs {
        if req.group_id.is_empty() {
            return Outputs::reply(
                token,
                Reply::Join(JoinResponse::error(
                    ErrorCode::InvalidGroupId,
                    &req.member_id,
                )),
            );
        }
        if req.session_timeout_ms < self.config.session_timeout_ms_min
            || req.session_timeout_ms > self.config.session_timeout_ms_max
        {
            return Outputs::reply(
                token,
                Reply::Join(JoinResponse::error(
                    ErrorCode::InvalidSessionTimeout,
                    &req.member_id,
                )),
            );
        }
        if req.protocol_type.is_empty() || req.protocols.is_empty() {
            return Outputs::reply(
                token,
                Reply::Join(JoinResponse::error(
                    ErrorCode::InconsistentGroupProtocol,
                    &req.member_id,
                )),
            );
        }
        if !self.groups.contains_key(&req.group_id) {
            if self.groups.len() >= GROUPS_MAX {
                return Outputs::reply(
                    token,
                    Reply::Join(JoinResponse::error(
                        ErrorCode::CoordinatorNotAvailable,
                        &req.member_id,
                    )),
                );
            }
            self.groups
                .insert(req.group_id.clone(), Group::new(&req.group_id, wall));
        }
        let config = self.config.clone();
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return Outputs::reply(
                token,
                Reply::Join(JoinResponse::error(
                    ErrorCode::CoordinatorNotAvailable,
                    &req.member_id,
                )),
            );
        };
        if group.state == GroupState::Dead {
            return Outputs::reply(
                token,
                Reply::Join(JoinResponse::error(
                    ErrorCode::CoordinatorNotAvailable,
                    &req.member_id,
                )),
            );
        }
        // Protocol compatibility with the existing members.
        if !group.members.is_empty() {
            let same_type = group.protocol_type.as_deref() == Some(req.protocol_type.as_str());
            let only_member = group.members.len() == 1 && group.has_member(&req.member_id);
            if !only_member
                && (!same_type || group.candidate_protocols(Some(&req.protocols)).is_empty())
            {
                return Outputs::reply(
                    token,
                    Reply::Join(JoinResponse::error(
                        ErrorCode::InconsistentGroupProtocol,
                        &req.member_id,
                    )),
                );
            }
        }
        let mut out = Outputs::default();
        if req.member_id.is_empty() {
            Self::join_unknown(&config, group, now, wall, token, req, &mut out);
        } else {
            Self::join_known(&config, group, now, wall, token, req, &mut out);
        }
        if group.state == GroupState::PreparingRebalance && group.all_joined() {
            let delayed = group.rebalance_deadline.is_some_and(|d| d > now)
                && group.generation_id == 0
                && config.initial_rebalance_delay_ms > 0;
            if !delayed {
                Self::complete_join(group, now, wall, &mut out);
            }
        }
        out
    }

    fn join_unknown(
        config: &GroupConfig,
        group: &mut Group,
        now: i64,
        wall: i64,
        token: Token,
        req: JoinRequest,
        out: &mut Outputs,
    ) {
        let new_id = req.new_member_id.clone();
        if let Some(instance) = req.group_instance_id.clone() {
            if let Some(old_id) = group.static_members.get(&instance).cloned() {
                Self::replace_static_member(group, now, wall, token, &old_id, req, out);
                return;
            }
        } else if req.require_known_member_id {
            if group.members.len() + group.pending_members.len() >= config.max_size {
                out.replies.push((
                    token,
                    Reply::Join(JoinResponse::error(ErrorCode::GroupMaxSizeReached, "")),
                ));
                return;
            }
            let hold = i64::from(req.session_timeout_ms).min(PENDING_MEMBER_MS_MAX);
            group.pending_members.insert(new_id.clone(), now + hold);
            out.replies.push((
                token,
                Reply::Join(JoinResponse::error(ErrorCode::MemberIdRequired, &new_id)),
            ));
            return;
        }
        if group.members.len() + group.pending_members.len() >= config.max_size {
            out.replies.push((
                token,
                Reply::Join(JoinResponse::error(ErrorCode::GroupMaxSizeReached, "")),
            ));
            return;
        }
        Self::add_member(config, group, now, wall, token, new_id, req, out);
    }

    fn join_known(
        config: &GroupConfig,
        group: &mut Group,
        now: i64,
        wall: i64,
        token: Token,
        req: JoinRequest,
        out: &mut Outputs,
    ) {
        let member_id = req.member_id.clone();
        if group.is_fenced(&member_id, req.group_instance_id.as_deref()) {
            out.replies.push((
                token,
                Reply::Join(JoinResponse::error(ErrorCode::FencedInstanceId, &member_id)),
            ));
            return;
        }
        if group.pending_members.remove(&member_id).is_some() {
            // Its place was reserved with MEMBER_ID_REQUIRED: no size check again.
            let config = GroupConfig {
                max_size: usize::MAX,
                ..config.clone()
            };
            Self::add_member(&config, group, now, wall, token, member_id, req, out);
            return;
        }
        let Some(member) = group.member(&member_id) else {
            out.replies.push((
                token,
                Reply::Join(JoinResponse::error(ErrorCode::UnknownMemberId, &member_id)),
            ));
            return;
        };
        let unchanged = member.same_protocols(&req.protocol_type, &req.protocols);
        match group.state {
            GroupState::PreparingRebalance => {
                Self::park_join(group, now, token, &req);
            }
            GroupState::CompletingRebalance if unchanged => {
                // The member missed the JoinGroup response: send it again.
                let response = Self::join_response(group, &member_id);
                out.replies.push((token, Reply::Join(response)));
            }
            GroupState::Stable if unchanged && !group.is_leader(&member_id) => {
                let response = Self::join_response(group, &member_id);
                out.replies.push((token, Reply::Join(response)));
            }
            GroupState::CompletingRebalance | GroupState::Stable => {
                Self::park_join(group, now, token, &req);
                Self::prepare_rebalance(group, now, wall, out);
            }
            GroupState::Empty | GroupState::Dead => {
                out.replies.push((
                    token,
                    Reply::Join(JoinResponse::error(ErrorCode::UnknownMemberId, &member_id)),
                ));
            }
        }
    }

    fn park_join(group: &mut Group, now: i64, token: Token, req: &JoinRequest) {
        if let Some(m) = group.member_mut(&req.member_id) {
            m.protocols.clone_from(&req.protocols);
            m.protocol_type.clone_from(&req.protocol_type);
            m.session_timeout_ms = req.session_timeout_ms;
            m.rebalance_timeout_ms = req.rebalance_timeout_ms;
            m.join_waiter = Some(token);
            m.session_deadline = now + i64::from(req.session_timeout_ms);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn add_member(
        config: &GroupConfig,
        group: &mut Group,
        now: i64,
        wall: i64,
        token: Token,
        member_id: String,
        req: JoinRequest,
        out: &mut Outputs,
    ) {
        if group.members.is_empty() {
            group.protocol_type = Some(req.protocol_type.clone());
        }
        if let Some(instance) = &req.group_instance_id {
            group
                .static_members
                .insert(instance.clone(), member_id.clone());
        }
        group.members.push(Member {
            member_id: member_id.clone(),
            group_instance_id: req.group_instance_id.clone(),
            client_id: req.client_id.clone(),
            client_host: req.client_host.clone(),
            session_timeout_ms: req.session_timeout_ms,
            rebalance_timeout_ms: req.rebalance_timeout_ms,
            protocol_type: req.protocol_type.clone(),
            protocols: req.protocols.clone(),
            assignment: Bytes::new(),
            join_waiter: Some(token),
            sync_waiter: None,
            session_deadline: now + i64::from(req.session_timeout_ms),
        });
        if group.leader_id.is_none() {
            group.leader_id = Some(member_id);
        }
        match group.state {
            GroupState::Empty => {
                Self::prepare_rebalance(group, now, wall, out);
                if config.initial_rebalance_delay_ms > 0 {
                    let delay_end = now + config.initial_rebalance_delay_ms;
                    let cap = now + group.max_rebalance_timeout_ms();
                    group.rebalance_deadline = Some(delay_end.min(cap.max(delay_end)));
                }
            }
            GroupState::PreparingRebalance => {}
            GroupState::CompletingRebalance | GroupState::Stable => {
                Self::prepare_rebalance(group, now, wall, out)
            }
            GroupState::Dead => {}
        }
    }

    /// A static member rejoined with a new member id: the old id is fenced. In Stable with
    /// unchanged protocols no rebalance happens (KIP-345).
    fn replace_static_member(
        group: &mut Group,
        now: i64,
        wall: i64,
        token: Token,
        old_id: &str,
        req: JoinRequest,
        out: &mut Outputs,
    ) {
        let new_id = req.new_member_id.clone();
        let Some(member) = group.member_mut(old_id) else {
            return;
        };
        if let Some(waiting) = member.join_waiter.take() {
            out.replies.push((
                waiting,
                Reply::Join(JoinResponse::error(ErrorCode::FencedInstanceId, old_id)),
            ));
        }
        if let Some(waiting) = member.sync_waiter.take() {
            out.replies.push((
                waiting,
                Reply::Sync(SyncResponse::error(ErrorCode::FencedInstanceId)),
            ));
        }
        let same_type = member.protocol_type == req.protocol_type;
        member.protocols.clone_from(&req.protocols);
        member.member_id.clone_from(&new_id);
        member.client_id.clone_from(&req.client_id);
        member.client_host.clone_from(&req.client_host);
        member.session_timeout_ms = req.session_timeout_ms;
        member.rebalance_timeout_ms = req.rebalance_timeout_ms;
        member.session_deadline = now + i64::from(req.session_timeout_ms);
        if let Some(instance) = &req.group_instance_id {
            group
                .static_members
                .insert(instance.clone(), new_id.clone());
        }
        if group.leader_id.as_deref() == Some(old_id) {
            group.leader_id = Some(new_id.clone());
        }
        // As Kafka: a rejoining static member causes no rebalance unless the group's selected
        // protocol would change (its metadata bytes, e.g. owned partitions, may differ).
        let unchanged = same_type && group.select_protocol() == group.protocol_name;
        match group.state {
            GroupState::Stable if unchanged => {
                // No rebalance (KIP-345). A leader must not recompute the assignment it
                // already made: v9+ is told so with the members (KIP-814); older versions get
                // no members, so they have nothing to assign (as Kafka's GroupCoordinator).
                let mut response = Self::join_response(group, &new_id);
                if group.is_leader(&new_id) {
                    response.skip_assignment = req.supports_skip_assignment;
                    if !req.supports_skip_assignment {
                        response.members.clear();
                    }
                }
                let record = Self::group_record(group);
                out.records.push(record);
                out.replies.push((token, Reply::Join(response)));
            }
            GroupState::CompletingRebalance if unchanged => {
                out.replies
                    .push((token, Reply::Join(Self::join_response(group, &new_id))));
            }
            _ => {
                let mut req = req;
                req.member_id = new_id;
                Self::park_join(group, now, token, &req);
                if group.state != GroupState::PreparingRebalance {
                    Self::prepare_rebalance(group, now, wall, out);
                }
            }
        }
    }

    fn join_response(group: &Group, member_id: &str) -> JoinResponse {
        let protocol = group.protocol_name.clone().unwrap_or_default();
        let is_leader = group.is_leader(member_id);
        JoinResponse {
            error: None,
            generation_id: group.generation_id,
            protocol_type: group.protocol_type.clone(),
            protocol_name: group.protocol_name.clone(),
            leader: group.leader_id.clone().unwrap_or_default(),
            skip_assignment: false,
            member_id: member_id.into(),
            members: if is_leader {
                group
                    .members
                    .iter()
                    .map(|m| JoinMember {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        metadata: m.metadata_for(&protocol),
                    })
                    .collect()
            } else {
                Vec::new()
            },
        }
    }

    fn prepare_rebalance(group: &mut Group, now: i64, wall: i64, out: &mut Outputs) {
        if group.state == GroupState::CompletingRebalance {
            for m in &mut group.members {
                m.assignment = Bytes::new();
                if let Some(waiting) = m.sync_waiter.take() {
                    out.replies.push((
                        waiting,
                        Reply::Sync(SyncResponse::error(ErrorCode::RebalanceInProgress)),
                    ));
                }
            }
        }
        group.rebalance_from_empty = group.state == GroupState::Empty;
        group.assignment_storing = None;
        group.state = GroupState::PreparingRebalance;
        group.state_timestamp = wall;
        group.rebalance_deadline = Some(now + group.max_rebalance_timeout_ms());
    }

    /// Ends PreparingRebalance: members that did not rejoin are dropped; the survivors get
    /// the new generation (the leader with every member's metadata).
    fn complete_join(group: &mut Group, now: i64, wall: i64, out: &mut Outputs) {
        let missing: Vec<String> = group
            .members
            .iter()
            .filter(|m| m.join_waiter.is_none())
            .map(|m| m.member_id.clone())
            .collect();
        for id in missing {
            group.remove_member(&id);
        }
        group.rebalance_deadline = None;
        group.generation_id += 1;
        group.state_timestamp = wall;
        if group.members.is_empty() {
            // The protocol type stays: Kafka lists an empty consumer group as "consumer".
            group.state = GroupState::Empty;
            group.protocol_name = None;
            group.leader_id = None;
            out.records.push(Self::group_record(group));
            return;
        }
        group.protocol_name = group.select_protocol();
        if group
            .leader_id
            .as_deref()
            .is_none_or(|l| !group.has_member(l))
        {
            group.leader_id = group.members.first().map(|m| m.member_id.clone());
        }
        group.state = GroupState::CompletingRebalance;
        let ids: Vec<String> = group.members.iter().map(|m| m.member_id.clone()).collect();
        for id in ids {
            let response = Self::join_response(group, &id);
            if let Some(m) = group.member_mut(&id) {
                m.session_deadline = now + i64::from(m.session_timeout_ms);
                if let Some(waiting) = m.join_waiter.take() {
                    out.replies.push((waiting, Reply::Join(response)));
                }
            }
        }
    }

    // ------------------------------------------------------------ SyncGroup

    pub fn sync(&mut self, now: i64, token: Token, req: SyncRequest) -> Outputs {
        let reply = |e| Outputs::reply(token, Reply::Sync(SyncResponse::error(e)));
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return reply(ErrorCode::UnknownMemberId);
        };
        if group.state == GroupState::Dead {
            return reply(ErrorCode::CoordinatorNotAvailable);
        }
        if group.is_fenced(&req.member_id, req.group_instance_id.as_deref()) {
            return reply(ErrorCode::FencedInstanceId);
        }
        if !group.has_member(&req.member_id) {
            return reply(ErrorCode::UnknownMemberId);
        }
        if req.generation_id != group.generation_id {
            return reply(ErrorCode::IllegalGeneration);
        }
        let type_mismatch = req
            .protocol_type
            .as_ref()
            .is_some_and(|t| Some(t) != group.protocol_type.as_ref());
        let name_mismatch = req
            .protocol_name
            .as_ref()
            .is_some_and(|n| Some(n) != group.protocol_name.as_ref());
        if type_mismatch || name_mismatch {
            return reply(ErrorCode::InconsistentGroupProtocol);
        }
        match group.state {
            GroupState::Empty => reply(ErrorCode::UnknownMemberId),
            GroupState::PreparingRebalance => reply(ErrorCode::RebalanceInProgress),
            GroupState::Stable => {
                let assignment = group
                    .member(&req.member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                if let Some(m) = group.member_mut(&req.member_id) {
                    m.session_deadline = now + i64::from(m.session_timeout_ms);
                }
                Outputs::reply(
                    token,
                    Reply::Sync(SyncResponse {
                        error: None,
                        protocol_type: group.protocol_type.clone(),
                        protocol_name: group.protocol_name.clone(),
                        assignment,
                    }),
                )
            }
            GroupState::CompletingRebalance => {
                if let Some(m) = group.member_mut(&req.member_id) {
                    m.sync_waiter = Some(token);
                    m.session_deadline = now + i64::from(m.session_timeout_ms);
                }
                let mut out = Outputs::default();
                let storing = group.assignment_storing == Some(group.generation_id);
                if group.is_leader(&req.member_id) && !storing {
                    // As Kafka: the group stays CompletingRebalance while the assignment is
                    // stored, so SyncGroups arriving meanwhile park and are answered with
                    // the leader's (see `stored`).
                    for m in &mut group.members {
                        m.assignment = req
                            .assignments
                            .iter()
                            .find(|(id, _)| *id == m.member_id)
                            .map(|(_, a)| a.clone())
                            .unwrap_or_default();
                    }
                    group.assignment_storing = Some(group.generation_id);
                    out.records.push(Self::group_record(group));
                    out.completions.push(Completion::Assignment {
                        group_id: group.group_id.clone(),
                        generation_id: group.generation_id,
                    });
                }
                out
            }
            GroupState::Dead => reply(ErrorCode::CoordinatorNotAvailable),
        }
    }

    /// The records that came with `completion` were stored (`ok`) or could not be. A stored
    /// assignment makes its group Stable and answers every parked SyncGroup; a failed one
    /// answers them with COORDINATOR_NOT_AVAILABLE and rebalances (Kafka: the error, then
    /// `maybePrepareRebalanceOrCompleteJoin`). Nothing happens when the group moved on
    /// meanwhile (a member left or rejoined with other protocols).
    pub fn stored(&mut self, now: i64, wall: i64, completion: Completion, ok: bool) -> Outputs {
        let mut out = Outputs::default();
        let Completion::Assignment {
            group_id,
            generation_id,
        } = completion;
        let Some(group) = self.groups.get_mut(&group_id) else {
            return out;
        };
        if group.state != GroupState::CompletingRebalance
            || group.generation_id != generation_id
            || group.assignment_storing != Some(generation_id)
        {
            return out;
        }
        group.assignment_storing = None;
        if !ok {
            // prepare_rebalance clears the assignment (and would answer these
            // REBALANCE_IN_PROGRESS); the store's failure is what they are told.
            for m in &mut group.members {
                if let Some(waiting) = m.sync_waiter.take() {
                    out.replies.push((
                        waiting,
                        Reply::Sync(SyncResponse::error(ErrorCode::CoordinatorNotAvailable)),
                    ));
                }
            }
            Self::prepare_rebalance(group, now, wall, &mut out);
            return out;
        }
        group.state = GroupState::Stable;
        group.state_timestamp = wall;
        let protocol_type = group.protocol_type.clone();
        let protocol_name = group.protocol_name.clone();
        for m in &mut group.members {
            if let Some(waiting) = m.sync_waiter.take() {
                m.session_deadline = now + i64::from(m.session_timeout_ms);
                out.replies.push((
                    waiting,
                    Reply::Sync(SyncResponse {
                        error: None,
                        protocol_type: protocol_type.clone(),
                        protocol_name: protocol_name.clone(),
                        assignment: m.assignment.clone(),
                    }),
                ));
            }
        }
        out
    }

    // ------------------------------------------------------------ Heartbeat

    pub fn heartbeat(&mut self, now: i64, token: Token, req: HeartbeatRequest) -> Outputs {
        let reply = |e: Option<ErrorCode>| Outputs::reply(token, Reply::Heartbeat(e));
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return reply(Some(ErrorCode::UnknownMemberId));
        };
        if group.state == GroupState::Dead {
            return reply(Some(ErrorCode::CoordinatorNotAvailable));
        }
        if group.is_fenced(&req.member_id, req.group_instance_id.as_deref()) {
            return reply(Some(ErrorCode::FencedInstanceId));
        }
        if group.state == GroupState::Empty || !group.has_member(&req.member_id) {
            return reply(Some(ErrorCode::UnknownMemberId));
        }
        if req.generation_id != group.generation_id {
            return reply(Some(ErrorCode::IllegalGeneration));
        }
        let state = group.state;
        if let Some(m) = group.member_mut(&req.member_id) {
            m.session_deadline = now + i64::from(m.session_timeout_ms);
        }
        match state {
            GroupState::PreparingRebalance => reply(Some(ErrorCode::RebalanceInProgress)),
            _ => reply(None),
        }
    }

    // ------------------------------------------------------------ LeaveGroup

    pub fn leave(&mut self, now: i64, wall: i64, token: Token, req: LeaveRequest) -> Outputs {
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return Outputs::reply(
                token,
                Reply::Leave(LeaveResponse {
                    error: Some(ErrorCode::UnknownMemberId),
                    members: req
                        .members
                        .into_iter()
                        .map(|(m, i)| (m, i, Some(ErrorCode::UnknownMemberId)))
                        .collect(),
                }),
            );
        };
        let mut out = Outputs::default();
        let mut results = Vec::new();
        let mut removed_any = false;
        for (member_id, instance) in req.members {
            let target = match &instance {
                Some(i) => match group.static_members.get(i) {
                    Some(current) if member_id.is_empty() || *current == member_id => {
                        Some(current.clone())
                    }
                    Some(_) => {
                        results.push((member_id, instance, Some(ErrorCode::FencedInstanceId)));
                        continue;
                    }
                    None => None,
                },
                None => group.has_member(&member_id).then(|| member_id.clone()),
            };
            let Some(target) = target else {
                if group.pending_members.remove(&member_id).is_some() {
                    results.push((member_id, instance, None));
                } else {
                    results.push((member_id, instance, Some(ErrorCode::UnknownMemberId)));
                }
                continue;
            };
            if let Some(m) = group.remove_member(&target) {
                if let Some(waiting) = m.join_waiter {
                    out.replies.push((
                        waiting,
                        Reply::Join(JoinResponse::error(ErrorCode::UnknownMemberId, &target)),
                    ));
                }
                if let Some(waiting) = m.sync_waiter {
                    out.replies.push((
                        waiting,
                        Reply::Sync(SyncResponse::error(ErrorCode::UnknownMemberId)),
                    ));
                }
                removed_any = true;
            }
            results.push((member_id, instance, None));
        }
        if removed_any {
            Self::after_member_removed(group, now, wall, &mut out);
        }
        let error = if results.len() == 1 {
            results.first().and_then(|r| r.2)
        } else {
            None
        };
        out.replies.push((
            token,
            Reply::Leave(LeaveResponse {
                error,
                members: results,
            }),
        ));
        out
    }

    fn after_member_removed(group: &mut Group, now: i64, wall: i64, out: &mut Outputs) {
        match group.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                Self::prepare_rebalance(group, now, wall, out);
                if group.all_joined() {
                    Self::complete_join(group, now, wall, out);
                }
            }
            GroupState::PreparingRebalance => {
                if group.all_joined() {
                    Self::complete_join(group, now, wall, out);
                }
            }
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    // ------------------------------------------------------------ offsets

    pub fn commit(&mut self, now: i64, wall: i64, token: Token, req: CommitRequest) -> Outputs {
        let _ = now;
        let all = |e: ErrorCode| {
            Outputs::reply(
                token,
                Reply::Commit(CommitResponse {
                    errors: req
                        .offsets
                        .iter()
                        .map(|(t, p, ..)| (t.clone(), *p, Some(e)))
                        .collect(),
                }),
            )
        };
        if req.group_id.is_empty() {
            return all(ErrorCode::InvalidGroupId);
        }
        if !self.groups.contains_key(&req.group_id) {
            if req.generation_id >= 0 {
                return all(ErrorCode::IllegalGeneration);
            }
            if self.groups.len() >= GROUPS_MAX {
                return all(ErrorCode::CoordinatorNotAvailable);
            }
            self.groups
                .insert(req.group_id.clone(), Group::new(&req.group_id, wall));
        }
        let metadata_max = self.config.offset_metadata_bytes_max;
        let Some(group) = self.groups.get_mut(&req.group_id) else {
            return all(ErrorCode::CoordinatorNotAvailable);
        };
        let check = if group.state == GroupState::Dead {
            Some(ErrorCode::CoordinatorNotAvailable)
        } else if req.generation_id < 0 && group.state == GroupState::Empty {
            None
        } else if group.is_fenced(&req.member_id, req.group_instance_id.as_deref()) {
            Some(ErrorCode::FencedInstanceId)
        } else if !group.has_member(&req.member_id) {
            Some(ErrorCode::UnknownMemberId)
        } else if req.generation_id != group.generation_id {
            Some(ErrorCode::IllegalGeneration)
        } else if group.state == GroupState::CompletingRebalance {
            Some(ErrorCode::RebalanceInProgress)
        } else {
            None
        };
        if let Some(e) = check {
            return all(e);
        }
        let mut out = Outputs::default();
        let errors = Self::store_offsets(group, req.offsets, wall, metadata_max, &mut out);
        // A commit does not extend the member's session: only heartbeats, joins and syncs
        // do, as in Kafka 4's coordinator (a static member that closes without leaving is
        // expelled one session after its last heartbeat, not after its closing commit).
        out.replies
            .push((token, Reply::Commit(CommitResponse { errors })));
        out
    }

    /// Stores offsets in `group`, with the records that persist them; per-partition errors.
    fn store_offsets(
        group: &mut Group,
        offsets: Vec<(String, i32, i64, i32, Option<String>)>,
        wall: i64,
        metadata_max: usize,
        out: &mut Outputs,
    ) -> Vec<(String, i32, Option<ErrorCode>)> {
        let mut errors = Vec::new();
        for (topic, partition, offset, leader_epoch, metadata) in offsets {
            let metadata = metadata.unwrap_or_default();
            if metadata.len() > metadata_max {
                errors.push((topic, partition, Some(ErrorCode::OffsetMetadataTooLarge)));
                continue;
            }
            let value = OffsetValue {
                offset,
                leader_epoch,
                metadata,
                commit_timestamp: wall,
            };
            out.records.push(Record {
                group_id: group.group_id.clone(),
                key: records::offset_key(&group.group_id, &topic, partition),
                value: Some(records::offset_value(&value)),
            });
            group.offsets.insert((topic.clone(), partition), value);
            errors.push((topic, partition, None));
        }
        errors
    }

    /// Checks a TxnOffsetCommit's group fields as Kafka does for transactional commits:
    /// without generation, member and instance there is nothing to check; otherwise the
    /// member must exist, not be fenced, and be of the current generation.
    pub fn validate_txn_commit(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
    ) -> Option<ErrorCode> {
        if group_id.is_empty() {
            return Some(ErrorCode::InvalidGroupId);
        }
        if generation_id < 0 && member_id.is_empty() && group_instance_id.is_none() {
            return None;
        }
        let Some(group) = self.groups.get(group_id) else {
            return Some(ErrorCode::IllegalGeneration);
        };
        if group.state == GroupState::Dead {
            Some(ErrorCode::CoordinatorNotAvailable)
        } else if group.is_fenced(member_id, group_instance_id) {
            Some(ErrorCode::FencedInstanceId)
        } else if !group.has_member(member_id) {
            Some(ErrorCode::UnknownMemberId)
        } else if generation_id != group.generation_id {
            Some(ErrorCode::IllegalGeneration)
        } else {
            None
        }
    }

    /// Makes a committed transaction's offsets visible (the COMMIT marker of Kafka's
    /// transactional offset records), whatever the group's state.
    pub fn materialize_txn_offsets(
        &mut self,
        wall: i64,
        group_id: &str,
        offsets: Vec<(String, i32, i64, i32, Option<String>)>,
    ) -> Outputs {
        let metadata_max = self.config.offset_metadata_bytes_max;
        let group = self
            .groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(group_id, wall));
        let mut out = Outputs::default();
        Self::store_offsets(group, offsets, wall, metadata_max, &mut out);
        out
    }

    /// Committed offsets of `group_id` for `partitions` (all when `None`); unknown ones have
    /// offset -1.
    pub fn fetch_offsets(
        &self,
        group_id: &str,
        partitions: Option<&[(String, i32)]>,
    ) -> Vec<CommittedOffset> {
        let group = self.groups.get(group_id);
        let committed = |t: &str, p: i32| group.and_then(|g| g.offsets.get(&(t.to_string(), p)));
        match partitions {
            Some(list) => list
                .iter()
                .map(|(t, p)| match committed(t, *p) {
                    Some(v) => CommittedOffset {
                        topic: t.clone(),
                        partition: *p,
                        offset: v.offset,
                        leader_epoch: v.leader_epoch,
                        metadata: v.metadata.clone(),
                    },
                    None => CommittedOffset {
                        topic: t.clone(),
                        partition: *p,
                        offset: -1,
                        leader_epoch: -1,
                        metadata: String::new(),
                    },
                })
                .collect(),
            None => group
                .map(|g| {
                    g.offsets
                        .iter()
                        .map(|((t, p), v)| CommittedOffset {
                            topic: t.clone(),
                            partition: *p,
                            offset: v.offset,
                            leader_epoch: v.leader_epoch,
                            metadata: v.metadata.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    // ------------------------------------------------------------ admin

    pub fn list(&self, states: &[String], types: &[String]) -> Vec<GroupListing> {
        let mut out: Vec<GroupListing> = self
            .groups
            .values()
            .filter(|g| g.state != GroupState::Dead)
            .filter(|g| {
                states.is_empty()
                    || states
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state.name()))
            })
            // Every group here is a classic group (KIP-848 groups do not exist yet).
            .filter(|_| types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case("classic")))
            .map(|g| GroupListing {
                group_id: g.group_id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state,
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    pub fn describe(&self, group_id: &str) -> GroupDescription {
        let Some(g) = self.groups.get(group_id) else {
            return GroupDescription {
                group_id: group_id.into(),
                state: "Dead".into(),
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            };
        };
        let protocol = g.protocol_name.clone().unwrap_or_default();
        GroupDescription {
            group_id: group_id.into(),
            state: g.state.name().into(),
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            protocol: if g.state == GroupState::Stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: g
                .members
                .iter()
                .map(|m| MemberDescription {
                    member_id: m.member_id.clone(),
                    group_instance_id: m.group_instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if g.state == GroupState::Stable {
                        m.metadata_for(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if g.state == GroupState::Stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        }
    }

    /// Deletes an empty group and its offsets (tombstones).
    pub fn delete(&mut self, group_id: &str) -> (Option<ErrorCode>, Vec<Record>) {
        let Some(g) = self.groups.get(group_id) else {
            return (Some(ErrorCode::GroupIdNotFound), Vec::new());
        };
        if g.state != GroupState::Empty {
            return (Some(ErrorCode::NonEmptyGroup), Vec::new());
        }
        let records = Self::tombstones(g, None);
        self.groups.remove(group_id);
        (None, records)
    }

    /// Deletes committed offsets of `partitions` of a group not subscribed to them.
    pub fn delete_offsets(
        &mut self,
        group_id: &str,
        partitions: &[(String, i32)],
        subscribed: impl Fn(&Bytes, &str) -> bool,
    ) -> (Option<ErrorCode>, PartitionErrors, Vec<Record>) {
        let Some(g) = self.groups.get_mut(group_id) else {
            return (Some(ErrorCode::GroupIdNotFound), Vec::new(), Vec::new());
        };
        let protocol = g.protocol_name.clone().unwrap_or_default();
        let mut results = Vec::new();
        let mut records = Vec::new();
        for (topic, partition) in partitions {
            let in_use = g.state != GroupState::Empty
                && g.members
                    .iter()
                    .any(|m| subscribed(&m.metadata_for(&protocol), topic));
            if in_use {
                results.push((
                    topic.clone(),
                    *partition,
                    Some(ErrorCode::GroupSubscribedToTopic),
                ));
                continue;
            }
            if g.offsets.remove(&(topic.clone(), *partition)).is_some() {
                records.push(Record {
                    group_id: group_id.into(),
                    key: records::offset_key(group_id, topic, *partition),
                    value: None,
                });
            }
            results.push((topic.clone(), *partition, None));
        }
        (None, results, records)
    }

    fn tombstones(g: &Group, only: Option<&[(String, i32)]>) -> Vec<Record> {
        let mut records: Vec<Record> = g
            .offsets
            .keys()
            .filter(|k| only.is_none_or(|o| o.contains(k)))
            .map(|(t, p)| Record {
                group_id: g.group_id.clone(),
                key: records::offset_key(&g.group_id, t, *p),
                value: None,
            })
            .collect();
        if only.is_none() {
            records.push(Record {
                group_id: g.group_id.clone(),
                key: records::group_key(&g.group_id),
                value: None,
            });
        }
        records
    }

    // ------------------------------------------------------------ timers

    /// Expires sessions, completes rebalances whose timeout passed, forgets unused pending
    /// member ids and expired offsets of empty groups.
    pub fn tick(&mut self, now: i64, wall: i64) -> Outputs {
        let mut out = Outputs::default();
        let retention = self.config.offsets_retention_ms;
        let mut deleted = Vec::new();
        for group in self.groups.values_mut() {
            let pending_before = group.pending_members.len();
            group.pending_members.retain(|_, deadline| *deadline > now);
            let pending_expired = group.pending_members.len() < pending_before;
            let expired: Vec<String> = group
                .members
                .iter()
                .filter(|m| {
                    m.session_deadline <= now && m.join_waiter.is_none() && m.sync_waiter.is_none()
                })
                .map(|m| m.member_id.clone())
                .collect();
            let removed = !expired.is_empty();
            for id in expired {
                group.remove_member(&id);
            }
            if removed {
                Self::after_member_removed(group, now, wall, &mut out);
            }
            if group.state == GroupState::PreparingRebalance
                && (group.rebalance_deadline.is_some_and(|d| d <= now)
                    || (pending_expired && group.all_joined()))
            {
                Self::complete_join(group, now, wall, &mut out);
            }
            if group.state == GroupState::Empty
                && retention >= 0
                && wall.saturating_sub(group.state_timestamp) > retention
            {
                out.records.extend(Self::tombstones(group, None));
                deleted.push(group.group_id.clone());
            }
        }
        for id in deleted {
            self.groups.remove(&id);
        }
        out
    }

    /// Earliest monotonic time at which [`Groups::tick`] has work, if any.
    pub fn next_deadline(&self) -> Option<i64> {
        self.groups
            .values()
            .flat_map(|g| {
                g.members
                    .iter()
                    .map(|m| m.session_deadline)
                    .chain(g.rebalance_deadline)
                    .chain(g.pending_members.values().copied())
            })
            .min()
    }

    /// Releases every parked request with COORDINATOR_NOT_AVAILABLE (shutdown).
    pub fn shutdown(&mut self) -> Outputs {
        let mut out = Outputs::default();
        for g in self.groups.values_mut() {
            for m in &mut g.members {
                if let Some(t) = m.join_waiter.take() {
                    out.replies.push((
                        t,
                        Reply::Join(JoinResponse::error(
                            ErrorCode::CoordinatorNotAvailable,
                            &m.member_id,
                        )),
                    ));
                }
                if let Some(t) = m.sync_waiter.take() {
                    out.replies.push((
                        t,
                        Reply::Sync(SyncResponse::error(ErrorCode::CoordinatorNotAvailable)),
                    ));
                }
            }
        }
        out
    }

    // ------------------------------------------------------------ replay

    /// Applies one record read back from `__consumer_offsets` at start-up. `now` is the
    /// monotonic time used for restored members' session deadlines.
    pub fn replay(&mut self, now: i64, key: &[u8], value: Option<&[u8]>) {
        match records::decode_key(key) {
            Some(records::Key::Offset {
                group_id,
                topic,
                partition,
            }) => match value.and_then(records::decode_offset_value) {
                Some(v) => {
                    self.groups
                        .entry(group_id.clone())
                        .or_insert_with(|| Group::new(&group_id, v.commit_timestamp))
                        .offsets
                        .insert((topic, partition), v);
                }
                None => {
                    if let Some(g) = self.groups.get_mut(&group_id) {
                        g.offsets.remove(&(topic, partition));
                    }
                }
            },
            Some(records::Key::Group { group_id }) => {
                match value.and_then(records::decode_group_value) {
                    Some(v) => {
                        let g = self
                            .groups
                            .entry(group_id.clone())
                            .or_insert_with(|| Group::new(&group_id, v.current_state_timestamp));
                        g.generation_id = v.generation_id;
                        g.state_timestamp = v.current_state_timestamp;
                        g.protocol_type = (!v.protocol_type.is_empty()).then_some(v.protocol_type);
                        g.protocol_name = v.protocol;
                        g.static_members.clear();
                        g.members = v
                            .members
                            .into_iter()
                            .map(|m| {
                                if let Some(i) = &m.group_instance_id {
                                    g.static_members.insert(i.clone(), m.member_id.clone());
                                }
                                Member {
                                    member_id: m.member_id,
                                    group_instance_id: m.group_instance_id,
                                    client_id: m.client_id,
                                    client_host: m.client_host,
                                    session_timeout_ms: m.session_timeout_ms,
                                    rebalance_timeout_ms: m.rebalance_timeout_ms,
                                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                                    protocols: vec![(
                                        g.protocol_name.clone().unwrap_or_default(),
                                        m.subscription,
                                    )],
                                    assignment: m.assignment,
                                    join_waiter: None,
                                    sync_waiter: None,
                                    session_deadline: now + i64::from(m.session_timeout_ms),
                                }
                            })
                            .collect();
                        g.leader_id = v
                            .leader
                            .filter(|l| g.members.iter().any(|m| m.member_id == *l));
                        g.state = if g.members.is_empty() {
                            GroupState::Empty
                        } else {
                            GroupState::Stable
                        };
                        if g.state == GroupState::Stable && g.leader_id.is_none() {
                            g.leader_id = g.members.first().map(|m| m.member_id.clone());
                        }
                    }
                    None => {
                        self.groups.remove(&group_id);
                    }
                }
            }
            None => {}
        }
    }

    /// The live state as records (for rewriting `__consumer_offsets` compactly).
    pub fn snapshot_records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        for g in self.groups.values() {
            out.push(Self::group_record(g));
            for ((t, p), v) in &g.offsets {
                out.push(Record {
                    group_id: g.group_id.clone(),
                    key: records::offset_key(&g.group_id, t, *p),
                    value: Some(records::offset_value(v)),
                });
            }
        }
        out
    }

    /// Checks every group's invariants (tests and the simulation).
    pub fn check_invariants(&self) -> Result<(), String> {
        self.groups.values().try_for_each(Group::check_invariants)
    }

    pub fn group_ids(&self) -> Vec<String> {
        self.groups.keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: i32 = 10_000;
    const REBALANCE: i32 = 30_000;

    fn join_req(group: &str, member: &str, new_id: &str) -> JoinRequest {
        JoinRequest {
            group_id: group.into(),
            member_id: member.into(),
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
            session_timeout_ms: SESSION,
            rebalance_timeout_ms: REBALANCE,
            protocol_type: "consumer".into(),
            protocols: vec![
                ("range".into(), Bytes::from_static(b"meta")),
                ("roundrobin".into(), Bytes::new()),
            ],
            require_known_member_id: true,
            new_member_id: new_id.into(),
            ..JoinRequest::default()
        }
    }

    fn join_reply(out: &Outputs, token: Token) -> Option<JoinResponse> {
        out.replies
            .iter()
            .find(|(t, _)| *t == token)
            .and_then(|(_, r)| match r {
                Reply::Join(j) => Some(j.clone()),
                _ => None,
            })
    }

    fn sync_reply(out: &Outputs, token: Token) -> Option<SyncResponse> {
        out.replies
            .iter()
            .find(|(t, _)| *t == token)
            .and_then(|(_, r)| match r {
                Reply::Sync(j) => Some(j.clone()),
                _ => None,
            })
    }

    /// `out` with its completions applied as if their records were stored at `now`.
    fn settle(g: &mut Groups, now: i64, mut out: Outputs) -> Outputs {
        while !out.completions.is_empty() {
            let completions = std::mem::take(&mut out.completions);
            for c in completions {
                let more = g.stored(now, 0, c, true);
                out.extend(more);
            }
        }
        out
    }

    /// One member joins (MEMBER_ID_REQUIRED, rejoin) and syncs; returns its id and generation.
    fn join_and_sync(groups: &mut Groups, now: i64, group: &str, id: &str) -> (String, i32) {
        let out = groups.join(now, 0, 1, join_req(group, "", id));
        assert_eq!(
            join_reply(&out, 1).unwrap().error,
            Some(ErrorCode::MemberIdRequired)
        );
        let out = groups.join(now, 0, 2, join_req(group, id, "unused"));
        let j = join_reply(&out, 2).expect("lone member joins at once");
        assert_eq!(j.error, None);
        assert_eq!(j.leader, id);
        let out = groups.sync(
            now,
            3,
            SyncRequest {
                group_id: group.into(),
                generation_id: j.generation_id,
                member_id: id.into(),
                assignments: vec![(id.into(), Bytes::from_static(b"all"))],
                ..SyncRequest::default()
            },
        );
        let out = settle(groups, now, out);
        assert_eq!(
            sync_reply(&out, 3).unwrap().assignment,
            Bytes::from_static(b"all")
        );
        assert_eq!(out.records.len(), 1, "group metadata persisted");
        (id.into(), j.generation_id)
    }

    fn heartbeat(
        groups: &mut Groups,
        now: i64,
        group: &str,
        member: &str,
        generation: i32,
    ) -> Option<ErrorCode> {
        match groups
            .heartbeat(
                now,
                9,
                HeartbeatRequest {
                    group_id: group.into(),
                    generation_id: generation,
                    member_id: member.into(),
                    group_instance_id: None,
                },
            )
            .replies
            .pop()
        {
            Some((_, Reply::Heartbeat(e))) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lone_member_joins_syncs_and_is_stable() {
        let mut g = Groups::new(GroupConfig::default());
        let (m, generation) = join_and_sync(&mut g, 0, "g", "m1");
        assert_eq!(g.group("g").unwrap().state, GroupState::Stable);
        assert_eq!(heartbeat(&mut g, 100, "g", &m, generation), None);
        assert_eq!(
            heartbeat(&mut g, 100, "g", &m, generation + 1),
            Some(ErrorCode::IllegalGeneration)
        );
        assert_eq!(
            heartbeat(&mut g, 100, "g", "nobody", generation),
            Some(ErrorCode::UnknownMemberId)
        );
        g.check_invariants().unwrap();
    }

    #[test]
    fn join_validation() {
        let mut g = Groups::new(GroupConfig::default());
        let mut r = join_req("", "", "x");
        assert_eq!(
            join_reply(&g.join(0, 0, 1, r.clone()), 1).unwrap().error,
            Some(ErrorCode::InvalidGroupId)
        );
        r.group_id = "g".into();
        r.session_timeout_ms = 10;
        assert_eq!(
            join_reply(&g.join(0, 0, 1, r.clone()), 1).unwrap().error,
            Some(ErrorCode::InvalidSessionTimeout)
        );
        r.session_timeout_ms = SESSION;
        r.protocols.clear();
        assert_eq!(
            join_reply(&g.join(0, 0, 1, r), 1).unwrap().error,
            Some(ErrorCode::InconsistentGroupProtocol)
        );
        assert_eq!(
            join_reply(&g.join(0, 0, 1, join_req("g", "ghost", "x")), 1)
                .unwrap()
                .error,
            Some(ErrorCode::UnknownMemberId)
        );
    }

    #[test]
    fn old_clients_join_without_member_id_required() {
        let mut g = Groups::new(GroupConfig::default());
        let mut r = join_req("g", "", "m1");
        r.require_known_member_id = false;
        let j = join_reply(&g.join(0, 0, 1, r), 1).unwrap();
        assert_eq!(
            (j.error, j.member_id.as_str(), j.generation_id),
            (None, "m1", 1)
        );
    }

    #[test]
    fn second_member_triggers_rebalance_and_both_get_the_generation() {
        let mut g = Groups::new(GroupConfig::default());
        let (m1, gen1) = join_and_sync(&mut g, 0, "g", "m1");
        let out = g.join(10, 0, 20, join_req("g", "", "m2"));
        assert_eq!(
            join_reply(&out, 20).unwrap().error,
            Some(ErrorCode::MemberIdRequired)
        );
        let out = g.join(10, 0, 21, join_req("g", "m2", ""));
        assert!(join_reply(&out, 21).is_none(), "parked until m1 rejoins");
        assert_eq!(g.group("g").unwrap().state, GroupState::PreparingRebalance);
        assert_eq!(
            heartbeat(&mut g, 20, "g", &m1, gen1),
            Some(ErrorCode::RebalanceInProgress)
        );
        let out = g.join(30, 0, 22, join_req("g", &m1, ""));
        let leader = join_reply(&out, 22).unwrap();
        let follower = join_reply(&out, 21).unwrap();
        assert_eq!(leader.generation_id, gen1 + 1);
        assert_eq!(leader.members.len(), 2);
        assert!(follower.members.is_empty());
        assert_eq!(leader.protocol_name.as_deref(), Some("range"));
        // Follower's sync parks; leader's sync releases both.
        let out = g.sync(
            40,
            23,
            SyncRequest {
                group_id: "g".into(),
                generation_id: gen1 + 1,
                member_id: "m2".into(),
                ..SyncRequest::default()
            },
        );
        assert!(out.replies.is_empty());
        let out = g.sync(
            40,
            24,
            SyncRequest {
                group_id: "g".into(),
                generation_id: gen1 + 1,
                member_id: m1,
                assignments: vec![
                    ("m1".into(), Bytes::from_static(b"a")),
                    ("m2".into(), Bytes::from_static(b"b")),
                ],
                ..SyncRequest::default()
            },
        );
        // Nothing is answered until the assignment is stored; the group stays
        // CompletingRebalance meanwhile (Kafka's coordinator does the same).
        assert!(out.replies.is_empty());
        assert_eq!(out.records.len(), 1);
        assert_eq!(g.group("g").unwrap().state, GroupState::CompletingRebalance);
        g.check_invariants().unwrap();
        let out = settle(&mut g, 41, out);
        assert_eq!(g.group("g").unwrap().state, GroupState::Stable);
        assert_eq!(
            sync_reply(&out, 23).unwrap().assignment,
            Bytes::from_static(b"b")
        );
        assert_eq!(
            sync_reply(&out, 24).unwrap().assignment,
            Bytes::from_static(b"a")
        );
        g.check_invariants().unwrap();
    }

    #[test]
    fn silent_member_is_removed_after_session_timeout() {
        let mut g = Groups::new(GroupConfig::default());
        let (member, _) = join_and_sync(&mut g, 0, "g", "m1");
        assert!(g.tick(SESSION as i64 - 1, 0).records.is_empty());
        assert!(g.is_member("g", &member));
        g.tick(SESSION as i64, 0);
        assert!(!g.is_member("g", &member));
        assert_eq!(g.group("g").unwrap().state, GroupState::Empty);
    }

    #[test]
    fn members_that_do_not_rejoin_are_expelled_at_the_rebalance_timeout() {
        let mut g = Groups::new(GroupConfig::default());
        let (m1, _) = join_and_sync(&mut g, 0, "g", "m1");
        g.join(1000, 0, 10, join_req("g", "", "m2"));
        g.join(1000, 0, 11, join_req("g", "m2", ""));
        // m1 keeps heartbeating but never rejoins.
        for t in (2000..REBALANCE as i64).step_by(2000) {
            heartbeat(&mut g, t, "g", &m1, 1);
        }
        let out = g.tick(1000 + REBALANCE as i64, 0);
        let j = join_reply(&out, 11).expect("m2 released");
        assert_eq!(j.leader, "m2");
        assert!(!g.is_member("g", &m1));
    }

    #[test]
    fn static_member_restart_within_session_does_not_rebalance() {
        let mut g = Groups::new(GroupConfig::default());
        let mut r = join_req("g", "", "a-1");
        r.group_instance_id = Some("instance-a".into());
        r.supports_skip_assignment = true; // a lone static member is its own leader
        let j = join_reply(&g.join(0, 0, 1, r.clone()), 1).unwrap();
        assert_eq!(j.error, None, "static members skip MEMBER_ID_REQUIRED");
        let generation = j.generation_id;
        let out = g.sync(
            0,
            2,
            SyncRequest {
                group_id: "g".into(),
                generation_id: generation,
                member_id: "a-1".into(),
                group_instance_id: Some("instance-a".into()),
                assignments: vec![("a-1".into(), Bytes::from_static(b"p0"))],
                ..SyncRequest::default()
            },
        );
        settle(&mut g, 0, out);
        // Restart: new member id, same instance.
        r.new_member_id = "a-2".into();
        let j = join_reply(&g.join(5000, 0, 3, r), 3).unwrap();
        assert_eq!(
            (j.error, j.generation_id, j.member_id.as_str()),
            (None, generation, "a-2")
        );
        assert_eq!(g.group("g").unwrap().state, GroupState::Stable);
        // The old id is fenced.
        let out = g.heartbeat(
            5000,
            4,
            HeartbeatRequest {
                group_id: "g".into(),
                generation_id: generation,
                member_id: "a-1".into(),
                group_instance_id: Some("instance-a".into()),
            },
        );
        assert_eq!(
            out.replies[0].1,
            Reply::Heartbeat(Some(ErrorCode::FencedInstanceId))
        );
        let s = sync_reply(
            &g.sync(
                5000,
                5,
                SyncRequest {
                    group_id: "g".into(),
                    generation_id: generation,
                    member_id: "a-2".into(),
                    group_instance_id: Some("instance-a".into()),
                    ..SyncRequest::default()
                },
            ),
            5,
        )
        .unwrap();
        assert_eq!(s.assignment, Bytes::from_static(b"p0"));
        g.check_invariants().unwrap();
    }

    #[test]
    fn static_leader_rejoin_never_rebalances_and_skips_assignment_from_v9() {
        for supports in [false, true] {
            let mut g = Groups::new(GroupConfig::default());
            let mut r = join_req("g", "", "a-1");
            r.group_instance_id = Some("a".into());
            r.supports_skip_assignment = supports;
            let generation = join_reply(&g.join(0, 0, 1, r.clone()), 1)
                .unwrap()
                .generation_id;
            let out = g.sync(
                0,
                2,
                SyncRequest {
                    group_id: "g".into(),
                    generation_id: generation,
                    member_id: "a-1".into(),
                    group_instance_id: Some("a".into()),
                    ..SyncRequest::default()
                },
            );
            settle(&mut g, 0, out);
            r.new_member_id = "a-2".into();
            let out = g.join(10, 0, 3, r);
            let j = join_reply(&out, 3).unwrap();
            assert_eq!(j.generation_id, generation, "no rebalance");
            assert_eq!(j.skip_assignment, supports);
            assert_eq!(
                j.members.len(),
                usize::from(supports),
                "members only with skip_assignment"
            );
        }
    }

    #[test]
    fn leave_triggers_rebalance_and_unknown_members_are_reported() {
        let mut g = Groups::new(GroupConfig::default());
        let (m1, _) = join_and_sync(&mut g, 0, "g", "m1");
        let out = g.leave(
            10,
            0,
            7,
            LeaveRequest {
                group_id: "g".into(),
                members: vec![(m1.clone(), None), ("ghost".into(), None)],
            },
        );
        let Some((_, Reply::Leave(l))) = out.replies.last() else {
            panic!()
        };
        assert_eq!(l.members[0].2, None);
        assert_eq!(l.members[1].2, Some(ErrorCode::UnknownMemberId));
        assert_eq!(g.group("g").unwrap().state, GroupState::Empty);
    }

    #[test]
    fn commits_check_generation_and_membership() {
        let mut g = Groups::new(GroupConfig::default());
        let commit = |member: &str, generation: i32| CommitRequest {
            group_id: "g".into(),
            generation_id: generation,
            member_id: member.into(),
            group_instance_id: None,
            offsets: vec![("t".into(), 0, 42, 0, Some("meta".into()))],
        };
        // Simple consumer on a new group.
        let out = g.commit(0, 1, 1, commit("", -1));
        assert_eq!(
            out.replies[0].1,
            Reply::Commit(CommitResponse {
                errors: vec![("t".into(), 0, None)]
            })
        );
        assert_eq!(out.records.len(), 1);
        let fetched = g.fetch_offsets("g", Some(&[("t".into(), 0), ("t".into(), 1)]));
        assert_eq!(
            (fetched[0].offset, fetched[0].metadata.as_str()),
            (42, "meta")
        );
        assert_eq!(fetched[1].offset, -1);
        let (m, generation) = join_and_sync(&mut g, 0, "g", "m1");
        let err = |out: Outputs| match &out.replies[0].1 {
            Reply::Commit(c) => c.errors[0].2,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err(g.commit(0, 1, 2, commit("", -1))),
            Some(ErrorCode::UnknownMemberId)
        );
        assert_eq!(
            err(g.commit(0, 1, 3, commit(&m, generation + 5))),
            Some(ErrorCode::IllegalGeneration)
        );
        assert_eq!(err(g.commit(0, 1, 4, commit(&m, generation))), None);
        let mut big = commit(&m, generation);
        big.offsets[0].4 = Some("x".repeat(5000));
        assert_eq!(
            err(g.commit(0, 1, 5, big)),
            Some(ErrorCode::OffsetMetadataTooLarge)
        );
    }

    #[test]
    fn replay_restores_offsets_and_groups() {
        let mut g = Groups::new(GroupConfig::default());
        let (_, _) = join_and_sync(&mut g, 0, "g", "m1");
        g.commit(
            0,
            1,
            1,
            CommitRequest {
                group_id: "g".into(),
                generation_id: 1,
                member_id: "m1".into(),
                group_instance_id: None,
                offsets: vec![("t".into(), 2, 7, 0, None)],
            },
        );
        let records = g.snapshot_records();
        let mut again = Groups::new(GroupConfig::default());
        for r in &records {
            again.replay(0, &r.key, r.value.as_deref());
        }
        assert_eq!(again.fetch_offsets("g", None)[0].offset, 7);
        let group = again.group("g").unwrap();
        assert_eq!(
            (group.state, group.generation_id, group.leader_id.as_deref()),
            (GroupState::Stable, 1, Some("m1"))
        );
        // The restored member keeps heartbeating with its generation.
        assert_eq!(heartbeat(&mut again, 10, "g", "m1", 1), None);
        // Tombstones delete.
        again.replay(0, &records::group_key("g"), None);
        assert!(again.group("g").is_none());
    }

    #[test]
    fn delete_only_empty_groups() {
        let mut g = Groups::new(GroupConfig::default());
        join_and_sync(&mut g, 0, "g", "m1");
        assert_eq!(g.delete("g").0, Some(ErrorCode::NonEmptyGroup));
        assert_eq!(g.delete("nope").0, Some(ErrorCode::GroupIdNotFound));
        g.leave(
            0,
            0,
            1,
            LeaveRequest {
                group_id: "g".into(),
                members: vec![("m1".into(), None)],
            },
        );
        let (e, records) = g.delete("g");
        assert_eq!(e, None);
        assert!(!records.is_empty());
    }

    /// Drives a two-member group into `state`; returns (groups, leader, follower, generation).
    fn group_in(state: GroupState) -> (Groups, String, String, i32) {
        let mut g = Groups::new(GroupConfig::default());
        if state == GroupState::Empty {
            g.commit(
                0,
                0,
                1,
                CommitRequest {
                    group_id: "g".into(),
                    generation_id: -1,
                    offsets: vec![("t".into(), 0, 1, 0, None)],
                    ..CommitRequest::default()
                },
            );
            return (g, String::new(), String::new(), 0);
        }
        let (leader, _) = join_and_sync(&mut g, 0, "g", "leader");
        g.join(0, 0, 10, join_req("g", "", "follower"));
        g.join(0, 0, 11, join_req("g", "follower", ""));
        if state == GroupState::PreparingRebalance {
            return (g, leader, "follower".into(), 1);
        }
        let out = g.join(0, 0, 12, join_req("g", &leader, ""));
        let generation = join_reply(&out, 12).unwrap().generation_id;
        if state == GroupState::CompletingRebalance {
            return (g, leader, "follower".into(), generation);
        }
        let out = g.sync(
            0,
            13,
            SyncRequest {
                group_id: "g".into(),
                generation_id: generation,
                member_id: leader.clone(),
                assignments: vec![],
                ..SyncRequest::default()
            },
        );
        settle(&mut g, 0, out);
        assert_eq!(g.group("g").unwrap().state, GroupState::Stable);
        (g, leader, "follower".into(), generation)
    }

    fn sync_req(
        member: &str,
        generation: i32,
        assignments: &[(&str, &'static [u8])],
    ) -> SyncRequest {
        SyncRequest {
            group_id: "g".into(),
            generation_id: generation,
            member_id: member.into(),
            assignments: assignments
                .iter()
                .map(|(m, a)| ((*m).to_string(), Bytes::from_static(a)))
                .collect(),
            ..SyncRequest::default()
        }
    }

    #[test]
    fn sync_group_is_answered_once_the_assignment_is_stored() {
        let assignments: &[(&str, &'static [u8])] = &[("leader", b"p0"), ("follower", b"p1")];
        // Stored: the follower that synced meanwhile is answered with the leader.
        let (mut g, leader, follower, generation) = group_in(GroupState::CompletingRebalance);
        let out = g.sync(0, 70, sync_req(&leader, generation, assignments));
        assert!(out.replies.is_empty());
        let [completion] = &out.completions[..] else {
            panic!("{:?}", out.completions)
        };
        let out = g.sync(1, 71, sync_req(&follower, generation, &[]));
        assert!(out.replies.is_empty() && out.records.is_empty());
        // A repeated leader sync parks without storing again.
        assert!(g
            .sync(1, 72, sync_req(&leader, generation, assignments))
            .completions
            .is_empty());
        let out = g.stored(2, 0, completion.clone(), true);
        assert_eq!(g.group("g").unwrap().state, GroupState::Stable);
        assert_eq!(
            sync_reply(&out, 72).unwrap().assignment,
            Bytes::from_static(b"p0")
        );
        assert_eq!(
            sync_reply(&out, 71).unwrap().assignment,
            Bytes::from_static(b"p1")
        );
        // The same completion again changes nothing.
        assert_eq!(g.stored(3, 0, completion.clone(), true), Outputs::default());
        g.check_invariants().unwrap();

        // Not stored: every parked sync gets the error and the group rebalances.
        let (mut g, leader, follower, generation) = group_in(GroupState::CompletingRebalance);
        let out = g.sync(0, 70, sync_req(&leader, generation, assignments));
        g.sync(0, 71, sync_req(&follower, generation, &[]));
        let out = g.stored(1, 0, out.completions[0].clone(), false);
        for token in [70, 71] {
            assert_eq!(
                sync_reply(&out, token).unwrap().error,
                Some(ErrorCode::CoordinatorNotAvailable)
            );
        }
        assert_eq!(g.group("g").unwrap().state, GroupState::PreparingRebalance);
        g.check_invariants().unwrap();

        // The group moved on while storing: the leader was told to rejoin, and the late
        // completion answers nobody.
        let (mut g, leader, follower, generation) = group_in(GroupState::CompletingRebalance);
        let stored = g.sync(0, 70, sync_req(&leader, generation, assignments));
        let out = g.leave(
            1,
            0,
            73,
            LeaveRequest {
                group_id: "g".into(),
                members: vec![(follower, None)],
            },
        );
        assert_eq!(
            sync_reply(&out, 70).unwrap().error,
            Some(ErrorCode::RebalanceInProgress)
        );
        let out = g.stored(2, 0, stored.completions[0].clone(), true);
        assert!(out.replies.is_empty());
        assert_ne!(g.group("g").unwrap().state, GroupState::Stable);
        g.check_invariants().unwrap();
    }

    fn sync_error(g: &mut Groups, member: &str, generation: i32) -> Option<Option<ErrorCode>> {
        let out = g.sync(0, 50, sync_req(member, generation, &[]));
        let out = settle(g, 0, out);
        sync_reply(&out, 50).map(|s| s.error)
    }

    fn commit_error(g: &mut Groups, member: &str, generation: i32) -> Option<ErrorCode> {
        let out = g.commit(
            0,
            0,
            60,
            CommitRequest {
                group_id: "g".into(),
                generation_id: generation,
                member_id: member.into(),
                offsets: vec![("t".into(), 0, 5, 0, None)],
                ..CommitRequest::default()
            },
        );
        match &out.replies[0].1 {
            Reply::Commit(c) => c.errors[0].2,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_state_cells() {
        let (mut g, ..) = group_in(GroupState::Empty);
        assert_eq!(
            sync_error(&mut g, "m", 0),
            Some(Some(ErrorCode::UnknownMemberId))
        );
        assert_eq!(
            heartbeat(&mut g, 0, "g", "m", 0),
            Some(ErrorCode::UnknownMemberId)
        );
        assert_eq!(
            commit_error(&mut g, "m", 1),
            Some(ErrorCode::UnknownMemberId)
        );
        assert_eq!(commit_error(&mut g, "", -1), None);
        let out = g.leave(
            0,
            0,
            70,
            LeaveRequest {
                group_id: "g".into(),
                members: vec![("m".into(), None)],
            },
        );
        assert!(
            matches!(&out.replies[0].1, Reply::Leave(l) if l.members[0].2 == Some(ErrorCode::UnknownMemberId))
        );
        // A join moves it to PreparingRebalance and (no delay) straight on.
        let out = g.join(0, 0, 71, join_req("g", "m1", ""));
        assert_eq!(
            join_reply(&out, 71).unwrap().error,
            Some(ErrorCode::UnknownMemberId)
        );
    }

    #[test]
    fn preparing_rebalance_cells() {
        let (mut g, leader, _, generation) = group_in(GroupState::PreparingRebalance);
        assert_eq!(
            sync_error(&mut g, &leader, generation),
            Some(Some(ErrorCode::RebalanceInProgress))
        );
        assert_eq!(
            heartbeat(&mut g, 0, "g", &leader, generation),
            Some(ErrorCode::RebalanceInProgress)
        );
        assert_eq!(
            commit_error(&mut g, &leader, generation),
            None,
            "commits of the current generation are kept"
        );
        // The leader leaving completes the join for the parked follower.
        let out = g.leave(
            0,
            0,
            80,
            LeaveRequest {
                group_id: "g".into(),
                members: vec![(leader, None)],
            },
        );
        let j = join_reply(&out, 11).unwrap();
        assert_eq!((j.error, j.leader.as_str()), (None, "follower"));
        assert_eq!(g.group("g").unwrap().state, GroupState::CompletingRebalance);
    }

    #[test]
    fn completing_rebalance_cells() {
        let (mut g, leader, follower, generation) = group_in(GroupState::CompletingRebalance);
        assert_eq!(heartbeat(&mut g, 0, "g", &follower, generation), None);
        assert_eq!(
            commit_error(&mut g, &leader, generation),
            Some(ErrorCode::RebalanceInProgress)
        );
        let out = g.join(0, 0, 90, join_req("g", &follower, ""));
        assert_eq!(
            join_reply(&out, 90).unwrap().generation_id,
            generation,
            "same protocols: current generation"
        );
        assert_eq!(
            sync_error(&mut g, &follower, generation),
            None,
            "follower sync parks"
        );
        let out = g.leave(
            0,
            0,
            91,
            LeaveRequest {
                group_id: "g".into(),
                members: vec![(leader, None)],
            },
        );
        assert_eq!(
            sync_reply(&out, 50).unwrap().error,
            Some(ErrorCode::RebalanceInProgress),
            "parked sync released"
        );
        assert_ne!(g.group("g").unwrap().state, GroupState::Stable);
    }

    #[test]
    fn stable_cells() {
        let (mut g, leader, follower, generation) = group_in(GroupState::Stable);
        assert_eq!(heartbeat(&mut g, 0, "g", &follower, generation), None);
        assert_eq!(commit_error(&mut g, &follower, generation), None);
        assert_eq!(
            commit_error(&mut g, &follower, generation - 1),
            Some(ErrorCode::IllegalGeneration)
        );
        assert_eq!(sync_error(&mut g, &follower, generation), Some(None));
        let out = g.join(0, 0, 100, join_req("g", &follower, ""));
        assert_eq!(
            join_reply(&out, 100).unwrap().generation_id,
            generation,
            "follower rejoin: no rebalance"
        );
        assert_eq!(g.group("g").unwrap().state, GroupState::Stable);
        let out = g.join(0, 0, 101, join_req("g", &leader, ""));
        assert!(
            join_reply(&out, 101).is_none(),
            "leader rejoin triggers a rebalance"
        );
        assert_eq!(g.group("g").unwrap().state, GroupState::PreparingRebalance);
    }

    #[test]
    fn stable_leave_triggers_rebalance() {
        let (mut g, _, follower, _) = group_in(GroupState::Stable);
        g.leave(
            0,
            0,
            110,
            LeaveRequest {
                group_id: "g".into(),
                members: vec![(follower, None)],
            },
        );
        assert_eq!(g.group("g").unwrap().state, GroupState::PreparingRebalance);
    }

    #[test]
    fn initial_rebalance_delay_holds_the_first_join() {
        let mut g = Groups::new(GroupConfig {
            initial_rebalance_delay_ms: 3000,
            ..GroupConfig::default()
        });
        let out = g.join(0, 0, 1, join_req("g", "", "m1"));
        assert_eq!(
            join_reply(&out, 1).unwrap().error,
            Some(ErrorCode::MemberIdRequired)
        );
        let out = g.join(0, 0, 2, join_req("g", "m1", ""));
        assert!(join_reply(&out, 2).is_none(), "held for the initial delay");
        assert!(join_reply(&g.tick(2999, 0), 2).is_none());
        assert_eq!(join_reply(&g.tick(3000, 0), 2).unwrap().error, None);
    }

    #[test]
    fn stale_pending_ids_do_not_hold_the_first_join() {
        let mut g = Groups::new(GroupConfig::default());
        // A client that raced two JoinGroup("") gets two ids and rejoins with the second.
        g.join(0, 0, 1, join_req("g", "", "first"));
        g.join(0, 0, 2, join_req("g", "", "second"));
        let out = g.join(5, 0, 3, join_req("g", "second", ""));
        assert_eq!(
            join_reply(&out, 3).unwrap().error,
            None,
            "not held until 'first' expires"
        );
    }

    #[test]
    fn pending_ids_hold_a_rebalance_of_a_live_group() {
        let mut g = Groups::new(GroupConfig::default());
        let (m1, _) = join_and_sync(&mut g, 0, "g", "m1");
        g.join(0, 0, 5, join_req("g", "", "m2"));
        let out = g.join(0, 0, 6, join_req("g", &m1, ""));
        assert!(
            join_reply(&out, 6).is_none(),
            "waits for m2, which was told to rejoin"
        );
        let out = g.join(0, 0, 7, join_req("g", "m2", ""));
        assert_eq!(join_reply(&out, 6).unwrap().members.len(), 2);
    }

    #[test]
    fn an_unused_pending_id_stops_holding_the_rebalance_after_a_few_seconds() {
        let mut g = Groups::new(GroupConfig::default());
        let (m1, _) = join_and_sync(&mut g, 0, "g", "m1");
        g.join(0, 0, 5, join_req("g", "", "ghost"));
        assert!(join_reply(&g.join(0, 0, 6, join_req("g", &m1, "")), 6).is_none());
        assert!(join_reply(&g.tick(PENDING_MEMBER_MS_MAX - 1, 0), 6).is_none());
        let j = join_reply(&g.tick(PENDING_MEMBER_MS_MAX, 0), 6)
            .expect("released once the ghost id expires");
        assert_eq!(j.members.len(), 1);
    }

    #[test]
    fn group_max_size_is_enforced() {
        let mut g = Groups::new(GroupConfig {
            max_size: 1,
            ..GroupConfig::default()
        });
        join_and_sync(&mut g, 0, "g", "m1");
        let out = g.join(0, 0, 5, join_req("g", "", "m2"));
        assert_eq!(
            join_reply(&out, 5).unwrap().error,
            Some(ErrorCode::GroupMaxSizeReached)
        );
    }

    #[test]
    fn offsets_of_long_empty_groups_expire() {
        let mut g = Groups::new(GroupConfig {
            offsets_retention_ms: 1000,
            ..GroupConfig::default()
        });
        g.commit(
            0,
            0,
            1,
            CommitRequest {
                group_id: "g".into(),
                generation_id: -1,
                offsets: vec![("t".into(), 0, 1, 0, None)],
                ..CommitRequest::default()
            },
        );
        assert!(g.tick(0, 500).records.is_empty());
        let out = g.tick(0, 1001);
        assert!(
            out.records.iter().all(|r| r.value.is_none()) && !out.records.is_empty(),
            "tombstones"
        );
        assert!(g.group("g").is_none());
    }

    /// Seeded random simulation: members join, sync, heartbeat, commit, leave and vanish
    /// while time jumps; invariants are checked after every step.
    #[test]
    fn seeded_simulation_keeps_invariants() {
        for seed in 1..=20u64 {
            simulate(seed);
        }
    }

    fn simulate(seed: u64) {
        let mut rng = seed;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let mut g = Groups::new(GroupConfig::default());
        let mut now = 0i64;
        let mut token = 100u64;
        let mut known: Vec<(String, String)> = Vec::new(); // (group, member)
        let mut last_generation: HashMap<String, i32> = HashMap::new();
        let mut pending: Vec<Completion> = Vec::new();
        for step in 0..2000 {
            token += 1;
            let group = format!("g{}", next(3));
            let out = match next(7) {
                0 => {
                    let id = format!("m{token}");
                    let out = g.join(now, now, token, join_req(&group, "", &id));
                    if join_reply(&out, token)
                        .is_some_and(|j| j.error == Some(ErrorCode::MemberIdRequired))
                    {
                        known.push((group.clone(), id));
                    }
                    out
                }
                1 if !known.is_empty() => {
                    let (gr, m) = known[usize::try_from(next(known.len() as u64)).unwrap()].clone();
                    g.join(now, now, token, join_req(&gr, &m, ""))
                }
                2 if !known.is_empty() => {
                    let (gr, m) = known[usize::try_from(next(known.len() as u64)).unwrap()].clone();
                    let generation = g.group(&gr).map_or(0, |x| x.generation_id);
                    g.sync(
                        now,
                        token,
                        SyncRequest {
                            group_id: gr,
                            generation_id: generation,
                            member_id: m.clone(),
                            assignments: vec![(m, Bytes::from_static(b"x"))],
                            ..SyncRequest::default()
                        },
                    )
                }
                3 if !known.is_empty() => {
                    let (gr, m) = known[usize::try_from(next(known.len() as u64)).unwrap()].clone();
                    let generation = g.group(&gr).map_or(0, |x| x.generation_id);
                    g.heartbeat(
                        now,
                        token,
                        HeartbeatRequest {
                            group_id: gr,
                            generation_id: generation,
                            member_id: m,
                            group_instance_id: None,
                        },
                    )
                }
                4 if !known.is_empty() => {
                    let i = usize::try_from(next(known.len() as u64)).unwrap();
                    let (gr, m) = known.remove(i);
                    g.leave(
                        now,
                        now,
                        token,
                        LeaveRequest {
                            group_id: gr,
                            members: vec![(m, None)],
                        },
                    )
                }
                5 if !known.is_empty() => {
                    let (gr, m) = known[usize::try_from(next(known.len() as u64)).unwrap()].clone();
                    let generation = g.group(&gr).map_or(-1, |x| x.generation_id);
                    g.commit(
                        now,
                        now,
                        token,
                        CommitRequest {
                            group_id: gr,
                            generation_id: generation,
                            member_id: m,
                            group_instance_id: None,
                            offsets: vec![("t".into(), 0, i64::from(step), 0, None)],
                        },
                    )
                }
                _ => {
                    now += i64::try_from(next(15_000)).unwrap();
                    g.tick(now, now)
                }
            };
            // Stores complete later, sometimes failing, while other requests go on.
            pending.extend(out.completions);
            if next(3) == 0 {
                for c in std::mem::take(&mut pending) {
                    let ok = next(5) != 0;
                    let more = g.stored(now, now, c, ok);
                    assert!(more.completions.is_empty());
                }
            }
            if let Err(e) = g.check_invariants() {
                panic!("seed {seed} step {step}: {e}");
            }
            for id in g.group_ids() {
                let generation = g.group(&id).map_or(0, |x| x.generation_id);
                let last = last_generation.entry(id.clone()).or_insert(generation);
                assert!(
                    generation >= *last,
                    "seed {seed} step {step}: generation of {id} went back"
                );
                *last = generation;
            }
        }
    }
}
