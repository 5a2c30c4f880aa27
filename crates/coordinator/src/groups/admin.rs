//! ListGroups, DescribeGroups and DeleteGroups.

use bytes::Bytes;
use strom_codec::ErrorCode;

use crate::group::{Group, GroupState};
use crate::records::{self, Record};

use super::*;

impl Groups {
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
                        .any(|s| s.eq_ignore_ascii_case(g.state_name()))
            })
            .filter(|g| {
                let kind = if g.is_consumer() {
                    "consumer"
                } else {
                    "classic"
                };
                types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(kind))
            })
            .map(|g| GroupListing {
                group_id: g.group_id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state_name().to_string(),
                group_type: if g.is_consumer() {
                    "consumer"
                } else {
                    "classic"
                }
                .to_string(),
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    pub fn describe(&self, group_id: &str) -> GroupDescription {
        let Some(g) = self.groups.get(group_id).filter(|g| !g.is_consumer()) else {
            return GroupDescription {
                group_id: group_id.into(),
                is_consumer: self.groups.get(group_id).is_some_and(Group::is_consumer),
                state: "Dead".into(),
                protocol_type: String::new(),
                protocol: String::new(),
                members: Vec::new(),
            };
        };
        let protocol = g.protocol_name.clone().unwrap_or_default();
        GroupDescription {
            group_id: group_id.into(),
            is_consumer: false,
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
        if !g.is_empty() {
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
    ) -> (Option<ErrorCode>, PartitionErrors, Vec<Record>) {
        let Some(g) = self.groups.get_mut(group_id) else {
            return (Some(ErrorCode::GroupIdNotFound), Vec::new(), Vec::new());
        };
        let protocol = g.protocol_name.clone().unwrap_or_default();
        let mut results = Vec::new();
        let mut records = Vec::new();
        for (topic, partition) in partitions {
            let in_use = (g.state != GroupState::Empty
                && g.members
                    .iter()
                    .any(|m| subscribes_to(&m.metadata_for(&protocol), topic)))
                || g.consumer.as_ref().is_some_and(|c| {
                    !c.members.is_empty() && c.subscribed_topics().contains(topic)
                });
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

    pub(super) fn tombstones(g: &Group, only: Option<&[(String, i32)]>) -> Vec<Record> {
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
}
