//! Idempotent-producer state of one partition: for each producer id, its epoch and the last
//! [`PRODUCER_BATCHES_RETAINED`] batches' sequence ranges and offsets (Kafka's
//! `ProducerStateEntry`). A retried batch is recognised and answered with its original
//! offset instead of being written twice; a gap in sequences is refused.

use std::collections::{HashMap, VecDeque};

use crate::batch::{increment_sequence, BatchHeader, NO_SEQUENCE};
use crate::limits::{PRODUCERS_PER_PARTITION_MAX, PRODUCER_BATCHES_RETAINED};
use crate::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMetadata {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub base_offset: i64,
    pub last_offset: i64,
    pub timestamp: i64,
}

/// What DescribeProducers reports of one producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveProducer {
    pub producer_id: i64,
    pub epoch: i16,
    pub last_sequence: i32,
    pub last_timestamp: i64,
    /// First offset of its open transaction on this partition, -1 when none.
    pub current_txn_start_offset: i64,
}

#[derive(Debug, Clone)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMetadata>,
    last_used: u64,
    /// The largest timestamp of the producer's last batch or transaction marker (Kafka's
    /// `lastTimestamp`: a marker's is the coordinator's time of writing it).
    last_timestamp: i64,
}

/// What to do with an incoming batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceCheck {
    /// New data: append it.
    Append,
    /// Already written: answer with the original metadata.
    Duplicate(BatchMetadata),
}

#[derive(Debug, Default)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
    clock: u64,
}

impl ProducerStates {
    /// Checks `header` (an idempotent batch) against the producer's state.
    ///
    /// # Errors
    /// A stale epoch, or a sequence that is neither the next one nor a retained duplicate.
    pub fn check(&self, header: &BatchHeader) -> Result<SequenceCheck, Error> {
        let producer_id = header.producer_id;
        let Some(entry) = self.producers.get(&producer_id) else {
            if header.base_sequence != 0 && header.base_sequence != NO_SEQUENCE {
                return Err(Error::OutOfOrderSequence {
                    producer_id,
                    expected: 0,
                    received: header.base_sequence,
                });
            }
            return Ok(SequenceCheck::Append);
        };
        if header.producer_epoch < entry.epoch {
            return Err(Error::InvalidProducerEpoch {
                producer_id,
                epoch: header.producer_epoch,
                current: entry.epoch,
            });
        }
        if header.producer_epoch > entry.epoch {
            if header.base_sequence != 0 {
                return Err(Error::OutOfOrderSequence {
                    producer_id,
                    expected: 0,
                    received: header.base_sequence,
                });
            }
            return Ok(SequenceCheck::Append);
        }
        let first = header.base_sequence;
        let last = header.last_sequence();
        if let Some(dup) = entry
            .batches
            .iter()
            .find(|b| b.first_sequence == first && b.last_sequence == last)
        {
            return Ok(SequenceCheck::Duplicate(*dup));
        }
        let expected = entry
            .batches
            .back()
            .map_or(0, |b| increment_sequence(b.last_sequence, 1));
        if first != expected {
            return Err(Error::OutOfOrderSequence {
                producer_id,
                expected,
                received: first,
            });
        }
        Ok(SequenceCheck::Append)
    }

    /// Records a batch that was written (or found in the log during a rebuild). A transaction
    /// marker with a newer epoch moves the producer to it (KIP-890 transactions v2 writes
    /// markers with the epoch bumped, so a late batch of the ended transaction is fenced
    /// here), and its next batch starts at sequence 0.
    pub fn update(&mut self, header: &BatchHeader) {
        let marker = header.is_control();
        if header.producer_id < 0 || (!marker && header.base_sequence == NO_SEQUENCE) {
            return;
        }
        self.clock += 1;
        let clock = self.clock;
        let entry = self
            .producers
            .entry(header.producer_id)
            .or_insert_with(|| ProducerEntry {
                epoch: header.producer_epoch,
                batches: VecDeque::new(),
                last_used: clock,
                last_timestamp: -1,
            });
        if header.producer_epoch > entry.epoch {
            entry.epoch = header.producer_epoch;
            entry.batches.clear();
        }
        entry.last_used = clock;
        entry.last_timestamp = header.max_timestamp;
        if !marker {
            entry.batches.push_back(BatchMetadata {
                first_sequence: header.base_sequence,
                last_sequence: header.last_sequence(),
                base_offset: header.base_offset,
                last_offset: header.last_offset(),
                timestamp: header.max_timestamp,
            });
            while entry.batches.len() > PRODUCER_BATCHES_RETAINED {
                entry.batches.pop_front();
            }
        }
        self.evict_beyond_limit();
    }

    /// Forgets the least recently used producer when there are more than
    /// [`PRODUCERS_PER_PARTITION_MAX`].
    fn evict_beyond_limit(&mut self) {
        if self.producers.len() > PRODUCERS_PER_PARTITION_MAX {
            if let Some(oldest) = self
                .producers
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(id, _)| *id)
            {
                self.producers.remove(&oldest);
            }
        }
    }

    /// Every producer with its epoch, last sequence (-1 for a producer whose epoch a marker
    /// moved on, with no batch since: Kafka's `NO_SEQUENCE`) and the timestamp of its last
    /// batch or marker, by producer id.
    pub fn active(&self) -> Vec<ActiveProducer> {
        let mut v: Vec<ActiveProducer> = self
            .producers
            .iter()
            .map(|(id, e)| ActiveProducer {
                producer_id: *id,
                epoch: e.epoch,
                last_sequence: e.batches.back().map_or(-1, |b| b.last_sequence),
                last_timestamp: e.last_timestamp,
                current_txn_start_offset: -1,
            })
            .collect();
        v.sort_by_key(|p| p.producer_id);
        v
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32, base_offset: i64) -> BatchHeader {
        BatchHeader {
            base_offset,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: count,
        }
    }

    #[test]
    fn in_order_then_duplicate_then_gap() {
        let mut s = ProducerStates::default();
        assert_eq!(
            s.check(&header(1, 0, 0, 3, 0)).unwrap(),
            SequenceCheck::Append
        );
        s.update(&header(1, 0, 0, 3, 0));
        assert_eq!(
            s.check(&header(1, 0, 3, 2, 0)).unwrap(),
            SequenceCheck::Append
        );
        s.update(&header(1, 0, 3, 2, 3));
        assert!(matches!(
            s.check(&header(1, 0, 0, 3, 0)).unwrap(),
            SequenceCheck::Duplicate(BatchMetadata {
                base_offset: 0,
                last_offset: 2,
                ..
            })
        ));
        assert!(matches!(
            s.check(&header(1, 0, 9, 1, 0)),
            Err(Error::OutOfOrderSequence {
                expected: 5,
                received: 9,
                ..
            })
        ));
    }

    #[test]
    fn stale_epoch_is_fenced_and_new_epoch_restarts_at_zero() {
        let mut s = ProducerStates::default();
        s.update(&header(1, 3, 0, 1, 0));
        assert!(matches!(
            s.check(&header(1, 2, 1, 1, 0)),
            Err(Error::InvalidProducerEpoch { .. })
        ));
        assert!(s.check(&header(1, 4, 5, 1, 0)).is_err());
        assert_eq!(
            s.check(&header(1, 4, 0, 1, 0)).unwrap(),
            SequenceCheck::Append
        );
    }

    #[test]
    fn a_marker_with_a_newer_epoch_fences_the_old_one() {
        let mut s = ProducerStates::default();
        s.update(&header(1, 4, 0, 3, 0));
        // A transactions-v1 marker at the same epoch changes nothing: sequences go on.
        let mut marker = header(1, 4, NO_SEQUENCE, 1, 3);
        marker.attributes |= 0x30; // transactional, control
        marker.max_timestamp = 77;
        s.update(&marker);
        assert!(s.check(&header(1, 4, 3, 1, 4)).is_ok());
        // A v2 marker at epoch 5: epoch 4 is stale, and epoch 5 starts at sequence 0.
        marker.producer_epoch = 5;
        s.update(&marker);
        assert!(matches!(
            s.check(&header(1, 4, 3, 1, 4)),
            Err(Error::InvalidProducerEpoch { .. })
        ));
        assert!(matches!(
            s.check(&header(1, 5, 3, 1, 4)),
            Err(Error::OutOfOrderSequence { expected: 0, .. })
        ));
        assert!(s.check(&header(1, 5, 0, 1, 4)).is_ok());
        let active = s.active();
        assert_eq!(
            (
                active[0].epoch,
                active[0].last_sequence,
                active[0].last_timestamp
            ),
            (5, -1, 77),
            "the marker's time is the producer's last"
        );
    }

    #[test]
    fn unknown_producer_must_start_at_zero() {
        let s = ProducerStates::default();
        assert!(s.check(&header(7, 0, 4, 1, 0)).is_err());
    }

    #[test]
    fn only_five_batches_are_retained() {
        let mut s = ProducerStates::default();
        for i in 0..7 {
            s.update(&header(1, 0, i, 1, i64::from(i)));
        }
        assert!(s.check(&header(1, 0, 1, 1, 0)).is_err());
        assert!(matches!(
            s.check(&header(1, 0, 2, 1, 0)),
            Ok(SequenceCheck::Duplicate(_))
        ));
    }
}
