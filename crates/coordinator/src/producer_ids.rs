//! Producer-id allocation for InitProducerId. Ids are handed out from blocks of
//! [`BLOCK_SIZE`] whose end is persisted before the first id of the block is used (as Kafka's
//! `ProducerIdManager` reserves blocks from the controller), so a restart never reuses an id.

/// Ids reserved per persisted block: Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`.
pub const BLOCK_SIZE: i64 = 1000;

/// The outcome of [`ProducerIds::allocate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    pub producer_id: i64,
    /// When set, persist "next block starts at this id" BEFORE handing out `producer_id`.
    pub persist_next_block: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ProducerIds {
    next: i64,
    block_end: i64,
}

impl ProducerIds {
    /// Starts from the persisted end of the last reserved block (0 on a new broker).
    pub fn new(persisted_block_end: i64) -> Self {
        let start = persisted_block_end.max(0);
        Self {
            next: start,
            block_end: start,
        }
    }

    /// The next producer id. Ids exhaust at `i64::MAX`, which no broker reaches.
    pub fn allocate(&mut self) -> Allocation {
        let mut persist = None;
        if self.next >= self.block_end {
            self.block_end = self.next.saturating_add(BLOCK_SIZE);
            persist = Some(self.block_end);
        }
        let producer_id = self.next;
        self.next = self.next.saturating_add(1);
        Allocation {
            producer_id,
            persist_next_block: persist,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_id_reserves_a_block() {
        let mut ids = ProducerIds::new(0);
        assert_eq!(
            ids.allocate(),
            Allocation {
                producer_id: 0,
                persist_next_block: Some(1000)
            }
        );
        assert_eq!(
            ids.allocate(),
            Allocation {
                producer_id: 1,
                persist_next_block: None
            }
        );
    }

    #[test]
    fn restart_continues_after_the_persisted_block() {
        let mut ids = ProducerIds::new(0);
        for _ in 0..5 {
            ids.allocate();
        }
        let mut again = ProducerIds::new(1000);
        assert_eq!(again.allocate().producer_id, 1000);
    }

    #[test]
    fn block_boundary_persists_the_next_block() {
        let mut ids = ProducerIds::new(0);
        for _ in 0..BLOCK_SIZE {
            ids.allocate();
        }
        assert_eq!(
            ids.allocate(),
            Allocation {
                producer_id: 1000,
                persist_next_block: Some(2000)
            }
        );
    }
}
