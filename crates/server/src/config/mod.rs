//! Broker configuration under Kafka's key names (`log.dirs`, `num.partitions`,
//! `advertised.listeners` …). Sources, later ones winning: embedded defaults, a TOML file
//! (`log.dirs = "x"` and `[log] dirs = "x"` mean the same), `STROM_*` environment variables
//! (`STROM_LOG_DIRS` is `log.dirs`), then command-line flags.
//!
//! Every key is a row of one of three tables: [`broker_keys`], [`topic_keys`] and
//! [`group_keys`]. Setting a key, describing the broker's, a topic's or a group's configs,
//! which keys may change at runtime and how a broker default reaches a topic all derive
//! from them (Kafka's `ConfigDef`).

pub mod broker_keys;
pub mod dynamic;
pub mod group_keys;
pub mod parse;
pub mod topic_keys;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use strom_storage::LogConfig;

use broker_keys::{broker_key, BrokerEffect, BROKER_KEYS};
use topic_keys::{topic_key, Effect};

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
    /// Serve the request versions Kafka 4 removed (KIP-896) that Kafka 3.9 served
    /// (`strom.legacy.api.versions.enable`).
    pub legacy_api_versions: bool,
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
    /// Values of keys accepted but not acted on ([`BrokerEffect::Stored`]), as set.
    pub stored: BTreeMap<&'static str, String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            node_id: 1,
            listen: "0.0.0.0:9092".into(),
            advertised: None,
            data_dir: PathBuf::from("./data"),
            ephemeral: false,
            legacy_api_versions: true,
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
            stored: BTreeMap::new(),
            delete_topic_enable: true,
            groups: strom_coordinator::groups::GroupConfig::default(),
        }
    }
}

/// A key's type, as Kafka's `ConfigDef.Type` (DescribeConfigs reports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
    Password,
}

impl Type {
    /// `DescribeConfigsResponse.ConfigType`.
    pub fn code(self) -> i8 {
        match self {
            Type::Boolean => 1,
            Type::String => 2,
            Type::Int => 3,
            Type::Short => 4,
            Type::Long => 5,
            Type::Double => 6,
            Type::List => 7,
            Type::Password => 9,
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

impl Config {
    /// Sets one broker key.
    ///
    /// # Errors
    /// Unknown key or invalid value, naming both.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let Some(k) = broker_key(key) else {
            return Err(ConfigError::UnknownKey(key.into()));
        };
        match k.effect {
            BrokerEffect::Field { set, .. } => set(self, value),
            BrokerEffect::TopicDefault(topic) => match topic_key(topic).map(|t| t.effect) {
                Some(Effect::Log { set, .. }) => set(&mut self.log, value),
                Some(Effect::Stored { check, .. }) => check(value),
                None => Err(format!("{topic} is not a topic key")),
            },
            BrokerEffect::Stored { .. } => parse::check_type(k.ty, value).map(|()| {
                self.stored.insert(k.name, value.trim().to_string());
            }),
        }
        .map_err(|reason| invalid(key, value, reason))
    }

    /// The value of broker key `name` in this (static) config.
    pub fn value_of(&self, name: &str) -> Option<String> {
        let k = broker_key(name)?;
        Some(match k.effect {
            BrokerEffect::Field { get, .. } => get(self),
            BrokerEffect::TopicDefault(topic) => topic_key(topic)?.value(&self.log),
            BrokerEffect::Stored { default } => self
                .stored
                .get(k.name)
                .cloned()
                .unwrap_or_else(|| default.to_string()),
        })
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
    /// Invalid values of known keys.
    pub fn apply_env(
        &mut self,
        vars: impl Iterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("STROM_") else {
                continue;
            };
            let key = rest.to_ascii_lowercase().replace('_', ".");
            if broker_key(&key).is_some() {
                self.set(&key, &value)?;
            }
        }
        Ok(())
    }

    /// Every broker key with its current value, as DescribeConfigs reports it.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        BROKER_KEYS
            .iter()
            .filter_map(|k| Some((k.name, self.value_of(k.name)?)))
            .collect()
    }

    /// Keys set that this broker accepts but does not act on, for a start-up warning.
    pub fn ineffective_keys(&self) -> Vec<&'static str> {
        self.stored.keys().copied().collect()
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
        assert_eq!(
            c.value_of("socket.receive.buffer.bytes").as_deref(),
            Some("65536")
        );
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
    fn kafka_keys_without_an_effect_here_are_accepted_and_reported() {
        let mut c = Config::default();
        c.set("num.network.threads", "5").unwrap();
        assert!(c.set("num.network.threads", "five").is_err());
        assert_eq!(c.value_of("num.network.threads").as_deref(), Some("5"));
        assert_eq!(
            c.value_of("num.io.threads").as_deref(),
            Some("8"),
            "Kafka's default"
        );
        assert_eq!(c.ineffective_keys(), vec!["num.network.threads"]);
    }

    #[test]
    fn broker_defaults_of_topic_keys_reach_the_log_config() {
        let mut c = Config::default();
        c.set("log.retention.ms", "1234").unwrap();
        c.set("log.cleanup.policy", "compact").unwrap();
        assert_eq!(
            (c.log.retention_ms, c.log.cleanup_policy.as_str()),
            (1234, "compact")
        );
        assert_eq!(c.value_of("log.retention.ms").as_deref(), Some("1234"));
        c.set("log.retention.hours", "2").unwrap();
        assert_eq!(c.log.retention_ms, 7_200_000);
        assert!(c.set("log.segment.bytes", "10").is_err());
    }

    #[test]
    fn env_vars_map_to_keys() {
        let mut c = Config::default();
        c.apply_env(vec![("STROM_NUM_PARTITIONS".to_string(), "4".to_string())].into_iter())
            .unwrap();
        assert_eq!(c.num_partitions, 4);
    }

    #[test]
    fn every_broker_key_is_described_and_reads_back() {
        let c = Config::default();
        let described = c.describe();
        assert_eq!(described.len(), BROKER_KEYS.len());
        for (k, v) in described {
            let mut again = Config::default();
            again
                .set(k, &v)
                .unwrap_or_else(|e| panic!("{k}={v} does not set back: {e}"));
        }
    }

    #[test]
    fn shipped_config_file_parses() {
        let text = include_str!("../../../../config/strom.toml");
        let mut c = Config::default();
        c.apply_toml(text, "config/strom.toml").unwrap();
    }
}
