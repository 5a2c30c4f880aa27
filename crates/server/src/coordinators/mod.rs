//! The actors that run the coordinators of `strom-coordinator`: each owns its state machine,
//! takes typed messages through a bounded mailbox, performs the I/O the state machine asks for
//! (on the blocking pool, never holding a lock across it) and reads time from the broker's
//! clock.

pub mod groups;
pub mod internal_log;
pub mod transactions;

use std::sync::Arc;

use strom_cluster::legacy::{TxnRecord, TxnState as Legacy};
use strom_coordinator::groups::Groups;
use strom_coordinator::transactions::{
    Transactions, TxnConfig, TxnMetadata, TxnOffset, TxnState, TRANSACTION_STATE_TOPIC,
};
use strom_coordinator::{ProducerIds, OFFSETS_TOPIC};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::metadata::Metadata;
use crate::topics::Topics;
use groups::GroupCoordinator;
use internal_log::InternalTopic;
use transactions::{TxnContext, TxnCoordinator};

/// The running coordinators.
#[derive(Debug)]
pub struct Coordinators {
    pub groups: GroupCoordinator,
    pub txns: TxnCoordinator,
    pub tasks: Vec<JoinHandle<()>>,
}

/// Loads the groups from `__consumer_offsets` and the transactions from
/// `__transaction_state` (moving in those an earlier Strom kept in its metadata log), then
/// starts both actors.
///
/// # Errors
/// The internal topics cannot be read or written.
pub async fn start(
    topics: &Arc<Topics>,
    metadata: &Arc<Metadata>,
    config: &Config,
    legacy_transactions: Vec<TxnRecord>,
    clock: &Clock,
    shutdown: &CancellationToken,
) -> Result<Coordinators, String> {
    let mut adopt_legacy = false;
    let offsets_log = InternalTopic {
        name: OFFSETS_TOPIC,
        partitions: config.groups.offsets_partitions,
        segment_bytes: config.offsets_topic_segment_bytes,
        metadata: Arc::clone(metadata),
    };
    let txn_log = InternalTopic {
        name: TRANSACTION_STATE_TOPIC,
        partitions: config.txns.log_partitions,
        segment_bytes: config.transaction_state_segment_bytes,
        metadata: Arc::clone(metadata),
    };
    // Empty rather than missing: a crash between creating the topic and writing to it must
    // not lose them.
    let txn_log_empty = topics
        .get(TRANSACTION_STATE_TOPIC)
        .is_none_or(|t| t.partitions.iter().all(|p| p.offsets().1 == 0));
    if !legacy_transactions.is_empty() && txn_log_empty {
        // A data directory of an earlier Strom kept transactions in its metadata file; they
        // move into the topic, created for them.
        txn_log.ensure(topics).await?;
        adopt_legacy = true;
    }
    let loaded = {
        let (topics, config, clock) = (Arc::clone(topics), config.clone(), clock.clone());
        let (offsets_log, txn_log) = (offsets_log.clone(), txn_log.clone());
        tokio::task::spawn_blocking(move || {
            let legacy = if adopt_legacy {
                legacy_transactions
            } else {
                Vec::new()
            };
            load(&topics, &config, &offsets_log, &txn_log, legacy, &clock)
        })
        .await
        .map_err(|e| e.to_string())??
    };
    let (groups, txns) = loaded;
    let (groups, group_task) = GroupCoordinator::start(
        Arc::clone(topics),
        groups,
        offsets_log,
        clock.clone(),
        shutdown.clone(),
    );
    let (txns, txn_task) = TxnCoordinator::start(
        txns,
        TxnContext {
            topics: Arc::clone(topics),
            log: txn_log,
            groups: groups.clone(),
            clock: clock.clone(),
            metadata: Arc::clone(metadata),
            broker_id: config.node_id,
        },
        shutdown.clone(),
    );
    Ok(Coordinators {
        groups,
        txns,
        tasks: vec![group_task, txn_task],
    })
}

/// Replays both internal topics (blocking).
fn load(
    topics: &Topics,
    config: &Config,
    offsets_log: &InternalTopic,
    txn_log: &InternalTopic,
    legacy: Vec<TxnRecord>,
    clock: &Clock,
) -> Result<(Groups, Transactions), String> {
    let mut groups = Groups::new(config.groups.clone());
    let replayed = groups::replay(topics, offsets_log, &mut groups, clock.monotonic_ms());
    if replayed > 0 {
        tracing::info!(
            records = replayed,
            groups = groups.group_ids().len(),
            "replayed {OFFSETS_TOPIC}"
        );
    }
    let txn_config = TxnConfig {
        offsets_partitions: config.groups.offsets_partitions,
        ..config.txns.clone()
    };
    let mut txns = Transactions::new(txn_config, ProducerIds::new());
    if !legacy.is_empty() {
        let records: Vec<_> = legacy
            .into_iter()
            .map(|t| txns.adopt(adopted(t)))
            .map(|r| (r.partition, r.key, r.value))
            .collect();
        if !txn_log.append(topics, &records, clock.wall_ms()) {
            return Err(format!(
                "cannot move the transactions of the metadata log into {TRANSACTION_STATE_TOPIC}"
            ));
        }
        tracing::info!(
            transactions = records.len(),
            "moved the metadata log's transactions into {TRANSACTION_STATE_TOPIC}"
        );
    } else {
        let replayed = transactions::replay(topics, txn_log, &mut txns);
        if replayed > 0 {
            tracing::info!(records = replayed, "replayed {TRANSACTION_STATE_TOPIC}");
        }
    }
    Ok((groups, txns))
}

/// A transaction as an earlier Strom kept it in its metadata file.
fn adopted(t: TxnRecord) -> TxnMetadata {
    TxnMetadata {
        transactional_id: t.transactional_id,
        producer_id: t.producer_id,
        producer_epoch: t.epoch,
        timeout_ms: t.timeout_ms,
        state: match t.state {
            Legacy::Empty => TxnState::Empty,
            Legacy::Ongoing => TxnState::Ongoing,
            Legacy::PrepareCommit => TxnState::PrepareCommit,
            Legacy::PrepareAbort => TxnState::PrepareAbort,
            Legacy::CompleteCommit => TxnState::CompleteCommit,
            Legacy::CompleteAbort => TxnState::CompleteAbort,
        },
        partitions: t.partitions,
        offsets: t
            .offsets
            .into_iter()
            .map(|(group, offsets)| {
                let offsets = offsets
                    .into_iter()
                    .map(|o| TxnOffset {
                        topic: o.topic,
                        partition: o.partition,
                        offset: o.offset,
                        leader_epoch: o.leader_epoch,
                        metadata: o.metadata,
                    })
                    .collect();
                (group, offsets)
            })
            .collect(),
        start_ms: t.start_ms,
        last_update_ms: t.updated_ms,
        pending: false,
        prev_producer_id: -1,
        next_producer_id: -1,
        client_tv: 0,
    }
}
