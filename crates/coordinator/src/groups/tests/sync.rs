//! SyncGroup: the assignment is answered once stored.

use super::*;

#[test]
fn sync_group_is_answered_once_the_assignment_is_stored() {
    let assignments: &[(&str, &'static [u8])] = &[("leader", b"p0"), ("follower", b"p1")];
    // Stored: the follower that synced meanwhile is answered with the leader.
    let (mut g, leader, follower, generation) = group_in(GroupState::CompletingRebalance);
    let out = g.sync(0, 70, sync_req(&leader, generation, assignments));
    assert!(out.replies.is_empty());
    let [completion] = &out.completions[..] else {
        panic!("{:?}", out.completions)
    };
    let out = g.sync(1, 71, sync_req(&follower, generation, &[]));
    assert!(out.replies.is_empty() && out.records.is_empty());
    // A repeated leader sync parks without storing again.
    assert!(g
        .sync(1, 72, sync_req(&leader, generation, assignments))
        .completions
        .is_empty());
    let out = g.stored(2, 0, completion.clone(), true);
    assert_eq!(g.group("g").unwrap().state, GroupState::Stable);
    assert_eq!(
        sync_reply(&out, 72).unwrap().assignment,
        Bytes::from_static(b"p0")
    );
    assert_eq!(
        sync_reply(&out, 71).unwrap().assignment,
        Bytes::from_static(b"p1")
    );
    // The same completion again changes nothing.
    assert_eq!(g.stored(3, 0, completion.clone(), true), Outputs::default());
    g.check_invariants().unwrap();

    // Not stored: every parked sync gets the error and the group rebalances.
    let (mut g, leader, follower, generation) = group_in(GroupState::CompletingRebalance);
    let out = g.sync(0, 70, sync_req(&leader, generation, assignments));
    g.sync(0, 71, sync_req(&follower, generation, &[]));
    let out = g.stored(1, 0, out.completions[0].clone(), false);
    for token in [70, 71] {
        assert_eq!(
            sync_reply(&out, token).unwrap().error,
            Some(ErrorCode::CoordinatorNotAvailable)
        );
    }
    assert_eq!(g.group("g").unwrap().state, GroupState::PreparingRebalance);
    g.check_invariants().unwrap();

    // The group moved on while storing: the leader was told to rejoin, and the late
    // completion answers nobody.
    let (mut g, leader, follower, generation) = group_in(GroupState::CompletingRebalance);
    let stored = g.sync(0, 70, sync_req(&leader, generation, assignments));
    let out = g.leave(
        1,
        0,
        73,
        LeaveRequest {
            group_id: "g".into(),
            members: vec![(follower, None)],
        },
    );
    assert_eq!(
        sync_reply(&out, 70).unwrap().error,
        Some(ErrorCode::RebalanceInProgress)
    );
    let out = g.stored(2, 0, stored.completions[0].clone(), true);
    assert!(out.replies.is_empty());
    assert_ne!(g.group("g").unwrap().state, GroupState::Stable);
    g.check_invariants().unwrap();
}
