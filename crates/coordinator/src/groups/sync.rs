//! SyncGroup: the leader hands out the assignment; the group turns Stable once it is stored.

use strom_codec::ErrorCode;

use crate::group::{GroupState, Token};

use super::*;

impl Groups {
    // ------------------------------------------------------------ SyncGroup

    pub fn sync(&mut self, now: i64, token: Token, req: SyncRequest) -> Outputs {
        let group_id = req.group_id.clone();
        let out = self.sync_unchecked(now, token, req);
        self.debug_check(&group_id);
        out
    }

    fn sync_unchecked(&mut self, now: i64, token: Token, req: SyncRequest) -> Outputs {
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
        let Completion::Assignment { group_id, .. } = &completion;
        let group_id = group_id.clone();
        let out = self.stored_unchecked(now, wall, completion, ok);
        self.debug_check(&group_id);
        out
    }

    /// The work of [`Groups::stored`], before its invariant check.
    fn stored_unchecked(
        &mut self,
        now: i64,
        wall: i64,
        completion: Completion,
        ok: bool,
    ) -> Outputs {
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
}
