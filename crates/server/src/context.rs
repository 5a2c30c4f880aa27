//! What a handler knows about the request it answers: the broker, the connection it came on
//! and the request header's version and client id.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::state::BrokerState;

#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    pub state: &'a Arc<BrokerState>,
    /// The client's address.
    pub peer: SocketAddr,
    /// The broker's address on this connection (what a wildcard listener advertises).
    pub local: SocketAddr,
    /// The request's API version.
    pub version: i16,
    /// The request header's client id ("" when absent).
    pub client_id: &'a str,
}
