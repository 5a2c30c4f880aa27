//! Offset commits, leaving, and deletion.

use super::*;

#[test]
fn leave_triggers_rebalance_and_unknown_members_are_reported() {
    let mut g = Groups::new(GroupConfig::default());
    let (m1, _) = join_and_sync(&mut g, 0, "g", "m1");
    let out = g.leave(
        10,
        0,
        7,
        LeaveRequest {
            group_id: "g".into(),
            members: vec![(m1.clone(), None), ("ghost".into(), None)],
        },
    );
    let Some((_, Reply::Leave(l))) = out.replies.last() else {
        panic!()
    };
    assert_eq!(l.members[0].2, None);
    assert_eq!(l.members[1].2, Some(ErrorCode::UnknownMemberId));
    assert_eq!(g.group("g").unwrap().state, GroupState::Empty);
}

#[test]
fn commits_check_generation_and_membership() {
    let mut g = Groups::new(GroupConfig::default());
    let commit = |member: &str, generation: i32| CommitRequest {
        group_id: "g".into(),
        generation_id: generation,
        member_id: member.into(),
        group_instance_id: None,
        api_version: 9,
        offsets: vec![("t".into(), 0, 42, 0, Some("meta".into()))],
    };
    // Simple consumer on a new group.
    let out = g.commit(0, 1, 1, commit("", -1));
    assert_eq!(
        out.replies[0].1,
        Reply::Commit(CommitResponse {
            errors: vec![("t".into(), 0, None)]
        })
    );
    assert_eq!(out.records.len(), 1);
    let fetched = g.fetch_offsets("g", Some(&[("t".into(), 0), ("t".into(), 1)]));
    assert_eq!(
        (fetched[0].offset, fetched[0].metadata.as_str()),
        (42, "meta")
    );
    assert_eq!(fetched[1].offset, -1);
    let (m, generation) = join_and_sync(&mut g, 0, "g", "m1");
    let err = |out: Outputs| match &out.replies[0].1 {
        Reply::Commit(c) => c.errors[0].2,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        err(g.commit(0, 1, 2, commit("", -1))),
        Some(ErrorCode::UnknownMemberId)
    );
    assert_eq!(
        err(g.commit(0, 1, 3, commit(&m, generation + 5))),
        Some(ErrorCode::IllegalGeneration)
    );
    assert_eq!(err(g.commit(0, 1, 4, commit(&m, generation))), None);
    let mut big = commit(&m, generation);
    big.offsets[0].4 = Some("x".repeat(5000));
    assert_eq!(
        err(g.commit(0, 1, 5, big)),
        Some(ErrorCode::OffsetMetadataTooLarge)
    );
}

#[test]
fn replay_restores_offsets_and_groups() {
    let mut g = Groups::new(GroupConfig::default());
    let (_, _) = join_and_sync(&mut g, 0, "g", "m1");
    g.commit(
        0,
        1,
        1,
        CommitRequest {
            group_id: "g".into(),
            generation_id: 1,
            member_id: "m1".into(),
            group_instance_id: None,
            api_version: 9,
            offsets: vec![("t".into(), 2, 7, 0, None)],
        },
    );
    let records = g.snapshot_records();
    let mut again = Groups::new(GroupConfig::default());
    for r in &records {
        again.replay(0, &r.key, r.value.as_deref());
    }
    assert_eq!(again.fetch_offsets("g", None)[0].offset, 7);
    let group = again.group("g").unwrap();
    assert_eq!(
        (group.state, group.generation_id, group.leader_id.as_deref()),
        (GroupState::Stable, 1, Some("m1"))
    );
    // The restored member keeps heartbeating with its generation.
    assert_eq!(heartbeat(&mut again, 10, "g", "m1", 1), None);
    // Tombstones delete.
    again.replay(0, &records::group_key("g"), None);
    assert!(again.group("g").is_none());
}

#[test]
fn delete_only_empty_groups() {
    let mut g = Groups::new(GroupConfig::default());
    join_and_sync(&mut g, 0, "g", "m1");
    assert_eq!(g.delete("g").0, Some(ErrorCode::NonEmptyGroup));
    assert_eq!(g.delete("nope").0, Some(ErrorCode::GroupIdNotFound));
    g.leave(
        0,
        0,
        1,
        LeaveRequest {
            group_id: "g".into(),
            members: vec![("m1".into(), None)],
        },
    );
    let (e, records) = g.delete("g");
    assert_eq!(e, None);
    assert!(!records.is_empty());
}
