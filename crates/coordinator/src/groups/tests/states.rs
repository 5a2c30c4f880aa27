//! One test per state of the group × API table documented beside `GroupState`.

use super::*;

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
