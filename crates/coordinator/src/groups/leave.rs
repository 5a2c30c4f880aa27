//! LeaveGroup: members leave (KIP-345 batches by instance id), and the group rebalances.

use strom_codec::ErrorCode;

use crate::group::{Group, GroupState, Token};

use super::*;

impl Groups {
    // ------------------------------------------------------------ LeaveGroup

    pub fn leave(&mut self, now: i64, wall: i64, token: Token, req: LeaveRequest) -> Outputs {
        let group_id = req.group_id.clone();
        let out = self.leave_unchecked(now, wall, token, req);
        self.debug_check(&group_id);
        out
    }

    fn leave_unchecked(&mut self, now: i64, wall: i64, token: Token, req: LeaveRequest) -> Outputs {
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

    pub(super) fn after_member_removed(group: &mut Group, now: i64, wall: i64, out: &mut Outputs) {
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
}
