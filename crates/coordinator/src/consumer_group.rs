//! One consumer group of the KIP-848 protocol (`ConsumerGroupHeartbeat`): its members, the
//! group epoch, the target assignment the server-side assignor computed for it, and each
//! member's reconciliation towards its target.
//!
//! # Epochs
//! - The **group epoch** goes up whenever what the assignment depends on changes: a member
//!   joins or leaves, a subscription or assignor changes, or a subscribed topic appears,
//!   disappears or grows.
//! - The **assignment epoch** is the group epoch the target assignment was computed for; it
//!   catches up with the group epoch on the next heartbeat.
//! - A **member epoch** reaches the assignment epoch once the member revoked what it must
//!   give up (Kafka's `CurrentAssignmentBuilder`).
//!
//! # Member states (Kafka's `MemberState`)
//! | state | meaning | leaves it when |
//! |---|---|---|
//! | Stable | the member owns its target (at the assignment epoch) | the target changes |
//! | UnrevokedPartitions | it must revoke `pending_revocation` first; its epoch stays | a heartbeat's owned partitions no longer hold them (or the rebalance timeout fences it) |
//! | UnreleasedPartitions | it is at the assignment epoch but some target partitions are still owned by others | those are released |
//!
//! Invariants (checked by [`ConsumerGroup::check_invariants`] after every call in debug
//! builds and by the simulation): a partition is owned (assigned or pending revocation) by at
//! most one member; no member epoch is above the assignment epoch, nor the assignment epoch
//! above the group epoch; a Stable member owns exactly its target; every static instance id
//! maps to a member carrying it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A topic id (Kafka's topic UUID, as its 16 bytes).
pub type TopicId = [u8; 16];
/// Partitions by topic id.
pub type Assignment = BTreeMap<TopicId, BTreeSet<i32>>;

/// Member epoch a member sends to join.
pub const JOIN_EPOCH: i32 = 0;
/// Member epoch a member sends to leave.
pub const LEAVE_EPOCH: i32 = -1;
/// Member epoch a static member sends to leave for a while (it keeps its assignment until
/// its session expires).
pub const STATIC_LEAVE_EPOCH: i32 = -2;

/// The topics a group's subscriptions resolve against (the server's metadata, passed in).
#[derive(Debug, Clone, Default)]
pub struct TopicsView {
    /// name → (id, partition count).
    pub topics: BTreeMap<String, (TopicId, i32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberState {
    Stable,
    UnrevokedPartitions,
    UnreleasedPartitions,
}

impl MemberState {
    /// Kafka's name for it (ConsumerGroupDescribe does not carry it; logs do).
    pub fn name(self) -> &'static str {
        match self {
            MemberState::Stable => "STABLE",
            MemberState::UnrevokedPartitions => "UNREVOKED_PARTITIONS",
            MemberState::UnreleasedPartitions => "UNRELEASED_PARTITIONS",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ConsumerMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub member_epoch: i32,
    pub previous_epoch: i32,
    pub state: MemberState,
    pub rebalance_timeout_ms: i32,
    pub subscribed_names: Vec<String>,
    pub subscribed_regex: Option<String>,
    pub server_assignor: Option<String>,
    /// What the member owns now.
    pub assigned: Assignment,
    /// What it must give up before it gets more.
    pub pending_revocation: Assignment,
    /// Monotonic ms after which the member is removed.
    pub session_deadline: i64,
    /// Monotonic ms by which it must have revoked `pending_revocation`.
    pub revocation_deadline: Option<i64>,
    /// Left with epoch -2 (static): kept, with its assignment, until its session expires or
    /// its instance rejoins (its member epoch is then -2).
    pub static_left: bool,
}

impl ConsumerMember {
    pub fn new(member_id: &str) -> Self {
        Self {
            member_id: member_id.into(),
            instance_id: None,
            rack_id: None,
            client_id: String::new(),
            client_host: String::new(),
            member_epoch: 0,
            previous_epoch: 0,
            state: MemberState::Stable,
            rebalance_timeout_ms: 0,
            subscribed_names: Vec::new(),
            subscribed_regex: None,
            server_assignor: None,
            assigned: Assignment::new(),
            pending_revocation: Assignment::new(),
            session_deadline: 0,
            revocation_deadline: None,
            static_left: false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ConsumerGroup {
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub members: BTreeMap<String, ConsumerMember>,
    /// instance id → member id.
    pub static_members: HashMap<String, String>,
    /// The target assignment (at `assignment_epoch`) by member id.
    pub target: HashMap<String, Assignment>,
    /// The assignor that computed the target.
    pub assignor: String,
    /// The subscribed topics' metadata the target was computed from: (name, id, partitions).
    pub subscribed_metadata: Vec<(String, TopicId, i32)>,
    /// Each subscribed regex and the topics it matched when last resolved.
    pub resolved_regex: BTreeMap<String, BTreeSet<String>>,
    /// The subscribed regexes, compiled.
    pub compiled_regex: HashMap<String, regex::Regex>,
    /// Each regex as the last heartbeat resolved it: in use from the next heartbeat on.
    pub pending_regex: BTreeMap<String, BTreeSet<String>>,
}

impl ConsumerGroup {
    /// Kafka's group state names (`ConsumerGroupState`).
    pub fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.assignment_epoch < self.group_epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| m.member_epoch != self.assignment_epoch || m.state != MemberState::Stable)
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    /// The topics the members subscribe to, by name or through a resolved regex.
    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for m in self.members.values() {
            out.extend(self.member_topics(m));
        }
        out
    }

    /// One member's subscribed topic names (its names and its regex's matches).
    pub fn member_topics(&self, m: &ConsumerMember) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = m.subscribed_names.iter().cloned().collect();
        if let Some(matched) = m
            .subscribed_regex
            .as_ref()
            .and_then(|r| self.resolved_regex.get(r))
        {
            out.extend(matched.iter().cloned());
        }
        out
    }

    /// Who owns `(topic, partition)` (assigned or pending revocation), other than `except`.
    pub fn owner_other_than(&self, topic: &TopicId, partition: i32, except: &str) -> bool {
        self.members.iter().any(|(id, m)| {
            id != except
                && (m
                    .assigned
                    .get(topic)
                    .is_some_and(|p| p.contains(&partition))
                    || m.pending_revocation
                        .get(topic)
                        .is_some_and(|p| p.contains(&partition)))
        })
    }

    /// Removes a member (and its static binding); the caller bumps the group epoch.
    pub fn remove_member(&mut self, member_id: &str) -> Option<ConsumerMember> {
        let m = self.members.remove(member_id)?;
        if let Some(instance) = &m.instance_id {
            if self
                .static_members
                .get(instance)
                .is_some_and(|id| id == member_id)
            {
                self.static_members.remove(instance);
            }
        }
        self.target.remove(member_id);
        // A regex nobody subscribes with any more is forgotten (Kafka tombstones its
        // resolution): subscribing with it again resolves it anew.
        let used: BTreeSet<&String> = self
            .members
            .values()
            .filter_map(|o| o.subscribed_regex.as_ref())
            .collect();
        self.resolved_regex.retain(|re, _| used.contains(re));
        self.pending_regex.retain(|re, _| used.contains(re));
        self.compiled_regex.retain(|re, _| used.contains(re));
        Some(m)
    }

    /// Moves `member_id` one step towards its target (Kafka's `CurrentAssignmentBuilder`):
    /// `owned` is what the member's heartbeat says it owns (`None`: not said).
    pub fn reconcile(&mut self, member_id: &str, owned: Option<&Assignment>, now: i64) {
        let Some(m) = self.members.get(member_id) else {
            return;
        };
        let target_epoch = self.assignment_epoch;
        match m.state {
            MemberState::Stable if m.member_epoch == target_epoch => {}
            MemberState::UnrevokedPartitions => {
                if !still_owns(owned, &m.pending_revocation) {
                    self.next_assignment(member_id, owned, now);
                }
            }
            MemberState::Stable | MemberState::UnreleasedPartitions => {
                self.next_assignment(member_id, owned, now);
            }
        }
    }

    /// Kafka's `computeNextAssignment`: keep what stays in the target, revoke the rest
    /// first (while the member still owns it), then take what others have released.
    fn next_assignment(&mut self, member_id: &str, owned: Option<&Assignment>, now: i64) {
        let Some(m) = self.members.get(member_id) else {
            return;
        };
        let empty = Assignment::new();
        let target = self.target.get(member_id).unwrap_or(&empty);
        let mut retained = Assignment::new();
        let mut revoked = Assignment::new();
        let mut gained = Assignment::new();
        let mut unreleased = false;
        let topics: BTreeSet<&TopicId> = target.keys().chain(m.assigned.keys()).collect();
        for topic in topics {
            let current = m.assigned.get(topic).cloned().unwrap_or_default();
            let wanted = target.get(topic).cloned().unwrap_or_default();
            for p in &current {
                if wanted.contains(p) {
                    retained.entry(*topic).or_default().insert(*p);
                } else {
                    revoked.entry(*topic).or_default().insert(*p);
                }
            }
            for p in wanted.difference(&current) {
                if self.owner_other_than(topic, *p, member_id) {
                    unreleased = true;
                } else {
                    gained.entry(*topic).or_default().insert(*p);
                }
            }
        }
        let target_epoch = self.assignment_epoch;
        let Some(m) = self.members.get_mut(member_id) else {
            return;
        };
        if !revoked.is_empty() && still_owns(owned, &revoked) {
            m.assigned = retained;
            m.pending_revocation = revoked;
            m.state = MemberState::UnrevokedPartitions;
            if m.revocation_deadline.is_none() {
                m.revocation_deadline = Some(now + i64::from(m.rebalance_timeout_ms.max(0)));
            }
            return;
        }
        for (topic, parts) in gained {
            retained.entry(topic).or_default().extend(parts);
        }
        m.assigned = retained;
        m.pending_revocation.clear();
        m.revocation_deadline = None;
        if m.member_epoch != target_epoch {
            m.previous_epoch = m.member_epoch;
            m.member_epoch = target_epoch;
        }
        m.state = if unreleased {
            MemberState::UnreleasedPartitions
        } else {
            MemberState::Stable
        };
    }

    /// Checks the documented invariants; `Err` names the first broken one.
    pub fn check_invariants(&self, group_id: &str) -> Result<(), String> {
        if self.assignment_epoch > self.group_epoch {
            return Err(format!(
                "{group_id}: assignment epoch {} above group epoch {}",
                self.assignment_epoch, self.group_epoch
            ));
        }
        let mut owners: HashMap<(TopicId, i32), &str> = HashMap::new();
        for (id, m) in &self.members {
            if m.member_epoch > self.assignment_epoch {
                return Err(format!(
                    "{group_id}: member {id} at epoch {} above the assignment epoch {}",
                    m.member_epoch, self.assignment_epoch
                ));
            }
            for (topic, parts) in m.assigned.iter().chain(m.pending_revocation.iter()) {
                for p in parts {
                    if let Some(other) = owners.insert((*topic, *p), id) {
                        return Err(format!(
                            "{group_id}: partition {p} of {topic:?} owned by {other} and {id}"
                        ));
                    }
                }
            }
            if m.state == MemberState::Stable
                && m.member_epoch == self.assignment_epoch
                && !m.static_left
            {
                let empty = Assignment::new();
                let target = self.target.get(id).unwrap_or(&empty);
                if !same(&m.assigned, target) {
                    return Err(format!(
                        "{group_id}: member {id} is stable without its target"
                    ));
                }
            }
        }
        for (instance, member_id) in &self.static_members {
            let bound = self
                .members
                .get(member_id)
                .and_then(|m| m.instance_id.as_deref());
            if bound != Some(instance.as_str()) {
                return Err(format!(
                    "{group_id}: static instance {instance} maps to {member_id}, not a member with it"
                ));
            }
        }
        Ok(())
    }
}

/// Whether two assignments hold the same partitions (empty topics ignored).
pub fn same(a: &Assignment, b: &Assignment) -> bool {
    let non_empty = |x: &Assignment| -> Vec<(TopicId, BTreeSet<i32>)> {
        x.iter()
            .filter(|(_, p)| !p.is_empty())
            .map(|(t, p)| (*t, p.clone()))
            .collect()
    };
    non_empty(a) == non_empty(b)
}

/// Whether a member that says it owns `owned` (`None`: did not say) still holds any of
/// `revoked`.
fn still_owns(owned: Option<&Assignment>, revoked: &Assignment) -> bool {
    owned.is_none_or(|o| overlaps(o, revoked))
}

/// Whether `a` and `b` share a partition.
pub fn overlaps(a: &Assignment, b: &Assignment) -> bool {
    a.iter().any(|(t, parts)| {
        b.get(t)
            .is_some_and(|other| parts.iter().any(|p| other.contains(p)))
    })
}

/// The server-side assignors (`group.consumer.assignors`).
pub mod assignors {
    use super::{Assignment, BTreeMap, BTreeSet, TopicId};

    /// What an assignor sees of one member.
    pub struct MemberSpec<'a> {
        pub member_id: &'a str,
        pub instance_id: Option<&'a str>,
        pub topics: BTreeSet<TopicId>,
        /// The member's previous target (for stickiness).
        pub previous: Option<&'a Assignment>,
    }

    /// Names of the assignors Strom has, the default first (as Kafka's default
    /// `group.consumer.assignors` = uniform, range).
    pub const KNOWN: &[&str] = &["uniform", "range"];

    /// Runs assignor `name` (one of [`KNOWN`]; anything else is `uniform`).
    pub fn assign(
        name: &str,
        members: &[MemberSpec<'_>],
        partitions: &BTreeMap<TopicId, i32>,
    ) -> BTreeMap<String, Assignment> {
        if name == "range" {
            range(members, partitions)
        } else {
            uniform(members, partitions)
        }
    }

    /// Per topic, its partitions in contiguous ranges over the members subscribed to it
    /// (static members first by instance id, then by member id); the first
    /// `partitions % members` get one more. Not sticky, as Kafka's.
    pub fn range(
        members: &[MemberSpec<'_>],
        partitions: &BTreeMap<TopicId, i32>,
    ) -> BTreeMap<String, Assignment> {
        let mut out: BTreeMap<String, Assignment> = members
            .iter()
            .map(|m| (m.member_id.to_string(), Assignment::new()))
            .collect();
        for (topic, count) in partitions {
            // Static members first (by instance id), then the others by member id.
            let mut sorted: Vec<&MemberSpec<'_>> = members
                .iter()
                .filter(|m| m.topics.contains(topic))
                .collect();
            sorted.sort_by_key(|m| (m.instance_id.is_none(), m.instance_id, m.member_id));
            let subscribers: Vec<&str> = sorted.iter().map(|m| m.member_id).collect();
            let n = i32::try_from(subscribers.len()).unwrap_or(i32::MAX);
            if n == 0 {
                continue;
            }
            let (each, extra) = (count / n, count % n);
            let mut next = 0;
            for (i, member) in (0..).zip(subscribers) {
                let take = each + i32::from(i < extra);
                let parts = out.entry(member.to_string()).or_default();
                let set = parts.entry(*topic).or_default();
                set.extend(next..next + take);
                next += take;
            }
        }
        out
    }

    /// Balanced and sticky: every partition goes to a subscribed member; a member keeps
    /// what its previous target gave it while that keeps the counts within one of each
    /// other among members that could take the partition; the rest goes to the least loaded.
    pub fn uniform(
        members: &[MemberSpec<'_>],
        partitions: &BTreeMap<TopicId, i32>,
    ) -> BTreeMap<String, Assignment> {
        let mut sorted: Vec<&MemberSpec<'_>> = members.iter().collect();
        sorted.sort_by(|a, b| a.member_id.cmp(b.member_id));
        let mut owner: BTreeMap<(TopicId, i32), usize> = BTreeMap::new();
        let mut counts = vec![0usize; sorted.len()];
        // Partitions each member may take.
        let all: Vec<(TopicId, i32)> = partitions
            .iter()
            .flat_map(|(t, n)| (0..*n).map(move |p| (*t, p)))
            .collect();
        let eligible = |i: usize, t: &TopicId| sorted.get(i).is_some_and(|m| m.topics.contains(t));
        // Sticky: keep previous ownership, up to a fair share (of what each could take).
        let total_eligible: usize = all
            .iter()
            .filter(|(t, _)| (0..sorted.len()).any(|i| eligible(i, t)))
            .count();
        let fair = total_eligible.div_ceil(sorted.len().max(1));
        for (i, m) in sorted.iter().enumerate() {
            let Some(prev) = m.previous else { continue };
            for (t, parts) in prev {
                if !m.topics.contains(t) {
                    continue;
                }
                let count = partitions.get(t).copied().unwrap_or(0);
                for p in parts {
                    let slot = counts.get(i).copied().unwrap_or(usize::MAX);
                    if *p < count && slot < fair && !owner.contains_key(&(*t, *p)) {
                        owner.insert((*t, *p), i);
                        if let Some(c) = counts.get_mut(i) {
                            *c += 1;
                        }
                    }
                }
            }
        }
        // The rest: to the least loaded eligible member (ties by member id).
        for (t, p) in &all {
            if owner.contains_key(&(*t, *p)) {
                continue;
            }
            let best = (0..sorted.len())
                .filter(|i| eligible(*i, t))
                .min_by_key(|i| (counts.get(*i).copied().unwrap_or(usize::MAX), *i));
            if let Some(i) = best {
                owner.insert((*t, *p), i);
                if let Some(c) = counts.get_mut(i) {
                    *c += 1;
                }
            }
        }
        // Balance: move a partition from a member that has two more than an eligible one.
        // Each move lowers the sum of squared counts, so this ends; bounded all the same.
        for _ in 0..all.len().saturating_mul(2) {
            let mut moved = false;
            let keys: Vec<(TopicId, i32)> = owner.keys().copied().collect();
            for key in keys {
                let Some(from) = owner.get(&key).copied() else {
                    continue;
                };
                let from_count = counts.get(from).copied().unwrap_or(0);
                let to = (0..sorted.len())
                    .filter(|i| eligible(*i, &key.0))
                    .min_by_key(|i| (counts.get(*i).copied().unwrap_or(usize::MAX), *i));
                if let Some(to) = to {
                    if counts.get(to).copied().unwrap_or(usize::MAX) + 1 < from_count {
                        owner.insert(key, to);
                        if let Some(c) = counts.get_mut(from) {
                            *c -= 1;
                        }
                        if let Some(c) = counts.get_mut(to) {
                            *c += 1;
                        }
                        moved = true;
                    }
                }
            }
            if !moved {
                break;
            }
        }
        let mut out: BTreeMap<String, Assignment> = sorted
            .iter()
            .map(|m| (m.member_id.to_string(), Assignment::new()))
            .collect();
        for ((t, p), i) in owner {
            if let Some(m) = sorted.get(i) {
                out.entry(m.member_id.to_string())
                    .or_default()
                    .entry(t)
                    .or_default()
                    .insert(p);
            }
        }
        out
    }
}
