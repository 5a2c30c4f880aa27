//! Time: expired sessions, rebalance timeouts, unused pending member ids, offsets of long
//! empty groups; and releasing every parked request at shutdown.

use strom_codec::ErrorCode;

use crate::group::GroupState;

use super::*;

impl Groups {
    // ------------------------------------------------------------ timers

    /// Expires sessions, completes rebalances whose timeout passed, forgets unused pending
    /// member ids and expired offsets of empty groups.
    pub fn tick(&mut self, now: i64, wall: i64) -> Outputs {
        let out = self.tick_unchecked(now, wall);
        if cfg!(debug_assertions) {
            let checked = self.check_invariants();
            debug_assert!(
                checked.is_ok(),
                "group invariant broken by a tick: {checked:?}"
            );
        }
        out
    }

    /// The work of [`Groups::tick`], before its invariant check.
    fn tick_unchecked(&mut self, now: i64, wall: i64) -> Outputs {
        let mut out = Outputs::default();
        let retention = self.config.offsets_retention_ms;
        let assignors = self.config.consumer_assignors.clone();
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
            Self::consumer_tick(group, now, wall, &assignors);
            if group.state == GroupState::PreparingRebalance
                && (group.rebalance_deadline.is_some_and(|d| d <= now)
                    || (pending_expired && group.all_joined()))
            {
                Self::complete_join(group, now, wall, &mut out);
            }
            if group.is_empty()
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
                    .chain(Self::consumer_deadlines(g))
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
}
