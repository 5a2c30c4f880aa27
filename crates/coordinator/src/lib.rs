//! Sans-I/O coordinators: they take `(now, request)` and return what to reply and what to
//! persist; the server performs the I/O. Consumer groups ([`groups`], [`group`]) and
//! producer ids live here; the transaction coordinator is still in the server crate
//! (`transactions.rs`).
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod group;
pub mod groups;
pub mod producer_ids;
pub mod records;

pub use producer_ids::{Allocation, ProducerIds};
