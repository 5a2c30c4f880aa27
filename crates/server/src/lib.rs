//! The Strom broker: configuration, listeners, connections, request dispatch and one handler
//! per Kafka API. [`Broker::start`] runs a broker in-process (tests embed it this way); the
//! `strom` binary wraps it.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod api;
pub mod broker;
pub mod clock;
pub mod config;
pub mod connection;
pub mod context;
pub mod coordinators;
pub mod error;
pub mod handlers;
pub mod metadata;
pub mod metrics;
pub mod metrics_endpoint;
pub mod state;
pub mod topics;

pub use broker::Broker;
pub use config::Config;
pub use state::BrokerState;
