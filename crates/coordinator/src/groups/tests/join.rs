//! JoinGroup: validation, MEMBER_ID_REQUIRED, rebalances, static members, limits.

use super::*;

#[test]
fn lone_member_joins_syncs_and_is_stable() {
    let mut g = Groups::new(GroupConfig::default());
    let (m, generation) = join_and_sync(&mut g, 0, "g", "m1");
    assert_eq!(g.group("g").unwrap().state, GroupState::Stable);
    assert_eq!(heartbeat(&mut g, 100, "g", &m, generation), None);
    assert_eq!(
        heartbeat(&mut g, 100, "g", &m, generation + 1),
        Some(ErrorCode::IllegalGeneration)
    );
    assert_eq!(
        heartbeat(&mut g, 100, "g", "nobody", generation),
        Some(ErrorCode::UnknownMemberId)
    );
    g.check_invariants().unwrap();
}

#[test]
fn join_validation() {
    let mut g = Groups::new(GroupConfig::default());
    let mut r = join_req("", "", "x");
    assert_eq!(
        join_reply(&g.join(0, 0, 1, r.clone()), 1).unwrap().error,
        Some(ErrorCode::InvalidGroupId)
    );
    r.group_id = "g".into();
    r.session_timeout_ms = 10;
    assert_eq!(
        join_reply(&g.join(0, 0, 1, r.clone()), 1).unwrap().error,
        Some(ErrorCode::InvalidSessionTimeout)
    );
    r.session_timeout_ms = SESSION;
    r.protocols.clear();
    assert_eq!(
        join_reply(&g.join(0, 0, 1, r), 1).unwrap().error,
        Some(ErrorCode::InconsistentGroupProtocol)
    );
    assert_eq!(
        join_reply(&g.join(0, 0, 1, join_req("g", "ghost", "x")), 1)
            .unwrap()
            .error,
        Some(ErrorCode::UnknownMemberId)
    );
}

#[test]
fn old_clients_join_without_member_id_required() {
    let mut g = Groups::new(GroupConfig::default());
    let mut r = join_req("g", "", "m1");
    r.require_known_member_id = false;
    let j = join_reply(&g.join(0, 0, 1, r), 1).unwrap();
    assert_eq!(
        (j.error, j.member_id.as_str(), j.generation_id),
        (None, "m1", 1)
    );
}

#[test]
fn second_member_triggers_rebalance_and_both_get_the_generation() {
    let mut g = Groups::new(GroupConfig::default());
    let (m1, gen1) = join_and_sync(&mut g, 0, "g", "m1");
    let out = g.join(10, 0, 20, join_req("g", "", "m2"));
    assert_eq!(
        join_reply(&out, 20).unwrap().error,
        Some(ErrorCode::MemberIdRequired)
    );
    let out = g.join(10, 0, 21, join_req("g", "m2", ""));
    assert!(join_reply(&out, 21).is_none(), "parked until m1 rejoins");
    assert_eq!(g.group("g").unwrap().state, GroupState::PreparingRebalance);
    assert_eq!(
        heartbeat(&mut g, 20, "g", &m1, gen1),
        Some(ErrorCode::RebalanceInProgress)
    );
    let out = g.join(30, 0, 22, join_req("g", &m1, ""));
    let leader = join_reply(&out, 22).unwrap();
    let follower = join_reply(&out, 21).unwrap();
    assert_eq!(leader.generation_id, gen1 + 1);
    assert_eq!(leader.members.len(), 2);
    assert!(follower.members.is_empty());
    assert_eq!(leader.protocol_name.as_deref(), Some("range"));
    // Follower's sync parks; leader's sync releases both.
    let out = g.sync(
        40,
        23,
        SyncRequest {
            group_id: "g".into(),
            generation_id: gen1 + 1,
            member_id: "m2".into(),
            ..SyncRequest::default()
        },
    );
    assert!(out.replies.is_empty());
    let out = g.sync(
        40,
        24,
        SyncRequest {
            group_id: "g".into(),
            generation_id: gen1 + 1,
            member_id: m1,
            assignments: vec![
                ("m1".into(), Bytes::from_static(b"a")),
                ("m2".into(), Bytes::from_static(b"b")),
            ],
            ..SyncRequest::default()
        },
    );
    // Nothing is answered until the assignment is stored; the group stays
    // CompletingRebalance meanwhile (Kafka's coordinator does the same).
    assert!(out.replies.is_empty());
    assert_eq!(out.records.len(), 1);
    assert_eq!(g.group("g").unwrap().state, GroupState::CompletingRebalance);
    g.check_invariants().unwrap();
    let out = settle(&mut g, 41, out);
    assert_eq!(g.group("g").unwrap().state, GroupState::Stable);
    assert_eq!(
        sync_reply(&out, 23).unwrap().assignment,
        Bytes::from_static(b"b")
    );
    assert_eq!(
        sync_reply(&out, 24).unwrap().assignment,
        Bytes::from_static(b"a")
    );
    g.check_invariants().unwrap();
}

#[test]
fn static_member_restart_within_session_does_not_rebalance() {
    let mut g = Groups::new(GroupConfig::default());
    let mut r = join_req("g", "", "a-1");
    r.group_instance_id = Some("instance-a".into());
    r.supports_skip_assignment = true; // a lone static member is its own leader
    let j = join_reply(&g.join(0, 0, 1, r.clone()), 1).unwrap();
    assert_eq!(j.error, None, "static members skip MEMBER_ID_REQUIRED");
    let generation = j.generation_id;
    let out = g.sync(
        0,
        2,
        SyncRequest {
            group_id: "g".into(),
            generation_id: generation,
            member_id: "a-1".into(),
            group_instance_id: Some("instance-a".into()),
            assignments: vec![("a-1".into(), Bytes::from_static(b"p0"))],
            ..SyncRequest::default()
        },
    );
    settle(&mut g, 0, out);
    // Restart: new member id, same instance.
    r.new_member_id = "a-2".into();
    let j = join_reply(&g.join(5000, 0, 3, r), 3).unwrap();
    assert_eq!(
        (j.error, j.generation_id, j.member_id.as_str()),
        (None, generation, "a-2")
    );
    assert_eq!(g.group("g").unwrap().state, GroupState::Stable);
    // The old id is fenced.
    let out = g.heartbeat(
        5000,
        4,
        HeartbeatRequest {
            group_id: "g".into(),
            generation_id: generation,
            member_id: "a-1".into(),
            group_instance_id: Some("instance-a".into()),
        },
    );
    assert_eq!(
        out.replies[0].1,
        Reply::Heartbeat(Some(ErrorCode::FencedInstanceId))
    );
    let s = sync_reply(
        &g.sync(
            5000,
            5,
            SyncRequest {
                group_id: "g".into(),
                generation_id: generation,
                member_id: "a-2".into(),
                group_instance_id: Some("instance-a".into()),
                ..SyncRequest::default()
            },
        ),
        5,
    )
    .unwrap();
    assert_eq!(s.assignment, Bytes::from_static(b"p0"));
    g.check_invariants().unwrap();
}

#[test]
fn static_leader_rejoin_never_rebalances_and_skips_assignment_from_v9() {
    for supports in [false, true] {
        let mut g = Groups::new(GroupConfig::default());
        let mut r = join_req("g", "", "a-1");
        r.group_instance_id = Some("a".into());
        r.supports_skip_assignment = supports;
        let generation = join_reply(&g.join(0, 0, 1, r.clone()), 1)
            .unwrap()
            .generation_id;
        let out = g.sync(
            0,
            2,
            SyncRequest {
                group_id: "g".into(),
                generation_id: generation,
                member_id: "a-1".into(),
                group_instance_id: Some("a".into()),
                ..SyncRequest::default()
            },
        );
        settle(&mut g, 0, out);
        r.new_member_id = "a-2".into();
        let out = g.join(10, 0, 3, r);
        let j = join_reply(&out, 3).unwrap();
        assert_eq!(j.generation_id, generation, "no rebalance");
        assert_eq!(j.skip_assignment, supports);
        assert_eq!(
            j.members.len(),
            usize::from(supports),
            "members only with skip_assignment"
        );
    }
}

#[test]
fn initial_rebalance_delay_holds_the_first_join() {
    let mut g = Groups::new(GroupConfig {
        initial_rebalance_delay_ms: 3000,
        ..GroupConfig::default()
    });
    let out = g.join(0, 0, 1, join_req("g", "", "m1"));
    assert_eq!(
        join_reply(&out, 1).unwrap().error,
        Some(ErrorCode::MemberIdRequired)
    );
    let out = g.join(0, 0, 2, join_req("g", "m1", ""));
    assert!(join_reply(&out, 2).is_none(), "held for the initial delay");
    assert!(join_reply(&g.tick(2999, 0), 2).is_none());
    assert_eq!(join_reply(&g.tick(3000, 0), 2).unwrap().error, None);
}

#[test]
fn stale_pending_ids_do_not_hold_the_first_join() {
    let mut g = Groups::new(GroupConfig::default());
    // A client that raced two JoinGroup("") gets two ids and rejoins with the second.
    g.join(0, 0, 1, join_req("g", "", "first"));
    g.join(0, 0, 2, join_req("g", "", "second"));
    let out = g.join(5, 0, 3, join_req("g", "second", ""));
    assert_eq!(
        join_reply(&out, 3).unwrap().error,
        None,
        "not held until 'first' expires"
    );
}

#[test]
fn pending_ids_hold_a_rebalance_of_a_live_group() {
    let mut g = Groups::new(GroupConfig::default());
    let (m1, _) = join_and_sync(&mut g, 0, "g", "m1");
    g.join(0, 0, 5, join_req("g", "", "m2"));
    let out = g.join(0, 0, 6, join_req("g", &m1, ""));
    assert!(
        join_reply(&out, 6).is_none(),
        "waits for m2, which was told to rejoin"
    );
    let out = g.join(0, 0, 7, join_req("g", "m2", ""));
    assert_eq!(join_reply(&out, 6).unwrap().members.len(), 2);
}

#[test]
fn an_unused_pending_id_stops_holding_the_rebalance_after_a_few_seconds() {
    let mut g = Groups::new(GroupConfig::default());
    let (m1, _) = join_and_sync(&mut g, 0, "g", "m1");
    g.join(0, 0, 5, join_req("g", "", "ghost"));
    assert!(join_reply(&g.join(0, 0, 6, join_req("g", &m1, "")), 6).is_none());
    assert!(join_reply(&g.tick(PENDING_MEMBER_MS_MAX - 1, 0), 6).is_none());
    let j = join_reply(&g.tick(PENDING_MEMBER_MS_MAX, 0), 6)
        .expect("released once the ghost id expires");
    assert_eq!(j.members.len(), 1);
}

#[test]
fn group_max_size_is_enforced() {
    let mut g = Groups::new(GroupConfig {
        max_size: 1,
        ..GroupConfig::default()
    });
    join_and_sync(&mut g, 0, "g", "m1");
    let out = g.join(0, 0, 5, join_req("g", "", "m2"));
    assert_eq!(
        join_reply(&out, 5).unwrap().error,
        Some(ErrorCode::GroupMaxSizeReached)
    );
}
