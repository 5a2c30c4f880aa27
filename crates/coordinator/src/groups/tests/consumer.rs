//! KIP-848 consumer groups: joins, assignment spread, revocation before reassignment,
//! epochs, static members, leaving, sessions and revocation timeouts on manual time, and a
//! seeded simulation whose invariants hold after every step.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::*;
use crate::consumer_group::{TopicId, TopicsView};

const T1: TopicId = [1; 16];
const T2: TopicId = [2; 16];
const HB_SESSION: i32 = 10_000;

fn view(topics: &[(&str, TopicId, i32)]) -> TopicsView {
    TopicsView {
        topics: topics
            .iter()
            .map(|(n, id, p)| ((*n).to_string(), (*id, *p)))
            .collect(),
    }
}

fn beat(group: &str, member: &str, epoch: i32) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        version: 1,
        group_id: group.into(),
        member_id: member.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: -1,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: HB_SESSION,
        heartbeat_interval_ms: 500,
        ..ConsumerHeartbeat::default()
    }
}

fn join(group: &str, member: &str, topics: &[&str]) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        rebalance_timeout_ms: 30_000,
        subscribed_topic_names: Some(topics.iter().map(|t| (*t).to_string()).collect()),
        owned: Some(Vec::new()),
        ..beat(group, member, 0)
    }
}

fn owned(list: &Option<Vec<(TopicId, Vec<i32>)>>) -> usize {
    list.as_ref()
        .map_or(0, |l| l.iter().map(|(_, p)| p.len()).sum())
}

/// A member that heartbeats with what it owns.
fn again(
    g: &mut Groups,
    now: i64,
    v: &TopicsView,
    member: &str,
    epoch: i32,
    own: &[(TopicId, Vec<i32>)],
) -> ConsumerHeartbeatResponse {
    let mut b = beat("g", member, epoch);
    b.owned = Some(own.to_vec());
    g.consumer_heartbeat(now, now, b, v)
}

#[test]
fn first_member_gets_every_partition_at_epoch_1() {
    let mut g = Groups::new(GroupConfig::default());
    let v = view(&[("a", T1, 3)]);
    let r = g.consumer_heartbeat(0, 0, join("g", "m1", &["a"]), &v);
    assert_eq!(r.error, None);
    assert_eq!(r.member_id, "m1");
    assert_eq!(r.member_epoch, 1);
    assert_eq!(r.heartbeat_interval_ms, 500);
    assert_eq!(r.assignment, Some(vec![(T1, vec![0, 1, 2])]));
    // A heartbeat owning exactly that gets no assignment back.
    let r = again(&mut g, 1, &v, "m1", 1, &[(T1, vec![0, 1, 2])]);
    assert_eq!((r.error, r.member_epoch, r.assignment), (None, 1, None));
    let d = g.consumer_describe("g");
    assert_eq!(d.state, "Stable");
    assert_eq!((d.group_epoch, d.assignment_epoch), (1, 1));
    assert_eq!(d.assignor, "uniform");
    let listed = g.list(&[], &["consumer".into()]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].group_type, "consumer");
    assert!(g.list(&[], &["classic".into()]).is_empty());
}

#[test]
fn a_second_member_waits_until_the_first_revokes() {
    let mut g = Groups::new(GroupConfig::default());
    let v = view(&[("a", T1, 4)]);
    g.consumer_heartbeat(0, 0, join("g", "m1", &["a"]), &v);
    let r2 = g.consumer_heartbeat(1, 1, join("g", "m2", &["a"]), &v);
    // m2 is at the new epoch but its target partitions are still m1's.
    assert_eq!(r2.member_epoch, 2);
    assert_eq!(owned(&r2.assignment), 0);
    // m1 learns it must give up two partitions; its epoch stays until it does.
    let r1 = again(&mut g, 2, &v, "m1", 1, &[(T1, vec![0, 1, 2, 3])]);
    assert_eq!(r1.member_epoch, 1);
    assert_eq!(owned(&r1.assignment), 2);
    let kept = r1.assignment.clone().unwrap();
    // m2 still gets nothing while m1 holds them.
    let r2 = again(&mut g, 3, &v, "m2", 2, &[]);
    assert_eq!(owned(&r2.assignment), 0);
    assert_eq!(g.consumer_describe("g").state, "Reconciling");
    // m1 acknowledges the revocation: it moves to epoch 2; then m2 gets the two.
    let r1 = again(&mut g, 4, &v, "m1", 1, &kept);
    assert_eq!(r1.member_epoch, 2);
    let r2 = again(&mut g, 5, &v, "m2", 2, &[]);
    assert_eq!(owned(&r2.assignment), 2);
    let mine = r2.assignment.clone().unwrap();
    assert!(mine[0].1.iter().all(|p| !kept[0].1.contains(p)));
    again(&mut g, 6, &v, "m2", 2, &mine);
    assert_eq!(g.consumer_describe("g").state, "Stable");
    g.check_invariants().unwrap();
}

#[test]
fn epochs_are_checked() {
    let mut g = Groups::new(GroupConfig::default());
    let v = view(&[("a", T1, 2)]);
    g.consumer_heartbeat(0, 0, join("g", "m1", &["a"]), &v);
    let r = again(&mut g, 1, &v, "m1", 7, &[]);
    assert_eq!(r.error, Some(ErrorCode::FencedMemberEpoch));
    let r = again(&mut g, 1, &v, "nobody", 1, &[]);
    assert_eq!(r.error, Some(ErrorCode::UnknownMemberId));
    let r = again(&mut g, 1, &v, "m1", 1, &[(T1, vec![0, 1])]);
    assert_eq!(r.error, None);
    // Offsets are committed at the member's current epoch only.
    let commit = |epoch: i32, version: i16| CommitRequest {
        group_id: "g".into(),
        generation_id: epoch,
        member_id: "m1".into(),
        api_version: version,
        offsets: vec![("a".into(), 0, 5, -1, None)],
        ..CommitRequest::default()
    };
    let code = |out: Outputs| match &out.replies[0].1 {
        Reply::Commit(c) => c.errors[0].2,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        code(g.commit(2, 2, 1, commit(0, 9))),
        Some(ErrorCode::StaleMemberEpoch)
    );
    assert_eq!(
        code(g.commit(2, 2, 2, commit(1, 8))),
        Some(ErrorCode::UnsupportedVersion)
    );
    let out = g.commit(2, 2, 3, commit(1, 9));
    assert_eq!(out.records.len(), 1);
    assert_eq!(code(out), None);
    // OffsetFetch v9: a member that names itself is checked the same way.
    assert_eq!(g.validate_offset_fetch("g", None, -1), None);
    assert_eq!(g.validate_offset_fetch("g", Some("m1"), 1), None);
    assert_eq!(
        g.validate_offset_fetch("g", Some("m1"), 0),
        Some(ErrorCode::StaleMemberEpoch)
    );
    assert_eq!(
        g.validate_offset_fetch("g", Some("nobody"), 1),
        Some(ErrorCode::UnknownMemberId)
    );
    assert_eq!(g.validate_offset_fetch("other", Some("m1"), 0), None);
}

#[test]
fn requests_are_validated_as_kafka_does() {
    let mut g = Groups::new(GroupConfig::default());
    let v = view(&[("a", T1, 2)]);
    let mut no_timeout = join("g", "m1", &["a"]);
    no_timeout.rebalance_timeout_ms = -1;
    let mut bad_regex = join("g", "m1", &[]);
    bad_regex.subscribed_topic_names = None;
    bad_regex.subscribed_topic_regex = Some("(".into());
    let mut assignor = join("g", "m1", &["a"]);
    assignor.server_assignor = Some("sticky".into());
    let mut owning = join("g", "m1", &["a"]);
    owning.owned = Some(vec![(T1, vec![0])]);
    let mut no_id = join("g", "", &["a"]);
    no_id.version = 1;
    for (req, code) in [
        (no_timeout, ErrorCode::InvalidRequest),
        (bad_regex, ErrorCode::InvalidRegularExpression),
        (assignor, ErrorCode::UnsupportedAssignor),
        (owning, ErrorCode::InvalidRequest),
        (no_id, ErrorCode::InvalidRequest),
        (beat("g", "m1", -3), ErrorCode::InvalidRequest),
    ] {
        let r = g.consumer_heartbeat(0, 0, req, &v);
        assert_eq!(r.error, Some(code), "{r:?}");
        assert!(r.error_message.is_some());
    }
    assert!(g.group("g").is_none(), "a refused join creates no group");
    // v0: the coordinator makes the member id.
    let mut v0 = join("g", "", &["a"]);
    v0.version = 0;
    v0.new_member_id = "made-here".into();
    let r = g.consumer_heartbeat(0, 0, v0, &v);
    assert_eq!((r.error, r.member_id.as_str()), (None, "made-here"));
}

#[test]
fn classic_and_consumer_groups_do_not_mix_while_they_have_members() {
    let mut g = Groups::new(GroupConfig::default());
    let v = view(&[("a", T1, 2)]);
    g.consumer_heartbeat(0, 0, join("g", "m1", &["a"]), &v);
    let out = g.join(0, 0, 1, join_req("g", "", "classic-1"));
    assert_eq!(
        join_reply(&out, 1).unwrap().error,
        Some(ErrorCode::InconsistentGroupProtocol)
    );
    // Once empty, a classic member may take the group over (and back).
    let r = g.consumer_heartbeat(1, 1, beat("g", "m1", -1), &v);
    assert_eq!((r.error, r.member_epoch), (None, -1));
    let out = g.join(2, 2, 2, join_req("g", "", "classic-1"));
    assert_eq!(
        join_reply(&out, 2).unwrap().error,
        Some(ErrorCode::MemberIdRequired)
    );
    assert!(!g.group("g").unwrap().is_consumer());
    // A classic group with members refuses consumer members.
    let mut g = Groups::new(GroupConfig::default());
    let (_, _) = (
        g.join(0, 0, 1, join_req("c", "", "x")),
        g.join(0, 0, 2, join_req("c", "x", "")),
    );
    let r = g.consumer_heartbeat(0, 0, join("c", "m1", &["a"]), &v);
    assert_eq!(r.error, Some(ErrorCode::GroupIdNotFound));
}

#[test]
fn sessions_and_revocation_deadlines_expire_on_manual_time() {
    let mut g = Groups::new(GroupConfig::default());
    let v = view(&[("a", T1, 4)]);
    g.consumer_heartbeat(0, 0, join("g", "m1", &["a"]), &v);
    g.consumer_heartbeat(0, 0, join("g", "m2", &["a"]), &v);
    assert_eq!(g.next_deadline(), Some(i64::from(HB_SESSION)));
    // m1 is told to revoke and never does: it is fenced after its rebalance timeout (30 s)
    // — but its session (10 s) ends first unless it keeps heartbeating without revoking.
    let mut now = 0;
    let r = again(&mut g, now, &v, "m1", 1, &[(T1, vec![0, 1, 2, 3])]);
    assert_eq!(owned(&r.assignment), 2);
    while now < 31_000 {
        now += 5_000;
        again(&mut g, now, &v, "m1", 1, &[(T1, vec![0, 1, 2, 3])]);
        again(&mut g, now, &v, "m2", 2, &[]);
        g.tick(now, now);
    }
    assert!(g
        .consumer_describe("g")
        .members
        .iter()
        .all(|m| m.member_id != "m1"));
    let d = g.consumer_describe("g");
    assert_eq!(d.members.len(), 1);
    assert!(d.members[0].member_epoch > 2);
    assert_eq!(d.members[0].assignment, vec![(T1, vec![0, 1, 2, 3])]);
    // m2 goes silent: its session ends and the group is empty.
    g.tick(now + i64::from(HB_SESSION), now + i64::from(HB_SESSION));
    assert_eq!(g.consumer_describe("g").state, "Empty");
    g.check_invariants().unwrap();
}

#[test]
fn a_static_member_comes_back_to_its_partitions() {
    let mut g = Groups::new(GroupConfig::default());
    let v = view(&[("a", T1, 2), ("b", T2, 2)]);
    let mut s = join("g", "s1", &["a", "b"]);
    s.instance_id = Some("host-1".into());
    let r = g.consumer_heartbeat(0, 0, s, &v);
    let epoch = r.member_epoch;
    let mine = r.assignment.unwrap();
    let mut leave = beat("g", "s1", -2);
    leave.instance_id = Some("host-1".into());
    let r = g.consumer_heartbeat(1, 1, leave, &v);
    assert_eq!((r.error, r.member_epoch), (None, -2));
    // Another process with the same instance id while it is still in: refused.
    let mut other = join("g", "s2", &["a", "b"]);
    other.instance_id = Some("host-1".into());
    let r = g.consumer_heartbeat(2, 2, other.clone(), &v);
    assert_eq!(
        r.error, None,
        "the instance left with -2, so it may come back"
    );
    assert_eq!(r.member_epoch, epoch);
    assert_eq!(r.assignment.unwrap(), mine);
    let mut third = other;
    third.member_id = "s3".into();
    let r = g.consumer_heartbeat(3, 3, third, &v);
    assert_eq!(r.error, Some(ErrorCode::UnreleasedInstanceId));
    g.check_invariants().unwrap();
}

#[test]
fn uniform_and_range_spread_partitions() {
    use crate::consumer_group::assignors::{range, uniform, MemberSpec};
    let topics: BTreeSet<TopicId> = [T1].into_iter().collect();
    let parts: BTreeMap<TopicId, i32> = [(T1, 6)].into_iter().collect();
    let specs = |n: usize| -> Vec<String> { (0..n).map(|i| format!("m{i}")).collect() };
    for n in 1..=7 {
        let ids = specs(n);
        let members: Vec<MemberSpec<'_>> = ids
            .iter()
            .map(|id| MemberSpec {
                member_id: id,
                instance_id: None,
                topics: topics.clone(),
                previous: None,
            })
            .collect();
        for out in [uniform(&members, &parts), range(&members, &parts)] {
            let counts: Vec<usize> = out
                .values()
                .map(|a| a.values().map(BTreeSet::len).sum())
                .collect();
            assert_eq!(counts.iter().sum::<usize>(), 6);
            let (lo, hi) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
            assert!(hi - lo <= 1, "{n} members: {counts:?}");
        }
    }
    // Uniform is sticky: a 4th member takes from the others, who keep the rest.
    let ids = specs(4);
    let three: Vec<MemberSpec<'_>> = ids[..3]
        .iter()
        .map(|id| MemberSpec {
            member_id: id,
            instance_id: None,
            topics: topics.clone(),
            previous: None,
        })
        .collect();
    let before = uniform(&three, &parts);
    let four: Vec<MemberSpec<'_>> = ids
        .iter()
        .map(|id| MemberSpec {
            member_id: id,
            instance_id: None,
            topics: topics.clone(),
            previous: before.get(id),
        })
        .collect();
    let after = uniform(&four, &parts);
    for id in &ids[..3] {
        let was = &before[id][&T1];
        let now = after[id].get(&T1).cloned().unwrap_or_default();
        assert!(now.is_subset(was), "{id} moved: {was:?} -> {now:?}");
    }
}

/// A simulated client: what it owns as it believes (it starts fetching a partition when an
/// assignment gives it and stops when one takes it away or its session is lost).
#[derive(Default)]
struct Client {
    /// Each process of this client slot joins under a new member id.
    incarnation: u32,
    epoch: i32,
    owns: BTreeMap<TopicId, BTreeSet<i32>>,
    last_ok: i64,
    alive: bool,
    joined: bool,
}

#[test]
fn seeded_consumer_simulation_keeps_invariants() {
    let (mut gained, mut revoked) = (0, 0);
    for seed in 1..=25u64 {
        let (g, r) = simulate(seed);
        gained += g;
        revoked += r;
    }
    // The runs move partitions around, both ways.
    assert!(
        gained > 2000 && revoked > 150,
        "gained {gained}, revoked {revoked}"
    );
}

/// Members join, heartbeat, change subscriptions, leave and die while topics grow and time
/// jumps. After every step: the coordinator's invariants hold, and no partition is fetched
/// by two live clients at once (a revoked partition is not fetched once its revocation is
/// acknowledged, since only then is it given to another). Returns how many assignments
/// gave a client partitions and how many took some away.
fn simulate(seed: u64) -> (usize, usize) {
    let (mut gained, mut revoked) = (0, 0);
    let mut next = xorshift(seed);
    let mut g = Groups::new(GroupConfig::default());
    let mut topics = [("a".to_string(), T1, 3), ("b".to_string(), T2, 2)];
    let mut clients: HashMap<String, Client> = HashMap::new();
    let mut now = 0i64;
    for step in 0..1500 {
        let v = view(
            &topics
                .iter()
                .map(|(n, id, p)| (n.as_str(), *id, *p))
                .collect::<Vec<_>>(),
        );
        let slot = format!("m{}", next(6));
        let c = clients.entry(slot.clone()).or_insert_with(|| Client {
            alive: true,
            ..Client::default()
        });
        if !c.alive && next(4) == 0 {
            // A new process for this slot.
            c.incarnation += 1;
            c.alive = true;
            c.joined = false;
        }
        let id = format!("{slot}-{}", c.incarnation);
        let action = next(10);
        let req = match action {
            _ if !c.alive => None,
            0 => {
                c.alive = false; // dies silently, keeps nothing
                c.owns.clear();
                None
            }
            1 if c.joined => Some(beat("g", &id, -1)),
            2 | 3 if !c.joined => {
                let subs: &[&str] = match next(3) {
                    0 => &["a"],
                    1 => &["b"],
                    _ => &["a", "b"],
                };
                Some(join("g", &id, subs))
            }
            4 if c.joined => {
                let mut b = beat("g", &id, c.epoch);
                b.subscribed_topic_names = Some(
                    if next(2) == 0 {
                        vec!["a"]
                    } else {
                        vec!["a", "b"]
                    }
                    .into_iter()
                    .map(String::from)
                    .collect(),
                );
                b.owned = Some(
                    c.owns
                        .iter()
                        .map(|(t, p)| (*t, p.iter().copied().collect()))
                        .collect(),
                );
                Some(b)
            }
            _ if c.joined => {
                let mut b = beat("g", &id, c.epoch);
                b.owned = Some(
                    c.owns
                        .iter()
                        .map(|(t, p)| (*t, p.iter().copied().collect()))
                        .collect(),
                );
                Some(b)
            }
            _ => None,
        };
        if let Some(req) = req {
            let leaving = req.member_epoch == -1;
            let r = g.consumer_heartbeat(now, now, req, &v);
            match r.error {
                None if leaving => {
                    c.joined = false;
                    c.owns.clear();
                }
                None => {
                    c.joined = true;
                    c.epoch = r.member_epoch;
                    c.last_ok = now;
                    if let Some(a) = r.assignment {
                        let new: BTreeMap<TopicId, BTreeSet<i32>> = a
                            .into_iter()
                            .map(|(t, p)| (t, p.into_iter().collect()))
                            .collect();
                        if new
                            .iter()
                            .any(|(t, p)| c.owns.get(t).is_none_or(|o| !p.is_subset(o)))
                        {
                            gained += 1;
                        }
                        if c.owns
                            .iter()
                            .any(|(t, p)| new.get(t).is_none_or(|n| !p.is_subset(n)))
                        {
                            revoked += 1;
                        }
                        c.owns = new;
                    }
                }
                Some(ErrorCode::UnknownMemberId | ErrorCode::FencedMemberEpoch) => {
                    c.joined = false;
                    c.owns.clear();
                }
                Some(e) => panic!("seed {seed} step {step}: unexpected {e:?}"),
            }
        }
        if next(40) == 0 && topics[0].2 < 8 {
            topics[0].2 += 1; // partitions added
        }
        now += [0, 100, 700, 3_000, 12_000][usize::try_from(next(5)).unwrap()];
        g.tick(now, now);
        g.check_invariants()
            .unwrap_or_else(|e| panic!("seed {seed} step {step}: {e}"));
        // A client that has not been heard for a session drops what it owns (as clients do
        // when their heartbeats fail for that long).
        for cl in clients.values_mut() {
            if cl.joined && now - cl.last_ok >= i64::from(HB_SESSION) {
                cl.owns.clear();
                cl.joined = false;
            }
        }
        let mut seen: HashMap<(TopicId, i32), &str> = HashMap::new();
        for (cid, cl) in &clients {
            if !cl.alive || !cl.joined {
                continue;
            }
            for (t, parts) in &cl.owns {
                for p in parts {
                    if let Some(other) = seen.insert((*t, *p), cid) {
                        panic!(
                            "seed {seed} step {step}: partition {p} fetched by {other} and {cid}"
                        );
                    }
                }
            }
        }
    }
    (gained, revoked)
}

#[test]
fn a_new_regex_matches_from_the_next_heartbeat_on() {
    let mut g = Groups::new(GroupConfig::default());
    let v = view(&[("a", T1, 2), ("re-1", T2, 3)]);
    let mut j = join("g", "m1", &["a"]);
    j.subscribed_topic_regex = Some("re-.*".into());
    let r = g.consumer_heartbeat(0, 0, j, &v);
    // The named topic at once, as Kafka (its regexes resolve off the heartbeat path).
    assert_eq!(r.assignment, Some(vec![(T1, vec![0, 1])]));
    let r = again(&mut g, 1, &v, "m1", r.member_epoch, &[(T1, vec![0, 1])]);
    assert_eq!(
        r.assignment,
        Some(vec![(T1, vec![0, 1]), (T2, vec![0, 1, 2])])
    );
    let d = g.consumer_describe("g");
    assert_eq!(
        d.members[0].subscribed_topic_regex.as_deref(),
        Some("re-.*")
    );
    // Once its last subscriber left, the regex is new again to whoever subscribes with it.
    let r = g.consumer_heartbeat(2, 2, beat("g", "m1", -1), &v);
    assert_eq!(r.error, None);
    let mut j = join("g", "m2", &["a"]);
    j.subscribed_topic_regex = Some("re-.*".into());
    let r = g.consumer_heartbeat(3, 3, j, &v);
    assert_eq!(r.assignment, Some(vec![(T1, vec![0, 1])]));
}
