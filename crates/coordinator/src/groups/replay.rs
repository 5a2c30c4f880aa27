//! Rebuilding the groups from `__consumer_offsets` at start-up, and the live state as records.

use crate::group::{Group, GroupState, Member};
use crate::records::{self, Record};

use super::*;

impl Groups {
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
}
