//! Sessions, rebalance timeouts and offset retention on a manual clock.

use super::*;

#[test]
fn silent_member_is_removed_after_session_timeout() {
    let mut g = Groups::new(GroupConfig::default());
    let (member, _) = join_and_sync(&mut g, 0, "g", "m1");
    assert!(g.tick(SESSION as i64 - 1, 0).records.is_empty());
    assert!(g.is_member("g", &member));
    g.tick(SESSION as i64, 0);
    assert!(!g.is_member("g", &member));
    assert_eq!(g.group("g").unwrap().state, GroupState::Empty);
}

#[test]
fn members_that_do_not_rejoin_are_expelled_at_the_rebalance_timeout() {
    let mut g = Groups::new(GroupConfig::default());
    let (m1, _) = join_and_sync(&mut g, 0, "g", "m1");
    g.join(1000, 0, 10, join_req("g", "", "m2"));
    g.join(1000, 0, 11, join_req("g", "m2", ""));
    // m1 keeps heartbeating but never rejoins.
    for t in (2000..REBALANCE as i64).step_by(2000) {
        heartbeat(&mut g, t, "g", &m1, 1);
    }
    let out = g.tick(1000 + REBALANCE as i64, 0);
    let j = join_reply(&out, 11).expect("m2 released");
    assert_eq!(j.leader, "m2");
    assert!(!g.is_member("g", &m1));
}

#[test]
fn offsets_of_long_empty_groups_expire() {
    let mut g = Groups::new(GroupConfig {
        offsets_retention_ms: 1000,
        ..GroupConfig::default()
    });
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
    assert!(g.tick(0, 500).records.is_empty());
    let out = g.tick(0, 1001);
    assert!(
        out.records.iter().all(|r| r.value.is_none()) && !out.records.is_empty(),
        "tombstones"
    );
    assert!(g.group("g").is_none());
}
