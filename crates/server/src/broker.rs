//! A running broker: shared state, the accept loop, background tasks and shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::Clock;
use crate::config::Config;
use crate::connection;
use crate::metadata::schema::BrokerSchema;
use crate::state::BrokerState;
use crate::topics::Topics;
use strom_cluster::controller::{Controller, ControllerConfig};

/// How long shutdown waits for connections to finish their current request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How often partitions are checked for a due `flush.ms`.
const FLUSH_CHECK_INTERVAL: Duration = Duration::from_millis(1000);

/// Handle to a running broker.
#[derive(Debug)]
pub struct Broker {
    state: Arc<BrokerState>,
    tracker: TaskTracker,
    _ephemeral: Option<tempfile::TempDir>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source} (is another broker running? pick another port with --listen)")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot open data directory {}: {reason}", path.display())]
    Storage { path: PathBuf, reason: String },
    #[error("cannot set {key}={value} on the listener: {source} (use -1 for the OS default)")]
    SocketOption {
        key: &'static str,
        value: i32,
        source: std::io::Error,
    },
}

impl Broker {
    /// Opens storage, binds the listener and starts serving.
    ///
    /// # Errors
    /// The data directory cannot be opened or the address cannot be bound.
    pub async fn start(config: Config) -> Result<Self, StartError> {
        let listener = Self::bind(&config)?;
        Self::start_on(config, listener).await
    }

    /// Binds `config`'s listen address, before any runtime exists: the `strom` binary binds
    /// first thing, so that clients connecting while it starts wait in the accept queue
    /// instead of being refused.
    ///
    /// # Errors
    /// The address is invalid or cannot be bound.
    pub fn bind(config: &Config) -> Result<std::net::TcpListener, StartError> {
        let bind_error = bind_error(config);
        let listener = std::net::TcpListener::bind(config.bind_address()?).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        // The receive window a connection starts with (and its window scale) comes from the
        // listener's buffer, as in Kafka, which sets it on the server socket.
        if let Ok(n) = usize::try_from(config.socket_receive_buffer_bytes) {
            rustix::net::sockopt::set_socket_recv_buffer_size(&listener, n).map_err(|e| {
                StartError::SocketOption {
                    key: "socket.receive.buffer.bytes",
                    value: config.socket_receive_buffer_bytes,
                    source: e.into(),
                }
            })?;
        }
        Ok(listener)
    }

    /// Like [`Broker::start`], serving on a listener from [`Broker::bind`].
    ///
    /// # Errors
    /// The data directory cannot be opened.
    pub async fn start_on(
        config: Config,
        listener: std::net::TcpListener,
    ) -> Result<Self, StartError> {
        Self::start_with(config, listener, Clock::system()).await
    }

    /// Like [`Broker::start`], with time read from `clock` (tests pass one that moves with
    /// tokio's paused time).
    ///
    /// # Errors
    /// The address cannot be bound or the data directory cannot be opened.
    pub async fn start_with_clock(config: Config, clock: Clock) -> Result<Self, StartError> {
        let listener = Self::bind(&config)?;
        Self::start_with(config, listener, clock).await
    }

    /// Like [`Broker::start_on`], with time read from `clock`.
    ///
    /// # Errors
    /// The data directory cannot be opened.
    pub async fn start_with(
        mut config: Config,
        listener: std::net::TcpListener,
        clock: Clock,
    ) -> Result<Self, StartError> {
        let ineffective = config.ineffective_keys();
        if !ineffective.is_empty() {
            tracing::warn!(keys = ?ineffective, "these Kafka keys are accepted but have no effect on this broker");
        }
        let ephemeral = ephemeral_dir(&mut config)?;
        let bind_error = bind_error(&config);
        let listener = TcpListener::from_std(listener).map_err(bind_error)?;
        let bound = listener.local_addr().map_err(bind_error)?;
        let storage_error = |reason: String| StartError::Storage {
            path: config.data_dir.clone(),
            reason,
        };
        let durable = ephemeral.is_none();
        let topics = open_topics(&config, durable, &clock)
            .await
            .map_err(storage_error)?;
        let advertised = advertised(&config, bound);
        let controller = controller_of(&config);
        let endpoint = advertised
            .clone()
            .unwrap_or_else(|| (bound.ip().to_string(), i32::from(bound.port())));
        let opened =
            crate::metadata::startup::open(&config, &controller, &clock, durable, endpoint)
                .await
                .map_err(storage_error)?;
        let topics = Arc::new(topics);
        let metrics_listener = metrics_listener(&config).await;
        let metrics_addr = metrics_listener.as_ref().and_then(|l| l.local_addr().ok());
        let shutdown = CancellationToken::new();
        let metadata = crate::metadata::start(
            Arc::clone(&opened.quorum),
            controller,
            Arc::clone(&topics),
            shutdown.clone(),
        )
        .await;
        let finishing = Arc::clone(&topics);
        tokio::task::spawn_blocking(move || finishing.finish_start())
            .await
            .map_err(|e| storage_error(e.to_string()))?
            .map_err(|e| storage_error(e.to_string()))?;
        let coordinators = crate::coordinators::start(
            &topics,
            &metadata.metadata,
            &config,
            opened.legacy_transactions,
            &clock,
            &shutdown,
        )
        .await
        .map_err(storage_error)?;
        if opened.legacy_found {
            strom_cluster::legacy::retire(&config.data_dir)
                .map_err(|e| storage_error(e.to_string()))?;
        }
        let state = Arc::new(BrokerState {
            request_memory: Semaphore::new(
                usize::try_from(config.request_memory_bytes_max).unwrap_or(usize::MAX >> 4),
            ),
            connections: Arc::new(Semaphore::new(config.connections_max)),
            config,
            topics,
            metadata: Arc::clone(&metadata.metadata),
            groups: coordinators.groups,
            txns: coordinators.txns,
            cluster_id: opened.cluster_id,
            clock,
            bound,
            advertised,
            shutdown,
            metrics: crate::metrics::Metrics::default(),
            metrics_addr,
        });
        let tracker = TaskTracker::new();
        for task in coordinators.tasks.into_iter().chain(metadata.tasks) {
            tracker.spawn(async move {
                let _ = task.await;
            });
        }
        tracker.spawn(accept_loop(listener, Arc::clone(&state), tracker.clone()));
        tracker.spawn(background(Arc::clone(&state)));
        if let Some(l) = metrics_listener {
            tracker.spawn(crate::metrics_endpoint::serve(l, Arc::clone(&state)));
        }
        tracing::info!(
            listen = %bound,
            advertised = ?state.advertised,
            data_dir = %state.config.data_dir.display(),
            cluster_id = %state.cluster_id,
            metrics = ?state.metrics_addr,
            "strom broker started"
        );
        Ok(Self {
            state,
            tracker,
            _ephemeral: ephemeral,
        })
    }

    /// The bound listener address.
    pub fn local_addr(&self) -> SocketAddr {
        self.state.bound
    }

    /// Where `/metrics` and `/health` answer, if enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.state.metrics_addr
    }

    pub fn state(&self) -> &Arc<BrokerState> {
        &self.state
    }

    /// Stops accepting, lets connections finish their current request (bounded), flushes
    /// and marks the shutdown clean. An ephemeral data directory is removed.
    pub async fn shutdown(self) {
        self.state.shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("connections did not finish within {SHUTDOWN_GRACE:?}; closing anyway");
        }
        self.state.metadata.shutdown().await;
        let state = Arc::clone(&self.state);
        let _ = tokio::task::spawn_blocking(move || state.topics.close()).await;
        tracing::info!("strom broker stopped");
    }
}

/// A temporary data directory for an ephemeral broker (removed when the broker is dropped).
fn ephemeral_dir(config: &mut Config) -> Result<Option<tempfile::TempDir>, StartError> {
    if !config.ephemeral {
        return Ok(None);
    }
    let dir = tempfile::Builder::new()
        .prefix("strom-")
        .tempdir()
        .map_err(|e| StartError::Storage {
            path: std::env::temp_dir(),
            reason: e.to_string(),
        })?;
    config.data_dir = dir.path().to_path_buf();
    Ok(Some(dir))
}

/// Opens the log directory (blocking pool).
async fn open_topics(config: &Config, durable: bool, clock: &Clock) -> Result<Topics, String> {
    let (dir, node, defaults, clock) = (
        config.data_dir.clone(),
        config.node_id,
        config.log.clone(),
        clock.clone(),
    );
    let mut topics =
        tokio::task::spawn_blocking(move || Topics::open(&dir, node, defaults, durable, clock))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    topics.cleaner_dedupe_bytes = config.cleaner_dedupe_bytes;
    Ok(topics)
}

/// The controller's decision logic with this broker's settings and config key table.
fn controller_of(config: &Config) -> Controller {
    Controller::new(
        ControllerConfig {
            default_partitions: config.num_partitions,
            default_replication_factor: config.default_replication_factor,
            // Acted on when a broker is fenced, which one broker never is.
            unclean_leader_election: config
                .value_of("unclean.leader.election.enable")
                .is_some_and(|v| v == "true"),
        },
        Arc::new(BrokerSchema::new(config.clone())),
    )
}

/// The metrics endpoint's listener. It is auxiliary: a port already taken costs a warning,
/// not the broker.
async fn metrics_listener(config: &Config) -> Option<TcpListener> {
    let addr = config.metrics_listen.as_ref()?;
    match TcpListener::bind(addr.as_str()).await {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::warn!(addr = %addr, error = %e, "metrics endpoint not started: cannot listen (set strom.metrics.listen to a free ip:port, or empty to disable)");
            None
        }
    }
}

/// A listener failure on `config`'s address, as a [`StartError`].
fn bind_error(config: &Config) -> impl Fn(std::io::Error) -> StartError + Copy + '_ {
    |source| StartError::Bind {
        addr: config.listen.clone(),
        source,
    }
}

fn advertised(config: &Config, bound: SocketAddr) -> Option<(String, i32)> {
    if let Some(a) = &config.advertised {
        let (host, port) = a.rsplit_once(':').unwrap_or((a.as_str(), "0"));
        let port: i32 = port.parse().unwrap_or(0);
        let port = if port == 0 {
            i32::from(bound.port())
        } else {
            port
        };
        return Some((host.to_string(), port));
    }
    if bound.ip().is_unspecified() {
        None
    } else {
        Some((bound.ip().to_string(), i32::from(bound.port())))
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<BrokerState>, tracker: TaskTracker) {
    loop {
        let permit = tokio::select! {
            () = state.shutdown.cancelled() => return,
            permit = Arc::clone(&state.connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            () = state.shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, peer)) => {
                set_buffer_sizes(&socket, &state.config);
                let state = Arc::clone(&state);
                tracker.spawn(async move {
                    connection::serve(socket, peer, state).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Applies `socket.send.buffer.bytes` (-1: the kernel's default and autotuning) to a
/// client connection; `socket.receive.buffer.bytes` it already has, inherited from the
/// listener ([`Broker::bind`]). A failure is logged; the connection is served with the
/// kernel's size.
fn set_buffer_sizes(socket: &impl std::os::fd::AsFd, config: &Config) {
    if let Ok(n) = usize::try_from(config.socket_send_buffer_bytes) {
        if let Err(e) = rustix::net::sockopt::set_socket_send_buffer_size(socket, n) {
            tracing::warn!(bytes = n, error = %e, "cannot apply socket.send.buffer.bytes");
        }
    }
}

async fn background(state: Arc<BrokerState>) {
    let retention_every = Duration::from_millis(state.config.retention_check_interval_ms);
    let mut retention = tokio::time::interval(retention_every);
    let mut flush = tokio::time::interval(FLUSH_CHECK_INTERVAL);
    let mut cleaner = tokio::time::interval(Duration::from_millis(
        state.config.cleaner_backoff_ms.max(1),
    ));
    cleaner.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    retention.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Every checkpoint file is written at the shorter of Kafka's two intervals (high
    // watermarks every 5 s, recovery points every 60 s by default): four small files.
    let mut checkpoint = tokio::time::interval(Duration::from_millis(
        state
            .config
            .high_watermark_checkpoint_interval_ms
            .min(state.config.recovery_checkpoint_interval_ms),
    ));
    checkpoint.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => return,
            _ = retention.tick() => {
                let s = Arc::clone(&state);
                let _ = tokio::task::spawn_blocking(move || s.topics.enforce_retention()).await;
            }
            _ = cleaner.tick(), if state.config.cleaner_enable => {
                let s = Arc::clone(&state);
                let _ = tokio::task::spawn_blocking(move || s.topics.compact_due()).await;
            }

            _ = flush.tick() => {
                let s = Arc::clone(&state);
                let _ = tokio::task::spawn_blocking(move || s.topics.flush_due()).await;
            }
            _ = checkpoint.tick() => {
                let s = Arc::clone(&state);
                let _ = tokio::task::spawn_blocking(move || s.topics.checkpoint()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::sockopt;

    #[test]
    fn socket_buffer_sizes_apply_to_the_listener_and_to_connections() {
        let mut config = Config::default();
        config.set("listeners", "PLAINTEXT://127.0.0.1:0").unwrap();
        config.set("socket.receive.buffer.bytes", "200000").unwrap();
        config.set("socket.send.buffer.bytes", "300000").unwrap();
        let listener = Broker::bind(&config).unwrap();
        // Linux reports twice what was set (its bookkeeping overhead).
        let rcv = sockopt::socket_recv_buffer_size(&listener).unwrap();
        assert!(
            (200_000..=400_000).contains(&rcv),
            "listener SO_RCVBUF {rcv}"
        );

        let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        // The connection is already queued: a blocking accept returns at once.
        listener.set_nonblocking(false).unwrap();
        let (socket, _) = listener.accept().unwrap();
        set_buffer_sizes(&socket, &config);
        let snd = sockopt::socket_send_buffer_size(&socket).unwrap();
        let rcv = sockopt::socket_recv_buffer_size(&socket).unwrap();
        assert!(
            (300_000..=600_000).contains(&snd),
            "connection SO_SNDBUF {snd}"
        );
        assert!(
            (200_000..=400_000).contains(&rcv),
            "connection SO_RCVBUF {rcv}"
        );
    }
}
