//! State shared by every connection of a running broker: config, topics, coordinators,
//! limits, metrics and the shutdown signal. [`crate::broker`] builds it.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::Config;
use crate::coordinators::groups::GroupCoordinator;
use crate::coordinators::transactions::TxnCoordinator;
use crate::topics::Topics;

/// State shared by every connection.
#[derive(Debug)]
pub struct BrokerState {
    pub config: Config,
    pub topics: Arc<Topics>,
    /// The metadata image and the controller.
    pub metadata: Arc<crate::metadata::Metadata>,
    pub groups: GroupCoordinator,
    pub txns: TxnCoordinator,
    pub cluster_id: String,
    /// Where every decision by time reads it.
    pub clock: Clock,
    /// The address actually bound (port 0 resolved).
    pub bound: SocketAddr,
    /// `(host, port)` to advertise; `None` means "the address the client connected to".
    pub advertised: Option<(String, i32)>,
    pub shutdown: CancellationToken,
    /// Bytes of requests in memory at once, across connections.
    pub request_memory: Semaphore,
    /// One permit per open connection (`max.connections`).
    pub connections: Arc<Semaphore>,
    pub metrics: crate::metrics::Metrics,
    /// Where `/metrics` and `/health` are served, when enabled and bound.
    pub metrics_addr: Option<SocketAddr>,
}

impl BrokerState {
    /// The `(host, port)` clients should use, given the local address of their connection.
    pub fn advertised_for(&self, local: SocketAddr) -> (String, i32) {
        match &self.advertised {
            Some(a) => a.clone(),
            None => (local.ip().to_string(), i32::from(local.port())),
        }
    }
}
