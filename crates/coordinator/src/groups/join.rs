//! JoinGroup: members join, rebalances start and complete (the PreparingRebalance side of
//! the state machine in [`crate::group`]).

use bytes::Bytes;
use strom_codec::ErrorCode;

use crate::group::{Group, GroupState, Member, Token};

use super::*;

impl Groups {
    // ------------------------------------------------------------ JoinGroup

    /// JoinGroup. The reply may come later, through another call's outputs.
    pub fn join(&mut self, now: i64, wall: i64, token: Token, req: JoinRequest) -> Outputs {
        let group_id = req.group_id.clone();
        let out = self.join_unchecked(now, wall, token, req);
        self.debug_check(&group_id);
        out
    }

    /// The work of [`Groups::join`], before its invariant check.
    fn join_unchecked(&mut self, now: i64, wall: i64, token: Token, req: JoinRequest) -> Outputs {
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
        if let Some(cg) = &group.consumer {
            if !cg.members.is_empty() {
                // Classic members do not join a KIP-848 group that has members.
                return Outputs::reply(
                    token,
                    Reply::Join(JoinResponse::error(
                        ErrorCode::InconsistentGroupProtocol,
                        &req.member_id,
                    )),
                );
            }
            // An empty consumer group turns classic; its committed offsets stay.
            group.consumer = None;
            group.protocol_type = None;
        }
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

    pub(super) fn join_response(group: &Group, member_id: &str) -> JoinResponse {
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

    pub(super) fn prepare_rebalance(group: &mut Group, now: i64, wall: i64, out: &mut Outputs) {
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
    pub(super) fn complete_join(group: &mut Group, now: i64, wall: i64, out: &mut Outputs) {
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
}
