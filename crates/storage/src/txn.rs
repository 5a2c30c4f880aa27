//! Transactions as a partition log sees them: transactional data batches open a producer's
//! transaction at their first offset; a control batch (the coordinator's COMMIT or ABORT
//! marker) closes it. From that follow the last stable offset (LSO: the first offset of the
//! oldest open transaction, else the log end) that `read_committed` consumers stop at, and
//! the aborted transactions a Fetch response lists so those consumers skip aborted records.
//!
//! The index is rebuilt from batch headers (and the one record of each control batch) on
//! first use after start-up, like the idempotent-producer state, so a clean start does no
//! work proportional to data.

use std::collections::BTreeMap;

use crate::batch::{self, varint, BatchHeader, HEADER_BYTES};

/// Control record types (Kafka's `ControlRecordType`).
pub const CONTROL_ABORT: i16 = 0;
pub const CONTROL_COMMIT: i16 = 1;

/// An aborted transaction: the producer, its first offset and the offset of its ABORT marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// Open and aborted transactions of one partition.
#[derive(Debug, Default, Clone)]
pub struct TxnIndex {
    /// producer id -> first offset of its open transaction.
    ongoing: BTreeMap<i64, i64>,
    /// In marker order (so by `last_offset`).
    aborted: Vec<AbortedTxn>,
}

impl TxnIndex {
    /// Accounts for one batch written at `header.base_offset`; `control` is the control
    /// record type of a control batch.
    pub fn on_batch(&mut self, header: &BatchHeader, control: Option<i16>) {
        if !header.is_transactional() || header.producer_id < 0 {
            return;
        }
        if header.is_control() {
            let first = self.ongoing.remove(&header.producer_id);
            if control == Some(CONTROL_ABORT) {
                if let Some(first_offset) = first {
                    self.aborted.push(AbortedTxn {
                        producer_id: header.producer_id,
                        first_offset,
                        last_offset: header.base_offset,
                    });
                }
            }
        } else {
            self.ongoing
                .entry(header.producer_id)
                .or_insert(header.base_offset);
        }
    }

    /// The last stable offset given the log end.
    pub fn last_stable_offset(&self, log_end: i64) -> i64 {
        self.ongoing
            .values()
            .copied()
            .min()
            .unwrap_or(log_end)
            .min(log_end)
    }

    /// The first offset of `producer_id`'s open transaction here.
    pub fn open_since(&self, producer_id: i64) -> Option<i64> {
        self.ongoing.get(&producer_id).copied()
    }

    /// Whether `producer_id` has an open transaction here.
    pub fn is_open(&self, producer_id: i64) -> bool {
        self.open_since(producer_id).is_some()
    }

    /// Aborted transactions overlapping `[from, to)`, as a Fetch response lists them.
    pub fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < to)
            .copied()
            .collect()
    }

    /// Every aborted transaction known, in marker order.
    pub fn aborted(&self) -> &[AbortedTxn] {
        &self.aborted
    }

    /// Forgets aborted transactions wholly below the log start.
    pub fn trim_before(&mut self, log_start: i64) {
        self.aborted.retain(|a| a.last_offset >= log_start);
    }
}

/// The control record type of a control batch (its one record's key: version, type).
pub fn control_type(batch_bytes: &[u8]) -> Option<i16> {
    let records = batch::parse_records(batch_bytes.get(HEADER_BYTES..)?)?;
    let key = records.first()?.key?;
    let t = key.get(2..4)?;
    Some(i16::from_be_bytes([*t.first()?, *t.get(1)?]))
}

/// A COMMIT or ABORT marker for `producer_id`/`epoch` (base offset 0: the log assigns it).
pub fn control_batch(
    producer_id: i64,
    epoch: i16,
    commit: bool,
    coordinator_epoch: i32,
    timestamp: i64,
) -> Vec<u8> {
    let kind = if commit {
        CONTROL_COMMIT
    } else {
        CONTROL_ABORT
    };
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&kind.to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let mut record = vec![0u8]; // attributes
    varint(0, &mut record); // timestamp delta
    varint(0, &mut record); // offset delta
    varint(i64::try_from(key.len()).unwrap_or(0), &mut record);
    record.extend_from_slice(&key);
    varint(i64::try_from(value.len()).unwrap_or(0), &mut record);
    record.extend_from_slice(&value);
    varint(0, &mut record); // no headers
    let mut body = Vec::new();
    varint(i64::try_from(record.len()).unwrap_or(0), &mut body);
    body.extend_from_slice(&record);

    batch::assemble(
        batch::ATTR_TRANSACTIONAL | batch::ATTR_CONTROL,
        0,
        timestamp,
        timestamp,
        (producer_id, epoch, -1),
        1,
        &body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_valid_control_batches() {
        let b = control_batch(7, 2, true, 0, 1000);
        let h = batch::check_framing(&b).unwrap();
        assert!(h.is_control() && h.is_transactional());
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.records_count),
            (7, 2, 1)
        );
        assert_eq!(control_type(&b), Some(CONTROL_COMMIT));
        let b = control_batch(7, 2, false, 0, 1000);
        assert_eq!(control_type(&b), Some(CONTROL_ABORT));
    }

    #[test]
    fn lso_and_aborted_ranges_follow_markers() {
        let header = |offset: i64, pid: i64, control: bool| BatchHeader {
            base_offset: offset,
            batch_length: 0,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: if control { 0x30 } else { 0x10 },
            last_offset_delta: 0,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: 0,
            records_count: 1,
        };
        let mut idx = TxnIndex::default();
        idx.on_batch(&header(10, 1, false), None);
        idx.on_batch(&header(11, 2, false), None);
        idx.on_batch(&header(12, 1, false), None);
        assert_eq!(idx.last_stable_offset(13), 10);
        idx.on_batch(&header(13, 1, true), Some(CONTROL_ABORT));
        assert_eq!(idx.last_stable_offset(14), 11);
        idx.on_batch(&header(14, 2, true), Some(CONTROL_COMMIT));
        assert_eq!(idx.last_stable_offset(15), 15);
        assert_eq!(
            idx.aborted_between(0, 15),
            vec![AbortedTxn {
                producer_id: 1,
                first_offset: 10,
                last_offset: 13
            }]
        );
        assert!(idx.aborted_between(14, 20).is_empty());
    }
}
