//! Kafka wire framing for Strom: length-prefixed frames, request and response headers,
//! in-place Produce and Fetch, and Kafka error codes. Which APIs and versions are served is
//! the server's handler table.
//!
//! Message bodies are the `kafka-protocol` crate's types, re-exported as [`kafka_protocol`]
//! so every crate above speaks the same structs.

#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod client;
pub mod error;
pub mod fetch;
pub mod frame;
pub mod header;
pub mod limits;
pub mod produce;
pub mod request;
pub mod response;
pub mod uuid_text;
mod wire;

pub use error::Error;
pub use kafka_protocol;
pub use kafka_protocol::error::ResponseError as ErrorCode;
pub use kafka_protocol::messages::ApiKey;
