//! Kafka wire framing for Strom: length-prefixed frames, request and response headers, the
//! one table of supported API versions, and Kafka error codes.
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

pub mod error;
pub mod fetch;
pub mod frame;
pub mod header;
pub mod limits;
pub mod produce;
pub mod request;
pub mod response;
pub mod uuid_text;
pub mod versions;
mod wire;

pub use error::Error;
pub use kafka_protocol;
pub use kafka_protocol::error::ResponseError as ErrorCode;
pub use kafka_protocol::messages::ApiKey;
