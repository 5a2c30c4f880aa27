//! A seeded simulation: members join, sync, heartbeat, leave and vanish while the clock
//! jumps; every group's invariants hold after every step.

use super::*;

#[test]
fn seeded_simulation_keeps_invariants() {
    for seed in 1..=20u64 {
        simulate(seed);
    }
}

/// Seeded random simulation: members join, sync, heartbeat, commit, leave and vanish
/// while time jumps; invariants are checked after every step.
fn simulate(seed: u64) {
    let mut next = xorshift(seed);
    let mut g = Groups::new(GroupConfig::default());
    let mut now = 0i64;
    let mut token = 100u64;
    let mut known: Vec<(String, String)> = Vec::new(); // (group, member)
    let mut last_generation: HashMap<String, i32> = HashMap::new();
    let mut pending: Vec<Completion> = Vec::new();
    for step in 0..2000 {
        token += 1;
        let group = format!("g{}", next(3));
        let out = match next(7) {
            0 => {
                let id = format!("m{token}");
                let out = g.join(now, now, token, join_req(&group, "", &id));
                if join_reply(&out, token)
                    .is_some_and(|j| j.error == Some(ErrorCode::MemberIdRequired))
                {
                    known.push((group.clone(), id));
                }
                out
            }
            1 if !known.is_empty() => {
                let (gr, m) = known[usize::try_from(next(known.len() as u64)).unwrap()].clone();
                g.join(now, now, token, join_req(&gr, &m, ""))
            }
            2 if !known.is_empty() => {
                let (gr, m) = known[usize::try_from(next(known.len() as u64)).unwrap()].clone();
                let generation = g.group(&gr).map_or(0, |x| x.generation_id);
                g.sync(
                    now,
                    token,
                    SyncRequest {
                        group_id: gr,
                        generation_id: generation,
                        member_id: m.clone(),
                        assignments: vec![(m, Bytes::from_static(b"x"))],
                        ..SyncRequest::default()
                    },
                )
            }
            3 if !known.is_empty() => {
                let (gr, m) = known[usize::try_from(next(known.len() as u64)).unwrap()].clone();
                let generation = g.group(&gr).map_or(0, |x| x.generation_id);
                g.heartbeat(
                    now,
                    token,
                    HeartbeatRequest {
                        group_id: gr,
                        generation_id: generation,
                        member_id: m,
                        group_instance_id: None,
                    },
                )
            }
            4 if !known.is_empty() => {
                let i = usize::try_from(next(known.len() as u64)).unwrap();
                let (gr, m) = known.remove(i);
                g.leave(
                    now,
                    now,
                    token,
                    LeaveRequest {
                        group_id: gr,
                        members: vec![(m, None)],
                    },
                )
            }
            5 if !known.is_empty() => {
                let (gr, m) = known[usize::try_from(next(known.len() as u64)).unwrap()].clone();
                let generation = g.group(&gr).map_or(-1, |x| x.generation_id);
                g.commit(
                    now,
                    now,
                    token,
                    CommitRequest {
                        group_id: gr,
                        generation_id: generation,
                        member_id: m,
                        group_instance_id: None,
                        api_version: 9,
                        offsets: vec![("t".into(), 0, i64::from(step), 0, None)],
                    },
                )
            }
            _ => {
                now += i64::try_from(next(15_000)).unwrap();
                g.tick(now, now)
            }
        };
        // Stores complete later, sometimes failing, while other requests go on.
        pending.extend(out.completions);
        if next(3) == 0 {
            for c in std::mem::take(&mut pending) {
                let ok = next(5) != 0;
                let more = g.stored(now, now, c, ok);
                assert!(more.completions.is_empty());
            }
        }
        if let Err(e) = g.check_invariants() {
            panic!("seed {seed} step {step}: {e}");
        }
        for id in g.group_ids() {
            let generation = g.group(&id).map_or(0, |x| x.generation_id);
            let last = last_generation.entry(id.clone()).or_insert(generation);
            assert!(
                generation >= *last,
                "seed {seed} step {step}: generation of {id} went back"
            );
            *last = generation;
        }
    }
}
