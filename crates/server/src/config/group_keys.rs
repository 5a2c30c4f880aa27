//! Kafka 4.x group configs (KIP-848 `consumer.*`, KIP-932 `share.*`, KIP-1071 `streams.*`),
//! set per group with the Alter*Configs APIs: key, default and accepted values.

use super::parse::{int_in, one_of};
use super::Type;

pub struct GroupKey {
    pub name: &'static str,
    pub ty: Type,
    pub default: &'static str,
    pub check: fn(&str) -> Result<(), String>,
}

fn reset_policy(v: &str) -> Result<(), String> {
    if v == "latest" || v == "earliest" || v.starts_with("by_duration:P") {
        Ok(())
    } else {
        Err("must be latest, earliest or by_duration:<ISO-8601 duration>".into())
    }
}

macro_rules! interval {
    ($name:literal, $default:literal, $min:literal, $max:literal) => {
        GroupKey {
            name: $name,
            ty: Type::Int,
            default: $default,
            check: |v| int_in(v, $min, $max).map(drop),
        }
    };
}

pub static GROUP_KEYS: &[GroupKey] = &[
    interval!("consumer.heartbeat.interval.ms", "5000", 5000, 15000),
    interval!("consumer.session.timeout.ms", "45000", 45000, 60000),
    GroupKey {
        name: "share.auto.offset.reset",
        ty: Type::String,
        default: "latest",
        check: reset_policy,
    },
    interval!("share.heartbeat.interval.ms", "5000", 5000, 15000),
    GroupKey {
        name: "share.isolation.level",
        ty: Type::String,
        default: "read_uncommitted",
        check: |v| one_of(v, &["read_committed", "read_uncommitted"]),
    },
    interval!("share.record.lock.duration.ms", "30000", 15000, 60000),
    interval!("share.session.timeout.ms", "45000", 45000, 60000),
    interval!("streams.heartbeat.interval.ms", "5000", 5000, 15000),
    interval!("streams.num.standby.replicas", "0", 0, 2),
    interval!("streams.session.timeout.ms", "45000", 45000, 60000),
];

/// Checks one group config value.
///
/// # Errors
/// Unknown key, or a value outside Kafka's range.
pub fn check_group_value(key: &str, value: &str) -> Result<(), String> {
    let Some(k) = GROUP_KEYS.iter().find(|k| k.name == key) else {
        return Err(format!("unknown group config {key}"));
    };
    (k.check)(value).map_err(|reason| format!("invalid value {value} for {key}: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked() {
        assert!(check_group_value("consumer.session.timeout.ms", "50000").is_ok());
        assert!(check_group_value("consumer.session.timeout.ms", "5000").is_err());
        assert!(check_group_value("share.isolation.level", "read_committed").is_ok());
        assert!(check_group_value("share.auto.offset.reset", "by_duration:PT1H").is_ok());
        assert!(check_group_value("no.such", "1").is_err());
        for k in GROUP_KEYS {
            assert!((k.check)(k.default).is_ok(), "{}", k.name);
        }
    }
}
