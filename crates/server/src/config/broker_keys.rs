//! Every broker config key this broker knows, with its Kafka type, whether Kafka lets it
//! change at runtime (`DynamicBrokerConfig`), and how it reaches the broker: a field of
//! [`Config`], the default of a topic key (`log.retention.ms` for `retention.ms`), or stored
//! and reported without effect (thread counts, replication and security settings this
//! broker has no component for yet), so that a Kafka `server.properties` loads unchanged.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::parse::{bool_value, int_in, long, long_at_least, long_in};
use super::{Config, Type, CONNECTIONS_MAX, REQUEST_MEMORY_BYTES_MAX, SOCKET_BUFFER_BYTES_MIN};

/// How a broker key reaches the broker.
#[derive(Clone, Copy)]
pub enum BrokerEffect {
    /// The default of this topic key: it sets the broker's log defaults.
    TopicDefault(&'static str),
    /// A field of [`Config`].
    Field {
        set: fn(&mut Config, &str) -> Result<(), String>,
        get: fn(&Config) -> String,
    },
    /// Accepted and reported; nothing here acts on it. `default` is Kafka's.
    Stored { default: &'static str },
}

pub struct BrokerKey {
    pub name: &'static str,
    pub ty: Type,
    /// May change at runtime: IncrementalAlterConfigs and AlterConfigs accept it.
    pub dynamic: bool,
    pub effect: BrokerEffect,
    /// Kafka leaves it null unless set (another key holds the default, as
    /// `log.retention.hours` for `log.retention.ms`): DescribeConfigs shows it null at its
    /// default and does not list it as a synonym then.
    pub null_in_kafka: bool,
}

impl BrokerKey {
    /// Whether APPEND and SUBTRACT apply.
    pub fn is_list(&self) -> bool {
        self.ty == Type::List
    }
}

/// A socket buffer size: -1 (the OS default) or at least [`SOCKET_BUFFER_BYTES_MIN`].
fn socket_buffer(v: &str) -> Result<i32, String> {
    let n = int_in(v, -1, i32::MAX)?;
    if n != -1 && n < SOCKET_BUFFER_BYTES_MIN {
        return Err(format!(
            "must be -1 (the OS default) or at least {SOCKET_BUFFER_BYTES_MIN}"
        ));
    }
    Ok(n)
}

/// `PLAINTEXT://host:port[,…]` or `host:port` → `host:port` of the first listener.
pub fn listener_address(value: &str) -> Result<String, String> {
    let first = value.split(',').next().unwrap_or_default().trim();
    let addr = match first.split_once("://") {
        Some((protocol, rest)) => {
            let protocol = protocol.rsplit(':').next().unwrap_or(protocol);
            if !protocol.eq_ignore_ascii_case("PLAINTEXT") {
                return Err("only PLAINTEXT listeners are supported".into());
            }
            rest
        }
        None => first,
    };
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| "expected host:port".to_string())?;
    port.parse::<u16>().map_err(|_| "bad port".to_string())?;
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok(format!("{host}:{port}"))
}

fn positive_u64(v: &str) -> Result<u64, String> {
    u64::try_from(long_at_least(v, 1)?).map_err(|e| e.to_string())
}

fn segment_bytes(v: &str) -> Result<u64, String> {
    let max = strom_storage::limits::SEGMENT_BYTES_MAX;
    let n = long_in(v, 1024, i64::try_from(max).unwrap_or(i64::MAX))?;
    u64::try_from(n).map_err(|e| e.to_string())
}

macro_rules! field {
    ($name:literal, $ty:ident, $dynamic:literal, |$c:ident, $v:ident| $set:expr, |$g:ident| $get:expr) => {
        BrokerKey {
            name: $name,
            ty: Type::$ty,
            dynamic: $dynamic,
            effect: BrokerEffect::Field {
                set: |$c: &mut Config, $v: &str| -> Result<(), String> {
                    $set;
                    Ok(())
                },
                get: |$g: &Config| -> String { $get },
            },
            null_in_kafka: false,
        }
    };
}

macro_rules! topic_default {
    ($name:literal, $ty:ident, $topic_key:literal) => {
        topic_default!($name, $ty, $topic_key, false)
    };
    ($name:literal, $ty:ident, $topic_key:literal, null_in_kafka) => {
        topic_default!($name, $ty, $topic_key, true)
    };
    ($name:literal, $ty:ident, $topic_key:literal, $null:literal) => {
        BrokerKey {
            name: $name,
            ty: Type::$ty,
            dynamic: true,
            effect: BrokerEffect::TopicDefault($topic_key),
            null_in_kafka: $null,
        }
    };
}

macro_rules! stored {
    ($name:literal, $ty:ident, $dynamic:literal, $default:literal) => {
        BrokerKey {
            name: $name,
            ty: Type::$ty,
            dynamic: $dynamic,
            effect: BrokerEffect::Stored { default: $default },
            null_in_kafka: false,
        }
    };
}

/// The table, by name.
pub static BROKER_KEYS: &[BrokerKey] = &[
    field!(
        "advertised.listeners",
        List,
        false,
        |c, v| c.advertised = if v.trim().is_empty() {
            None
        } else {
            Some(listener_address(v)?)
        },
        |c| c
            .advertised
            .as_ref()
            .map(|a| format!("PLAINTEXT://{a}"))
            .unwrap_or_default()
    ),
    field!(
        "auto.create.topics.enable",
        Boolean,
        false,
        |c, v| c.auto_create_topics = bool_value(v)?,
        |c| c.auto_create_topics.to_string()
    ),
    stored!("background.threads", Int, true, "10"),
    field!(
        "broker.id",
        Int,
        false,
        |c, v| c.node_id = int_in(v, 0, i32::MAX)?,
        |c| c.node_id.to_string()
    ),
    stored!("compression.type", String, true, "producer"),
    field!(
        "default.replication.factor",
        Int,
        false,
        |c, v| c.default_replication_factor = {
            int_in(v, 1, 1).map_err(|_| "a single broker can only hold 1 replica".to_string())?;
            1
        },
        |c| c.default_replication_factor.to_string()
    ),
    field!(
        "delete.topic.enable",
        Boolean,
        false,
        |c, v| c.delete_topic_enable = bool_value(v)?,
        |c| c.delete_topic_enable.to_string()
    ),
    field!(
        "fetch.max.bytes",
        Int,
        false,
        |c, v| c.fetch_max_bytes = long_in(v, 1024, i64::from(i32::MAX))?,
        |c| c.fetch_max_bytes.to_string()
    ),
    field!(
        "group.consumer.assignors",
        List,
        false,
        |c, v| c.groups.consumer_assignors = consumer_assignors(v)?,
        |c| c
            .groups
            .consumer_assignors
            .iter()
            .map(|a| assignor_class(a))
            .collect::<Vec<_>>()
            .join(",")
    ),
    field!(
        "group.consumer.heartbeat.interval.ms",
        Int,
        false,
        |c, v| c.groups.consumer_heartbeat_interval_ms = int_in(v, 1, i32::MAX)?,
        |c| c.groups.consumer_heartbeat_interval_ms.to_string()
    ),
    field!(
        "group.consumer.max.size",
        Int,
        false,
        |c, v| c.groups.consumer_max_size = usize::try_from(long_in(
            v,
            1,
            i64::try_from(strom_coordinator::groups::GROUP_MEMBERS_MAX).unwrap_or(1000)
        )?)
        .map_err(|e| e.to_string())?,
        |c| c.groups.consumer_max_size.to_string()
    ),
    field!(
        "group.consumer.session.timeout.ms",
        Int,
        false,
        |c, v| c.groups.consumer_session_timeout_ms = int_in(v, 1, i32::MAX)?,
        |c| c.groups.consumer_session_timeout_ms.to_string()
    ),
    field!(
        "group.coordinator.append.linger.ms",
        Int,
        false,
        |c, v| c.groups.append_linger_ms = long_in(v, 0, 60_000)?,
        |c| c.groups.append_linger_ms.to_string()
    ),
    field!(
        "group.initial.rebalance.delay.ms",
        Int,
        false,
        |c, v| c.groups.initial_rebalance_delay_ms = long_at_least(v, 0)?,
        |c| c.groups.initial_rebalance_delay_ms.to_string()
    ),
    field!(
        "group.max.session.timeout.ms",
        Int,
        false,
        |c, v| c.groups.session_timeout_ms_max = int_in(v, 1, i32::MAX)?,
        |c| c.groups.session_timeout_ms_max.to_string()
    ),
    field!(
        "group.max.size",
        Int,
        false,
        |c, v| c.groups.max_size = usize::try_from(long_in(
            v,
            1,
            i64::try_from(strom_coordinator::groups::GROUP_MEMBERS_MAX).unwrap_or(1000)
        )?)
        .map_err(|e| e.to_string())?,
        |c| c.groups.max_size.to_string()
    ),
    field!(
        "group.min.session.timeout.ms",
        Int,
        false,
        |c, v| c.groups.session_timeout_ms_min = int_in(v, 1, i32::MAX)?,
        |c| c.groups.session_timeout_ms_min.to_string()
    ),
    field!(
        "listeners",
        List,
        false,
        |c, v| c.listen = listener_address(v)?,
        |c| format!("PLAINTEXT://{}", c.listen)
    ),
    stored!("log.cleaner.backoff.ms", Long, true, "15000"),
    stored!("log.cleaner.dedupe.buffer.size", Long, true, "134217728"),
    topic_default!(
        "log.cleaner.delete.retention.ms",
        Long,
        "delete.retention.ms"
    ),
    field!(
        "log.cleaner.enable",
        Boolean,
        false,
        |c, v| c.cleaner_enable = bool_value(v)?,
        |c| c.cleaner_enable.to_string()
    ),
    stored!("log.cleaner.io.buffer.load.factor", Double, true, "0.9"),
    stored!("log.cleaner.io.buffer.size", Int, true, "524288"),
    stored!(
        "log.cleaner.io.max.bytes.per.second",
        Double,
        true,
        "1.7976931348623157E308"
    ),
    topic_default!(
        "log.cleaner.max.compaction.lag.ms",
        Long,
        "max.compaction.lag.ms"
    ),
    topic_default!(
        "log.cleaner.min.cleanable.ratio",
        Double,
        "min.cleanable.dirty.ratio"
    ),
    topic_default!(
        "log.cleaner.min.compaction.lag.ms",
        Long,
        "min.compaction.lag.ms"
    ),
    stored!("log.cleaner.threads", Int, true, "1"),
    topic_default!("log.cleanup.policy", List, "cleanup.policy"),
    field!(
        "log.dir",
        String,
        false,
        |c, v| c.data_dir = PathBuf::from(non_empty_path(v)?),
        |c| c.data_dir.display().to_string()
    ),
    field!(
        "log.dirs",
        List,
        false,
        |c, v| c.data_dir = PathBuf::from(non_empty_path(v)?),
        |c| c.data_dir.display().to_string()
    ),
    topic_default!("log.flush.interval.messages", Long, "flush.messages"),
    topic_default!("log.flush.interval.ms", Long, "flush.ms", null_in_kafka),
    field!(
        "log.flush.offset.checkpoint.interval.ms",
        Int,
        false,
        |c, v| c.recovery_checkpoint_interval_ms = positive_u64(v)?,
        |c| c.recovery_checkpoint_interval_ms.to_string()
    ),
    topic_default!("log.index.interval.bytes", Int, "index.interval.bytes"),
    topic_default!("log.index.size.max.bytes", Int, "segment.index.bytes"),
    topic_default!(
        "log.message.timestamp.after.max.ms",
        Long,
        "message.timestamp.after.max.ms"
    ),
    topic_default!(
        "log.message.timestamp.before.max.ms",
        Long,
        "message.timestamp.before.max.ms"
    ),
    topic_default!(
        "log.message.timestamp.type",
        String,
        "message.timestamp.type"
    ),
    stored!("log.preallocate", Boolean, true, "false"),
    topic_default!("log.retention.bytes", Long, "retention.bytes"),
    field!(
        "log.retention.check.interval.ms",
        Long,
        false,
        |c, v| c.retention_check_interval_ms = positive_u64(v)?,
        |c| c.retention_check_interval_ms.to_string()
    ),
    field!(
        "log.retention.hours",
        Int,
        false,
        |c, v| c.log.retention_ms = match long(v)? {
            h if h < 0 => -1,
            h => h.saturating_mul(3_600_000),
        },
        |c| if c.log.retention_ms < 0 {
            "-1".into()
        } else {
            (c.log.retention_ms / 3_600_000).to_string()
        }
    ),
    field!(
        "log.retention.minutes",
        Int,
        false,
        |c, v| c.log.retention_ms = match long(v)? {
            m if m < 0 => -1,
            m => m.saturating_mul(60_000),
        },
        |c| if c.log.retention_ms < 0 {
            "-1".into()
        } else {
            (c.log.retention_ms / 60_000).to_string()
        }
    ),
    topic_default!("log.retention.ms", Long, "retention.ms", null_in_kafka),
    field!(
        "log.roll.hours",
        Int,
        false,
        |c, v| c.log.segment_ms = long_at_least(v, 1)?.saturating_mul(3_600_000),
        |c| (c.log.segment_ms / 3_600_000).to_string()
    ),
    stored!("log.roll.jitter.ms", Long, true, "0"),
    topic_default!("log.roll.ms", Long, "segment.ms", null_in_kafka),
    topic_default!("log.segment.bytes", Int, "segment.bytes"),
    stored!("log.segment.delete.delay.ms", Long, true, "60000"),
    stored!("max.connection.creation.rate", Int, true, "2147483647"),
    field!(
        "max.connections",
        Int,
        true,
        |c, v| c.connections_max = usize::try_from(long_in(
            v,
            1,
            i64::try_from(CONNECTIONS_MAX).unwrap_or(i64::MAX)
        )?)
        .map_err(|e| e.to_string())?,
        |c| c.connections_max.to_string()
    ),
    stored!("max.connections.per.ip", Int, true, "2147483647"),
    stored!("max.connections.per.ip.overrides", String, true, ""),
    topic_default!("message.max.bytes", Int, "max.message.bytes"),
    stored!("metric.reporters", List, true, ""),
    stored!("min.insync.replicas", Int, true, "1"),
    field!(
        "node.id",
        Int,
        false,
        |c, v| c.node_id = int_in(v, 0, i32::MAX)?,
        |c| c.node_id.to_string()
    ),
    stored!("num.io.threads", Int, true, "8"),
    stored!("num.network.threads", Int, true, "3"),
    field!(
        "num.partitions",
        Int,
        false,
        |c, v| c.num_partitions = int_in(v, 1, i32::MAX)?,
        |c| c.num_partitions.to_string()
    ),
    stored!("num.recovery.threads.per.data.dir", Int, true, "2"),
    stored!("num.replica.fetchers", Int, true, "1"),
    field!(
        "offset.metadata.max.bytes",
        Int,
        false,
        |c, v| c.groups.offset_metadata_bytes_max =
            usize::try_from(long_in(v, 0, 1024 * 1024)?).map_err(|e| e.to_string())?,
        |c| c.groups.offset_metadata_bytes_max.to_string()
    ),
    field!(
        "offsets.retention.minutes",
        Int,
        false,
        |c, v| c.groups.offsets_retention_ms = long_at_least(v, 1)?.saturating_mul(60_000),
        |c| (c.groups.offsets_retention_ms / 60_000).to_string()
    ),
    field!(
        "offsets.topic.num.partitions",
        Int,
        false,
        |c, v| c.groups.offsets_partitions = int_in(v, 1, 1000)?,
        |c| c.groups.offsets_partitions.to_string()
    ),
    field!(
        "offsets.topic.segment.bytes",
        Int,
        false,
        |c, v| c.offsets_topic_segment_bytes = segment_bytes(v)?,
        |c| c.offsets_topic_segment_bytes.to_string()
    ),
    field!(
        "queued.max.request.bytes",
        Long,
        false,
        |c, v| c.request_memory_bytes_max = match long(v)? {
            n if n <= 0 => REQUEST_MEMORY_BYTES_MAX,
            n => u64::try_from(n)
                .unwrap_or(REQUEST_MEMORY_BYTES_MAX)
                .min(REQUEST_MEMORY_BYTES_MAX * 8),
        },
        |c| c.request_memory_bytes_max.to_string()
    ),
    field!(
        "replica.high.watermark.checkpoint.interval.ms",
        Long,
        false,
        |c, v| c.high_watermark_checkpoint_interval_ms = positive_u64(v)?,
        |c| c.high_watermark_checkpoint_interval_ms.to_string()
    ),
    stored!("sasl.enabled.mechanisms", List, true, "GSSAPI"),
    stored!("sasl.kerberos.kinit.cmd", String, true, "/usr/bin/kinit"),
    stored!("sasl.kerberos.min.time.before.relogin", Long, true, "60000"),
    stored!(
        "sasl.kerberos.principal.to.local.rules",
        List,
        true,
        "DEFAULT"
    ),
    stored!("sasl.kerberos.service.name", String, true, ""),
    stored!("sasl.kerberos.ticket.renew.jitter", Double, true, "0.05"),
    stored!(
        "sasl.kerberos.ticket.renew.window.factor",
        Double,
        true,
        "0.8"
    ),
    field!(
        "socket.receive.buffer.bytes",
        Int,
        false,
        |c, v| c.socket_receive_buffer_bytes = socket_buffer(v)?,
        |c| c.socket_receive_buffer_bytes.to_string()
    ),
    field!(
        "socket.request.max.bytes",
        Int,
        false,
        |c, v| c.socket_request_max_bytes = u32::try_from(long_in(
            v,
            1024,
            i64::from(strom_codec::limits::FRAME_BYTES_MAX)
        )?)
        .map_err(|e| e.to_string())?,
        |c| c.socket_request_max_bytes.to_string()
    ),
    field!(
        "socket.send.buffer.bytes",
        Int,
        false,
        |c, v| c.socket_send_buffer_bytes = socket_buffer(v)?,
        |c| c.socket_send_buffer_bytes.to_string()
    ),
    stored!("ssl.cipher.suites", List, true, ""),
    stored!("ssl.enabled.protocols", List, true, "TLSv1.2,TLSv1.3"),
    stored!("ssl.keystore.location", String, true, ""),
    stored!("ssl.keystore.type", String, true, "JKS"),
    stored!("ssl.truststore.location", String, true, ""),
    stored!("ssl.truststore.type", String, true, "JKS"),
    field!(
        "strom.ephemeral",
        Boolean,
        false,
        |c, v| c.ephemeral = bool_value(v)?,
        |c| c.ephemeral.to_string()
    ),
    field!(
        "strom.legacy.api.versions.enable",
        Boolean,
        false,
        |c, v| c.legacy_api_versions = bool_value(v)?,
        |c| c.legacy_api_versions.to_string()
    ),
    field!(
        "strom.metrics.listen",
        String,
        false,
        |c, v| c.metrics_listen = metrics_listen(v)?,
        |c| c.metrics_listen.clone().unwrap_or_default()
    ),
    field!(
        "transaction.max.timeout.ms",
        Int,
        false,
        |c, v| c.txns.max_timeout_ms = int_in(v, 1, i32::MAX)?,
        |c| c.txns.max_timeout_ms.to_string()
    ),
    field!(
        "transaction.state.log.num.partitions",
        Int,
        false,
        |c, v| c.txns.log_partitions = int_in(v, 1, 1000)?,
        |c| c.txns.log_partitions.to_string()
    ),
    field!(
        "transaction.state.log.segment.bytes",
        Int,
        false,
        |c, v| c.transaction_state_segment_bytes = segment_bytes(v)?,
        |c| c.transaction_state_segment_bytes.to_string()
    ),
    field!(
        "transactional.id.expiration.ms",
        Int,
        false,
        |c, v| c.txns.id_expiration_ms = long_at_least(v, 1)?,
        |c| c.txns.id_expiration_ms.to_string()
    ),
    stored!("unclean.leader.election.enable", Boolean, true, "false"),
];

fn non_empty_path(v: &str) -> Result<&str, String> {
    let first = v.split(',').next().unwrap_or_default().trim();
    if first.is_empty() {
        return Err("empty path".into());
    }
    Ok(first)
}

fn metrics_listen(v: &str) -> Result<Option<String>, String> {
    let v = v.trim();
    if v.is_empty() || v == "off" {
        return Ok(None);
    }
    let addr = v.replace("localhost:", "127.0.0.1:");
    addr.parse::<SocketAddr>()
        .map_err(|_| "expected ip:port, or empty to disable".to_string())?;
    Ok(Some(addr))
}

/// The broker key named `name`.
pub fn broker_key(name: &str) -> Option<&'static BrokerKey> {
    BROKER_KEYS.iter().find(|k| k.name == name)
}

/// Kafka's class name of a server-side assignor (what `group.consumer.assignors` lists).
fn assignor_class(name: &str) -> String {
    match name {
        "uniform" => "org.apache.kafka.coordinator.group.assignor.UniformAssignor".into(),
        "range" => "org.apache.kafka.coordinator.group.assignor.RangeAssignor".into(),
        other => other.into(),
    }
}

/// `group.consumer.assignors`: a comma-separated list of assignors, by name (`uniform`,
/// `range`) or by Kafka's class name; at least one.
fn consumer_assignors(v: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let name = strom_coordinator::consumer_group::assignors::KNOWN
            .iter()
            .find(|k| item == **k || item == assignor_class(k))
            .ok_or_else(|| format!("unknown assignor {item}: Strom has uniform and range"))?;
        if !out.iter().any(|o: &String| o == name) {
            out.push((*name).to_string());
        }
    }
    if out.is_empty() {
        return Err("at least one assignor is required".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_unique() {
        for pair in BROKER_KEYS.windows(2) {
            if let [a, b] = pair {
                assert!(a.name < b.name, "{} before {}", a.name, b.name);
            }
        }
    }

    #[test]
    fn every_topic_default_names_a_topic_key_that_names_it_back() {
        for k in BROKER_KEYS {
            if let BrokerEffect::TopicDefault(topic) = k.effect {
                let t = super::super::topic_keys::topic_key(topic)
                    .unwrap_or_else(|| panic!("{} names {topic}", k.name));
                assert_eq!(t.broker_key, Some(k.name));
                assert!(
                    k.dynamic,
                    "{} is a topic default: Kafka changes it at runtime",
                    k.name
                );
            }
        }
    }
}
