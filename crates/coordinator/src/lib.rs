//! Sans-I/O coordinators: they take `(now, request)` and return what to reply and what to
//! persist; the server performs the I/O and reads the clock. Consumer groups ([`groups`],
//! [`group`]), transactions ([`transactions`]) and producer ids live here.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod consumer_group;
pub mod group;
pub mod groups;
pub mod producer_ids;
pub mod records;
pub mod transactions;

pub use producer_ids::ProducerIds;

/// Name of Kafka's internal offsets topic.
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
