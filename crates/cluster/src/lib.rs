//! Strom's cluster metadata: the records of the metadata log ([`records`]), the
//! [`image::MetadataImage`] they add up to, the controller's decisions as a sans-I/O state
//! machine ([`controller`]), ACL semantics ([`acl`]), the reader of the metadata file of
//! earlier Strom releases ([`legacy`]), and the Raft log that keeps the records
//! ([`quorum`]): on one node a single-voter log in `__cluster_metadata-0`, on a cluster the
//! same log replicated.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod acl;
pub mod controller;
pub mod image;
pub mod legacy;
pub mod quorum;
pub mod records;
