//! Tests of the group coordinator, by concern, with shared builders.

mod consumer;
mod join;
mod offsets;
mod simulation;
mod states;
mod sync;
mod timers;

pub(super) use bytes::Bytes;
pub(super) use strom_codec::ErrorCode;

pub(super) use crate::group::{GroupState, Token};
pub(super) use crate::groups::*;

pub(super) const SESSION: i32 = 10_000;
pub(super) const REBALANCE: i32 = 30_000;

pub(super) fn join_req(group: &str, member: &str, new_id: &str) -> JoinRequest {
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

pub(super) fn join_reply(out: &Outputs, token: Token) -> Option<JoinResponse> {
    out.replies
        .iter()
        .find(|(t, _)| *t == token)
        .and_then(|(_, r)| match r {
            Reply::Join(j) => Some(j.clone()),
            _ => None,
        })
}

pub(super) fn sync_reply(out: &Outputs, token: Token) -> Option<SyncResponse> {
    out.replies
        .iter()
        .find(|(t, _)| *t == token)
        .and_then(|(_, r)| match r {
            Reply::Sync(j) => Some(j.clone()),
            _ => None,
        })
}

/// `out` with its completions applied as if their records were stored at `now`.
pub(super) fn settle(g: &mut Groups, now: i64, mut out: Outputs) -> Outputs {
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
pub(super) fn join_and_sync(groups: &mut Groups, now: i64, group: &str, id: &str) -> (String, i32) {
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

pub(super) fn heartbeat(
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

/// Drives a two-member group into `state`; returns (groups, leader, follower, generation).
pub(super) fn group_in(state: GroupState) -> (Groups, String, String, i32) {
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

pub(super) fn sync_req(
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

pub(super) fn sync_error(
    g: &mut Groups,
    member: &str,
    generation: i32,
) -> Option<Option<ErrorCode>> {
    let out = g.sync(0, 50, sync_req(member, generation, &[]));
    let out = settle(g, 0, out);
    sync_reply(&out, 50).map(|s| s.error)
}

pub(super) fn commit_error(g: &mut Groups, member: &str, generation: i32) -> Option<ErrorCode> {
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

/// A seeded xorshift generator for the simulations: `next(n)` is in `0..n`.
pub(super) fn xorshift(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut rng = seed;
    move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    }
}
