//! Dynamic broker configs (Kafka's `DynamicBrokerConfig`): which broker keys may change at
//! runtime, how their values are checked, and how the ones that are defaults of topic keys
//! (`log.retention.ms`, `log.cleanup.policy`, `message.max.bytes` …) reach every topic without
//! an override of its own, the cluster-wide default entity first, then this broker's.

use std::collections::BTreeMap;

use strom_storage::LogConfig;

use super::broker_keys::{broker_key, BrokerEffect};
use super::topic_keys::{topic_key, Effect};
use super::{parse, Config};

/// Whether `key` may change at runtime.
pub fn is_dynamic(key: &str) -> bool {
    broker_key(key).is_some_and(|k| k.dynamic)
}

/// Whether `key` holds a list (APPEND and SUBTRACT apply).
pub fn is_list(key: &str) -> bool {
    broker_key(key).is_some_and(|k| k.is_list())
}

/// Checks one dynamic broker value.
///
/// # Errors
/// The key cannot change at runtime, or the value is not valid for it.
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    let Some(k) = broker_key(key).filter(|k| k.dynamic) else {
        return Err(format!(
            "{key} cannot be updated dynamically; set it in strom.toml or with --set and restart"
        ));
    };
    let checked = match k.effect {
        BrokerEffect::TopicDefault(topic) => topic_key(topic).map_or_else(
            || Err(format!("{topic} is not a topic key")),
            |t| t.check(value),
        ),
        BrokerEffect::Field { set, .. } => set(&mut Config::default(), value),
        BrokerEffect::Stored { .. } => parse::check_type(k.ty, value),
    };
    checked.map_err(|reason| format!("invalid value {value} for {key}: {reason}"))
}

/// The topic defaults under the dynamic broker configs: the cluster default entity first,
/// then this broker's own entity.
///
/// # Errors
/// A stored value no longer passes its check.
pub fn log_defaults(
    static_defaults: &LogConfig,
    cluster_default: Option<&BTreeMap<String, String>>,
    this_broker: Option<&BTreeMap<String, String>>,
) -> Result<LogConfig, String> {
    let mut config = static_defaults.clone();
    for layer in [cluster_default, this_broker].into_iter().flatten() {
        for (key, value) in layer {
            let Some(BrokerEffect::TopicDefault(topic)) = broker_key(key).map(|k| k.effect) else {
                continue;
            };
            if let Some(Effect::Log { set, .. }) = topic_key(topic).map(|t| t.effect) {
                set(&mut config, value)
                    .map_err(|reason| format!("invalid value {value} for {key}: {reason}"))?;
            }
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_log_keys_become_topic_defaults_in_entity_order() {
        let cluster: BTreeMap<String, String> =
            [("log.retention.ms".to_string(), "1000".to_string())].into();
        let broker: BTreeMap<String, String> = [
            ("log.retention.ms".to_string(), "2000".to_string()),
            ("log.cleanup.policy".to_string(), "compact".to_string()),
            ("background.threads".to_string(), "9".to_string()),
        ]
        .into();
        let d = log_defaults(&LogConfig::default(), Some(&cluster), Some(&broker)).unwrap();
        assert_eq!(d.retention_ms, 2000);
        assert_eq!(d.cleanup_policy, "compact");
        let d = log_defaults(&LogConfig::default(), Some(&cluster), None).unwrap();
        assert_eq!(d.retention_ms, 1000);
    }

    #[test]
    fn values_are_checked() {
        assert!(check_value("background.threads", "9").is_ok());
        assert!(check_value("background.threads", "nine").is_err());
        assert!(check_value("log.cleanup.policy", "compact,delete").is_ok());
        assert!(check_value("log.cleanup.policy", "forever").is_err());
        assert!(check_value("node.id", "2").is_err(), "static only");
        assert!(check_value("no.such", "2").is_err());
        assert!(is_list("log.cleanup.policy") && !is_list("log.retention.ms"));
    }
}
