//! Committed offsets: OffsetCommit, OffsetFetch, OffsetDelete, and the offsets a
//! transaction commits (held by the transaction coordinator, made visible here on commit).

use strom_codec::ErrorCode;

use crate::group::{Group, GroupState, Token};
use crate::records::{self, OffsetValue, Record};

use super::*;

impl Groups {
    // ------------------------------------------------------------ offsets

    pub fn commit(&mut self, now: i64, wall: i64, token: Token, req: CommitRequest) -> Outputs {
        let group_id = req.group_id.clone();
        let out = self.commit_unchecked(now, wall, token, req);
        self.debug_check(&group_id);
        out
    }

    fn commit_unchecked(
        &mut self,
        now: i64,
        wall: i64,
        token: Token,
        req: CommitRequest,
    ) -> Outputs {
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
                // v9+ may come from a KIP-848 member: its group is gone.
                return all(if req.api_version >= 9 {
                    ErrorCode::GroupIdNotFound
                } else {
                    ErrorCode::IllegalGeneration
                });
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
        let check = if let Some(cg) = group.consumer.as_deref() {
            Self::consumer_commit_check(
                cg,
                &req.member_id,
                req.generation_id,
                Some(req.api_version),
            )
        } else if group.state == GroupState::Dead {
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
    pub(super) fn store_offsets(
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
    /// member must exist, not be fenced, and be of the current generation (member epoch, in
    /// a consumer group). A group that does not exist is refused unless the generation is
    /// negative (a simple commit): GROUP_ID_NOT_FOUND from v6 (KIP-1319), ILLEGAL_GENERATION
    /// before, which is also what a stale member epoch is before v6.
    pub fn validate_txn_commit(
        &self,
        group_id: &str,
        generation_id: i32,
        member_id: &str,
        group_instance_id: Option<&str>,
        api_version: i16,
    ) -> Option<ErrorCode> {
        /// The first TxnOffsetCommit version with GROUP_ID_NOT_FOUND and STALE_MEMBER_EPOCH.
        const KIP_1319: i16 = 6;
        if group_id.is_empty() {
            return Some(ErrorCode::InvalidGroupId);
        }
        if generation_id < 0 && member_id.is_empty() && group_instance_id.is_none() {
            return None;
        }
        let Some(group) = self.groups.get(group_id) else {
            return if generation_id < 0 {
                None
            } else if api_version >= KIP_1319 {
                Some(ErrorCode::GroupIdNotFound)
            } else {
                Some(ErrorCode::IllegalGeneration)
            };
        };
        if let Some(cg) = group.consumer.as_deref() {
            match Self::consumer_commit_check(cg, member_id, generation_id, None) {
                Some(ErrorCode::StaleMemberEpoch) if api_version < KIP_1319 => {
                    Some(ErrorCode::IllegalGeneration)
                }
                other => other,
            }
        } else if group.state == GroupState::Dead {
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
}
