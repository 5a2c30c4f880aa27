//! Producer ids for InitProducerId, handed out from blocks of [`BLOCK_SIZE`] that the
//! controller reserves in the metadata log before any id of them is used (Kafka's
//! `ProducerIdManager` and `AllocateProducerIds`), so a restart never hands an id out twice.
//! The next block is asked for while the current one still has a tenth left, so that
//! allocation does not wait for the metadata log in the steady state.

use std::ops::Range;

/// Ids reserved per block: Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`.
pub const BLOCK_SIZE: i64 = 1000;
/// Ids left in the current block when the next one is asked for (Kafka prefetches at 90 %).
const PREFETCH_AT: i64 = BLOCK_SIZE / 10;

#[derive(Debug, Clone, Default)]
pub struct ProducerIds {
    /// Ids not handed out yet of the current block.
    current: Range<i64>,
    /// The block after it, when it arrived early.
    next_block: Option<Range<i64>>,
    /// A block was asked for and has not arrived.
    requested: bool,
}

impl ProducerIds {
    /// No block yet: the first [`ProducerIds::next_id`] waits for one.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next id, or `None` until a block arrives.
    pub fn next_id(&mut self) -> Option<i64> {
        if self.current.is_empty() {
            self.current = self.next_block.take()?;
        }
        let id = self.current.start;
        self.current.start += 1;
        Some(id)
    }

    /// Whether an id can be handed out now.
    pub fn has_id(&self) -> bool {
        !self.current.is_empty() || self.next_block.is_some()
    }

    /// Whether a block should be asked for now.
    pub fn wants_block(&self) -> bool {
        !self.requested
            && self.next_block.is_none()
            && self.current.end - self.current.start <= PREFETCH_AT
    }

    /// A block was asked for.
    pub fn block_requested(&mut self) {
        self.requested = true;
    }

    /// The block asked for could not be reserved: it may be asked for again.
    pub fn block_failed(&mut self) {
        self.requested = false;
    }

    /// The controller reserved `start..start + len`.
    ///
    /// # Panics
    /// The block overlaps ids already handed out or held: the controller hands out each id
    /// once, and two producers with one id would corrupt each other's sequences and
    /// transactions, so this stops the broker rather than serve them.
    pub fn add_block(&mut self, start: i64, len: i64) {
        self.requested = false;
        let held_end = self
            .next_block
            .as_ref()
            .map_or(self.current.end, |b| b.end.max(self.current.end));
        assert!(
            start >= held_end,
            "producer-id block {start}+{len} overlaps ids held up to {held_end}"
        );
        let block = start..start.saturating_add(len.max(0));
        if self.current.is_empty() {
            self.current = block;
        } else {
            self.next_block = Some(block);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "overlaps")]
    fn a_block_overlapping_ids_held_stops_the_broker() {
        let mut ids = ProducerIds::new();
        ids.add_block(1000, BLOCK_SIZE);
        ids.add_block(1500, BLOCK_SIZE);
    }

    #[test]
    fn ids_come_from_blocks_in_order() {
        let mut ids = ProducerIds::new();
        assert_eq!(ids.next_id(), None, "no block yet");
        assert!(ids.wants_block());
        ids.block_requested();
        assert!(!ids.wants_block(), "one request at a time");
        ids.add_block(0, BLOCK_SIZE);
        assert_eq!(ids.next_id(), Some(0));
        assert_eq!(ids.next_id(), Some(1));
        assert!(!ids.wants_block());
    }

    #[test]
    fn the_next_block_is_asked_for_early_and_used_after_the_current() {
        let mut ids = ProducerIds::new();
        ids.add_block(0, BLOCK_SIZE);
        for _ in 0..(BLOCK_SIZE - PREFETCH_AT) {
            ids.next_id();
        }
        assert!(ids.wants_block(), "a tenth left");
        ids.block_requested();
        ids.add_block(5000, BLOCK_SIZE);
        for expected in (BLOCK_SIZE - PREFETCH_AT)..BLOCK_SIZE {
            assert_eq!(ids.next_id(), Some(expected));
        }
        assert_eq!(ids.next_id(), Some(5000), "then the next block");
    }

    #[test]
    fn a_failed_request_may_be_made_again() {
        let mut ids = ProducerIds::new();
        ids.block_requested();
        ids.block_failed();
        assert!(ids.wants_block());
    }
}
