//! Config decisions (Kafka's `ConfigurationControlManager`): incremental operations on a
//! resource's overrides, checked by the broker's [`super::ConfigSchema`] as a whole, stored
//! as one `Config` record per key that changed.

use std::collections::{BTreeMap, BTreeSet};

use strom_codec::ErrorCode;

use super::{ApiError, Controller, Outcome, Scratch};
use crate::records::{MetadataRecord, CONFIG_GROUP, CONFIG_TOPIC};

/// IncrementalAlterConfigs' operations.
pub const OP_SET: i8 = 0;
pub const OP_DELETE: i8 = 1;
pub const OP_APPEND: i8 = 2;
pub const OP_SUBTRACT: i8 = 3;

/// One operation on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigOp {
    pub key: String,
    /// [`OP_SET`], [`OP_DELETE`], [`OP_APPEND`] or [`OP_SUBTRACT`].
    pub operation: i8,
    pub value: Option<String>,
}

/// The operations on one resource's overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigAlteration {
    pub resource_type: i8,
    pub resource_name: String,
    pub ops: Vec<ConfigOp>,
    /// Start from no overrides (the legacy AlterConfigs replaces the whole set).
    pub replace: bool,
}

impl Controller {
    pub(super) fn alter_configs(
        &self,
        scratch: &mut Scratch,
        alteration: ConfigAlteration,
        validate_only: bool,
    ) -> Outcome<()> {
        let ConfigAlteration {
            resource_type,
            resource_name: name,
            ops,
            replace,
        } = alteration;
        let mut seen = BTreeSet::new();
        if let Some(op) = ops.iter().find(|op| !seen.insert(op.key.as_str())) {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("config {} appears more than once", op.key),
            ));
        }
        if resource_type == CONFIG_TOPIC && scratch.image.topics.get(&name).is_none() {
            return Err(ApiError::new(
                ErrorCode::UnknownTopicOrPartition,
                format!("topic '{name}' does not exist"),
            ));
        }
        if resource_type == CONFIG_GROUP && name.is_empty() {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "group name must not be empty",
            ));
        }
        let before = scratch.image.configs_of(resource_type, &name);
        let mut after = if replace {
            BTreeMap::new()
        } else {
            before.clone()
        };
        for op in &ops {
            let is_list = self.schema.is_list(resource_type, &op.key);
            let current = || {
                self.schema
                    .effective_default(&scratch.image, resource_type, &name, &op.key)
            };
            apply(&mut after, op, is_list, current)
                .map_err(|m| ApiError::new(ErrorCode::InvalidConfig, m))?;
        }
        self.schema
            .validate(&scratch.image, resource_type, &name, &after)?;
        if validate_only {
            return Ok(());
        }
        let mut records = Vec::new();
        for (key, value) in &after {
            if before.get(key) != Some(value) {
                records.push(MetadataRecord::Config {
                    resource_type,
                    resource_name: name.clone(),
                    name: key.clone(),
                    value: Some(value.clone()),
                });
            }
        }
        for key in before.keys().filter(|k| !after.contains_key(*k)) {
            records.push(MetadataRecord::Config {
                resource_type,
                resource_name: name.clone(),
                name: key.clone(),
                value: None,
            });
        }
        if !records.is_empty() {
            tracing::info!(resource_type, resource = %name, changed = records.len(), "configs altered");
        }
        scratch.push(records);
        Ok(())
    }
}

/// One operation on an override map. `current` gives the effective value of a list key
/// without an override (what APPEND and SUBTRACT start from).
fn apply(
    configs: &mut BTreeMap<String, String>,
    op: &ConfigOp,
    is_list: bool,
    current: impl FnOnce() -> String,
) -> Result<(), String> {
    let key = &op.key;
    let split = |text: &str| -> Vec<String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    match op.operation {
        OP_SET => {
            let v = op
                .value
                .as_ref()
                .ok_or_else(|| format!("SET of {key} needs a value"))?;
            configs.insert(key.clone(), v.clone());
        }
        OP_DELETE => {
            configs.remove(key);
        }
        OP_APPEND | OP_SUBTRACT => {
            if !is_list {
                return Err(format!(
                    "{key} is not a list config: APPEND and SUBTRACT do not apply"
                ));
            }
            let given = split(op.value.as_deref().unwrap_or_default());
            let mut items = match configs.get(key) {
                Some(v) => split(v),
                None => split(&current()),
            };
            if op.operation == OP_APPEND {
                for g in given {
                    if !items.contains(&g) {
                        items.push(g);
                    }
                }
            } else {
                items.retain(|i| !given.contains(i));
            }
            configs.insert(key.clone(), items.join(","));
        }
        other => return Err(format!("unknown config operation {other}")),
    }
    Ok(())
}
