//! Heartbeat: keeps a member's session alive and tells it when to rejoin.

use strom_codec::ErrorCode;

use crate::group::{GroupState, Token};

use super::*;

impl Groups {
    // ------------------------------------------------------------ Heartbeat

    pub fn heartbeat(&mut self, now: i64, token: Token, req: HeartbeatRequest) -> Outputs {
        let group_id = req.group_id.clone();
        let out = self.heartbeat_unchecked(now, token, req);
        self.debug_check(&group_id);
        out
    }

    fn heartbeat_unchecked(&mut self, now: i64, token: Token, req: HeartbeatRequest) -> Outputs {
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
}
