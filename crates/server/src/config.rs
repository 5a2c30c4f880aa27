//! Broker configuration under Kafka's key names (`log.dirs`, `num.partitions`,
//! `advertised.listeners` …). Sources, later ones winning: embedded defaults, a TOML file
//! (`log.dirs = "x"` and `[log] dirs = "x"` mean the same), `STROM_*` environment variables
//! (`STROM_LOG_DIRS` is `log.dirs`), then command-line flags.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use strom_storage::{LogConfig, TimestampType};

/// Default most connections at once (Kafka's `max.connections` is unbounded; we are not).
pub const CONNECTIONS_MAX: usize = 10_000;
/// Default bound on bytes of requests being read or processed at once across connections
/// (Kafka's `queued.max.request.bytes`, which Kafka leaves unbounded by default).
pub const REQUEST_MEMORY_BYTES_MAX: u64 = 512 * 1024 * 1024;
/// Default address of the Prometheus `/metrics` and `/health` endpoint (Redpanda's port).
pub const METRICS_LISTEN: &str = "0.0.0.0:9644";
/// Kafka's `fetch.max.bytes` default: the most bytes one Fetch response carries.
pub const FETCH_RESPONSE_BYTES_MAX: i64 = 55 * 1024 * 1024;
/// Smallest `socket.send.buffer.bytes` / `socket.receive.buffer.bytes` other than -1
/// (below this the kernel rounds up anyway).
pub const SOCKET_BUFFER_BYTES_MIN: i32 = 1024;

#[derive(Debug, Clone)]
pub struct Config {
    pub node_id: i32,
    /// Where to listen, `host:port`; port 0 picks a free one.
    pub listen: String,
    /// `host:port` to tell clients; `None` advertises the bind address, or for a wildcard
    /// bind the local address each client connected to.
    pub advertised: Option<String>,
    pub data_dir: PathBuf,
    /// A temporary data directory, removed at shutdown.
    pub ephemeral: bool,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics: bool,
    pub log: LogConfig,
    pub retention_check_interval_ms: u64,
    pub socket_request_max_bytes: u32,
    /// `socket.send.buffer.bytes`: SO_SNDBUF of client connections; -1 leaves the
    /// kernel's default (and its autotuning).
    pub socket_send_buffer_bytes: i32,
    /// `socket.receive.buffer.bytes`: SO_RCVBUF of the listener and client connections;
    /// -1 leaves the kernel's default (and its autotuning).
    pub socket_receive_buffer_bytes: i32,
    pub connections_max: usize,
    pub request_memory_bytes_max: u64,
    pub fetch_max_bytes: i64,
    pub delete_topic_enable: bool,
    pub groups: strom_coordinator::groups::GroupConfig,
    /// Where `/metrics` and `/health` are served (`strom.metrics.listen`); `None` disables.
    pub metrics_listen: Option<String>,
    /// `log.cleaner.enable`: run compaction on topics whose cleanup.policy has `compact`.
    pub cleaner_enable: bool,
    /// `log.cleaner.backoff.ms`: how often the cleaner looks for dirty partitions.
    pub cleaner_backoff_ms: u64,
    /// `log.cleaner.dedupe.buffer.size`: key-map memory of one pass.
    pub cleaner_dedupe_bytes: usize,
    /// `offsets.topic.segment.bytes`: the segment size of `__consumer_offsets` (Kafka's key).
    pub offsets_topic_segment_bytes: u64,
    /// `log.flush.offset.checkpoint.interval.ms`: how often recovery points (and log starts)
    /// go to the log directory's checkpoint files.
    pub recovery_checkpoint_interval_ms: u64,
    /// `replica.high.watermark.checkpoint.interval.ms`: how often high watermarks do.
    pub high_watermark_checkpoint_interval_ms: u64,
    /// `transaction.max.timeout.ms`, `transaction.state.log.num.partitions`,
    /// `transactional.id.expiration.ms`.
    pub txns: strom_coordinator::transactions::TxnConfig,
    /// `transaction.state.log.segment.bytes`.
    pub transaction_state_segment_bytes: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            node_id: 1,
            listen: "0.0.0.0:9092".into(),
            advertised: None,
            data_dir: PathBuf::from("./data"),
            ephemeral: false,
            num_partitions: 1,
            default_replication_factor: 1,
            auto_create_topics: true,
            log: LogConfig::default(),
            retention_check_interval_ms: 300_000,
            socket_request_max_bytes: strom_codec::limits::FRAME_BYTES_MAX,
            // Kafka's default is 102400 for both; the kernel's autotuning, which a fixed
            // size turns off, moves far more per connection (docs/performance.md).
            socket_send_buffer_bytes: -1,
            socket_receive_buffer_bytes: -1,
            connections_max: CONNECTIONS_MAX,
            request_memory_bytes_max: REQUEST_MEMORY_BYTES_MAX,
            fetch_max_bytes: FETCH_RESPONSE_BYTES_MAX,
            metrics_listen: Some(METRICS_LISTEN.into()),
            cleaner_enable: true,
            cleaner_backoff_ms: 15_000,
            cleaner_dedupe_bytes: strom_storage::limits::CLEANER_DEDUPE_BYTES_MAX,
            offsets_topic_segment_bytes: 100 * 1024 * 1024,
            recovery_checkpoint_interval_ms: 60_000,
            high_watermark_checkpoint_interval_ms: 5_000,
            txns: strom_coordinator::transactions::TxnConfig::default(),
            transaction_state_segment_bytes: 100 * 1024 * 1024,
            delete_topic_enable: true,
            groups: strom_coordinator::groups::GroupConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("unknown config key `{0}` (keys use Kafka's names, e.g. log.dirs, num.partitions)")]
    UnknownKey(String),
    #[error("invalid value `{value}` for `{key}`: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::InvalidValue {
        key: key.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(key, value, "not a valid number"))
}

/// A socket buffer size: -1 (the OS default) or at least [`SOCKET_BUFFER_BYTES_MIN`].
fn parse_socket_buffer(key: &str, value: &str) -> Result<i32, ConfigError> {
    let n: i32 = parse(key, value)?;
    if n != -1 && n < SOCKET_BUFFER_BYTES_MIN {
        return Err(invalid(
            key,
            value,
            format!("must be -1 (the OS default) or at least {SOCKET_BUFFER_BYTES_MIN}"),
        ));
    }
    Ok(n)
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid(key, value, "must be true or false")),
    }
}

/// `PLAINTEXT://host:port[,…]` or `host:port` → `host:port` of the first listener.
fn listener_address(key: &str, value: &str) -> Result<String, ConfigError> {
    let first = value.split(',').next().unwrap_or_default().trim();
    let addr = match first.split_once("://") {
        Some((protocol, rest)) => {
            let protocol = protocol.rsplit(':').next().unwrap_or(protocol);
            if !protocol.eq_ignore_ascii_case("PLAINTEXT") {
                return Err(invalid(
                    key,
                    value,
                    "only PLAINTEXT listeners are supported",
                ));
            }
            rest
        }
        None => first,
    };
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| invalid(key, value, "expected host:port"))?;
    port.parse::<u16>()
        .map_err(|_| invalid(key, value, "bad port"))?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok(format!("{host}:{port}"))
}

/// Every broker key this file understands, for documentation and validation.
pub const BROKER_KEYS: &[&str] = &[
    "node.id",
    "broker.id",
    "listeners",
    "advertised.listeners",
    "log.dirs",
    "log.dir",
    "num.partitions",
    "default.replication.factor",
    "auto.create.topics.enable",
    "delete.topic.enable",
    "log.segment.bytes",
    "log.roll.ms",
    "log.roll.hours",
    "log.retention.ms",
    "log.retention.minutes",
    "log.retention.hours",
    "log.retention.bytes",
    "log.retention.check.interval.ms",
    "message.max.bytes",
    "log.message.timestamp.type",
    "log.message.timestamp.before.max.ms",
    "log.message.timestamp.after.max.ms",
    "log.index.interval.bytes",
    "log.index.size.max.bytes",
    "log.flush.interval.messages",
    "log.flush.interval.ms",
    "log.flush.offset.checkpoint.interval.ms",
    "replica.high.watermark.checkpoint.interval.ms",
    "log.cleanup.policy",
    "socket.request.max.bytes",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "max.connections",
    "queued.max.request.bytes",
    "fetch.max.bytes",
    "strom.ephemeral",
    "strom.metrics.listen",
    "log.cleaner.enable",
    "log.cleaner.backoff.ms",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.min.cleanable.ratio",
    "log.cleaner.delete.retention.ms",
    "log.cleaner.min.compaction.lag.ms",
    "log.cleaner.max.compaction.lag.ms",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "group.initial.rebalance.delay.ms",
    "group.coordinator.append.linger.ms",
    "group.max.size",
    "offsets.retention.minutes",
    "offsets.topic.num.partitions",
    "offsets.topic.segment.bytes",
    "offset.metadata.max.bytes",
    "transaction.max.timeout.ms",
    "transaction.state.log.num.partitions",
    "transaction.state.log.segment.bytes",
    "transactional.id.expiration.ms",
];

impl Config {
    /// Sets one key.
    ///
    /// # Errors
    /// Unknown key or invalid value, naming both.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let log_key = |c: &mut LogConfig, k: &str| {
            c.apply(k, value)
                .map_err(|e| invalid(key, value, e.to_string()))
        };
        match key {
            "node.id" | "broker.id" => self.node_id = parse(key, value)?,
            "listeners" => self.listen = listener_address(key, value)?,
            "advertised.listeners" => {
                self.advertised = if value.trim().is_empty() {
                    None
                } else {
                    Some(listener_address(key, value)?)
                }
            }
            "log.dirs" | "log.dir" => {
                let first = value.split(',').next().unwrap_or_default().trim();
                if first.is_empty() {
                    return Err(invalid(key, value, "empty path"));
                }
                self.data_dir = PathBuf::from(first);
            }
            "num.partitions" => {
                let n: i32 = parse(key, value)?;
                if n < 1 {
                    return Err(invalid(key, value, "must be at least 1"));
                }
                self.num_partitions = n;
            }
            "default.replication.factor" => {
                let n: i16 = parse(key, value)?;
                if n != 1 {
                    return Err(invalid(
                        key,
                        value,
                        "a single broker can only hold 1 replica",
                    ));
                }
                self.default_replication_factor = n;
            }
            "auto.create.topics.enable" => self.auto_create_topics = parse_bool(key, value)?,
            "log.cleaner.enable" => self.cleaner_enable = parse_bool(key, value)?,
            "log.cleaner.backoff.ms" => self.cleaner_backoff_ms = parse(key, value)?,
            "log.cleaner.dedupe.buffer.size" => {
                let n: usize = parse(key, value)?;
                if n < 1024 * 1024 {
                    return Err(invalid(key, value, "must be at least 1 MiB"));
                }
                self.cleaner_dedupe_bytes = n;
            }
            "log.cleaner.min.cleanable.ratio" => {
                log_key(&mut self.log, "min.cleanable.dirty.ratio")?
            }
            "log.cleaner.delete.retention.ms" => log_key(&mut self.log, "delete.retention.ms")?,
            "log.cleaner.min.compaction.lag.ms" => log_key(&mut self.log, "min.compaction.lag.ms")?,
            "log.cleaner.max.compaction.lag.ms" => log_key(&mut self.log, "max.compaction.lag.ms")?,
            "strom.metrics.listen" => {
                let v = value.trim();
                self.metrics_listen = if v.is_empty() || v == "off" {
                    None
                } else {
                    let addr = v.replace("localhost:", "127.0.0.1:");
                    addr.parse::<SocketAddr>().map_err(|_| {
                        invalid(key, value, "expected ip:port, or empty to disable")
                    })?;
                    Some(addr)
                };
            }
            "delete.topic.enable" => self.delete_topic_enable = parse_bool(key, value)?,
            "log.segment.bytes" => log_key(&mut self.log, "segment.bytes")?,
            "log.roll.ms" => log_key(&mut self.log, "segment.ms")?,
            "log.roll.hours" => {
                let h: i64 = parse(key, value)?;
                self.log.segment_ms = h.saturating_mul(3_600_000);
            }
            "log.retention.ms" => log_key(&mut self.log, "retention.ms")?,
            "log.retention.minutes" => {
                let m: i64 = parse(key, value)?;
                self.log.retention_ms = if m < 0 { -1 } else { m.saturating_mul(60_000) };
            }
            "log.retention.hours" => {
                let h: i64 = parse(key, value)?;
                self.log.retention_ms = if h < 0 {
                    -1
                } else {
                    h.saturating_mul(3_600_000)
                };
            }
            "log.retention.bytes" => log_key(&mut self.log, "retention.bytes")?,
            "log.retention.check.interval.ms" => {
                let ms: u64 = parse(key, value)?;
                self.retention_check_interval_ms = ms.max(1);
            }
            "message.max.bytes" => log_key(&mut self.log, "max.message.bytes")?,
            "log.message.timestamp.type" => log_key(&mut self.log, "message.timestamp.type")?,
            "log.message.timestamp.before.max.ms" => {
                log_key(&mut self.log, "message.timestamp.before.max.ms")?
            }
            "log.message.timestamp.after.max.ms" => {
                log_key(&mut self.log, "message.timestamp.after.max.ms")?
            }
            "log.index.interval.bytes" => log_key(&mut self.log, "index.interval.bytes")?,
            "log.index.size.max.bytes" => log_key(&mut self.log, "segment.index.bytes")?,
            "log.flush.interval.messages" => log_key(&mut self.log, "flush.messages")?,
            "log.flush.interval.ms" => log_key(&mut self.log, "flush.ms")?,
            "log.cleanup.policy" => log_key(&mut self.log, "cleanup.policy")?,
            "log.flush.offset.checkpoint.interval.ms" => {
                let ms: u64 = parse(key, value)?;
                self.recovery_checkpoint_interval_ms = ms.max(1);
            }
            "replica.high.watermark.checkpoint.interval.ms" => {
                let ms: u64 = parse(key, value)?;
                self.high_watermark_checkpoint_interval_ms = ms.max(1);
            }
            "socket.request.max.bytes" => {
                let n: u32 = parse(key, value)?;
                if !(1024..=strom_codec::limits::FRAME_BYTES_MAX).contains(&n) {
                    return Err(invalid(key, value, "must be between 1024 and 104857600"));
                }
                self.socket_request_max_bytes = n;
            }
            "socket.send.buffer.bytes" => {
                self.socket_send_buffer_bytes = parse_socket_buffer(key, value)?;
            }
            "socket.receive.buffer.bytes" => {
                self.socket_receive_buffer_bytes = parse_socket_buffer(key, value)?;
            }
            "max.connections" => {
                let n: usize = parse(key, value)?;
                if n == 0 || n > CONNECTIONS_MAX {
                    return Err(invalid(
                        key,
                        value,
                        format!("must be between 1 and {CONNECTIONS_MAX}"),
                    ));
                }
                self.connections_max = n;
            }
            "queued.max.request.bytes" => {
                let n: i64 = parse(key, value)?;
                let max = REQUEST_MEMORY_BYTES_MAX * 8;
                self.request_memory_bytes_max = if n <= 0 {
                    REQUEST_MEMORY_BYTES_MAX
                } else {
                    u64::try_from(n).unwrap_or(max).min(max)
                };
            }
            "fetch.max.bytes" => {
                let n: i64 = parse(key, value)?;
                if n < 1024 {
                    return Err(invalid(key, value, "must be at least 1024"));
                }
                self.fetch_max_bytes = n;
            }
            "strom.ephemeral" => self.ephemeral = parse_bool(key, value)?,
            "group.min.session.timeout.ms" => {
                self.groups.session_timeout_ms_min = parse(key, value)?
            }
            "group.max.session.timeout.ms" => {
                self.groups.session_timeout_ms_max = parse(key, value)?
            }
            "group.initial.rebalance.delay.ms" => {
                let ms: i64 = parse(key, value)?;
                self.groups.initial_rebalance_delay_ms = ms.max(0);
            }
            "group.coordinator.append.linger.ms" => {
                let ms: i64 = parse(key, value)?;
                if !(0..=60_000).contains(&ms) {
                    return Err(invalid(key, value, "must be between 0 and 60000"));
                }
                self.groups.append_linger_ms = ms;
            }
            "group.max.size" => {
                let n: usize = parse(key, value)?;
                let max = strom_coordinator::groups::GROUP_MEMBERS_MAX;
                if n == 0 || n > max {
                    return Err(invalid(key, value, format!("must be between 1 and {max}")));
                }
                self.groups.max_size = n;
            }
            "offsets.retention.minutes" => {
                let m: i64 = parse(key, value)?;
                if m < 1 {
                    return Err(invalid(key, value, "must be at least 1"));
                }
                self.groups.offsets_retention_ms = m.saturating_mul(60_000);
            }
            "offsets.topic.num.partitions" => {
                let n: i32 = parse(key, value)?;
                if !(1..=1000).contains(&n) {
                    return Err(invalid(key, value, "must be between 1 and 1000"));
                }
                self.groups.offsets_partitions = n;
            }
            "offsets.topic.segment.bytes" => {
                let n: u64 = parse(key, value)?;
                let max = strom_storage::limits::SEGMENT_BYTES_MAX;
                if !(1024..=max).contains(&n) {
                    return Err(invalid(
                        key,
                        value,
                        format!("must be between 1024 and {max}"),
                    ));
                }
                self.offsets_topic_segment_bytes = n;
            }
            "transaction.max.timeout.ms" => {
                let n: i32 = parse(key, value)?;
                if n < 1 {
                    return Err(invalid(key, value, "must be at least 1"));
                }
                self.txns.max_timeout_ms = n;
            }
            "transaction.state.log.num.partitions" => {
                let n: i32 = parse(key, value)?;
                if !(1..=1000).contains(&n) {
                    return Err(invalid(key, value, "must be between 1 and 1000"));
                }
                self.txns.log_partitions = n;
            }
            "transaction.state.log.segment.bytes" => {
                let n: u64 = parse(key, value)?;
                let max = strom_storage::limits::SEGMENT_BYTES_MAX;
                if !(1024..=max).contains(&n) {
                    return Err(invalid(
                        key,
                        value,
                        format!("must be between 1024 and {max}"),
                    ));
                }
                self.transaction_state_segment_bytes = n;
            }
            "transactional.id.expiration.ms" => {
                let n: i64 = parse(key, value)?;
                if n < 1 {
                    return Err(invalid(key, value, "must be at least 1"));
                }
                self.txns.id_expiration_ms = n;
            }
            "offset.metadata.max.bytes" => {
                let n: usize = parse(key, value)?;
                self.groups.offset_metadata_bytes_max = n.min(1024 * 1024);
            }
            _ => return Err(ConfigError::UnknownKey(key.into())),
        }
        Ok(())
    }

    /// Applies a TOML document: nested tables flatten to dotted keys.
    ///
    /// # Errors
    /// Bad TOML, unknown keys, invalid values.
    pub fn apply_toml(&mut self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::File {
                path: origin.into(),
                reason: e.to_string(),
            })?;
        let mut flat = BTreeMap::new();
        flatten("", &toml::Value::Table(table), &mut flat);
        for (k, v) in flat {
            self.set(&k, &v)?;
        }
        Ok(())
    }

    /// Applies `STROM_*` variables from `vars` (`STROM_LOG_DIRS` → `log.dirs`).
    ///
    /// # Errors
    /// Unknown keys or invalid values.
    pub fn apply_env(
        &mut self,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("STROM_") else {
                continue;
            };
            let key = rest.to_ascii_lowercase().replace('_', ".");
            if BROKER_KEYS.contains(&key.as_str()) {
                self.set(&key, &value)?;
            }
        }
        Ok(())
    }

    /// Every broker key with its current value, as DescribeConfigs reports it.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let l = &self.log;
        let g = &self.groups;
        let advertised = self
            .advertised
            .as_ref()
            .map(|a| format!("PLAINTEXT://{a}"))
            .unwrap_or_default();
        vec![
            ("node.id", self.node_id.to_string()),
            ("broker.id", self.node_id.to_string()),
            ("listeners", format!("PLAINTEXT://{}", self.listen)),
            ("advertised.listeners", advertised),
            ("log.dirs", self.data_dir.display().to_string()),
            ("log.dir", self.data_dir.display().to_string()),
            ("num.partitions", self.num_partitions.to_string()),
            (
                "default.replication.factor",
                self.default_replication_factor.to_string(),
            ),
            (
                "auto.create.topics.enable",
                self.auto_create_topics.to_string(),
            ),
            ("delete.topic.enable", self.delete_topic_enable.to_string()),
            ("log.segment.bytes", l.segment_bytes.to_string()),
            ("log.roll.ms", l.segment_ms.to_string()),
            ("log.roll.hours", (l.segment_ms / 3_600_000).to_string()),
            ("log.retention.ms", l.retention_ms.to_string()),
            (
                "log.retention.minutes",
                if l.retention_ms < 0 {
                    "-1".into()
                } else {
                    (l.retention_ms / 60_000).to_string()
                },
            ),
            (
                "log.retention.hours",
                if l.retention_ms < 0 {
                    "-1".into()
                } else {
                    (l.retention_ms / 3_600_000).to_string()
                },
            ),
            ("log.retention.bytes", l.retention_bytes.to_string()),
            (
                "log.retention.check.interval.ms",
                self.retention_check_interval_ms.to_string(),
            ),
            ("message.max.bytes", l.max_message_bytes.to_string()),
            (
                "log.message.timestamp.type",
                self.timestamp_type_name().to_string(),
            ),
            (
                "log.message.timestamp.before.max.ms",
                l.timestamp_before_max_ms.to_string(),
            ),
            (
                "log.message.timestamp.after.max.ms",
                l.timestamp_after_max_ms.to_string(),
            ),
            (
                "log.index.interval.bytes",
                l.index_interval_bytes.to_string(),
            ),
            (
                "log.index.size.max.bytes",
                l.segment_index_bytes.to_string(),
            ),
            ("log.flush.interval.messages", l.flush_messages.to_string()),
            ("log.flush.interval.ms", l.flush_ms.to_string()),
            ("log.cleanup.policy", l.cleanup_policy.clone()),
            (
                "log.flush.offset.checkpoint.interval.ms",
                self.recovery_checkpoint_interval_ms.to_string(),
            ),
            (
                "replica.high.watermark.checkpoint.interval.ms",
                self.high_watermark_checkpoint_interval_ms.to_string(),
            ),
            (
                "socket.request.max.bytes",
                self.socket_request_max_bytes.to_string(),
            ),
            (
                "socket.send.buffer.bytes",
                self.socket_send_buffer_bytes.to_string(),
            ),
            (
                "socket.receive.buffer.bytes",
                self.socket_receive_buffer_bytes.to_string(),
            ),
            ("max.connections", self.connections_max.to_string()),
            (
                "queued.max.request.bytes",
                self.request_memory_bytes_max.to_string(),
            ),
            ("fetch.max.bytes", self.fetch_max_bytes.to_string()),
            ("strom.ephemeral", self.ephemeral.to_string()),
            (
                "strom.metrics.listen",
                self.metrics_listen.clone().unwrap_or_default(),
            ),
            ("log.cleaner.enable", self.cleaner_enable.to_string()),
            (
                "log.cleaner.backoff.ms",
                self.cleaner_backoff_ms.to_string(),
            ),
            (
                "log.cleaner.dedupe.buffer.size",
                self.cleaner_dedupe_bytes.to_string(),
            ),
            (
                "log.cleaner.min.cleanable.ratio",
                l.min_cleanable_dirty_ratio.to_string(),
            ),
            (
                "log.cleaner.delete.retention.ms",
                l.delete_retention_ms.to_string(),
            ),
            (
                "log.cleaner.min.compaction.lag.ms",
                l.min_compaction_lag_ms.to_string(),
            ),
            (
                "log.cleaner.max.compaction.lag.ms",
                l.max_compaction_lag_ms.to_string(),
            ),
            (
                "group.min.session.timeout.ms",
                g.session_timeout_ms_min.to_string(),
            ),
            (
                "group.max.session.timeout.ms",
                g.session_timeout_ms_max.to_string(),
            ),
            (
                "group.initial.rebalance.delay.ms",
                g.initial_rebalance_delay_ms.to_string(),
            ),
            (
                "group.coordinator.append.linger.ms",
                g.append_linger_ms.to_string(),
            ),
            ("group.max.size", g.max_size.to_string()),
            (
                "offsets.retention.minutes",
                (g.offsets_retention_ms / 60_000).to_string(),
            ),
            (
                "offsets.topic.num.partitions",
                g.offsets_partitions.to_string(),
            ),
            (
                "offsets.topic.segment.bytes",
                self.offsets_topic_segment_bytes.to_string(),
            ),
            (
                "offset.metadata.max.bytes",
                g.offset_metadata_bytes_max.to_string(),
            ),
            (
                "transaction.max.timeout.ms",
                self.txns.max_timeout_ms.to_string(),
            ),
            (
                "transaction.state.log.num.partitions",
                self.txns.log_partitions.to_string(),
            ),
            (
                "transaction.state.log.segment.bytes",
                self.transaction_state_segment_bytes.to_string(),
            ),
            (
                "transactional.id.expiration.ms",
                self.txns.id_expiration_ms.to_string(),
            ),
        ]
    }

    pub fn timestamp_type_name(&self) -> &'static str {
        match self.log.timestamp_type {
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }

    /// The bind address.
    ///
    /// # Errors
    /// `listen` does not parse as `ip:port`.
    pub fn bind_address(&self) -> Result<SocketAddr, ConfigError> {
        let host_port = self.listen.replace("localhost:", "127.0.0.1:");
        host_port
            .parse()
            .map_err(|_| invalid("listeners", &self.listen, "expected ip:port"))
    }
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        toml::Value::Array(items) => {
            let joined: Vec<String> = items
                .iter()
                .map(|i| match i {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            out.insert(prefix.to_string(), joined.join(","));
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_and_nested_toml_mean_the_same() {
        let mut a = Config::default();
        a.apply_toml(
            "\"log.dirs\" = \"/x\"\nnum.partitions = 3\n[log.retention]\nms = 5000\n",
            "t",
        )
        .unwrap();
        assert_eq!(a.data_dir, PathBuf::from("/x"));
        assert_eq!(a.num_partitions, 3);
        assert_eq!(a.log.retention_ms, 5000);
    }

    #[test]
    fn socket_buffer_sizes_are_minus_one_or_at_least_the_minimum() {
        let mut c = Config::default();
        assert_eq!(
            (c.socket_send_buffer_bytes, c.socket_receive_buffer_bytes),
            (-1, -1)
        );
        c.set("socket.send.buffer.bytes", "102400").unwrap();
        c.set("socket.receive.buffer.bytes", "65536").unwrap();
        assert_eq!(
            (c.socket_send_buffer_bytes, c.socket_receive_buffer_bytes),
            (102_400, 65_536)
        );
        c.set("socket.send.buffer.bytes", "-1").unwrap();
        assert_eq!(c.socket_send_buffer_bytes, -1);
        for bad in ["0", "-2", "100", "big"] {
            assert!(c.set("socket.receive.buffer.bytes", bad).is_err(), "{bad}");
        }
        assert_eq!(c.socket_receive_buffer_bytes, 65_536);
        let described = c.describe();
        assert!(described
            .iter()
            .any(|(k, v)| *k == "socket.receive.buffer.bytes" && v == "65536"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let mut c = Config::default();
        assert!(matches!(c.set("no.such", "1"), Err(ConfigError::UnknownKey(k)) if k == "no.such"));
        assert!(c.set("num.partitions", "zero").is_err());
        assert!(c.set("listeners", "SSL://:9093").is_err());
        assert!(c.set("group.coordinator.append.linger.ms", "-1").is_err());
        assert_eq!(c.groups.append_linger_ms, 5, "Kafka 4.x's default");
        c.set("group.coordinator.append.linger.ms", "0").unwrap();
        assert_eq!(c.groups.append_linger_ms, 0);
        c.set("listeners", "PLAINTEXT://127.0.0.1:0").unwrap();
        assert_eq!(c.listen, "127.0.0.1:0");
        c.set("advertised.listeners", "PLAINTEXT://kafka:29092")
            .unwrap();
        assert_eq!(c.advertised.as_deref(), Some("kafka:29092"));
    }

    #[test]
    fn env_vars_map_to_keys() {
        let mut c = Config::default();
        c.apply_env(vec![("STROM_NUM_PARTITIONS".to_string(), "4".to_string())].into_iter())
            .unwrap();
        assert_eq!(c.num_partitions, 4);
    }

    #[test]
    fn every_broker_key_is_described() {
        let described: Vec<&str> = Config::default()
            .describe()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for key in BROKER_KEYS {
            assert!(described.contains(key), "{key} missing from describe()");
        }
        assert_eq!(described.len(), BROKER_KEYS.len());
    }

    #[test]
    fn shipped_config_file_parses() {
        let text = include_str!("../../../config/strom.toml");
        let mut c = Config::default();
        c.apply_toml(text, "config/strom.toml").unwrap();
    }
}
