//! Replica placement, after Kafka's assignment of replicas to brokers: brokers are listed
//! alternating between racks; partition `p`'s first replica is the broker at
//! `(start + p) mod n`, its followers come at a shift from it that grows by one every `n`
//! partitions (so that leaders and followers both spread), and a follower's broker is moved
//! forward until it sits in a rack the partition does not use yet (while there is one).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use strom_codec::ErrorCode;

use super::{ApiError, Outcome};
use crate::image::MetadataImage;

/// A broker that can take replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerSlot {
    pub id: i32,
    /// `broker.rack`; brokers without one share a rack.
    pub rack: Option<String>,
}

/// The brokers new replicas may go to: registered and not fenced, by id.
pub(super) fn usable_brokers(image: &MetadataImage) -> Vec<BrokerSlot> {
    image
        .brokers
        .values()
        .filter(|b| !b.fenced)
        .map(|b| BrokerSlot {
            id: b.broker_id,
            rack: b.rack.clone(),
        })
        .collect()
}

/// `brokers` (by id) reordered to alternate between racks: the first of each rack, then the
/// second of each, and so on.
fn rack_alternated(brokers: &[BrokerSlot]) -> Vec<&BrokerSlot> {
    let mut by_rack: BTreeMap<Option<&str>, Vec<&BrokerSlot>> = BTreeMap::new();
    let mut sorted: Vec<&BrokerSlot> = brokers.iter().collect();
    sorted.sort_by_key(|b| b.id);
    for b in sorted {
        by_rack.entry(b.rack.as_deref()).or_default().push(b);
    }
    let mut out = Vec::with_capacity(brokers.len());
    for round in 0..brokers.len() {
        for rack in by_rack.values() {
            if let Some(b) = rack.get(round) {
                out.push(*b);
            }
        }
        if out.len() == brokers.len() {
            break;
        }
    }
    out
}

/// Replicas for `partitions` (their indexes) of a topic with `replication` replicas each;
/// `seed` picks where the spread starts.
///
/// # Errors
/// INVALID_REPLICATION_FACTOR when there are fewer usable brokers than replicas.
pub fn place_replicas(
    brokers: &[BrokerSlot],
    partitions: Range<i32>,
    replication: i16,
    seed: usize,
) -> Outcome<Vec<Vec<i32>>> {
    let wanted = usize::try_from(replication).unwrap_or(0);
    if wanted == 0 || wanted > brokers.len() {
        return Err(ApiError::new(
            ErrorCode::InvalidReplicationFactor,
            format!(
                "unable to replicate the partition {replication} time(s): the target replication factor of {replication} cannot be reached because only {} broker(s) are registered",
                brokers.len()
            ),
        ));
    }
    let list = rack_alternated(brokers);
    let n = list.len();
    let racks: BTreeSet<Option<&str>> = list.iter().map(|b| b.rack.as_deref()).collect();
    let start = seed % n;
    let mut shift = (seed / n) % n;
    let mut out = Vec::new();
    for p in partitions {
        let k = usize::try_from(p).unwrap_or(0);
        if k > 0 && k % n == 0 {
            shift += 1;
        }
        let first = (start + k) % n;
        let mut chosen: Vec<usize> = vec![first];
        for j in 0..wanted - 1 {
            let step = 1 + (shift + j) % (n - 1).max(1);
            let candidate = (first + step) % n;
            let used: BTreeSet<Option<&str>> = chosen
                .iter()
                .filter_map(|i| list.get(*i))
                .map(|b| b.rack.as_deref())
                .collect();
            let all_racks_used = used.len() == racks.len();
            let pick = (0..n)
                .map(|d| (candidate + d) % n)
                .find(|i| {
                    !chosen.contains(i)
                        && (all_racks_used
                            || list
                                .get(*i)
                                .is_some_and(|b| !used.contains(&b.rack.as_deref())))
                })
                .or_else(|| {
                    (0..n)
                        .map(|d| (candidate + d) % n)
                        .find(|i| !chosen.contains(i))
                });
            match pick {
                Some(i) => chosen.push(i),
                None => break,
            }
        }
        out.push(
            chosen
                .into_iter()
                .filter_map(|i| list.get(i).map(|b| b.id))
                .collect(),
        );
    }
    Ok(out)
}
