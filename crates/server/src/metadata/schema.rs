//! The broker's config key table as the controller's [`ConfigSchema`]: what topic, broker and
//! group overrides may be stored (Kafka's checks: topic keys and their ranges, the broker
//! keys Kafka can change at runtime, group config ranges).

use std::collections::BTreeMap;

use strom_cluster::controller::{ApiError, ConfigSchema, Outcome};
use strom_cluster::image::MetadataImage;
use strom_cluster::records::{CONFIG_BROKER, CONFIG_GROUP, CONFIG_TOPIC};
use strom_codec::ErrorCode;
use strom_storage::LogConfig;

use crate::config::group_keys::check_group_value;
use crate::config::topic_keys::{log_config, topic_key, TopicKey};
use crate::config::{dynamic, Config};

/// `ConfigResource.Type` codes the broker refuses to store.
const RESOURCE_BROKER_LOGGER: i8 = 8;
const RESOURCE_CLIENT_METRICS: i8 = 16;

/// The broker's config rules.
#[derive(Debug)]
pub struct BrokerSchema {
    config: Config,
}

impl BrokerSchema {
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// Topic-config defaults under `image`'s dynamic broker configs (the static ones when
    /// those are invalid).
    fn log_defaults(&self, image: &MetadataImage) -> LogConfig {
        self.layered_defaults(image, None)
            .unwrap_or_else(|_| self.config.log.clone())
    }

    /// Topic-config defaults with the broker entity `replaced` (name, new overrides).
    fn layered_defaults(
        &self,
        image: &MetadataImage,
        replaced: Option<(&str, &BTreeMap<String, String>)>,
    ) -> Result<LogConfig, String> {
        let node = self.config.node_id.to_string();
        let layer = |name: &str| match replaced {
            Some((r, configs)) if r == name => Some(configs.clone()),
            _ => image
                .configs
                .get(&(CONFIG_BROKER, name.to_string()))
                .cloned(),
        };
        dynamic::log_defaults(&self.config.log, layer("").as_ref(), layer(&node).as_ref())
    }

    fn validate_broker(
        &self,
        image: &MetadataImage,
        name: &str,
        configs: &BTreeMap<String, String>,
    ) -> Outcome<()> {
        let node = self.config.node_id.to_string();
        if !name.is_empty() && name != node {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("unexpected broker id {name}: this broker is {node}"),
            ));
        }
        for (key, value) in configs {
            if !dynamic::is_dynamic(key) {
                return Err(ApiError::new(
                    ErrorCode::InvalidRequest,
                    format!("cannot update {key} dynamically; set it in strom.toml or with --set"),
                ));
            }
            dynamic::check_value(key, value)
                .map_err(|m| ApiError::new(ErrorCode::InvalidConfig, m))?;
        }
        self.layered_defaults(image, Some((name, configs)))
            .map(|_| ())
            .map_err(|m| ApiError::new(ErrorCode::InvalidConfig, m))
    }
}

impl ConfigSchema for BrokerSchema {
    fn is_list(&self, resource_type: i8, key: &str) -> bool {
        match resource_type {
            CONFIG_TOPIC => topic_key(key).is_some_and(TopicKey::is_list),
            CONFIG_BROKER => dynamic::is_list(key),
            _ => false,
        }
    }

    fn effective_default(
        &self,
        image: &MetadataImage,
        resource_type: i8,
        _resource_name: &str,
        key: &str,
    ) -> String {
        match resource_type {
            CONFIG_TOPIC => topic_key(key)
                .map(|k| k.value(&self.log_defaults(image)))
                .unwrap_or_default(),
            CONFIG_BROKER => self.config.value_of(key).unwrap_or_default(),
            _ => String::new(),
        }
    }

    fn validate(
        &self,
        image: &MetadataImage,
        resource_type: i8,
        resource_name: &str,
        configs: &BTreeMap<String, String>,
    ) -> Outcome<()> {
        match resource_type {
            CONFIG_TOPIC => log_config(&self.log_defaults(image), configs)
                .map(|_| ())
                .map_err(|m| ApiError::new(ErrorCode::InvalidConfig, m)),
            CONFIG_BROKER => self.validate_broker(image, resource_name, configs),
            CONFIG_GROUP => {
                for (k, v) in configs {
                    check_group_value(k, v)
                        .map_err(|m| ApiError::new(ErrorCode::InvalidConfig, m))?;
                }
                Ok(())
            }
            RESOURCE_BROKER_LOGGER => Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "broker loggers are set with RUST_LOG at start-up, not at runtime",
            )),
            RESOURCE_CLIENT_METRICS => Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "client-metrics resources (KIP-714) are not supported",
            )),
            other => Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("unknown resource type {other}"),
            )),
        }
    }
}
