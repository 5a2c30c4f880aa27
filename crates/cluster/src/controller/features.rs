//! Feature levels (KIP-584): the features clients see finalized in ApiVersions, changed with
//! UpdateFeatures. Kafka's rules: a level outside what this cluster supports, a downgrade
//! without a downgrade type, or an unknown upgrade type is INVALID_UPDATE_VERSION; one
//! refused update refuses them all (the request applies whole or not at all); a feature
//! named twice takes its last level. Level 0 turns a feature off.

use strom_codec::ErrorCode;

use super::{ApiError, Outcome, Scratch};
use crate::records::MetadataRecord;

/// A feature the cluster knows: its name, the levels it supports, and the level a new
/// cluster starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    pub min: i16,
    pub max: i16,
    pub default: i16,
}

/// `group.version`: level 1 serves KIP-848 consumer groups (ConsumerGroupHeartbeat).
pub const GROUP_VERSION: &str = "group.version";
/// `transaction.version`: at level 2, clients that know KIP-890 use transactions v2 (EndTxn
/// v5, Produce v12+ adding partitions implicitly, an epoch bump per transaction); level 1
/// only changes how Kafka writes its transaction log. The broker serves every request version
/// whatever the level: the level is what clients decide by.
pub const TRANSACTION_VERSION: &str = "transaction.version";

/// The features clients can see, as Kafka names them.
pub const FEATURES: &[Feature] = &[
    Feature {
        name: GROUP_VERSION,
        min: 0,
        max: 1,
        default: 1,
    },
    Feature {
        name: TRANSACTION_VERSION,
        min: 0,
        max: 2,
        default: 2,
    },
];

/// UpdateFeatures' upgrade types (v1+; v0's `allow_downgrade` maps to 1 or 2).
pub const UPGRADE: i8 = 1;
pub const SAFE_DOWNGRADE: i8 = 2;
pub const UNSAFE_DOWNGRADE: i8 = 3;

/// One item of UpdateFeatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureUpdate {
    pub name: String,
    pub level: i16,
    pub upgrade_type: i8,
}

pub fn feature(name: &str) -> Option<&'static Feature> {
    FEATURES.iter().find(|f| f.name == name)
}

fn invalid(name: &str, level: i16, why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidUpdateVersion,
        format!("Invalid update version {level} for feature {name}. {why}"),
    )
}

fn check(scratch: &Scratch, u: &FeatureUpdate) -> Outcome<()> {
    if !(UPGRADE..=UNSAFE_DOWNGRADE).contains(&u.upgrade_type) {
        return Err(invalid(
            &u.name,
            u.level,
            "The controller does not support the given upgrade type.",
        ));
    }
    if u.level < 0 {
        return Err(invalid(
            &u.name,
            u.level,
            "A feature version cannot be less than 0.",
        ));
    }
    let Some(f) = feature(&u.name) else {
        return Err(invalid(
            &u.name,
            u.level,
            "The controller does not support the given feature.",
        ));
    };
    if u.level != 0 && !(f.min..=f.max).contains(&u.level) {
        return Err(invalid(
            &u.name,
            u.level,
            &format!("The controller only supports versions {}-{}.", f.min, f.max),
        ));
    }
    let current = scratch.image.features.get(f.name).copied().unwrap_or(0);
    if u.level < current && u.upgrade_type == UPGRADE {
        return Err(invalid(
            &u.name,
            u.level,
            "Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade.",
        ));
    }
    Ok(())
}

/// Decides UpdateFeatures: every update's outcome (all refused when one is, with its error).
pub(super) fn update_features(
    scratch: &mut Scratch,
    updates: &[FeatureUpdate],
    validate_only: bool,
) -> Vec<Outcome<()>> {
    if let Some(e) = updates.iter().find_map(|u| check(scratch, u).err()) {
        return updates.iter().map(|_| Err(e.clone())).collect();
    }
    if !validate_only {
        for u in updates {
            if scratch.image.features.get(&u.name).copied().unwrap_or(0) != u.level {
                scratch.push(vec![MetadataRecord::FeatureLevel {
                    name: u.name.clone(),
                    level: u.level,
                }]);
            }
        }
    }
    updates.iter().map(|_| Ok(())).collect()
}

/// The records that finalize the default level of every feature `image` has no level for
/// (a new cluster, or one from before the feature existed).
pub fn default_levels(image: &crate::image::MetadataImage) -> Vec<MetadataRecord> {
    FEATURES
        .iter()
        .filter(|f| f.default > 0 && !image.features.contains_key(f.name))
        .map(|f| MetadataRecord::FeatureLevel {
            name: f.name.into(),
            level: f.default,
        })
        .collect()
}
